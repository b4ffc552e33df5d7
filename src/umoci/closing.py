"""A base for objects that are their own context manager and ``close()`` on exit.

Rootfs handles, directory refs, blob stores and prefetch threads all hold
resources that ``with`` must release whatever happens; this keeps the two
dunder methods in one place.

Internal: not part of the public API (:mod:`umoci.api`).
"""

from __future__ import annotations

import abc

# Not "from typing import Self": typing costs start-up time (see umoci.log).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Self


class Closing(abc.ABC):
    """``with obj:`` yields ``obj`` and calls ``obj.close()`` on the way out."""

    __slots__ = ()

    @abc.abstractmethod
    def close(self) -> None:
        """Release what the object holds (safe to call more than once)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
