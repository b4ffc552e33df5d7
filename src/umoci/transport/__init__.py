"""Moving images between a layout and the outside world (``umoci copy``).

Names use skopeo's ``TRANSPORT:DETAILS`` syntax (:mod:`.names`), so existing
command lines carry over.  The pieces, each in its own module:

::

    names        parse "oci:PATH:TAG", "docker-archive:F:NAME:TAG", ... into typed names
    base         Source / Destination: what the copy engine asks of a transport
    engine       choose the image(s), copy blobs (skipping those present),
                 convert layers a destination needs in another form, rewrite
                 the manifests and indexes that changed, then commit the name
    layout       oci:            a layout directory (read and write)
    tarindex     random access to the members of an untrusted tar archive
    tarout       a tar archive written as a stream (temp file + rename, stdout, a socket)
    spool        unnamed temporary files in --tmpdir (O_TMPFILE, or a file unlinked at once)
    ociarchive   oci-archive:    a layout in a tar archive
    dockerarchive docker-archive: ``docker save``'s format (legacy and OCI inside)
    daemon       docker-daemon:  the Docker engine API over its unix socket

Every source is untrusted: each blob is read through a verifying reader
(:class:`umoci.cas.verify.VerifiedReader`, digest and size checked as it
streams) and a converted layer's uncompressed stream is checked against its
diff_id.  Every destination is written blobs first and its name last (a
layout's ``index.json``, an archive's rename into place), so a copy that
fails leaves the destination as it was.

A registry transport (``docker://``) fits the same two classes: a source
whose anchors come from a manifest fetch and whose blobs stream from HTTP,
a destination whose blobs are uploads and whose commit pushes the tag.

Only :mod:`umoci.ops.image_copy` imports this package, so other verbs do not
pay for it at start-up.

Internal: this package and its modules are not part of the public API, which is
:mod:`umoci.api` (its :func:`umoci.api.copy`); they may change in any release.
"""
