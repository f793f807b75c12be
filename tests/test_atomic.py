"""Atomic writes: a failed write never damages the file that was there, and leaves no debris."""

import os
import stat

import pytest

from xfer_keras.atomic import atomic_path, atomic_write_text


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "cache" / "entry.json"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half-writ")
            raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert os.listdir(target.parent) == ["entry.json"]


def test_success_replaces_whole_file_with_umask_mode(tmp_path):
    target = tmp_path / "model.keras"
    with atomic_path(target, suffix=".tmp.keras") as tmp:
        assert tmp.suffix == ".keras" and tmp.parent == tmp_path
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
