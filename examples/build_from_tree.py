"""Build an image from a directory tree, with a config, using umoci's Python API.

    python examples/build_from_tree.py LAYOUT TREE

makes LAYOUT (if needed), an empty image "app", adds TREE at /app as one
layer and sets the command and environment in one config step.
"""

from __future__ import annotations

import os
import sys

from umoci.api import Layout


def main(layout_path: str, tree: str) -> None:
    layout = Layout.open(layout_path) if os.path.exists(layout_path) else Layout.init(layout_path)
    image = layout.new_image("app").insert(tree, "/app")
    with image.config() as config:
        config.cmd = ["/app/run.sh"]
        config.env["APP_HOME"] = "/app"
        config.working_dir = "/app"
        config.labels["org.opencontainers.image.title"] = "example app"
    print(f"{layout_path}:app has {len(image.stat().manifest.layers)} layer(s)")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
