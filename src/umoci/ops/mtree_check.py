"""``umoci raw mtree-validate``: compare a directory with an mtree spec, line per difference."""

from __future__ import annotations

from umoci import mtree
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
        with open(spec_path, "rb") as f:
            spec = mtree.parse(f.read())
    except OSError as err:
        raise UsageError(f"read spec {spec_path}: {err.strerror}") from None
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
