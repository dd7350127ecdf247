"""Checkpoints written atomically, and the random number generators' states.

A checkpoint is one ``torch.save`` file holding only tensors and plain Python values (so it
loads with ``weights_only=True``): the method's ``state_dict`` (queues' buffers included), the
optimiser, scheduler and GradScaler states, the RNG states, the position of the run (step,
epoch, batch within the epoch), the Trainer's configuration and the log history so far.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tsssl.atomic import atomic_write

CHECKPOINT_NAME = "checkpoint.pt"


class CheckpointNotFoundError(FileNotFoundError, ValueError):
    """``resume`` asked for a checkpoint that is not there (a ValueError too, so the CLI turns it
    into a clean error message)."""


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically: a temporary file in the same directory, flushed
    to disk, then ``os.replace``d over ``path``. A failure at any point leaves the previous file
    (if any) untouched and no temporary file behind."""
    return atomic_write(path, lambda fh: torch.save(state, fh), mode="wb", fsync=True)


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by ``save_checkpoint`` (tensors and plain values only)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointNotFoundError(f"no checkpoint at {path}")
    return torch.load(path, map_location=map_location, weights_only=True)


def resolve_resume(resume: bool | str | os.PathLike | None, out_dir: Path | None) -> Path | None:
    """The checkpoint file ``fit(resume=...)`` means: None/False -> None; True ->
    ``out_dir/checkpoint.pt``; a path -> that file (or ``<dir>/checkpoint.pt`` for a directory).
    A missing file is a ``CheckpointNotFoundError`` naming the path."""
    if resume is None or resume is False:
        return None
    if resume is True:
        if out_dir is None:
            raise ValueError(
                "resume=True needs the Trainer's out_dir (where checkpoint.pt lives), "
                "or pass resume=<path to a checkpoint>"
            )
        path = out_dir / CHECKPOINT_NAME
    else:
        path = Path(resume)
        if path.is_dir():
            path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise CheckpointNotFoundError(
            f"resume: no checkpoint at {path}; start without resume, or point "
            "resume at the checkpoint.pt of an earlier run"
        )
    return path


# -- random number generators ------------------------------------------------------------


def capture_rng_state() -> dict[str, Any]:
    """States of torch (CPU and every initialised CUDA device), numpy and Python ``random``,
    as tensors and plain values."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "name": name,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of ``capture_rng_state``."""
    torch.set_rng_state(state["torch"].cpu())
    n = state["numpy"]
    np.random.set_state(
        (n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    if "cuda" in state and torch.cuda.is_available():
        cuda = [s.cpu() for s in state["cuda"]]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), numpy and Python ``random``."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
