"""umoci config semantics (ops level): every option, --clear, history, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import snapshot
from umoci import ops
from umoci.cli.stat_json import stat_json as render_json
from umoci.errors import InvalidRefError, RefNotFoundError, UsageError
from umoci.oci.timefmt import GoTime
from umoci.ops.options import ConfigChanges, HistoryOptions


def stat_json(layout: Path, tag: str = "latest") -> dict[str, Any]:
    result: dict[str, Any] = json.loads(render_json(ops.stat(str(layout), tag)))
    return result


def configure(layout: Path, history: HistoryOptions | None = None, **changes: Any) -> None:
    new_tag = changes.pop("new_tag", None)
    ops.config(
        str(layout),
        "latest",
        new_tag=new_tag,
        changes=ConfigChanges(**changes),
        history=history or HistoryOptions(),
    )


@pytest.fixture
def image(layout: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    ops.new_image(str(layout), "latest")
    return layout


def test_env_replaces_same_name_in_place(image: Path) -> None:
    configure(image, env=("A=1", "B=2", "C=3"))
    configure(image, env=("B=x=y", "D=4"))
    assert stat_json(image)["config"]["blob"]["config"]["Env"] == ["A=1", "B=x=y", "C=3", "D=4"]


def test_entrypoint_and_cmd_replace_whole_list(image: Path) -> None:
    configure(image, entrypoint=("/bin/sh", "-c"), cmd=("a", "b"))
    configure(image, cmd=("-c",))
    c = stat_json(image)["config"]["blob"]["config"]
    assert c["Entrypoint"] == ["/bin/sh", "-c"]
    assert c["Cmd"] == ["-c"]
    configure(image, clear=("config.entrypoint", "config.cmd"))
    c = stat_json(image)["config"]["blob"]["config"]
    assert "Entrypoint" not in c
    assert "Cmd" not in c


def test_sets_and_clears(image: Path) -> None:
    configure(
        image,
        exposed_ports=("8080/tcp", "80/tcp"),
        volumes=("/z", "/a"),
        labels=("k=v", "e="),
        manifest_annotations=("x=1",),
        user="1000:1000",
        working_dir="/w",
        stop_signal="SIGTERM",
        author="me",
        architecture="riscv64",
        os="freebsd",
        variant="v1",
        created=GoTime.parse("2020-01-01T00:00:00.5Z"),
    )
    out = stat_json(image)
    blob = out["config"]["blob"]
    assert blob["created"] == "2020-01-01T00:00:00.5Z"
    assert (blob["author"], blob["architecture"], blob["os"], blob["variant"]) == (
        "me",
        "riscv64",
        "freebsd",
        "v1",
    )
    c = blob["config"]
    assert list(c["ExposedPorts"]) == ["80/tcp", "8080/tcp"]
    assert list(c["Volumes"]) == ["/a", "/z"]
    assert c["Labels"] == {"e": "", "k": "v"}
    assert (c["User"], c["WorkingDir"], c["StopSignal"]) == ("1000:1000", "/w", "SIGTERM")
    assert out["manifest"]["blob"]["annotations"] == {"x": "1"}
    configure(
        image,
        clear=(
            "config.labels",
            "manifest.annotations",
            "config.exposedports",
            "config.volume",
            "config.env",
        ),
        labels=("new=1",),
    )
    out = stat_json(image)
    c = out["config"]["blob"]["config"]
    assert c["Labels"] == {"new": "1"}
    assert "ExposedPorts" not in c
    assert "Volumes" not in c
    assert "annotations" not in out["manifest"]["blob"]


def test_history_defaults_and_options(image: Path) -> None:
    configure(image, author="Img Author")
    configure(
        image,
        history=HistoryOptions(
            author="h", comment="c", created=GoTime.parse("2021-01-01T00:00:00Z"), created_by="by"
        ),
    )
    configure(image, history=HistoryOptions(enabled=False), user="x")
    history = stat_json(image)["history"]
    assert len(history) == 2
    assert history[0]["author"] == "Img Author"
    assert history[0]["created"] == "2023-11-14T22:13:20Z"  # SOURCE_DATE_EPOCH
    assert history[0]["created_by"] == "umoci config"
    assert history[0]["empty_layer"] is True
    assert history[0]["layer"] is None
    assert history[1] == {
        "layer": None,
        "diff_id": "",
        "created": "2021-01-01T00:00:00Z",
        "created_by": "by",
        "author": "h",
        "comment": "c",
        "empty_layer": True,
    }


def test_new_tag_leaves_source_unchanged(image: Path) -> None:
    before = stat_json(image)
    configure(image, user="x", new_tag="other")
    assert stat_json(image) == before
    assert stat_json(image, "other")["config"]["blob"]["config"]["User"] == "x"


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"clear": ("rootfs.diffids",)}, UsageError),
        ({"clear": ("bogus",)}, UsageError),
        ({"env": ("NOEQUALS",)}, UsageError),
        ({"env": ("=value",)}, UsageError),
        ({"labels": ("nolabel",)}, UsageError),
        ({"manifest_annotations": ("noeq",)}, UsageError),
        ({"new_tag": "bad tag"}, InvalidRefError),
    ],
)
def test_errors_leave_layout_unchanged(
    image: Path, changes: dict[str, Any], error: type[Exception]
) -> None:
    before = snapshot(image)
    with pytest.raises(error):
        configure(image, **changes)
    assert snapshot(image) == before


def test_missing_tag(image: Path) -> None:
    before = snapshot(image)
    with pytest.raises(RefNotFoundError):
        ops.config(
            str(image), "nope", new_tag=None, changes=ConfigChanges(), history=HistoryOptions()
        )
    assert snapshot(image) == before


def test_unknown_config_fields_survive_config(image: Path) -> None:
    # Rewrite the image's config with extra fields another tool wrote.
    from umoci.cas.dir import open_layout
    from umoci.layout.refs import resolve
    from umoci.mutate import Mutator
    from umoci.oci.models import ImageConfig

    with open_layout(str(image)) as store:
        mutator = Mutator(store, resolve(store, "latest"))
        doc = mutator.config.to_json()
        doc["container_config"] = {"Hostname": "h"}
        doc["config"]["Healthcheck"] = {"Test": ["NONE"]}
        mutator.set_config(ImageConfig.from_json(doc))
        mutator.commit("latest")
    configure(image, user="u")
    blob = stat_json(image)["config"]["blob"]
    assert blob["container_config"] == {"Hostname": "h"}
    assert blob["config"]["Healthcheck"] == {"Test": ["NONE"]}
