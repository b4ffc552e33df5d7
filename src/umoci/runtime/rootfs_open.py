"""The user lookup's access to the rootfs: ``/etc/passwd`` and ``/etc/group``.

:func:`runtime_config <umoci.runtime.spec.runtime_config>` reads those two
files through a :data:`RootfsOpener`, so that tests and API callers can give
it files from anywhere.  The one for a real rootfs, :func:`rootfs_opener`,
is :func:`umoci.fs.lookup.open_in_root`: the confined lookup lives in
:mod:`umoci.fs` with every other path inside a rootfs.
"""

from __future__ import annotations

from collections.abc import Callable

from umoci.fs.lookup import open_in_root

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from typing import BinaryIO, TypeAlias

RootfsOpener: TypeAlias = "Callable[[str], BinaryIO | None]"

__all__ = ["RootfsOpener", "open_in_root", "rootfs_opener"]


def rootfs_opener(root: str) -> RootfsOpener:
    """A :data:`RootfsOpener` confined to the directory ``root``."""

    def opener(path: str) -> BinaryIO | None:
        return open_in_root(root, path)

    return opener
