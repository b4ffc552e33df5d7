"""The mtree(8) specification format as go-mtree writes and reads it (umoci's subset).

umoci records a bundle's rootfs in ``sha256_<manifest>.mtree`` after unpack
and compares the rootfs against it at repack to find what changed.  This
package reads and writes that file byte-compatibly with go-mtree and
reproduces its walk and comparison rules:

* :mod:`.escape` - vis/unvis of names, Go path cleaning and quoting;
* :mod:`.keywords` - keyword names and how values are computed;
* :mod:`.spec` - the line model, :func:`parse` and :func:`dump`;
* :mod:`.walker` - :func:`walk` a tree (a caller may supply digests it
  already knows) or build the same spec from an extractor's records
  (:func:`spec_from_infos`);
* :mod:`.delta` - :func:`compare` two specs, :func:`check` a tree;
* :mod:`.filter` - drop deltas under masked or deleted paths before repack.

Paths are ``bytes`` relative to the root (``b"."`` is the root); see
:mod:`.spec` for why.

Internal: this package and its modules are not part of the public API, which is
:mod:`umoci.api`; they may change in any release.
"""

from umoci.mtree.delta import (
    Delta,
    DeltaType,
    KeyDelta,
    check,
    check_lines,
    compare,
    compare_entries,
    delta_for,
    keywords_for_validate,
)
from umoci.mtree.filter import PathFilter, filter_deltas, mask_filter, simplify_filter
from umoci.mtree.keywords import (
    SUPPORTED_KEYWORDS,
    UMOCI_KEYWORDS,
    FileInfo,
    KeyVal,
    canonical,
    parse_keyword_arg,
)
from umoci.mtree.spec import (
    Blank,
    Comment,
    DotDot,
    Entry,
    Header,
    Node,
    Spec,
    Special,
    SpecWriter,
    dump,
    dump_to,
    go_date,
    parse,
    read_spec_file,
)
from umoci.mtree.walker import (
    KnownDigest,
    ListingMismatch,
    Observe,
    inode_reader,
    spec_from_infos,
    walk,
)

__all__ = [
    "SUPPORTED_KEYWORDS",
    "UMOCI_KEYWORDS",
    "Blank",
    "Comment",
    "Delta",
    "DeltaType",
    "DotDot",
    "Entry",
    "FileInfo",
    "Header",
    "KeyDelta",
    "KeyVal",
    "KnownDigest",
    "ListingMismatch",
    "Node",
    "Observe",
    "PathFilter",
    "Spec",
    "SpecWriter",
    "Special",
    "canonical",
    "check",
    "check_lines",
    "compare",
    "compare_entries",
    "delta_for",
    "dump",
    "dump_to",
    "filter_deltas",
    "go_date",
    "inode_reader",
    "keywords_for_validate",
    "mask_filter",
    "parse",
    "parse_keyword_arg",
    "read_spec_file",
    "simplify_filter",
    "spec_from_infos",
    "walk",
]
