"""``umoci raw mtree-validate``: compare a directory with an mtree spec, line per difference."""

from __future__ import annotations

from umoci import mtree
from umoci.cas.layoutcheck import describe
from umoci.errors import MtreeError, UsageError
from umoci.mtree.keywords import parse_keyword_arg


def _keywords(args: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for arg in args:
        out.extend(parse_keyword_arg(arg))
    return out


def mtree_validate(
    spec_path: str,
    root: str,
    *,
    use_keywords: tuple[str, ...],
    add_keywords: tuple[str, ...],
    umoci_keywords: bool,
    rootless: bool,
) -> list[str]:
    try:
        # A pipe too: the spec may come from ``<(gomtree -c ...)``.
        spec = mtree.parse(mtree.read_spec_file(spec_path, pipe=True))
    except OSError as err:
        raise UsageError(f"read spec {spec_path}: {describe(err)}") from None
    keywords = mtree.keywords_for_validate(
        spec,
        use=_keywords(use_keywords) if use_keywords else None,
        add=_keywords(add_keywords),
        umoci=umoci_keywords,
    )
    try:
        return mtree.check_lines(root, spec, keywords, rootless=rootless)
    except OSError as err:
        raise MtreeError(f"walk {root}: {err.strerror}") from None
