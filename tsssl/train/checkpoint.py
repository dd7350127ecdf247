"""Checkpoints written atomically, and the random number generators' states.

A checkpoint is one ``torch.save`` file holding only tensors and plain Python values (so it
loads with ``weights_only=True``): the method's ``state_dict`` (queues' buffers included), the
optimiser, scheduler and GradScaler states, the RNG states, the position of the run (step,
epoch, batch within the epoch), the Trainer's configuration and the log history so far.
``load_checkpoint`` turns a file that is not one (empty, truncated, another layout) into a
``CheckpointError`` naming the file instead of torch's traceback.
"""

from __future__ import annotations

import os
import pickle
import random
import zipfile
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tsssl.atomic import atomic_write

CHECKPOINT_NAME = "checkpoint.pt"
#: what ``Trainer.fit(resume=...)`` reads from a checkpoint (``load_checkpoint`` checks them)
CHECKPOINT_KEYS = (
    "format",
    "method",
    "optimizer",
    "rng",
    "loss_carry",
    "acc_count",
    "step",
    "epoch",
    "pos",
    "n_samples",
    "batch_size",
    "world_size",
    "elapsed_s",
    "history",
)
_ZIP_MAGIC = b"PK\x03\x04"  # torch.save writes a zip archive
# what torch.load raises on a file that is not a readable checkpoint (a torn zip, a foreign
# pickle, random bytes); anything else (MemoryError, an interrupt) is not the file's fault
_LOAD_ERRORS = (
    RuntimeError,
    EOFError,
    OSError,
    pickle.UnpicklingError,
    zipfile.BadZipFile,
    KeyError,
    ValueError,
    TypeError,
    AttributeError,
    IndexError,
)


class CheckpointNotFoundError(FileNotFoundError, ValueError):
    """``resume`` asked for a checkpoint that is not there (a ValueError too, so the CLI turns it
    into a clean error message)."""


class CheckpointError(ValueError):
    """A file that is not a readable tsssl checkpoint: truncated, corrupted, empty or written by
    something else (a ValueError, so the CLI turns it into a clean error message)."""


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically: a temporary file in the same directory, flushed
    to disk, then ``os.replace``d over ``path``. A failure at any point leaves the previous file
    (if any) untouched and no temporary file behind."""
    return atomic_write(path, lambda fh: torch.save(state, fh), mode="wb", fsync=True)


def load_checkpoint(
    path: str | os.PathLike, map_location: Any = "cpu", required: Collection[str] = CHECKPOINT_KEYS
) -> dict[str, Any]:
    """Read a checkpoint written by ``save_checkpoint`` (tensors and plain values only): a dict
    holding at least the keys ``required`` (by default those a Trainer resumes from). A missing
    file is a ``CheckpointNotFoundError``; a file that is empty, truncated, corrupted, of another
    layout or not a torch file at all a ``CheckpointError`` (a ValueError) naming it."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointNotFoundError(f"no checkpoint at {path}")
    with open(path, "rb") as fh:  # a file we may not read raises its own OSError here
        head = fh.read(len(_ZIP_MAGIC))
    problem = _format_problem(path, head)
    if problem is None:
        try:
            state = torch.load(path, map_location=map_location, weights_only=True)
        except _LOAD_ERRORS as err:
            problem = _first_line(err)
    if problem is None:
        problem = _layout_problem(state, required)
    if problem is not None:
        raise CheckpointError(
            f"{path} is not a readable tsssl checkpoint (truncated or written by something else): "
            f"{problem}; expected a checkpoint.pt written by tsssl.Trainer"
        ) from None
    return state


def _format_problem(path: Path, head: bytes) -> str | None:
    """Why the file starting with ``head`` cannot be a ``torch.save`` archive, or None."""
    if not head:
        return "the file is empty"
    if head != _ZIP_MAGIC:
        return f"not a zip archive as torch.save writes (it starts with {head!r})"
    if not zipfile.is_zipfile(path):
        return f"the zip archive ends early (no central directory in its {path.stat().st_size} bytes)"
    return None


def _first_line(err: BaseException) -> str:
    """``err`` on one short line: its type and its message's first line (first sentence when long)."""
    text = " ".join(str(err).split("\n", 1)[0].split())
    if len(text) > 120:
        sentence = text.split(". ", 1)[0]
        text = sentence if len(sentence) <= 120 else text[:117] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _layout_problem(state: Any, required: Collection[str]) -> str | None:
    """What ``state`` lacks to be a checkpoint with the keys ``required``, or None."""
    if not isinstance(state, dict):
        return f"it holds a {type(state).__name__}, not a dict"
    missing = [k for k in required if k not in state]
    if missing:
        return f"missing key{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
    return None


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
