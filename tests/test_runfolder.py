"""tsssl.runfolder: what an output folder may hold before a run, and its lock."""

import json
import os
import socket

import pytest

from tsssl.runfolder import LOCK_NAME, FolderInUseError, RunFolder


def test_a_fresh_folder_is_made_locked_and_released(tmp_path):
    out = tmp_path / "a" / "b"
    with RunFolder(out, "train") as f:
        lock = json.loads((out / LOCK_NAME).read_text())
        assert lock["pid"] == os.getpid() and lock["host"] == socket.gethostname()
        (f.path / "metrics.json").write_text("{}")
    assert not (out / LOCK_NAME).exists() and (out / "metrics.json").exists()


def test_a_folder_the_run_made_and_left_empty_is_removed(tmp_path):
    with pytest.raises(RuntimeError):
        with RunFolder(tmp_path / "x", "train"):
            raise RuntimeError("failed before writing anything")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "kind, files, fragment",
    [
        ("train", ["checkpoint.pt", "metrics.json"], "finished run"),
        ("train", ["checkpoint.pt"], "interrupted run"),
        ("train", ["config.toml", "log.csv"], "killed before its first checkpoint"),
        ("train", ["notes.txt"], "files tsssl did not write (notes.txt)"),
        ("report", ["report.json"], "already holds a report"),
        ("report", ["config.toml", "cells"], "pass --resume to continue it"),
    ],
)
def test_what_is_already_there_is_refused_with_the_flag_that_helps(tmp_path, kind, files, fragment):
    for name in files:
        (tmp_path / name).mkdir() if name == "cells" else (tmp_path / name).write_text("x")
    with pytest.raises(ValueError, match="--overwrite") as err:
        RunFolder(tmp_path, kind).check()
    assert fragment in str(err.value)


def test_overwrite_removes_only_tsssl_outputs(tmp_path):
    for name in ("checkpoint.pt", "metrics.json", "notes.txt"):
        (tmp_path / name).write_text("x")
    with RunFolder(tmp_path, "train", overwrite=True):
        assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK_NAME, "notes.txt"]


def test_a_live_lock_is_refused_even_with_resume(tmp_path):
    (tmp_path / "checkpoint.pt").write_text("x")
    live = {"pid": os.getppid(), "host": socket.gethostname()}  # our parent: alive
    (tmp_path / LOCK_NAME).write_text(json.dumps(live))
    with pytest.raises(FolderInUseError, match="in use by another tsssl run"):
        with RunFolder(tmp_path, "train", resume=True):
            pass
    with RunFolder(tmp_path, "train", resume=True, force=True):
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()


def test_resume_and_overwrite_together_and_a_file_are_errors(tmp_path):
    with pytest.raises(ValueError, match="give one of them"):
        RunFolder(tmp_path, "train", resume=True, overwrite=True).check()
    f = tmp_path / "f"
    f.write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        RunFolder(f, "report").check()
