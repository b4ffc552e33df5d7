"""Pure OCI data, no I/O: digests, media types, refs, platforms, and the documents.

This package is the only place JSON becomes objects: :mod:`umoci.oci.decode`
parses JSON and decodes it by the rules of Go's ``encoding/json`` that the Go
umoci relies on, into the models of :mod:`umoci.oci.models` (``oci-layout``,
index, manifest, image config, descriptor, platform, history) and
:mod:`umoci.oci.umocijson` (the bundle metadata).  Every reader (stat, unpack,
ls, validate, gc, the index verbs, the API) goes through them, so each
document reads the same everywhere; tests/core/test_one_decoder.py keeps it
so.  :mod:`umoci.oci.gojson` writes JSON as Go does and :mod:`umoci.oci.timefmt`
is the one RFC 3339 parser.

Internal: this package and its modules are not part of the public API, which is
:mod:`umoci.api` (it re-exports the document models and :class:`~umoci.oci.timefmt.GoTime`).
"""
