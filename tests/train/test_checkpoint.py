"""Atomic checkpoint files and the RNG states they carry."""

import random

import numpy as np
import pytest
import torch

from tsssl.train.checkpoint import (
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
    back = load_checkpoint(path)  # weights_only: plain values and tensors only
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
    restore_rng_state(load_checkpoint(tmp_path / "c.pt")["rng"])
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
