"""Keywords: names, synonyms, and how each value is computed from a file's facts.

A :class:`FileInfo` holds everything a keyword can need about one inode (its
``lstat`` result, link target, xattrs and content digests).  The walker fills
it from the filesystem; an extractor that already has the facts (it just
wrote the file and hashed the bytes on the way) builds it directly with
:meth:`FileInfo.from_stat` and no file is read again.

Values are formatted exactly as go-mtree's keyword functions do on Linux:

* ``mode`` is ``%#o`` of the permission bits plus setuid/setgid/sticky
  (``0755``, ``04755``, and ``0`` for no bits at all);
* ``tar_time`` is the mtime truncated (floored) to whole seconds followed by
  ``.000000000``; ``time`` keeps the nanoseconds;
* ``link`` (symlinks only) is the vis-encoded target;
* ``xattr`` yields one ``xattr.<vis(name)>=<base64(value)>`` per attribute,
  in the order the kernel lists them, for regular files and directories only;
* digests (``sha256digest`` ...) are lowercase hex, regular files only;
* ``size``, ``uid``, ``gid``, ``nlink`` are the ``lstat`` numbers for every type
  (so directories carry ``nlink`` too).

``flags`` is accepted and never produces a value (it is a BSD chflags
keyword).  Keywords go-mtree knows but umoci never uses (``cksum``,
``ripemd160digest``, ``sha512256digest``) are refused with
:class:`~umoci.errors.MtreeError`.
"""

from __future__ import annotations

import functools
import grp
import pwd
import stat
from collections.abc import Callable, Mapping, Sequence

from umoci import goquote
from umoci.errors import MtreeError
from umoci.mtree.escape import vis
from umoci.structs import dataclass, field

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from typing import NoReturn, Protocol, TypeAlias
else:
    Protocol = object  # StatLike below only types annotations

__all__ = [
    "DIGEST_KEYWORDS",
    "SET_KEYWORDS",
    "SUPPORTED_KEYWORDS",
    "UMOCI_KEYWORDS",
    "FileInfo",
    "KeyVal",
    "StatLike",
    "canonical",
    "compile_keywords",
    "needed_digests",
    "parse_keyword_arg",
    "prefix",
    "set_keyvals",
    "tar_time_value",
    "type_name",
]

#: One ``keyword=value`` token.  ``value`` is None for a bare token without
#: ``=`` (BSD flag keywords such as ``optional``): kept for dumping, ignored by
#: comparisons.
KeyVal: TypeAlias = tuple[str, str | None]

#: The keywords umoci records in a bundle's mtree, in the order it writes them.
UMOCI_KEYWORDS: tuple[str, ...] = (
    "size",
    "type",
    "uid",
    "gid",
    "mode",
    "link",
    "nlink",
    "tar_time",
    "sha256digest",
    "xattr",
)

#: Keywords computed for every directory to decide whether ``/set`` changes.
SET_KEYWORDS: tuple[str, ...] = ("uid", "gid")

#: Digest keyword -> hashlib algorithm name.
DIGEST_KEYWORDS: Mapping[str, str] = {
    "md5digest": "md5",
    "sha1digest": "sha1",
    "sha256digest": "sha256",
    "sha384digest": "sha384",
    "sha512digest": "sha512",
}

_SYNONYMS = {
    "md5": "md5digest",
    "rmd160": "ripemd160digest",
    "rmd160digest": "ripemd160digest",
    "sha1": "sha1digest",
    "sha256": "sha256digest",
    "sha384": "sha384digest",
    "sha512": "sha512digest",
    "sha512256": "sha512256digest",
    "xattrs": "xattr",
}


def canonical(name: str) -> str:
    """The canonical name of a keyword (go-mtree's ``KeywordSynonym``)."""
    return _SYNONYMS.get(name, name)


@functools.lru_cache(maxsize=4096)
def prefix(name: str) -> str:
    """The part of a keyword before its first ``.`` (``xattr.user.x`` -> ``xattr``).

    Cached: compare asks this of every keyword of every entry, and the
    distinct names are few.
    """
    head, _, _ = name.partition(".")
    return head


def parse_keyword_arg(arg: str) -> list[str]:
    """Split a ``-k``/``-K`` argument on commas and spaces, canonicalising names."""
    return [canonical(word) for word in arg.replace(",", " ").split(" ") if word]


class StatLike(Protocol):
    """The ``os.stat_result`` fields keywords use, and the inode's number and ctime."""

    @property
    def st_mode(self) -> int: ...
    @property
    def st_ino(self) -> int: ...
    @property
    def st_nlink(self) -> int: ...
    @property
    def st_uid(self) -> int: ...
    @property
    def st_gid(self) -> int: ...
    @property
    def st_size(self) -> int: ...
    @property
    def st_mtime_ns(self) -> int: ...
    @property
    def st_ctime_ns(self) -> int: ...


@dataclass(frozen=True, slots=True)
class FileInfo:
    """Everything known about one inode, keyed by its path relative to the root.

    ``path`` is raw bytes, ``b"."`` for the root and ``b"dir/name"`` below it.
    ``digests`` maps digest keywords (``"sha256digest"``) to lowercase hex.
    ``xattrs`` are (name, value) pairs in listing order.
    """

    path: bytes
    st: StatLike
    link: bytes | None = None
    xattrs: tuple[tuple[bytes, bytes], ...] = ()
    digests: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_stat(
        cls,
        path: bytes,
        st: StatLike,
        *,
        sha256: str | None = None,
        xattrs: Sequence[tuple[bytes, bytes]] = (),
        link: bytes | None = None,
    ) -> FileInfo:
        """Build the facts for an entry without touching the filesystem.

        Meant for an extractor that has just written the file: ``st`` is its
        ``lstat`` after all metadata was applied, ``sha256`` the hex digest of
        the bytes written, ``link`` the symlink target.
        """
        digests = {} if sha256 is None else {"sha256digest": sha256}
        return cls(path, st, link, tuple(xattrs), digests)

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.st.st_mode)


def _mode(info: FileInfo) -> str:
    perm = stat.S_IMODE(info.st.st_mode)
    return f"0{perm:o}" if perm else "0"


_TYPES = {
    stat.S_IFDIR: "dir",
    stat.S_IFREG: "file",
    stat.S_IFSOCK: "socket",
    stat.S_IFLNK: "link",
    stat.S_IFIFO: "fifo",
    stat.S_IFCHR: "char",
    stat.S_IFBLK: "block",
}


def type_name(st_mode: int) -> str | None:
    """The mtree ``type=`` value for a file mode, None for an unknown file type."""
    return _TYPES.get(stat.S_IFMT(st_mode))


def _type(info: FileInfo) -> list[KeyVal]:
    name = type_name(info.st.st_mode)
    return [("type", name)] if name else []


def _link(info: FileInfo) -> list[KeyVal]:
    if info.link is None or not stat.S_ISLNK(info.st.st_mode):
        return []
    return [("link", vis(info.link))]


def tar_time_value(mtime_ns: int) -> str:
    """The ``tar_time=`` value of an mtime: whole seconds (floored), zero nanoseconds."""
    return f"{mtime_ns // 1_000_000_000}.000000000"


def _tar_time(info: FileInfo) -> list[KeyVal]:
    return [("tar_time", tar_time_value(info.st.st_mtime_ns))]


def _time(info: FileInfo) -> list[KeyVal]:
    sec, nsec = divmod(info.st.st_mtime_ns, 1_000_000_000)
    return [("time", f"{sec}.{nsec:09d}")]


def _xattr(info: FileInfo) -> list[KeyVal]:
    mode = info.st.st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        return []
    import base64  # (few files have xattrs; loading it costs every verb ~0.5 ms)

    return [
        ("xattr." + vis(name), base64.b64encode(value).decode("ascii"))
        for name, value in info.xattrs
    ]


def _uname(info: FileInfo) -> list[KeyVal]:
    try:
        return [("uname", pwd.getpwuid(info.st.st_uid).pw_name)]
    except KeyError:
        return []


def _gname(info: FileInfo) -> list[KeyVal]:
    try:
        return [("gname", grp.getgrgid(info.st.st_gid).gr_name)]
    except KeyError:
        return []


def _no_digest(name: str, info: FileInfo) -> NoReturn:
    path = info.path.decode("utf-8", "surrogateescape")
    raise MtreeError(f"keyword {name}: no digest for {path!r}")


def _digest(name: str) -> Callable[[FileInfo], list[KeyVal]]:
    def func(info: FileInfo) -> list[KeyVal]:
        if not stat.S_ISREG(info.st.st_mode):
            return []
        try:
            return [(name, info.digests[name])]
        except KeyError:
            _no_digest(name, info)

    return func


_FUNCS: dict[str, Callable[[FileInfo], list[KeyVal]]] = {
    "size": lambda i: [("size", str(i.st.st_size))],
    "type": _type,
    "uid": lambda i: [("uid", str(i.st.st_uid))],
    "gid": lambda i: [("gid", str(i.st.st_gid))],
    "mode": lambda i: [("mode", _mode(i))],
    "link": _link,
    "nlink": lambda i: [("nlink", str(i.st.st_nlink))],
    "time": _time,
    "tar_time": _tar_time,
    "xattr": _xattr,
    "uname": _uname,
    "gname": _gname,
    "flags": lambda i: [],
    **{name: _digest(name) for name in DIGEST_KEYWORDS},
}

#: Every keyword (canonical name) this implementation can compute.
SUPPORTED_KEYWORDS: frozenset[str] = frozenset(_FUNCS)


def compile_keywords(keywords: Sequence[str]) -> Callable[[FileInfo], list[KeyVal]]:
    """A function giving an inode's values for ``keywords``, in keyword order.

    Synonyms are accepted (``sha256`` yields ``sha256digest=``); an unknown
    keyword raises :class:`MtreeError`.  umoci's own keyword list gets a fused
    implementation, as it is computed for every inode of every bundle.
    """
    funcs = []
    for kw in keywords:
        func = _FUNCS.get(canonical(prefix(kw)))
        if func is None:
            raise MtreeError(f"unknown keyword {goquote.quote(kw)}")
        funcs.append(func)
    if tuple(keywords) == UMOCI_KEYWORDS:
        return _umoci_keyvals

    def keyvals(info: FileInfo) -> list[KeyVal]:
        out: list[KeyVal] = []
        for func in funcs:
            out += func(info)
        return out

    return keyvals


def _umoci_keyvals(info: FileInfo) -> list[KeyVal]:
    """``UMOCI_KEYWORDS`` in one pass (same output as the per-keyword functions)."""
    st = info.st
    mode = st.st_mode
    fmt = stat.S_IFMT(mode)
    perm = mode & 0o7777
    out: list[KeyVal] = [("size", str(st.st_size))]
    kind = _TYPES.get(fmt)
    if kind is not None:
        out.append(("type", kind))
    out += (
        ("uid", str(st.st_uid)),
        ("gid", str(st.st_gid)),
        ("mode", f"0{perm:o}" if perm else "0"),
    )
    if fmt == stat.S_IFLNK and info.link is not None:
        out.append(("link", vis(info.link)))
    out += (
        ("nlink", str(st.st_nlink)),
        ("tar_time", tar_time_value(st.st_mtime_ns)),
    )
    if fmt == stat.S_IFREG:
        try:
            out.append(("sha256digest", info.digests["sha256digest"]))
        except KeyError:
            _no_digest("sha256digest", info)
    if info.xattrs and fmt in (stat.S_IFREG, stat.S_IFDIR):
        out += _xattr(info)
    return out


def needed_digests(keywords: Sequence[str]) -> list[str]:
    """The digest keywords (canonical) among ``keywords``, without duplicates."""
    seen: list[str] = []
    for kw in keywords:
        name = canonical(kw)
        if name in DIGEST_KEYWORDS and name not in seen:
            seen.append(name)
    return seen


def set_keyvals(info: FileInfo) -> list[KeyVal]:
    """The ``SET_KEYWORDS`` values of a directory (always uid and gid)."""
    return [("uid", str(info.st.st_uid)), ("gid", str(info.st.st_gid))]
