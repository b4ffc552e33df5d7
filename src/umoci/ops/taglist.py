"""``umoci ls``: the tag names of a layout, without loading the blob store.

Listing tags is the command build scripts run most, so it runs the layout
checks and decodes ``index.json`` into its model (as every reader does, see
:mod:`umoci.oci.decode`) and loads nothing else: no blob store, no layer or
runtime code, no ``json``/``re``.
"""

from __future__ import annotations

from umoci import goquote
from umoci.cas.layoutcheck import INDEX_FILE, check_layout, read_index_bytes
from umoci.errors import LayoutError
from umoci.oci import mediatypes
from umoci.oci.models import Index

TYPE_CHECKING = False  # typing is for mypy only: importing it costs every run ~4 ms
if TYPE_CHECKING:
    from umoci.cas.dir import DirStore
    from umoci.oci.models import Descriptor


def list_tags(layout: str) -> list[str]:
    """Names in index order, each once."""
    check_layout(layout)
    data = read_index_bytes(layout)
    index = Index.from_bytes(data, mediatypes.INDEX, INDEX_FILE, LayoutError, whole=True)
    return index.tag_names()


def list_entries(layout: str) -> list[str]:
    """``ls --long``: ``TAG<TAB>MEDIA TYPE<TAB>DIGEST<TAB>PLATFORMS`` per entry of index.json.

    Untagged entries show ``<none>``.  PLATFORMS is the image's platform (its
    descriptor's, or its config's) or, for an index, the platforms of the
    images below it, comma-separated, attestations and artefacts left out;
    ``-`` when there is none to show and ``?`` when a blob cannot be read.
    A field with a control character (a tab among them), a quotation mark or
    a backslash is Go-quoted, as ``stat`` shows it, so ``cut -f`` works and
    the terminal gets no control sequence from the layout.
    """
    from umoci.ops.basic import opened

    with opened(layout) as store:
        return [_entry_line(store, d) for d in store.read_index().manifests]


def _entry_line(store: DirStore, descriptor: Descriptor) -> str:
    from umoci.errors import UmociError
    from umoci.layout.refs import DescriptorPath, is_runnable, leaves, platform_of, shown_platform
    from umoci.oci import mediatypes

    platforms: list[str] = []
    try:
        if descriptor.media_type in mediatypes.INDEX_TYPES:
            paths = leaves(store, [DescriptorPath((descriptor,))])
            found = (platform_of(store, p.descriptor) for p in paths if is_runnable(p.descriptor))
            platforms = [shown_platform(p) for p in found if p is not None]
        elif descriptor.media_type in mediatypes.MANIFEST_TYPES:
            own = platform_of(store, descriptor)
            platforms = [shown_platform(own)] if own is not None else []
        shown = ",".join(dict.fromkeys(platforms)) or "-"
    except UmociError:
        shown = "?"
    tag = descriptor.ref_name if descriptor.ref_name is not None else "<none>"
    fields = (tag, descriptor.media_type, descriptor.digest)
    return "\t".join([*map(goquote.quote_if_needed, fields), shown])
