"""Image names in skopeo's syntax: what each transport's details mean, and what is refused."""

from __future__ import annotations

import pytest

from umoci.errors import UsageError
from umoci.transport.names import (
    DockerArchiveName,
    DockerDaemonName,
    DockerReference,
    LayoutName,
    OciArchiveName,
    RegistryName,
    parse_image_name,
)

HEX = "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("oci:dir", LayoutName("dir")),
        ("oci:dir:v1", LayoutName("dir", "v1")),
        # The path ends at the first colon; the rest is the reference.
        ("oci:dir:a:b", LayoutName("dir", "a:b")),
        ("oci:dir:@2", LayoutName("dir", index=2)),
        ("oci:dir:@sha256:0123456789ab", LayoutName("dir", "@sha256:0123456789ab")),
        ("oci-archive:f.tar", OciArchiveName("f.tar")),
        ("oci-archive:-:v1", OciArchiveName("-", "v1")),
        ("docker-archive:f.tar", DockerArchiveName("f.tar")),
        ("docker-archive:f.tar:@1", DockerArchiveName("f.tar", index=1)),
        (
            "docker-archive:f.tar:busybox",
            DockerArchiveName("f.tar", DockerReference("docker.io/library/busybox", "latest")),
        ),
        (
            "docker-archive:f.tar:foo/bar:v2",
            DockerArchiveName("f.tar", DockerReference("docker.io/foo/bar", "v2")),
        ),
        (
            "docker-archive:f.tar:localhost:5000/a/b:t",
            DockerArchiveName("f.tar", DockerReference("localhost:5000/a/b", "t")),
        ),
        (
            "docker-archive:f.tar:quay.io/x/y",
            DockerArchiveName("f.tar", DockerReference("quay.io/x/y", "latest")),
        ),
        (
            "docker-daemon:index.docker.io/library/alpine:3",
            DockerDaemonName(DockerReference("docker.io/library/alpine", "3")),
        ),
        (f"docker-daemon:sha256:{HEX}", DockerDaemonName(image_id=f"sha256:{HEX}")),
        # Registries: Docker Hub's short names completed, a missing tag is "latest".
        ("docker://alpine", RegistryName("docker.io", "library/alpine", tag="latest")),
        ("docker://index.docker.io/foo/bar:1", RegistryName("docker.io", "foo/bar", tag="1")),
        (
            "docker://localhost:5000/a/b/c:v1.2",
            RegistryName("localhost:5000", "a/b/c", tag="v1.2"),
        ),
        ("docker://127.0.0.1:5000/x", RegistryName("127.0.0.1:5000", "x", tag="latest")),
        (
            f"docker://quay.io/x/y@sha256:{HEX}",
            RegistryName("quay.io", "x/y", digest=f"sha256:{HEX}"),
        ),
    ],
)
def test_names(text: str, name: object) -> None:
    assert parse_image_name(text) == name


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("layout", "want TRANSPORT:DETAILS"),
        ("oci:", "the path is empty"),
        ("oci::v1", "the path is empty"),
        ("oci:dir:", "tag is empty"),
        ("oci:dir:bad tag", "invalid characters"),
        ("oci:dir:@sha256:abc", "at least 12 hex digits"),
        ("oci:dir:@md5:0123456789abcdef", "want @N"),
        ("docker-archive:f:Upper/case", "invalid repository name"),
        ("docker-archive:f:name@sha256:" + HEX, "a digest is not allowed"),
        ("docker-archive:f:name:-bad", "invalid tag"),
        ("docker-daemon:", "the image name is empty"),
        ("docker:busybox", "want docker://"),
        ("docker://", "the image name is empty"),
        ("docker://Upper/case", "invalid repository name"),
        (f"docker://busybox:v1@sha256:{HEX}", "not both"),
        ("docker://busybox@sha256:abc", "invalid digest"),
        ("docker://busybox:-bad", "invalid tag"),
        ("dir:/tmp/x", "use oci:"),
        ("tarball:x", "unknown transport 'tarball'"),
    ],
)
def test_refused_names(text: str, why: str) -> None:
    with pytest.raises(UsageError, match="invalid image name") as caught:
        parse_image_name(text)
    assert why in str(caught.value)


def test_names_print_as_typed() -> None:
    for text in (
        "oci:dir:v1",
        "oci-archive:f.tar:@3",
        "docker-archive:f:docker.io/a/b:c",
        "docker://localhost:5000/a/b:c",
        f"docker://docker.io/library/x@sha256:{HEX}",
    ):
        assert str(parse_image_name(text)) == text
