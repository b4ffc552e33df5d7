"""Blob stores: the directory (OCI image layout) implementation and its contract."""

from umoci.cas.dir import DirStore, create_layout, open_layout

__all__ = ["DirStore", "create_layout", "open_layout"]
