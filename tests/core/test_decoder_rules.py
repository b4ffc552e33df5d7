"""The one JSON decoder's rules, pinned by examples whose answers come from the Go umoci 0.6.

Every expectation here was asked of the 0.6 binary (the oracle tier,
tests/oracle/test_oracle_decoder.py, keeps asking it over generated
documents); these keep the rules checked on machines without it.  The
capitalised-key image's outputs are 0.6's own, stored as literals.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from decoderkit import (
    CAPITALISED_CONFIG,
    MANIFEST,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
    REF_NAME,
    write_image,
    write_rootfs,
)
from umoci.cli import main
from umoci.errors import BlobInvalidError, BundleError, LayoutError, UmociError
from umoci.oci import decode, gojson, mediatypes
from umoci.oci.decode import STRING, Context, Problem, Struct
from umoci.oci.models import (
    Descriptor,
    ImageConfig,
    ImageLayout,
    Index,
    Manifest,
    referenced_descriptors,
)
from umoci.runtime.bundle_meta import parse_umoci_json

DIGEST = "sha256:" + "ab" * 32

# -- the image: Go-style capitalised keys, as 0.6 shows and unpacks it ------------

STAT_TEXT = (
    "\n".join(
        [
            "== MANIFEST ==",
            "Schema Version: 2",
            "Media Type: application/vnd.oci.image.manifest.v1+json",
            "Config:",
            "\tDescriptor:",
            "\t\tMedia Type: application/vnd.oci.image.config.v1+json",
            "\t\tDigest: sha256:fef34dc8a6f7dc35c528bc0def99e301220f8f27fcb00c9b472bb4e8b960e5f6",
            "\t\tSize: 212B",
            "Layers:",
            "\tDescriptor:",
            "\t\tMedia Type: application/vnd.oci.image.layer.v1.tar",
            "\t\tDigest: sha256:3fd99b1259940075898f83e52d665f330233c120297ed9d3163a14602dc10092",
            "\t\tSize: 10.24kB",
            "Descriptor:",
            "\tMedia Type: application/vnd.oci.image.manifest.v1+json",
            "\tDigest: sha256:ce70a25d0c79ee7e1d946fef29a81f658782f1aacdd3fc27534434298b62ec19",
            "\tSize: 398B",
            "\tAnnotations:",
            "\t\torg.opencontainers.image.ref.name: t",
            "",
            "== CONFIG ==",
            'Author: ""',
            "Platform:",
            "\tOS: linux",
            "\tArchitecture: amd64",
            "Image Config:",
            '\tUser: ""',
            "\tCommand:",
            "\t\t/bin/sh",
            "\tWorking Directory: /w",
            "\tEnvironment:",
            "\t\tA=1",
            "Descriptor:",
            "\tMedia Type: application/vnd.oci.image.config.v1+json",
            "\tDigest: sha256:fef34dc8a6f7dc35c528bc0def99e301220f8f27fcb00c9b472bb4e8b960e5f6",
            "\tSize: 212B",
            "",
            "== HISTORY ==",
            "LAYER CREATED CREATED BY SIZE COMMENT",
        ]
    )
    + "\n"
)

STAT_JSON = (
    '{"manifest":{"descriptor":{"mediaType":"application/vnd.oci.image.manifest.v1+js'
    'on","digest":"sha256:ce70a25d0c79ee7e1d946fef29a81f658782f1aacdd3fc27534434298b6'
    '2ec19","size":398,"annotations":{"org.opencontainers.image.ref.name":"t"}},"blob'
    '":{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","c'
    'onfig":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:'
    'fef34dc8a6f7dc35c528bc0def99e301220f8f27fcb00c9b472bb4e8b960e5f6","size":212},"l'
    'ayers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:3'
    'fd99b1259940075898f83e52d665f330233c120297ed9d3163a14602dc10092","size":10240}]}'
    '},"config":{"descriptor":{"mediaType":"application/vnd.oci.image.config.v1+json"'
    ',"digest":"sha256:fef34dc8a6f7dc35c528bc0def99e301220f8f27fcb00c9b472bb4e8b960e5'
    'f6","size":212},"blob":{"Architecture":"amd64","OS":"linux","Config":{"Cmd":["/b'
    'in/sh"],"WorkingDir":"/w","Env":["A=1"]},"RootFS":{"Type":"layers","Diff_IDs":["'
    'sha256:3fd99b1259940075898f83e52d665f330233c120297ed9d3163a14602dc10092"]}}},"hi'
    'story":[]}\n'
)

CONFIG_JSON = (
    "\n".join(
        [
            "{",
            '\t"ociVersion": "1.3.0",',
            '\t"process": {',
            '\t\t"terminal": true,',
            '\t\t"user": {',
            '\t\t\t"uid": 0,',
            '\t\t\t"gid": 0',
            "\t\t},",
            '\t\t"args": [',
            '\t\t\t"/bin/sh"',
            "\t\t],",
            '\t\t"env": [',
            '\t\t\t"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",',
            '\t\t\t"TERM=xterm",',
            '\t\t\t"A=1",',
            '\t\t\t"HOME=/root"',
            "\t\t],",
            '\t\t"cwd": "/w",',
            '\t\t"capabilities": {',
            '\t\t\t"bounding": [',
            '\t\t\t\t"CAP_AUDIT_WRITE",',
            '\t\t\t\t"CAP_KILL",',
            '\t\t\t\t"CAP_NET_BIND_SERVICE"',
            "\t\t\t],",
            '\t\t\t"effective": [',
            '\t\t\t\t"CAP_AUDIT_WRITE",',
            '\t\t\t\t"CAP_KILL",',
            '\t\t\t\t"CAP_NET_BIND_SERVICE"',
            "\t\t\t],",
            '\t\t\t"inheritable": [',
            '\t\t\t\t"CAP_AUDIT_WRITE",',
            '\t\t\t\t"CAP_KILL",',
            '\t\t\t\t"CAP_NET_BIND_SERVICE"',
            "\t\t\t],",
            '\t\t\t"permitted": [',
            '\t\t\t\t"CAP_AUDIT_WRITE",',
            '\t\t\t\t"CAP_KILL",',
            '\t\t\t\t"CAP_NET_BIND_SERVICE"',
            "\t\t\t],",
            '\t\t\t"ambient": [',
            '\t\t\t\t"CAP_AUDIT_WRITE",',
            '\t\t\t\t"CAP_KILL",',
            '\t\t\t\t"CAP_NET_BIND_SERVICE"',
            "\t\t\t]",
            "\t\t},",
            '\t\t"rlimits": [',
            "\t\t\t{",
            '\t\t\t\t"type": "RLIMIT_NOFILE",',
            '\t\t\t\t"hard": 1024,',
            '\t\t\t\t"soft": 1024',
            "\t\t\t}",
            "\t\t],",
            '\t\t"noNewPrivileges": true',
            "\t},",
            '\t"root": {',
            '\t\t"path": "rootfs"',
            "\t},",
            '\t"hostname": "umoci-default",',
            '\t"mounts": [',
            "\t\t{",
            '\t\t\t"destination": "/proc",',
            '\t\t\t"type": "proc",',
            '\t\t\t"source": "proc"',
            "\t\t},",
            "\t\t{",
            '\t\t\t"destination": "/dev",',
            '\t\t\t"type": "tmpfs",',
            '\t\t\t"source": "tmpfs",',
            '\t\t\t"options": [',
            '\t\t\t\t"nosuid",',
            '\t\t\t\t"strictatime",',
            '\t\t\t\t"mode=755",',
            '\t\t\t\t"size=65536k"',
            "\t\t\t]",
            "\t\t},",
            "\t\t{",
            '\t\t\t"destination": "/dev/pts",',
            '\t\t\t"type": "devpts",',
            '\t\t\t"source": "devpts",',
            '\t\t\t"options": [',
            '\t\t\t\t"nosuid",',
            '\t\t\t\t"noexec",',
            '\t\t\t\t"newinstance",',
            '\t\t\t\t"ptmxmode=0666",',
            '\t\t\t\t"mode=0620",',
            '\t\t\t\t"gid=5"',
            "\t\t\t]",
            "\t\t},",
            "\t\t{",
            '\t\t\t"destination": "/dev/shm",',
            '\t\t\t"type": "tmpfs",',
            '\t\t\t"source": "shm",',
            '\t\t\t"options": [',
            '\t\t\t\t"nosuid",',
            '\t\t\t\t"noexec",',
            '\t\t\t\t"nodev",',
            '\t\t\t\t"mode=1777",',
            '\t\t\t\t"size=65536k"',
            "\t\t\t]",
            "\t\t},",
            "\t\t{",
            '\t\t\t"destination": "/dev/mqueue",',
            '\t\t\t"type": "mqueue",',
            '\t\t\t"source": "mqueue",',
            '\t\t\t"options": [',
            '\t\t\t\t"nosuid",',
            '\t\t\t\t"noexec",',
            '\t\t\t\t"nodev"',
            "\t\t\t]",
            "\t\t},",
            "\t\t{",
            '\t\t\t"destination": "/sys",',
            '\t\t\t"type": "sysfs",',
            '\t\t\t"source": "sysfs",',
            '\t\t\t"options": [',
            '\t\t\t\t"nosuid",',
            '\t\t\t\t"noexec",',
            '\t\t\t\t"nodev",',
            '\t\t\t\t"ro"',
            "\t\t\t]",
            "\t\t},",
            "\t\t{",
            '\t\t\t"destination": "/sys/fs/cgroup",',
            '\t\t\t"type": "cgroup",',
            '\t\t\t"source": "cgroup",',
            '\t\t\t"options": [',
            '\t\t\t\t"nosuid",',
            '\t\t\t\t"noexec",',
            '\t\t\t\t"nodev",',
            '\t\t\t\t"relatime",',
            '\t\t\t\t"ro"',
            "\t\t\t]",
            "\t\t}",
            "\t],",
            '\t"annotations": {',
            '\t\t"org.opencontainers.image.architecture": "amd64",',
            '\t\t"org.opencontainers.image.created": "0001-01-01T00:00:00Z",',
            '\t\t"org.opencontainers.image.os": "linux"',
            "\t},",
            '\t"linux": {',
            '\t\t"resources": {',
            '\t\t\t"devices": [',
            "\t\t\t\t{",
            '\t\t\t\t\t"allow": false,',
            '\t\t\t\t\t"access": "rwm"',
            "\t\t\t\t}",
            "\t\t\t]",
            "\t\t},",
            '\t\t"namespaces": [',
            "\t\t\t{",
            '\t\t\t\t"type": "cgroup"',
            "\t\t\t},",
            "\t\t\t{",
            '\t\t\t\t"type": "pid"',
            "\t\t\t},",
            "\t\t\t{",
            '\t\t\t\t"type": "network"',
            "\t\t\t},",
            "\t\t\t{",
            '\t\t\t\t"type": "ipc"',
            "\t\t\t},",
            "\t\t\t{",
            '\t\t\t\t"type": "uts"',
            "\t\t\t},",
            "\t\t\t{",
            '\t\t\t\t"type": "mount"',
            "\t\t\t}",
            "\t\t],",
            '\t\t"maskedPaths": [',
            '\t\t\t"/proc/kcore",',
            '\t\t\t"/proc/latency_stats",',
            '\t\t\t"/proc/timer_list",',
            '\t\t\t"/proc/timer_stats",',
            '\t\t\t"/proc/sched_debug",',
            '\t\t\t"/sys/firmware",',
            '\t\t\t"/proc/scsi"',
            "\t\t],",
            '\t\t"readonlyPaths": [',
            '\t\t\t"/proc/asound",',
            '\t\t\t"/proc/bus",',
            '\t\t\t"/proc/fs",',
            '\t\t\t"/proc/irq",',
            '\t\t\t"/proc/sys",',
            '\t\t\t"/proc/sysrq-trigger"',
            "\t\t]",
            "\t}",
            "}",
        ]
    )
    + "\n"
)


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_capitalised_keys_stat_like_go(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = write_image(tmp_path / "L", CAPITALISED_CONFIG)
    assert run(capsys, "stat", "--image", image) == (0, STAT_TEXT, "")
    assert run(capsys, "stat", "--json", "--image", image) == (0, STAT_JSON, "")


def test_capitalised_keys_runtime_config_like_go(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = write_image(tmp_path / "L", CAPITALISED_CONFIG)
    rootfs = write_rootfs(tmp_path / "rootfs")
    out = tmp_path / "config.json"
    assert run(capsys, "raw", "runtime-config", "--image", image, "--rootfs", rootfs, out)[0] == 0
    assert out.read_text() == CONFIG_JSON
    # Without a rootfs there is no passwd to take HOME from, and root.path is ".".
    assert run(capsys, "raw", "runtime-config", "--image", image, out)[0] == 0
    without_rootfs = CONFIG_JSON.replace('"A=1",\n\t\t\t"HOME=/root"', '"A=1"')
    assert out.read_text() == without_rootfs.replace('"path": "rootfs"', '"path": "."')


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="the expected config.json is a rootful unpack's")
def test_capitalised_keys_unpack_like_go(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = write_image(tmp_path / "L", CAPITALISED_CONFIG)
    assert run(capsys, "unpack", "--image", image, tmp_path / "bundle")[0] == 0
    assert (tmp_path / "bundle" / "config.json").read_text() == CONFIG_JSON


# -- keys ----------------------------------------------------------------------------


def config(text: str) -> ImageConfig:
    return ImageConfig.from_bytes(text.encode())


@pytest.mark.parametrize(
    ("key", "field"),
    [
        ("Cmd", "Cmd"),
        ("cmd", "Cmd"),
        ("CMD", "Cmd"),
        ("\\u0043md", "Cmd"),  # an escaped key is the key it spells
        ("u\u017fer", "User"),  # long s folds to s
        ("WOR\u212aINGDIR", "WorkingDir"),  # the Kelvin sign folds to k
        ("workingdir", "WorkingDir"),
        ("working_dir", None),  # an underscore is not folded away
        ("StopS\u0131gnal", None),  # dotless i does not fold to i
        ("StopS\u0130gnal", None),  # nor does dotted capital I
    ],
)
def test_keys_match_fields_as_in_go(key: str, field: str | None) -> None:
    value = '["x"]' if field in ("Cmd",) else '"x"'
    decoded = config(f'{{"config":{{"{key}":{value}}}}}').config
    found = {
        "Cmd": decoded.cmd == ("x",),
        "User": decoded.user == "x",
        "WorkingDir": decoded.working_dir == "x",
        "StopSignal": decoded.stop_signal == "x",
    }
    assert [name for name, hit in found.items() if hit] == ([field] if field else [])
    if field is None:
        assert len(decoded.extra) == 1  # kept for rewrites, as an unknown field


def test_an_exact_key_is_preferred_to_a_folded_one() -> None:
    def make(kw: dict[str, object], path: str, ctx: Context) -> dict[str, object]:
        return kw

    two = Struct((("a", "lower", STRING), ("A", "upper", STRING)), make)
    ctx = Context("doc", BlobInvalidError)
    assert two.document({"A": "1", "a": "2"}, ctx) == {"upper": "1", "lower": "2"}
    # Neither spelled exactly: the first field that folds the same, as Go does.
    assert two.document(decode.parse(b'{"\\u0061":"3"}', "doc"), ctx) == {"lower": "3"}


def test_image_config_platform_fields_fold_too() -> None:
    decoded = config(
        '{"os.Version":"V","OS.FEATURES":["f"],"os_version":"no","Variant":"v8",'
        '"AUTHOR":"me","CREATED":"2020-01-01T00:00:00Z"}'
    )
    assert (decoded.os_version, decoded.os_features, decoded.variant, decoded.author) == (
        "V",
        ("f",),
        "v8",
        "me",
    )
    assert decoded.created is not None
    assert decoded.created.format() == "2020-01-01T00:00:00Z"
    assert list(decoded.extra) == ["os_version"]


# -- duplicates merge, later wins ------------------------------------------------------


def test_later_members_merge_into_earlier_ones() -> None:
    c = config(
        '{"config":{"Labels":{"a":"1"},"labels":{"b":"2"},"User":"u","user":null,'
        '"ExposedPorts":{"80/tcp":{}},"exposedports":{"443/tcp":{}}},'
        '"Config":{"WorkingDir":"/w"}}'
    ).config
    assert c.labels == {"a": "1", "b": "2"}  # maps merge
    assert c.user == "u"  # null leaves a string as it was
    assert c.exposed_ports == ("443/tcp", "80/tcp")  # sorted as Go sorts strings
    assert c.working_dir == "/w"  # the second "config" merged into the first


@pytest.mark.parametrize(
    ("members", "cmd"),
    [
        ('"Cmd":["a","b"],"cmd":[null,"c"]', ("a", "c")),  # elements decode into elements
        ('"Cmd":["x"],"Cmd":null', ()),  # null makes a slice nil
        ('"Cmd":["x"],"Cmd":[]', ()),
        # An earlier, longer array is still behind a shorter one...
        ('"Cmd":["a","b","c"],"Cmd":["x"],"Cmd":[null,null,null]', ("x", "b", "c")),
        ('"Cmd":["a","b","c"],"Cmd":["x"],"Cmd":[null,null,null,null]', ("x", "b", "c", "")),
        # ... but not behind an empty one.
        ('"Cmd":["a","b"],"Cmd":[],"Cmd":[null,null]', ("", "")),
    ],
)
def test_arrays_decode_into_earlier_slices_as_in_go(members: str, cmd: tuple[str, ...]) -> None:
    assert config(f'{{"config":{{{members}}}}}').config.cmd == cmd


def test_null_values_and_merged_structs_in_lists() -> None:
    decoded = config(
        '{"config":{"Labels":{"a":"1"},"Labels":{"a":null}},'
        '"created":"2020-01-01T00:00:00Z","Created":null,'
        '"history":[{"created":"2021-01-01T00:00:00Z","created_by":"a","comment":"c"}],'
        '"History":[{"created_by":"b"}]}'
    )
    assert decoded.config.labels == {"a": ""}  # a null map value is a fresh zero
    assert decoded.created is None  # null makes a pointer nil
    (history,) = decoded.history
    assert (history.created_by, history.comment) == ("b", "c")
    assert history.created is not None


# -- strings and numbers -----------------------------------------------------------------


def test_lone_surrogates_and_bad_utf8_become_replacement_characters() -> None:
    data = b'{"config":{"Cmd":["\\ud800x","\\ud83d\\ude00","a\xe2\x82b","\xed\xa0\x80"]}}'
    assert ImageConfig.from_bytes(data).config.cmd == (
        "\ufffdx",
        "\U0001f600",
        "a\ufffd\ufffdb",  # one per byte, as Go decodes them
        "\ufffd\ufffd\ufffd",
    )


def test_numbers_in_unknown_fields_are_anything_json_allows() -> None:
    decoded = config(
        '{"x":1e400,"y":-0,"z":123456789012345678901234567890,"w":1E+2,'
        '"v":' + "9" * 5000 + ',"config":{"Q":-0.0e-5}}'
    )
    # 1e400 and the 5000 digits cannot be written back as the numbers they are:
    # they are dropped from what a rewrite keeps, as Go drops every unknown field.
    assert decoded.extra == {"y": 0, "z": 123456789012345678901234567890, "w": 100.0}
    assert decoded.config.extra == {"Q": -0.0}
    gojson.dumps_blob(decoded.to_json())


def descriptor(members: str) -> Descriptor:
    return Descriptor.from_json(decode.parse(f'{{"digest":"{DIGEST}",{members}}}'.encode(), "d"))


@pytest.mark.parametrize("size", ["1.0", "1e2", '"7"', "99999999999999999999", "true"])
def test_integer_fields_take_integers_in_range(size: str) -> None:
    with pytest.raises(BlobInvalidError, match="size"):
        descriptor(f'"size":{size}')
    # Even when a good value follows: Go reports the type error for the document.
    with pytest.raises(BlobInvalidError, match="size"):
        descriptor(f'"size":{size},"size":3')


def test_descriptor_keys_fold_and_nulls_keep_values() -> None:
    d = descriptor('"Size":3,"SIZE":null,"Digest":null,"MediaType":"m","size":-0')
    assert (d.media_type, d.digest, d.size) == ("m", DIGEST, 0)
    # U+0131 does not fold to i: "d\u0131gest" is an unknown field, the digest missing.
    with pytest.raises(BlobInvalidError, match="missing digest"):
        Descriptor.from_json(
            decode.parse(b'{"d\\u0131gest":"' + DIGEST.encode() + b'","size":1}', "d")
        )


@pytest.mark.parametrize(
    ("data", "embedded"),
    [('"aGk="', b"hi"), ('"aG\\nk="', b"hi"), ('""', b""), ('"aGk=","data":null', None)],
)
def test_embedded_data_is_base64_as_go_reads_it(data: str, embedded: bytes | None) -> None:
    assert descriptor(f'"size":2,"data":{data}').data == embedded


@pytest.mark.parametrize("data", ['"!!"', '"aGk"', "5"])
def test_embedded_data_that_is_not_base64_is_refused(data: str) -> None:
    with pytest.raises(BlobInvalidError, match="data"):
        descriptor(f'"size":2,"data":{data}')


# -- refusals: one line naming the field ------------------------------------------------


@pytest.mark.parametrize(
    ("document", "names"),
    [
        ('{"config":{"Cmd":"x"}}', "config.Cmd: expected array, got string"),
        ('{"config":{"Env":[1]}}', "config.Env[0]: expected string, got number"),
        ('{"config":{"Labels":{"a":1}}}', "config.Labels.a: expected string, got number"),
        ('{"config":{"ExposedPorts":{"80":[]}}}', "config.ExposedPorts.80: expected object"),
        ('{"config":[]}', "config: expected object, got array"),
        ('{"history":[{"empty_layer":"true"}]}', "history[0].empty_layer: expected bool"),
        ('{"config":{"ArgsEscaped":1}}', "config.ArgsEscaped: expected bool, got number"),
        ('{"created":"yesterday"}', 'created: parsing time "yesterday"'),
        ('{"config":{"Cmd":"x","Cmd":["y"]}}', "config.Cmd: expected array"),
        ('{"x":NaN}', "invalid JSON: NaN is not a JSON value"),
        ('\ufeff{"os":"linux"}', "invalid JSON"),
        ("[]", "expected object, got array"),
    ],
)
def test_type_errors_refuse_the_document_in_one_line(document: str, names: str) -> None:
    with pytest.raises(BlobInvalidError) as refused:
        ImageConfig.from_bytes(document.encode(), "config sha256:x")
    message = str(refused.value)
    assert message.startswith("config sha256:x: ")
    assert names in message
    assert "\n" not in message


def test_null_is_the_zero_document() -> None:
    assert ImageConfig.from_bytes(b"null") == ImageConfig(rootfs_type="")
    # Go's zero index has schemaVersion 0, which we refuse (README: deliberate differences).
    with pytest.raises(BlobInvalidError, match="unsupported schemaVersion 0"):
        Index.from_bytes(b"null", mediatypes.INDEX)


# -- manifests and indexes ----------------------------------------------------------------


def manifest(text: str) -> Manifest:
    return Manifest.from_bytes(text.replace("@D@", DIGEST).encode(), mediatypes.MANIFEST)


def test_manifest_keys_fold_like_every_other_document() -> None:
    m = manifest(
        '{"SchemaVersion":2,"MediaType":"' + OCI_MANIFEST + '",'
        '"Config":{"MediaType":"' + OCI_CONFIG + '","Digest":"@D@","SIZE":7},'
        '"Layers":[{"mediaType":"x","digest":"@D@","size":1}]}'
    )
    assert (m.media_type, m.config.media_type, m.config.size, len(m.layers)) == (
        OCI_MANIFEST,
        OCI_CONFIG,
        7,
        1,
    )


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        (',"manifests":null', "'manifests' field"),  # present, even as null
        (',"MANIFESTS":[]', "'manifests' field"),
        (',"MediaType":"' + OCI_INDEX + '"', "does not match"),
        (',"schemaVersion":2.0', "schemaVersion"),
    ],
)
def test_manifests_refused_as_go_refuses_them(extra: str, why: str) -> None:
    base = '{"schemaVersion":2,"config":{"mediaType":"m","digest":"@D@","size":1}'
    with pytest.raises(BlobInvalidError, match=why):
        manifest(base + extra + "}")


def test_blobs_are_read_to_their_first_value_and_index_json_whole(tmp_path: Path) -> None:
    base = '{"schemaVersion":2,"config":{"mediaType":"m","digest":"@D@","size":1}}'
    assert manifest(base + " trailing garbage").config.size == 1  # Go's json.Decoder
    assert config('{"os":"linux"} {}').os == "linux"
    index = b'{"schemaVersion":2,"manifests":[]}'
    with pytest.raises(LayoutError, match="Extra data"):
        Index.from_bytes(index + b" x", mediatypes.INDEX, "index.json", LayoutError, whole=True)
    with pytest.raises(LayoutError, match="Extra data"):
        ImageLayout.from_bytes(b'{"imageLayoutVersion":"1.0.0"} x', "oci-layout")
    assert ImageLayout.from_bytes(b'{"ImageLayoutVersion":"1.0.0"}', "oci-layout").version == (
        "1.0.0"
    )


def test_stat_json_cannot_embed_a_blob_with_trailing_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 0.6 reads the config (json.Decoder) but fails to embed it in --json.
    image = write_image(tmp_path / "L", CAPITALISED_CONFIG + " {}")
    assert run(capsys, "stat", "--image", image)[0] == 0
    status, out, err = run(capsys, "stat", "--json", "--image", image)
    assert (status, out) == (1, "")
    assert err.startswith("umoci: stat: config sha256:")
    assert err.endswith(": data after the JSON value: --json cannot embed it\n")


@pytest.mark.parametrize("extra", [',"config":null', ',"Layers":[]'])
def test_index_blob_with_manifest_fields_is_refused(extra: str) -> None:
    with pytest.raises(BlobInvalidError, match="'config' or 'layers'"):
        Index.from_bytes(b'{"schemaVersion":2,"manifests":[]' + extra.encode() + b"}", OCI_INDEX)


def test_index_json_entries_merge_and_fold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = '"MediaType":"' + OCI_MANIFEST + '","DIGEST":"@MANIFEST_DIGEST@","Size":@MANIFEST_SIZE@'
    index = (
        '{"SchemaVersion":2,"Manifests":[{' + entry + ',"Annotations":{"' + REF_NAME + '":"x"}}],'
        '"manifests":[{"annotations":{"' + REF_NAME + '":"t","other":null}}]}'
    )
    layout = tmp_path / "L"
    write_image(layout, CAPITALISED_CONFIG, MANIFEST, index)
    assert run(capsys, "ls", "--layout", layout) == (0, "t\n", "")
    status, out, _ = run(capsys, "stat", "--image", f"{layout}:t")
    assert status == 0
    assert '\t\tother: ""' in out


def test_a_descriptor_reads_the_same_in_a_manifest_and_in_umoci_json() -> None:
    spelled = '{"MediaType":"m","Digest":"' + DIGEST + '","Size":3}'
    in_manifest = manifest('{"schemaVersion":2,"config":' + spelled + "}").config
    meta = parse_umoci_json(
        (
            '{"umoci_version":"2","from_descriptor_path":{"descriptor_walk":['
            + spelled
            + ']},"map_options":{"rootless":false}}'
        ).encode()
    )
    assert meta.descriptor_walk == (in_manifest,)
    with pytest.raises(BundleError, match=r"descriptor_walk\[0\]\.size: expected integer"):
        parse_umoci_json(
            b'{"umoci_version":"2","from_descriptor_path":{"descriptor_walk":[{"Size":"3"}]}}'
        )


# -- gc's sniffing and validate's lenient reading ------------------------------------------


def test_sniffed_descriptors_follow_the_same_key_rules() -> None:
    blob = (
        '{"Layers":[{"mediaType":"x","digest":"' + DIGEST + '","size":1},{"size":"bad"}],'
        '"CONFIG":{"mediaType":"y","Digest":"' + DIGEST + '","size":2},"subject":5}'
    ).encode()
    found = referenced_descriptors(blob, "blob")
    assert [(d.media_type, d.size) for d in found] == [("x", 1), ("y", 2)]
    assert referenced_descriptors(b"not json", "blob") == []
    assert referenced_descriptors(b"[1]", "blob") == []


def test_lenient_decoding_collects_problems_and_goes_on() -> None:
    problems: list[Problem] = []
    decoded = ImageConfig.from_json(
        decode.parse(
            b'{"OS":"linux","os":"linux","config":{"Cmd":"x","User":"u"},"created":"now"}', "c"
        ),
        "c",
        problems,
    )
    assert decoded.config.user == "u"  # decoding went on after config.Cmd
    assert [(p.kind, p.path) for p in problems] == [
        ("key", "os"),
        ("duplicate", "os"),
        ("type", "config.Cmd"),
        ("time", "created"),
    ]
    with pytest.raises(UmociError):
        ImageConfig.from_json(decode.parse(b'{"config":{"Cmd":"x"}}', "c"), "c")
