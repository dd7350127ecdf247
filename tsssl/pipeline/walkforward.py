"""Walk-forward folds of a report pooled into one test set (docs/design.md, "Walk-forward").

    folds = prepare_folds(prices, folds=4)                  # one {features: SplitData} per fold
    pooled = pool_folds(folds, fold_cells)                  # one test set, one CellResult per run
    pooled.test, pooled.test_fold, pooled.cells

Fold k tests on the k-th block of end dates and was trained on the purged, embargoed windows
before it only. The pooled test set is every fold's test windows, in the rows' usual order
(ticker, end date): each window is scored by the model of its own fold, which never saw its
future. ``test_fold`` says which fold each window belongs to; a pooled cell's scores, and its
per-window thresholds (each fold chose its own on its own validation slice), follow those rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tsssl.pipeline.cell import CellResult
from tsssl.pipeline.splits import SplitData, iso_day


@dataclass
class Rows:
    """The identity of pooled rows without their windows: labels, end dates, tickers, fold."""

    y: np.ndarray
    end_date: np.ndarray
    ticker: np.ndarray
    fold: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class PooledFolds:
    """The folds pooled: ``test`` (a WindowSet, rows in (ticker, end date) order), ``test_fold``
    (N,) int fold index from 0, ``val`` (the folds' validation slices one after the other, as
    :class:`Rows`), ``cells`` (one pooled CellResult per run), ``folds`` (a JSON-ready record per
    fold: its dates, purge, embargo, sizes and base rate) and ``split`` (the pooled description)."""

    test: Any
    test_fold: np.ndarray
    val: Rows
    cells: list[CellResult]
    folds: list[dict[str, Any]]
    split: dict[str, Any]


def pooled_test(fold_splits: Sequence[dict[str, SplitData]]) -> tuple[Any, np.ndarray]:
    """(test windows of every fold, (N,) fold index): the windows ending on or after the first
    fold's test start, checked to be exactly the folds' test windows, each once."""
    first = next(iter(fold_splits[0].values()))
    ws = first.windows
    starts = np.array([next(iter(f.values())).split.test_start for f in fold_splits], dtype="datetime64[ns]")
    test = ws.subset(ws.end_date >= starts[0])
    fold = np.searchsorted(starts, test.end_date, side="right") - 1
    for k, f in enumerate(fold_splits):
        part = next(iter(f.values())).test
        mine = fold == k
        if mine.sum() != len(part) or not (
            np.array_equal(test.end_date[mine], part.end_date) and np.array_equal(test.ticker[mine], part.ticker)
        ):
            raise ValueError(f"walk-forward fold {k + 1}: its test windows are not the pooled rows of its block")
    return test, fold


def pool_cells(runs: Sequence[CellResult], fold: np.ndarray) -> CellResult:
    """One run (method, features, rebalance, seed) over every fold: its scores placed on the
    pooled rows (``fold``: (N,) fold index), the thresholds per window, the folds' facts."""
    score = np.empty(fold.size, dtype=np.float64)
    threshold = np.empty(fold.size, dtype=np.float64)
    for k, c in enumerate(runs):
        score[fold == k] = c.test_score
        threshold[fold == k] = c.threshold
    last = runs[-1]
    return CellResult(
        method=last.method,
        features=last.features,
        rebalance=last.rebalance,
        seed=last.seed,
        test_score=score,
        val_score=np.concatenate([c.val_score for c in runs]),
        threshold=float(np.mean([c.threshold for c in runs])),
        threshold_description=f"one threshold per walk-forward fold ({len(runs)}), each chosen on that fold's "
        f"validation slice; fold {len(runs)}: {last.threshold_description}",
        scored_by=last.scored_by,
        history=last.history,
        projection=None,
        n_fit_rebalanced=last.n_fit_rebalanced,
        train_seconds=round(sum(c.train_seconds for c in runs), 3),
        steps=sum(c.steps for c in runs),
        final_loss=last.final_loss,
        device=last.device,
        diagnostics=last.diagnostics,
        test_threshold=threshold,
        folds=[
            {
                "fold": k + 1,
                "threshold": c.threshold,
                "threshold_description": c.threshold_description,
                "steps": c.steps,
                "train_seconds": c.train_seconds,
                "final_loss": c.final_loss,
            }
            for k, c in enumerate(runs)
        ],  # fmt: skip
    )


def fold_record(k: int, sd: SplitData) -> dict[str, Any]:
    """What fold ``k`` (from 0) trained and tested on: dates, purge, embargo, sizes, base rate."""
    d = {key: v for key, v in sd.describe().items() if key != "features"}
    return {"fold": k + 1, **d, "base_rate": d["n_test_pos"] / max(d["n_test"], 1)}


def pool_folds(fold_splits: Sequence[dict[str, SplitData]], fold_cells: Sequence[Sequence[CellResult]]) -> PooledFolds:
    """Pool the folds' cells (``fold_cells[k]``: every run of fold k) into one test set."""
    test, fold = pooled_test(fold_splits)
    by_key: dict[tuple, list[CellResult]] = {}
    for runs in fold_cells:
        for c in runs:
            by_key.setdefault(c.key, []).append(c)
    if any(len(v) != len(fold_splits) for v in by_key.values()):
        raise ValueError("every run of a walk-forward report needs one result per fold")
    cells = [pool_cells(runs, fold) for runs in by_key.values()]
    vals = [next(iter(f.values())).val for f in fold_splits]
    val = Rows(
        y=np.concatenate([v.y for v in vals]),
        end_date=np.concatenate([v.end_date for v in vals]),
        ticker=np.concatenate([np.asarray(v.ticker).astype(str) for v in vals]),
        fold=np.concatenate([np.full(len(v), k) for k, v in enumerate(vals)]),
    )
    records = [fold_record(k, next(iter(f.values()))) for k, f in enumerate(fold_splits)]
    return PooledFolds(test, fold, val, cells, records, pooled_split(records, test))


def pooled_split(records: Sequence[dict[str, Any]], test: Any) -> dict[str, Any]:
    """The report's split description for the pooled folds: the test period and its size, the
    first fold's training start, purge and embargo, and every fold's own record."""
    first, last = records[0], records[-1]
    return {
        "mode": "walk-forward",
        "n_folds": len(records),
        "n_windows": first["n_windows"],
        "train_start": first["train_start"],
        "test_start": iso_day(test.end_date.min()),
        "test_end": iso_day(test.end_date.max()),
        "n_test": len(test),
        "n_test_pos": int(test.n_positive),
        "purge": first["purge"],
        "embargo": first["embargo"],
        "val_start": first["val_start"],
        "val_end": last["val_end"],
        "folds": list(records),
    }
