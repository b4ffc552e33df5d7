"""Images whose JSON is written byte by byte, for the decoder tests (core and oracle tiers).

Every document is raw JSON text, so a test can spell keys as Go tools may
(``"Cmd"``, ``"cmd"``, ``"\\u0043md"``), give a member twice, put ``null``
anywhere and write numbers and strings in any form JSON allows.  The
descriptor values that depend on other blobs are placeholders, filled in by
:func:`write_image`:

* ``@DIFF_ID@`` (in the config): the layer's diff_id;
* ``@CONFIG_DIGEST@``/``@CONFIG_SIZE@``, ``@LAYER_DIGEST@``/``@LAYER_SIZE@``
  (in the manifest);
* ``@MANIFEST_DIGEST@``/``@MANIFEST_SIZE@`` (in ``index.json``).

The layer is one uncompressed tar, the same bytes on every machine: an
``/etc/passwd`` and ``/etc/group`` with ``root`` and ``app`` (1000), and a
``/w`` directory.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_TAR = "application/vnd.oci.image.layer.v1.tar"
REF_NAME = "org.opencontainers.image.ref.name"

PASSWD = b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n"
GROUP = b"root:x:0:\napp:x:1000:\n"

MANIFEST = (
    '{"schemaVersion":2,"mediaType":"' + OCI_MANIFEST + '",'
    '"config":{"mediaType":"' + OCI_CONFIG + '","digest":"@CONFIG_DIGEST@","size":@CONFIG_SIZE@},'
    '"layers":[{"mediaType":"' + OCI_TAR + '","digest":"@LAYER_DIGEST@","size":@LAYER_SIZE@}]}'
)
INDEX = (
    '{"schemaVersion":2,"manifests":[{"mediaType":"' + OCI_MANIFEST + '",'
    '"digest":"@MANIFEST_DIGEST@","size":@MANIFEST_SIZE@,'
    '"annotations":{"' + REF_NAME + '":"t"}}]}'
)

# The image: an image config as Go tools may write it (encoding/json
# matches keys case-insensitively, so the Go umoci reads every field).
CAPITALISED_CONFIG = (
    '{"Architecture":"amd64","OS":"linux","Config":{"Cmd":["/bin/sh"],"WorkingDir":"/w",'
    '"Env":["A=1"]},"RootFS":{"Type":"layers","Diff_IDs":["@DIFF_ID@"]}}'
)


def _tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in (
            ("etc", None),
            ("etc/passwd", PASSWD),
            ("etc/group", GROUP),
            ("w", None),
        ):
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            info.uname = info.gname = "root"
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


LAYER = _tar()
DIFF_ID = "sha256:" + hashlib.sha256(LAYER).hexdigest()


def _put(blobs: Path, data: bytes) -> tuple[str, str]:
    hexdigest = hashlib.sha256(data).hexdigest()
    (blobs / hexdigest).write_bytes(data)
    return f"sha256:{hexdigest}", str(len(data))


def write_image(
    layout: Path,
    config: str | bytes,
    manifest: str | bytes = MANIFEST,
    index: str | bytes = INDEX,
) -> str:
    """Write an OCI layout holding one image tagged ``t``; return ``LAYOUT:t``."""
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')

    def raw(text: str | bytes) -> bytes:
        return text if isinstance(text, bytes) else text.encode()

    layer_digest, layer_size = _put(blobs, LAYER)
    config_digest, config_size = _put(blobs, raw(config).replace(b"@DIFF_ID@", DIFF_ID.encode()))
    manifest_bytes = raw(manifest)
    for token, value in (
        ("@CONFIG_DIGEST@", config_digest),
        ("@CONFIG_SIZE@", config_size),
        ("@LAYER_DIGEST@", layer_digest),
        ("@LAYER_SIZE@", layer_size),
    ):
        manifest_bytes = manifest_bytes.replace(token.encode(), value.encode())
    manifest_digest, manifest_size = _put(blobs, manifest_bytes)
    index_bytes = raw(index).replace(b"@MANIFEST_DIGEST@", manifest_digest.encode())
    index_bytes = index_bytes.replace(b"@MANIFEST_SIZE@", manifest_size.encode())
    (layout / "index.json").write_bytes(index_bytes)
    return f"{layout}:t"


def write_rootfs(root: Path) -> Path:
    """The layer's files, as ``raw runtime-config --rootfs`` reads them."""
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_bytes(PASSWD)
    (root / "etc" / "group").write_bytes(GROUP)
    (root / "w").mkdir()
    return root
