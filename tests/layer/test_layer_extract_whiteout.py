"""Whiteouts: plain, opaque, orderings, missing targets, bad names, through symlinks."""

from __future__ import annotations

import os

import pytest
from layerkit import env_fixture, t_fixture  # noqa: F401 (fixtures)

from umoci.errors import LayerError, UnsafePathError


def lower(t):
    return [
        t.dir("a"),
        t.reg("a/lower1", b"1"),
        t.dir("a/sub"),
        t.reg("a/sub/lower2", b"2"),
        t.reg("top", b"top"),
    ]


def test_plain_whiteout_file_and_dir(env, t):
    env.apply_layers([lower(t), [t.wh(".wh.top"), t.wh("a/.wh.sub")]])
    assert not (env.rootfs / "top").exists()
    assert not (env.rootfs / "a/sub").exists()
    assert (env.rootfs / "a/lower1").exists()


def test_whiteout_keeps_parent_times(env, t):
    env.apply_layers([[*lower(t), t.dir("a", mtime=1234)], [t.wh("a/.wh.lower1")]])
    assert not (env.rootfs / "a/lower1").exists()
    assert (env.rootfs / "a").lstat().st_mtime_ns == 1234 * 10**9


def test_whiteout_of_missing_path_is_fine(env, t):
    env.apply_layers(
        [lower(t), [t.wh(".wh.nothing"), t.wh("no/such/dir/.wh.x"), t.wh("top/.wh.x")]]
    )
    assert (env.rootfs / "top").exists()


def test_opaque_before_same_layer_additions(env, t):
    env.apply_layers(
        [lower(t), [t.wh("a/.wh..wh..opq"), t.reg("a/new", b"n"), t.reg("a/sub/new2", b"n2")]]
    )
    assert sorted(os.listdir(env.rootfs / "a")) == ["new", "sub"]
    assert os.listdir(env.rootfs / "a/sub") == ["new2"]


def test_opaque_after_same_layer_additions(env, t):
    env.apply_layers(
        [lower(t), [t.reg("a/new", b"n"), t.reg("a/sub/new2", b"n2"), t.wh("a/.wh..wh..opq")]]
    )
    assert sorted(os.listdir(env.rootfs / "a")) == ["new", "sub"]
    # a/sub was kept (this layer writes into it) but its lower content goes.
    assert os.listdir(env.rootfs / "a/sub") == ["new2"]


def test_opaque_dir_entry_itself_is_kept(env, t):
    env.apply_layers([lower(t), [t.dir("a", mode=0o700), t.wh("a/.wh..wh..opq")]])
    assert (env.rootfs / "a").is_dir()
    assert os.listdir(env.rootfs / "a") == []


def test_opaque_at_root(env, t):
    env.apply_layers([lower(t), [t.reg("keep", b"k"), t.wh(".wh..wh..opq")]])
    assert os.listdir(env.rootfs) == ["keep"]


def test_whiteout_after_same_layer_file_is_ignored(env, t):
    env.apply_layers([lower(t), [t.reg("top", b"new"), t.wh(".wh.top")]])
    assert (env.rootfs / "top").read_bytes() == b"new"


def test_whiteout_type_flag_does_not_matter(env, t):
    env.apply_layers([lower(t), [t.dir("a/.wh.lower1"), t.sym(".wh.top", "x")]])
    assert not (env.rootfs / "a/lower1").exists()
    assert not (env.rootfs / "top").exists()
    assert not (env.rootfs / "a/.wh.lower1").exists()


def test_bare_whiteout_prefix_is_an_error(env, t):
    with pytest.raises(LayerError, match="whiteout"):
        env.apply([t.wh("a/.wh.")])


@pytest.mark.parametrize("name", [".wh..", "a/.wh..", ".wh...", "a/.wh..."])
def test_whiteout_of_dot_names_refused(env, t, name):
    env.apply(lower(t))
    with pytest.raises(UnsafePathError):
        env.apply([t.wh(name)])
    assert (env.rootfs / "a/lower1").exists()


def test_whiteout_through_absolute_symlink_stays_inside(env, t):
    before = env.snapshot_outside()
    env.apply_layers(
        [
            [t.dir("outside"), t.reg("outside/file", b"inside copy"), t.sym("out", "/../outside")],
            [t.wh("out/.wh.file"), t.wh("out/.wh.sub")],
        ]
    )
    assert not (env.rootfs / "outside/file").exists()
    assert env.snapshot_outside() == before


def test_opaque_through_relative_symlink_stays_inside(env, t):
    before = env.snapshot_outside()
    env.apply_layers(
        [
            [t.dir("d"), t.reg("d/x", b""), t.sym("up", "../../../..")],
            [t.wh("up/.wh..wh..opq")],
        ]
    )
    # "up" resolves to the rootfs itself: its lower content is gone...
    assert os.listdir(env.rootfs) == []
    # ...and nothing outside was touched.
    assert env.snapshot_outside() == before


def test_whiteout_of_symlink_removes_the_link_not_its_target(env, t):
    env.apply_layers(
        [
            [t.dir("real"), t.reg("real/f", b"f"), t.sym("link", "real")],
            [t.wh(".wh.link")],
        ]
    )
    assert not os.path.lexists(env.rootfs / "link")
    assert (env.rootfs / "real/f").exists()
