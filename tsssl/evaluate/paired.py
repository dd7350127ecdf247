"""Paired comparisons of report cells with a baseline cell on the same test windows.

    cells = {key: (scores (S, N), calls (S, N))}            # one row per seed, same N windows
    out = compare_to_baseline(y, dates, cells, {cand: base, ...}, n_boot=1000)
    out[cand]["precision"]  # diff, ci_low, ci_high, p, p_holm, verdict, n_undefined

A cell's statistic is aggregated over seeds as in ``tsssl.evaluate.report.aggregate_seeds``: the
mean over seeds of the per-seed metric (over the seeds where it is defined). The difference
candidate - baseline is bootstrapped with one moving-block bootstrap over test dates
(``tsssl.evaluate.bootstrap``) in which every replicate draws the same date blocks for both
cells and all their seeds: the pairing removes the test-set noise the two cells share.

Each difference gets a two-sided bootstrap p-value, 2 x the share of replicates on the far side
of 0 (the smallest level whose percentile interval excludes 0). The p-values of a family (one
metric over all compared cells) are Holm–Bonferroni adjusted, and a cell is "ahead" or "behind"
its baseline when its adjusted p-value is below 1 - ci, else "not distinguishable"; a cell whose
difference is undefined (a cell calls no window) counts in the family with p = 1.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np

from tsssl.evaluate.bootstrap import DEFAULT_BLOCK_DAYS, percentile_interval, replicate_weights
from tsssl.evaluate.metrics import weighted_average_precision, weighted_precision

#: the metrics compared with the baseline
PAIRED_METRICS = ("precision", "pr_auc")
AHEAD, BEHIND, TIE, UNDEFINED = "ahead", "behind", "not distinguishable", "undefined"

Cell = tuple[np.ndarray, np.ndarray]


def _seed_mean(values: np.ndarray) -> np.ndarray:
    """(S, B) -> (B,) mean over the seeds where defined (NaN where none is)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=0)


def seed_mean_stats(y: np.ndarray, scores: np.ndarray, calls: np.ndarray, W: np.ndarray) -> dict[str, np.ndarray]:
    """PAIRED_METRICS of one cell under weights W (B, N): name -> (B,) seed-mean values.
    scores, calls: (S, N) per seed; calls are 0/1."""
    return {
        "precision": _seed_mean(np.stack([weighted_precision(y, c, W) for c in calls])),
        "pr_auc": _seed_mean(np.stack([weighted_average_precision(y, s, W) for s in scores])),
    }


def _check_cells(y: np.ndarray, cells: Mapping[Hashable, Cell]) -> dict[Hashable, Cell]:
    out = {}
    for key, (scores, calls) in cells.items():
        s, c = np.atleast_2d(np.asarray(scores, np.float64)), np.atleast_2d(np.asarray(calls, np.int64))
        if s.shape != c.shape or s.shape[1] != y.size:
            raise ValueError(
                f"cell {key!r}: scores {s.shape} and calls {c.shape} must both be (seeds, {y.size}) like y"
            )
        out[key] = (s, c)
    return out


def cell_replicates(
    y: Any,
    cells: Mapping[Hashable, Cell],
    dates: Any | None = None,
    n_boot: int = 1000,
    block_days: int = DEFAULT_BLOCK_DAYS,
    seed: int = 0,
) -> tuple[dict[Hashable, dict[str, float]], dict[Hashable, dict[str, np.ndarray]]]:
    """(point, replicates) of every cell's seed-mean PAIRED_METRICS: point[key][metric] on the
    whole test set, replicates[key][metric] (n_boot,) on the same bootstrap replicates for every
    cell (dates: moving blocks of dates; None: iid windows). n_boot=0: empty replicates."""
    y = np.asarray(y, dtype=np.int64).reshape(-1)
    cells = _check_cells(y, cells)
    ones = np.ones((1, y.size))
    point = {k: {m: float(v[0]) for m, v in seed_mean_stats(y, s, c, ones).items()} for k, (s, c) in cells.items()}
    parts: dict[Hashable, dict[str, list[np.ndarray]]] = {k: {m: [] for m in PAIRED_METRICS} for k in cells}
    if n_boot > 0:
        for W in replicate_weights(y.size, dates, n_boot, block_days, seed):
            for key, (s, c) in cells.items():
                for m, v in seed_mean_stats(y, s, c, W).items():
                    parts[key][m].append(v)
    reps = {k: {m: np.concatenate(v) if v else np.zeros(0) for m, v in d.items()} for k, d in parts.items()}
    return point, reps


def bootstrap_pvalue(diffs: Any) -> float:
    """Two-sided p-value of "difference = 0" from bootstrap differences: 2 x the smaller share
    of finite replicates at or below / at or above 0, capped at 1; NaN without a finite one."""
    d = np.asarray(diffs, dtype=np.float64)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return math.nan
    return float(min(1.0, 2.0 * min((d <= 0).mean(), (d >= 0).mean())))


def holm_adjust(pvalues: Any) -> np.ndarray:
    """Holm–Bonferroni step-down adjusted p-values, in the input order: the i-th smallest p
    becomes max over j <= i of min(1, (m - j + 1) p_(j)). NaN counts as p = 1."""
    p = np.asarray(pvalues, dtype=np.float64).reshape(-1)
    p = np.where(np.isfinite(p), p, 1.0)
    m = p.size
    order = np.argsort(p, kind="stable")
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj
    return out


def verdict(diffs: Any, p_adjusted: float, alpha: float) -> str:
    """ "ahead" / "behind" when the adjusted p-value is below alpha (the side most replicates
    fall on), "not distinguishable" otherwise, "undefined" without a finite replicate."""
    d = np.asarray(diffs, dtype=np.float64)
    d = d[np.isfinite(d)]
    if d.size == 0 or not math.isfinite(p_adjusted):
        return UNDEFINED
    if p_adjusted >= alpha:
        return TIE
    return AHEAD if (d > 0).sum() > (d < 0).sum() else BEHIND


def _difference(point: dict, reps: dict, cand: Hashable, base: Hashable, metric: str, ci: float) -> dict[str, Any]:
    diff = point[cand][metric] - point[base][metric]
    d = reps[cand][metric] - reps[base][metric]
    low, high = percentile_interval(d, ci) if d.size else (math.nan, math.nan)
    p = bootstrap_pvalue(d) if math.isfinite(diff) else math.nan
    return {"diff": diff, "ci_low": low, "ci_high": high, "p": p, "n_undefined": int((~np.isfinite(d)).sum()), "_d": d}


def compare_to_baseline(
    y: Any,
    dates: Any | None,
    cells: Mapping[Hashable, Cell],
    baseline_of: Mapping[Hashable, Hashable],
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    block_days: int | None = None,
) -> dict[Hashable, dict[str, Any]]:
    """Paired differences candidate - baseline of PAIRED_METRICS for every ``candidate ->
    baseline`` of ``baseline_of`` (keys of ``cells``), Holm-adjusted over all the candidates.

    y: (N,) 0/1 test labels; dates: (N,) test end dates (None: iid windows); cells: key ->
    (scores, calls), each (S, N) with one row per seed. Returns candidate -> {"baseline": key,
    metric: {diff, ci_low, ci_high, p, p_holm, verdict, n_undefined}}.
    """
    missing = [k for pair in baseline_of.items() for k in pair if k not in cells]
    if missing:
        raise ValueError(f"baseline_of names cells that are not given: {missing!r}; given: {list(cells)!r}")
    block = DEFAULT_BLOCK_DAYS if block_days is None else int(block_days)
    point, reps = cell_replicates(y, cells, dates, n_boot, block, seed)
    out: dict[Hashable, dict[str, Any]] = {c: {"baseline": b} for c, b in baseline_of.items()}
    for metric in PAIRED_METRICS:
        rows = {c: _difference(point, reps, c, b, metric, ci) for c, b in baseline_of.items()}
        adjusted = holm_adjust([r["p"] for r in rows.values()])
        for (cand, row), p_holm in zip(rows.items(), adjusted):
            d = row.pop("_d")
            row["p_holm"] = float(p_holm) if math.isfinite(row["p"]) else math.nan
            row["verdict"] = verdict(d, row["p_holm"], 1.0 - ci) if math.isfinite(row["diff"]) else UNDEFINED
            out[cand][metric] = row
    return out
