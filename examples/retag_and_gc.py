"""Promote a build to "stable", drop the old tags, and collect the garbage.

    python examples/retag_and_gc.py LAYOUT TAG

Points "stable" at LAYOUT:TAG, removes every other tag but "stable", and
deletes the blobs nothing reaches any more.
"""

from __future__ import annotations

import os
import sys

from umoci.api import Layout


def main(layout_path: str, tag: str) -> None:
    layout = Layout.open(layout_path)
    layout.tag(tag, "stable")
    for other in layout.tags():
        if other != "stable":
            layout.remove(other)
    before = len(os.listdir(os.path.join(layout_path, "blobs", "sha256")))
    layout.gc()
    after = len(os.listdir(os.path.join(layout_path, "blobs", "sha256")))
    print(f"tags: {layout.tags()}; blobs: {before} -> {after}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
