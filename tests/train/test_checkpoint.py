"""Atomic checkpoint files, the RNG states they carry, and files that are not checkpoints."""

import random
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _train_toys import LinearRegression, regression_data  # noqa: E402

from tsssl.train import Trainer  # noqa: E402
from tsssl.train.checkpoint import (  # noqa: E402
    CheckpointError,
    CheckpointNotFoundError,
    capture_rng_state,
    load_checkpoint,
    resolve_resume,
    restore_rng_state,
    save_checkpoint,
)


def test_save_then_load_round_trip(tmp_path):
    state = {"w": torch.arange(6.0).view(2, 3), "step": 7, "history": [{"loss": 0.5}], "rng": capture_rng_state()}
    path = save_checkpoint(tmp_path / "checkpoint.pt", state)
    back = load_checkpoint(path, required=())  # weights_only: plain values and tensors only
    assert torch.equal(back["w"], state["w"]) and back["step"] == 7 and back["history"] == [{"loss": 0.5}]
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


def test_a_failed_save_leaves_the_previous_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"step": 1, "w": torch.ones(3)})
    good = path.read_bytes()

    def broken_save(obj, fh, *a, **k):
        fh.write(b"half a checkpoint")  # partial bytes, then the disk fills up
        raise OSError("No space left on device")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="No space"):
        save_checkpoint(path, {"step": 2, "w": torch.zeros(3)})
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


def test_a_failed_first_save_leaves_nothing(tmp_path, monkeypatch):
    def broken_save(obj, fh, *a, **k):
        fh.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path / "checkpoint.pt", {"step": 1})
    assert list(tmp_path.iterdir()) == []


def test_rng_states_restore_every_generator():
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    np.random.normal()  # leaves a cached gaussian in numpy's state
    state = capture_rng_state()
    first = (torch.rand(3), np.random.normal(size=3), random.random())
    torch.manual_seed(99), np.random.seed(99), random.seed(99)
    restore_rng_state(state)
    again = (torch.rand(3), np.random.normal(size=3), random.random())
    assert torch.equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert first[2] == again[2]


def test_rng_state_survives_a_file(tmp_path):
    torch.manual_seed(5), np.random.seed(5), random.seed(5)
    save_checkpoint(tmp_path / "c.pt", {"rng": capture_rng_state()})
    expected = (torch.rand(2), np.random.rand(2), random.random())
    restore_rng_state(load_checkpoint(tmp_path / "c.pt", required=("rng",))["rng"])
    assert torch.equal(torch.rand(2), expected[0])
    np.testing.assert_array_equal(np.random.rand(2), expected[1])
    assert random.random() == expected[2]


def test_resolve_resume(tmp_path):
    assert resolve_resume(False, tmp_path) is None
    with pytest.raises(CheckpointNotFoundError, match="no checkpoint at .*checkpoint.pt"):
        resolve_resume(True, tmp_path)
    with pytest.raises(ValueError, match="out_dir"):
        resolve_resume(True, None)
    save_checkpoint(tmp_path / "checkpoint.pt", {"step": 1})
    assert resolve_resume(True, tmp_path) == tmp_path / "checkpoint.pt"
    assert resolve_resume(tmp_path, None) == tmp_path / "checkpoint.pt"  # a directory
    assert resolve_resume(str(tmp_path / "checkpoint.pt"), None) == tmp_path / "checkpoint.pt"
    # a missing checkpoint is a ValueError as well (the CLI reports those cleanly)
    assert issubclass(CheckpointNotFoundError, ValueError) and issubclass(CheckpointNotFoundError, FileNotFoundError)


# -- files that are not checkpoints ----------------------------------------------------------------


@pytest.fixture(scope="module")
def real_checkpoint(tmp_path_factory):
    """The bytes of a checkpoint.pt written by a Trainer (4 steps of a toy regression)."""
    out = tmp_path_factory.mktemp("real")
    Trainer(max_steps=4, batch_size=16, device="cpu", progress=False, out_dir=out).fit(
        LinearRegression(), regression_data(64)
    )
    return (out / "checkpoint.pt").read_bytes()


def _write_bad(kind: str, path: Path, good: bytes) -> str:
    """Write a bad checkpoint of ``kind`` to ``path``; returns a regex of the expected reason."""
    if kind == "truncated":
        path.write_bytes(good[: len(good) // 2])
        return r"the zip archive ends early \(no central directory in its \d+ bytes\)"
    if kind == "random bytes":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
        return r"not a zip archive as torch.save writes \(it starts with b'.*'\)"
    if kind == "empty":
        path.write_bytes(b"")
        return "the file is empty"
    if kind == "other layout":
        torch.save({"a": 1}, path)
        return "missing keys format, method, optimizer, rng, .*, history"
    if kind == "not a dict":
        torch.save([torch.ones(2)], path)
        return "it holds a list, not a dict"
    if kind == "pickled module":  # a torch file that weights_only refuses
        torch.save(torch.nn.Linear(2, 2), path)
        return "UnpicklingError: Weights only load failed"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["truncated", "random bytes", "empty", "other layout", "not a dict", "pickled module"])
def test_a_file_that_is_not_a_checkpoint_is_a_value_error_naming_it(tmp_path, real_checkpoint, kind):
    path = tmp_path / "checkpoint.pt"
    reason = _write_bad(kind, path, real_checkpoint)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    err = info.value
    assert isinstance(err, ValueError) and "\n" not in str(err)
    assert re.fullmatch(
        rf"{re.escape(str(path))} is not a readable tsssl checkpoint \(truncated or written by something else\): "
        rf"{reason}; expected a checkpoint.pt written by tsssl.Trainer",
        str(err),
    ), str(err)
    assert err.__cause__ is None and err.__suppress_context__  # no torch traceback chained


def test_a_real_checkpoint_loads_and_a_resume_from_a_bad_one_is_refused(tmp_path, real_checkpoint):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(real_checkpoint)
    assert load_checkpoint(path)["step"] == 4
    path.write_bytes(real_checkpoint[:-100])
    with pytest.raises(ValueError, match=re.escape(f"{path} is not a readable tsssl checkpoint")):
        Trainer(max_steps=8, batch_size=16, device="cpu", progress=False, out_dir=tmp_path).fit(
            LinearRegression(), regression_data(64), resume=True
        )
    assert path.read_bytes() == real_checkpoint[:-100]  # left as it was
