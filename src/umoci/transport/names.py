"""Image names with skopeo's transport syntax (containers-transports(5)).

::

    oci:PATH[:REF]                     a layout directory
    oci-archive:FILE[:REF]             a tar of a layout ("-": stdin / stdout)
    docker-archive:FILE[:NAME[:TAG]]   docker save's format ("-": stdin / stdout)
    docker-archive:FILE:@N             its N-th image (reading)
    docker-daemon:NAME[:TAG]           an image of the Docker engine
    docker-daemon:sha256:HEX           one by image ID (reading)
    docker://[HOST[:PORT]/]REPO[:TAG | @DIGEST]   a registry (:mod:`.registry`)

PATH and FILE end at the first colon, as skopeo has it, so a tag may hold
colons but a path may not.  An OCI REF is a tag (the image-spec ref.name
grammar), ``@DIGEST`` (a manifest or index reachable from ``index.json``,
a prefix of at least 12 hex digits will do: as ``--image PATH@DIGEST``
elsewhere) or ``@N`` (the N-th entry of ``index.json``, counting from 0).
Docker names follow the distribution reference grammar and are normalised
as Docker does (``foo`` is ``docker.io/library/foo``, a missing tag is
``latest``), which is also how skopeo writes them into archives.  A
registry name is the same grammar after ``docker://``, with ``@DIGEST``
(a full digest) in place of a tag if wanted; Docker Hub's images are
served by ``registry-1.docker.io``.
"""

from __future__ import annotations

import re

from umoci.errors import InvalidRefError, UsageError
from umoci.oci.refs import check_digest_ref, check_tag
from umoci.structs import dataclass

# The distribution reference grammar (github.com/distribution/reference).
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?"
_REMOTE_NAME = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_NAME = re.compile(rf"(?:({_DOMAIN})/)?({_REMOTE_NAME})")
_REMOTE = re.compile(_REMOTE_NAME)
_TAG = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
_MAX_NAME = 255
_DOCKER_HUB = "docker.io"


@dataclass(frozen=True)
class DockerReference:
    """A normalised Docker image name and tag (``docker.io/library/busybox:latest``)."""

    name: str
    tag: str

    def __str__(self) -> str:
        return f"{self.name}:{self.tag}"


def parse_docker_reference(text: str) -> DockerReference:
    """``NAME[:TAG]`` as Docker reads it; InvalidRefError if it is not one (or has a digest)."""
    if "@" in text:
        raise InvalidRefError(f"docker reference {text!r}: a digest is not allowed here")
    name, tag = _split_tag(text)
    domain, path = _normalise_name(name, text)
    return DockerReference(f"{domain}/{path}", tag or "latest")


def is_docker_tag(tag: str) -> bool:
    """Does *tag* match the distribution grammar's tag (``[\\w][\\w.-]{0,127}``)?"""
    return _TAG.fullmatch(tag) is not None


def _split_tag(text: str) -> tuple[str, str | None]:
    """``NAME[:TAG]`` into NAME and TAG (None when absent); InvalidRefError for a bad tag."""
    slash = text.rfind("/")
    colon = text.rfind(":")
    if colon <= slash:
        return text, None
    tag = text[colon + 1 :]
    if _TAG.fullmatch(tag) is None:
        raise InvalidRefError(f"docker reference {text!r}: invalid tag {tag!r}")
    return text[:colon], tag


def _normalise_name(name: str, text: str) -> tuple[str, str]:
    """A repository name as Docker completes it: (registry host, repository path)."""
    match = _NAME.fullmatch(name)
    if not name or match is None:
        raise InvalidRefError(f"docker reference {text!r}: invalid repository name")
    domain, path = match.group(1), match.group(2)
    if domain is not None and not ("." in domain or ":" in domain or domain == "localhost"):
        # "foo/bar": the first component is a path component, not a host.
        if _REMOTE.fullmatch(name) is None:
            raise InvalidRefError(f"docker reference {text!r}: invalid repository name")
        domain, path = None, name
    if domain is None or domain == "index.docker.io":
        domain = _DOCKER_HUB
    if domain == _DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if len(domain) + 1 + len(path) > _MAX_NAME:
        raise InvalidRefError(f"docker reference {text!r}: name longer than {_MAX_NAME}")
    return domain, path


@dataclass(frozen=True)
class LayoutName:
    """``oci:PATH[:REF]``: *ref* is a tag or ``@DIGEST``; *index* an ``@N`` entry number."""

    path: str
    ref: str | None = None
    index: int | None = None

    def __str__(self) -> str:
        return f"oci:{self.path}{_suffix(self.ref, self.index)}"


@dataclass(frozen=True)
class OciArchiveName:
    """``oci-archive:FILE[:REF]`` (FILE ``-``: standard input or output)."""

    path: str
    ref: str | None = None
    index: int | None = None

    def __str__(self) -> str:
        return f"oci-archive:{self.path}{_suffix(self.ref, self.index)}"


@dataclass(frozen=True)
class DockerArchiveName:
    """``docker-archive:FILE[:NAME:TAG | :@N]``."""

    path: str
    reference: DockerReference | None = None
    index: int | None = None

    def __str__(self) -> str:
        ref = None if self.reference is None else str(self.reference)
        return f"docker-archive:{self.path}{_suffix(ref, self.index)}"


@dataclass(frozen=True)
class DockerDaemonName:
    """``docker-daemon:NAME[:TAG]``, or ``docker-daemon:sha256:HEX`` (an image ID)."""

    reference: DockerReference | None = None
    image_id: str | None = None

    def __str__(self) -> str:
        return f"docker-daemon:{self.reference if self.reference is not None else self.image_id}"


@dataclass(frozen=True)
class RegistryName:
    """``docker://HOST/REPO:TAG`` or ``docker://HOST/REPO@DIGEST``, normalised.

    *registry* is the name's host (``docker.io`` for Docker Hub, as
    credentials are filed), *repository* the path in it
    (``library/alpine``); exactly one of *tag* and *digest* is set.
    """

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        where = f"@{self.digest}" if self.digest is not None else f":{self.tag}"
        return f"docker://{self.registry}/{self.repository}{where}"

    @property
    def reference(self) -> str:
        """The tag or digest, as the registry API names a manifest."""
        reference = self.digest if self.digest is not None else self.tag
        assert reference is not None
        return reference


ImageName = LayoutName | OciArchiveName | DockerArchiveName | DockerDaemonName | RegistryName

#: Transports skopeo has and we do not (yet): named in the error.
_UNSUPPORTED = {
    "containers-storage": "containers-storage: is not supported (podman's store; use docker-daemon:"
    " with podman's Docker-compatible service, or docker-archive: with podman save/load)",
    "dir": "dir: is not supported (a non-standard format): use oci:",
    "sif": "sif: is not supported",
}
TRANSPORTS = ("oci", "oci-archive", "docker-archive", "docker-daemon", "docker")


def _suffix(ref: str | None, index: int | None) -> str:
    if index is not None:
        return f":@{index}"
    return "" if ref is None else f":{ref}"


def parse_image_name(text: str) -> ImageName:
    """Parse ``TRANSPORT:DETAILS``; UsageError saying what is wrong."""
    try:
        return _parse(text)
    except InvalidRefError as err:
        raise UsageError(f"invalid image name {text!r}: {err}") from None


def _parse(text: str) -> ImageName:
    transport, colon, details = text.partition(":")
    if not colon:
        raise InvalidRefError(
            f"want TRANSPORT:DETAILS, with a transport of {', '.join(TRANSPORTS)}"
        )
    if transport in _UNSUPPORTED:
        raise InvalidRefError(_UNSUPPORTED[transport])
    if transport == "docker-daemon":
        return _daemon_name(details)
    if transport == "docker":
        return _registry_name(details)
    path, _, ref = details.partition(":")
    if not path:
        raise InvalidRefError("the path is empty")
    has_ref = ":" in details
    if transport in ("oci", "oci-archive"):
        tag, index = _oci_ref(ref) if has_ref else (None, None)
        if transport == "oci":
            return LayoutName(path, tag, index)
        return OciArchiveName(path, tag, index)
    if transport == "docker-archive":
        if not has_ref:
            return DockerArchiveName(path)
        index = _source_index(ref[1:]) if ref.startswith("@") else None
        if index is not None:
            return DockerArchiveName(path, index=index)
        return DockerArchiveName(path, parse_docker_reference(ref))
    raise InvalidRefError(f"unknown transport {transport!r}: want one of {', '.join(TRANSPORTS)}")


def _oci_ref(ref: str) -> tuple[str | None, int | None]:
    """An OCI REF: ``@N``, ``@ALG:HEX`` (as the verbs take it: ``@`` kept) or a tag."""
    if not ref.startswith("@"):
        return check_tag(ref), None
    index = _source_index(ref[1:])
    if index is not None:
        return None, index
    algorithm, colon, encoded = ref[1:].partition(":")
    if not colon or algorithm not in ("sha256", "sha512"):
        raise InvalidRefError(f"{ref!r}: want @N (an entry number) or @sha256:HEX (a digest)")
    return check_digest_ref(algorithm, encoded), None


def _source_index(text: str) -> int | None:
    """``N`` of ``@N`` when *text* is a decimal number, else None."""
    if not text.isascii() or not text.isdigit():
        return None
    if len(text) > 9:
        raise InvalidRefError(f"@{text}: entry number too large")
    return int(text)


def _daemon_name(details: str) -> DockerDaemonName:
    algorithm, colon, encoded = details.partition(":")
    if colon and algorithm == "sha256" and re.fullmatch(r"[0-9a-f]{64}", encoded):
        return DockerDaemonName(image_id=details)
    if not details:
        raise InvalidRefError("the image name is empty")
    return DockerDaemonName(parse_docker_reference(details))


def _registry_name(details: str) -> RegistryName:
    """``//NAME[:TAG]`` or ``//NAME@DIGEST`` (skopeo: a reference with both is refused)."""
    if not details.startswith("//"):
        raise InvalidRefError("want docker://[HOST[:PORT]/]REPO[:TAG|@DIGEST]")
    text = details[2:]
    if not text:
        raise InvalidRefError("the image name is empty")
    name, at, digest = text.partition("@")
    if at:
        algorithm, colon, encoded = digest.partition(":")
        hex_length = {"sha256": 64, "sha512": 128}.get(algorithm)
        if (
            not colon
            or hex_length is None
            or re.fullmatch(f"[0-9a-f]{{{hex_length}}}", encoded) is None
        ):
            raise InvalidRefError(f"{text!r}: invalid digest {digest!r}: want sha256:HEX")
    name, tag = _split_tag(name)
    if at and tag is not None:
        raise InvalidRefError(f"{text!r}: give a tag or a digest, not both")
    domain, path = _normalise_name(name, text)
    if at:
        return RegistryName(domain, path, digest=digest)
    return RegistryName(domain, path, tag=tag or "latest")
