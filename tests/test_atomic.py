"""tsssl.atomic: all-or-nothing writes, readable permissions, JSON without NaN."""

import json
import os
import stat

import numpy as np
import pytest

from tsssl.atomic import atomic_write, write_json


def test_a_failing_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")

    def boom(fh):
        fh.write("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, boom)
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_text_and_binary_writes_make_folders_and_get_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        p = atomic_write(tmp_path / "a" / "b.txt", lambda fh: fh.write("é\n"))
        q = atomic_write(tmp_path / "c.bin", lambda fh: fh.write(b"\x00\x01"), mode="wb", fsync=True)
    finally:
        os.umask(old)
    assert p.read_text(encoding="utf-8") == "é\n" and q.read_bytes() == b"\x00\x01"
    for f in (p, q):  # mkstemp's files are 0600; an output is meant to be read by others
        assert stat.S_IMODE(f.stat().st_mode) == 0o644
    with pytest.raises(ValueError, match="mode must be 'w' or 'wb'"):
        atomic_write(tmp_path / "x", lambda fh: None, mode="a")


def test_write_json_turns_nan_into_null_and_numpy_into_numbers(tmp_path):
    obj = {
        "p": float("nan"),
        "q": np.float32(0.25),
        "n": np.int64(3),
        "a": np.array([1.0, np.inf]),
        "nested": [{"r": float("-inf")}],
        "s": "text",
    }
    write_json(tmp_path / "m.json", obj)
    back = json.loads((tmp_path / "m.json").read_text())
    assert back == {"p": None, "q": 0.25, "n": 3, "a": [1.0, None], "nested": [{"r": None}], "s": "text"}
