"""Blob stores: the OCI image layout on disk (:mod:`umoci.cas.dir`).

Nothing is imported here, so that light commands can use
:mod:`umoci.cas.layoutcheck` without loading the blob store.

Internal: this package and its modules are not part of the public API, which is
:mod:`umoci.api`; they may change in any release.
"""
