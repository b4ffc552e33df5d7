"""Derive an image: unpack, edit the root filesystem, repack as a new tag.

    python examples/derive_image.py LAYOUT FROM_TAG NEW_TAG

Unpacks LAYOUT:FROM_TAG into a temporary bundle (rootless when not root),
writes /etc/motd and removes /etc/issue if present, and repacks the changes
as one layer tagged NEW_TAG.
"""

from __future__ import annotations

import os
import sys
import tempfile

from umoci.api import Layout


def main(layout_path: str, from_tag: str, new_tag: str) -> None:
    layout = Layout.open(layout_path)
    with tempfile.TemporaryDirectory() as work:
        bundle = layout.image(from_tag).unpack(
            os.path.join(work, "bundle"), rootless=os.geteuid() != 0
        )
        etc = bundle.rootfs / "etc"
        etc.mkdir(exist_ok=True)
        (etc / "motd").write_text("built with umoci's Python API\n")
        (etc / "issue").unlink(missing_ok=True)
        derived = bundle.repack(layout, tag=new_tag)
    history = derived.stat().history
    last = history[-1].history.created_by
    print(f"{layout_path}:{new_tag}: {len(history)} history entries, last: {last}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
