"""The progress bar of ``tsssl report``: runs done out of all, and the time left.

    bar = CellProgress(enabled=None)        # None: only on a terminal (stderr)
    bar.plan(24)                            # the number of runs, once the split is known
    bar.update(cell, cached=False)          # after each run (cached: read back from cells/)
    bar.close()

The estimate counts only the runs trained in this process: cells read back on ``--resume`` take
no time and would make the rest look fast (:func:`eta_seconds`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any


def eta_seconds(trained_seconds: float, n_trained: int, n_left: int) -> float | None:
    """Seconds left: the mean time of a trained run times the runs left (0 when none is left;
    None while no run has been trained, so there is nothing to extrapolate from)."""
    if n_left <= 0:
        return 0.0
    if n_trained <= 0:
        return None
    return trained_seconds / n_trained * n_left


def format_duration(seconds: float | None) -> str:
    """``1h02m``, ``4m05s``, ``12s``; ``?`` when unknown."""
    if seconds is None:
        return "?"
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


class CellProgress:
    """A tqdm bar on stderr over the runs of a report with the time left (:func:`eta_seconds`).

    enabled: True / False force it on / off; None shows it only when stderr is a terminal.
    clock: seconds (``time.perf_counter``; a fake one in tests)."""

    def __init__(
        self, enabled: bool | None = None, clock: Callable[[], float] = time.perf_counter, file: Any = None
    ) -> None:
        from tqdm.auto import tqdm

        self.file = sys.stderr if file is None else file
        self.enabled = bool(getattr(self.file, "isatty", lambda: False)()) if enabled is None else bool(enabled)
        self.clock = clock
        self.start = clock()
        self.n_trained = self.n_done = 0
        self.trained_seconds = 0.0
        self._last = self.start
        # the bar's own rate-based estimate would count cached runs: ours is in the postfix
        self.bar = tqdm(
            total=0,
            unit="run",
            desc="tsssl report",
            file=self.file,
            disable=not self.enabled,
            bar_format="{desc}: {n_fmt}/{total_fmt} runs |{bar}| {elapsed} elapsed{postfix}",
        )

    def plan(self, total: int) -> None:
        """Set the number of runs (called once the split, hence the number of folds, is known)."""
        self.bar.total = int(total)
        self._last = self.clock()  # data preparation is not a run's time
        self.bar.refresh()

    def update(self, cell: Any, cached: bool = False) -> None:
        """One run finished: ``cached`` ones (read back) do not count towards the estimate."""
        now = self.clock()
        self.n_done += 1
        if not cached:
            self.n_trained += 1
            self.trained_seconds += now - self._last
        self._last = now
        self.bar.set_postfix_str(f"about {self.eta_text()} left · {cell.method} {cell.features} {cell.rebalance} "
                                 f"seed {cell.seed}", refresh=False)  # fmt: skip
        self.bar.update(1)

    def eta(self) -> float | None:
        """Seconds left (see :func:`eta_seconds`)."""
        total = self.bar.total or 0
        return eta_seconds(self.trained_seconds, self.n_trained, total - self.n_done)

    def eta_text(self) -> str:
        return format_duration(self.eta())

    def close(self) -> None:
        self.bar.close()
