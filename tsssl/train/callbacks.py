"""What the Trainer reports to: the CSV log, TensorBoard, the progress bar, user callbacks.

A callback is any object with some of these methods (all optional; the Trainer calls the ones
it finds, on rank 0 only for the built-in writers):

- ``on_fit_start(info)``: ``info`` dict with total_steps, start_step, steps_per_epoch,
  world_size, device, out_dir, history (rows so far, non-empty on resume), method, optimizer,
  scheduler
- ``on_step_end(step)``: after every optimiser step (``step`` = steps done); keep it cheap
- ``log_values(step) -> dict``: called as each log row is made, before any ``on_log``; the
  keys it returns are added to the row (and so to the history, log.csv and TensorBoard). A
  callback that has it names its keys in a ``log_columns`` tuple, the extra columns of log.csv
  (fixed when the run starts, so every row has the same columns; a row without a value for
  one leaves it empty)
- ``on_log(row)``: a log row: step, epoch, loss, lr, samples_per_s, elapsed_s (and the
  ``log_values`` keys)
- ``on_checkpoint(path, step)``: after a checkpoint was written
- ``on_fit_end(result)``: the ``TrainResult``
- ``close()``: always, also when training failed
"""

from __future__ import annotations

import csv
import importlib.util
import io
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tsssl.atomic import atomic_write

LOG_COLUMNS = ("step", "epoch", "loss", "lr", "samples_per_s", "elapsed_s")


def extra_log_columns(callbacks: Iterable[Any]) -> tuple[str, ...]:
    """The columns the callbacks add to the log rows (their ``log_columns``), in order, once each."""
    cols: dict[str, None] = {}
    for cb in callbacks:
        cols.update(dict.fromkeys(c for c in getattr(cb, "log_columns", ()) if c not in LOG_COLUMNS))
    return tuple(cols)


class Callback:
    """Base class with no-op hooks (subclassing it is optional)."""

    def on_fit_start(self, info: dict[str, Any]) -> None: ...
    def on_step_end(self, step: int) -> None: ...
    def on_log(self, row: dict[str, Any]) -> None: ...
    def log_values(self, step: int) -> dict[str, Any]:
        return {}

    def on_checkpoint(self, path: Path, step: int) -> None: ...
    def on_fit_end(self, result: Any) -> None: ...
    def close(self) -> None: ...


def _csv_text(rows: Iterable[dict[str, Any]], header: bool, columns: tuple[str, ...] = LOG_COLUMNS) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    if header:
        writer.writeheader()
    for row in rows:
        writer.writerow({k: _fmt(row.get(k)) for k in columns})
    return buf.getvalue()


def _fmt(v: Any) -> Any:
    return repr(v) if isinstance(v, float) else v  # repr: floats round-trip exactly


class CSVLogger(Callback):
    """``path`` (log.csv): a header, then one row per log step. On resume the file is first
    rewritten (atomically) with the rows the checkpoint knows, so rows logged after the last
    checkpoint of an interrupted run are not duplicated; new rows are appended. ``extra``: the
    columns after LOG_COLUMNS (other callbacks' ``log_columns``); a row without one leaves it empty."""

    def __init__(self, path: str | os.PathLike, extra: Iterable[str] = ()) -> None:
        self.path = Path(path)
        self.columns = LOG_COLUMNS + tuple(c for c in extra if c not in LOG_COLUMNS)

    def on_fit_start(self, info: dict[str, Any]) -> None:
        text = _csv_text(info.get("history") or [], header=True, columns=self.columns)
        atomic_write(self.path, lambda fh: fh.write(text), newline="")

    def on_log(self, row: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8", newline="") as fh:
            fh.write(_csv_text([row], header=False, columns=self.columns))


def tensorboard_available() -> bool:
    return importlib.util.find_spec("tensorboard") is not None


class TensorBoardLogger(Callback):
    """Scalars train/loss, train/lr, train/samples_per_s and train/<extra column> (when the row
    has a float for it) in ``log_dir`` (needs ``tensorboard``)."""

    def __init__(self, log_dir: str | os.PathLike, extra: Iterable[str] = ()) -> None:
        self.log_dir = Path(log_dir)
        self.extra = tuple(extra)
        self.writer = None

    def on_fit_start(self, info: dict[str, Any]) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(self.log_dir), purge_step=info.get("start_step") or None)

    def on_log(self, row: dict[str, Any]) -> None:
        if self.writer is not None:
            for key in ("loss", "lr", "samples_per_s"):
                self.writer.add_scalar(f"train/{key}", row[key], row["step"])
            for key in self.extra:
                if isinstance(row.get(key), float):  # a measured value (not a step, a flag or a gap)
                    self.writer.add_scalar(f"train/{key}", row[key], row["step"])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def progress_enabled(progress: bool | None, stream: Any = None) -> bool:
    """``progress`` if given, else whether ``stream`` (stderr) is a terminal."""
    if progress is not None:
        return bool(progress)
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class ProgressBar(Callback):
    """A tqdm bar over the run's steps, with the last logged loss and throughput."""

    def __init__(self) -> None:
        self.bar = None

    def on_fit_start(self, info: dict[str, Any]) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=info["total_steps"], initial=info["start_step"], unit="step", dynamic_ncols=True, desc="train"
        )

    def on_step_end(self, step: int) -> None:
        if self.bar is not None:
            self.bar.update(step - self.bar.n)

    def on_log(self, row: dict[str, Any]) -> None:
        if self.bar is not None:
            self.bar.set_postfix(
                loss=f"{row['loss']:.4g}", lr=f"{row['lr']:.2e}", win_s=f"{row['samples_per_s']:,.0f}", refresh=False
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class CallbackList:
    """Calls a hook on every callback that has it."""

    def __init__(self, callbacks: Iterable[Any]) -> None:
        self.callbacks = list(callbacks)

    def __call__(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            fn = getattr(cb, hook, None)
            if fn is not None:
                fn(*args)

    def collect(self, hook: str, *args: Any) -> dict[str, Any]:
        """The dicts that every callback's ``hook`` returns, merged (later callbacks win)."""
        out: dict[str, Any] = {}
        for cb in self.callbacks:
            fn = getattr(cb, hook, None)
            if fn is not None:
                out.update(fn(*args) or {})
        return out

    def close(self) -> None:
        errors = []
        for cb in self.callbacks:
            fn = getattr(cb, "close", None)
            if fn is not None:
                try:
                    fn()
                except Exception as e:  # closing one must not keep the others open
                    errors.append(e)
        if errors:
            raise errors[0]
