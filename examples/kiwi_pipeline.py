"""A KIWI-style container build with no Go binary: import a base, derive an image, export it.

    python examples/kiwi_pipeline.py BASE WORKDIR NAME:TAG

1. imports BASE (a ``docker save`` archive, plain or compressed -- or any
   image name ``umoci copy`` takes, such as ``oci-archive:base.tar``) into
   the layout ``WORKDIR/layout`` as ``base_layer``;
2. unpacks it, changes the root filesystem (``/etc/motd``), repacks the
   change as one new layer;
3. sets the config (entrypoint, environment, a label) in one step;
4. exports the result as ``WORKDIR/image.oci.tar`` (an oci-archive tagged
   TAG) and ``WORKDIR/image.docker.tar`` (a docker-archive tagged NAME:TAG
   and NAME:latest), each replacing any previous file only once complete.

It prints one line per output: the file and the digest ``umoci copy``
returned.  ``podman load -i`` and ``docker load -i`` accept either file.
"""

from __future__ import annotations

import os
import sys
import tempfile

from umoci import api


def main(base: str, workdir: str, name_tag: str) -> None:
    name, _, tag = name_tag.rpartition(":")
    if not name:
        raise SystemExit("NAME:TAG: give both, e.g. example/app:1.0")
    source = base if ":" in base and not os.path.exists(base) else f"docker-archive:{base}"
    layout = api.Layout.init(os.path.join(workdir, "layout"))
    image = layout.import_image(source, "base_layer")
    with tempfile.TemporaryDirectory(dir=workdir) as work:
        bundle = image.unpack(os.path.join(work, "bundle"), rootless=os.geteuid() != 0)
        etc = bundle.rootfs / "etc"
        etc.mkdir(exist_ok=True)
        (etc / "motd").write_text(f"{name}:{tag}, built with umoci\n")
        derived = bundle.repack(layout, tag=tag)
    with derived.config() as config:
        config.entrypoint = ["/bin/sh", "-c"]
        config.env["APP"] = name
        config.labels["org.opencontainers.image.version"] = tag
    oci_archive = os.path.join(workdir, "image.oci.tar")
    docker_archive = os.path.join(workdir, "image.docker.tar")
    digest = derived.export(f"oci-archive:{oci_archive}:{tag}")
    print(f"{oci_archive}: {digest}")
    image_id = derived.export(
        f"docker-archive:{docker_archive}:{name}:{tag}", additional_tags=(f"{name}:latest",)
    )
    print(f"{docker_archive}: {image_id}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
