"""Layers: tar stream -> rootfs directory (``extract``) and back.

* :mod:`umoci.layer.extract` -- :func:`apply_layer` / :class:`LayerExtractor`.
* :mod:`umoci.layer.tarstream` -- the streaming tar header parser.
* :mod:`umoci.layer.metadata`, :mod:`umoci.layer.whiteout` -- the rules.
* :mod:`umoci.layer.rootless_xattr` -- the ``user.rootlesscontainers`` codec.
* :mod:`umoci.layer.records` -- per-entry reports for building an mtree.

Internal: this package and its modules are not part of the public API, which is
:mod:`umoci.api`; they may change in any release.
"""
