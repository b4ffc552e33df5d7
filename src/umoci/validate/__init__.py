"""``umoci validate``: what is wrong with a layout, an image or a bundle, check by check.

Each problem is a :class:`~umoci.validate.findings.Finding` with a stable
check id (:data:`~umoci.validate.findings.CHECKS`); the verb prints one line
per finding and a summary, or a JSON list.  Validation only reads.

Validate agrees with unpack: a layer ``umoci unpack`` refuses whatever the
layers below it (an unreadable media type, stream or tar, or an entry that
breaks a rule of :mod:`umoci.layer.entryrules`, the extractor's own) is an
error; what fails only depending on the layers below (a hardlink to a path
the layer did not write) is a warning.  Symlinks are legal whatever they
point at, since they resolve inside the root filesystem: one that climbs
above the root with ``..`` is a warning (a host tool following it leaves
the rootfs), an absolute one no finding.  See :mod:`umoci.validate.layers`.

Internal: this package and its modules are not part of the public API, which is
:mod:`umoci.api`; they may change in any release.
"""

from __future__ import annotations

from umoci.validate.checks import CHECKS

# Not imported here: ``umoci --help`` loads this package for CHECKS, and
# every command pays for what it imports.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from umoci.validate.findings import Finding, Report

__all__ = ["CHECKS", "Finding", "Report", "validate_bundle", "validate_image", "validate_layout"]


def __getattr__(name: str) -> object:
    if name in ("Finding", "Report"):
        from umoci.validate import findings

        return getattr(findings, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def validate_layout(layout: str, *, layers: bool = True) -> Report:
    """Everything reachable from ``index.json``, plus unreferenced blobs and stale temp files."""
    from umoci.validate.findings import Report
    from umoci.validate.layout import LayoutValidator

    report = Report()
    LayoutValidator(layout, report, layers=layers).run_layout()
    return report


def validate_image(
    layout: str, ref: str, *, platform: str | None = None, layers: bool = True
) -> Report:
    """One image: the index.json entry (or digest) *ref* names; with *platform*, one manifest."""
    from umoci.cas.dir import open_layout
    from umoci.layout.refs import find_anchors, resolve
    from umoci.validate.findings import Report
    from umoci.validate.layout import LayoutValidator, entry_where

    report = Report()
    validator = LayoutValidator(layout, report, layers=layers)
    index = validator.check_layout_files()
    if report.errors:
        return report
    assert index is not None
    store = open_layout(layout)
    try:
        if platform is None:
            anchors = [p.root for p in find_anchors(store, ref)]
        else:
            anchors = [resolve(store, ref, platform).descriptor]
    finally:
        store.close()
    if not anchors:
        from umoci.errors import RefNotFoundError

        raise RefNotFoundError(f"tag not found: {ref}")
    validator.run_entries([(a, entry_where(index, a.digest)) for a in anchors])
    return report


def validate_bundle(bundle: str) -> Report:
    """A runtime bundle: config.json, umoci.json, the mtree, and the rootfs against it."""
    from umoci.validate.bundle import check_bundle
    from umoci.validate.findings import Report

    report = Report()
    check_bundle(bundle, report)
    return report
