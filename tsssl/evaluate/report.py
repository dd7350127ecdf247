"""The precision comparison report: a grid of cells -> one record per cell -> report.md / .json / .html.

    grid = tsssl.pipeline.run_grid(cfg, methods=["lstm", "siamcl"], features=["ohlcv", "ohlcv+padic"],
                                   rebalances=["v1", "v2", "v3"], seeds=[0, 1, 2])
    report = build_report(grid, n_boot=1000)
    paths = write_report(report, grid, "runs/report")

A cell is (method, features, rebalance); each is run with every seed on the same data and the
same chronological split (``tsssl.pipeline``). The decision threshold of each run is chosen on
a validation slice at the end of the training period, never on test.

Seeds. A cell's point value of a metric is the mean over its seeds of the per-seed value (over
the seeds where it is defined: precision is undefined for a seed that calls no window a rise,
``n_seeds_defined`` counts the others). Its 95% interval comes from one moving-block bootstrap
over test dates shared by all seeds: in each replicate the same dates are drawn for every seed
(the seeds share the test set) and the statistic is the mean over seeds of the per-seed metric on
the drawn windows; the interval is the 2.5 / 97.5 percentiles of those replicates. It is thus an
interval for the seed-averaged metric that reflects the test-set sampling; the spread between
seeds (training randomness) is reported next to it (``precision_seed_min`` / ``_max`` / ``_std``)
and every seed's own values and interval are kept under ``per_seed``.

Where no resample can move precision or recall (no hit, or only hits, for every seed) their
intervals are exact binomial ones (``tsssl.evaluate.binomial``, marked in the tables). Every cell
of a method other than LSTM is compared with the LSTM cell of the same features and rebalance
(``tsssl.evaluate.paired``: paired block bootstrap, Holm-adjusted verdicts), and per-ticker and
per-year tables break each method's first cell down (``tsssl.evaluate.breakdown``).

Two readings of precision are on the page: ``precision`` on the natural test set (its base rate
about 3-4% on daily index data) and, clearly labelled, ``balanced_precision``: the precision the
same calls would show on a test set rebalanced to 1:1, TPR / (TPR + FPR), under which figures
like the talk's ~70% are plausible.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tsssl import registry
from tsssl.atomic import atomic_write, json_ready, write_json
from tsssl.registry import FEATURE_LABELS

#: metrics whose seed-mean gets a bootstrap interval in every record
CI_METRICS = ("precision", "recall", "pr_auc", "lift", "balanced_precision")
#: precision among the top fraction of test windows by score
TOP_K = (0.01, 0.05)
AGGREGATION_NOTE = (
    "point value: mean over seeds of the per-seed metric (seeds where it is defined); 95% CI: "
    "moving-block bootstrap over test dates (blocks of window + horizon days), the same dates "
    "drawn for every seed in a replicate, statistic = mean over seeds; percentile interval"
)
#: the method every other cell is compared with (same features and rebalance, same test windows)
BASELINE = "lstm"
PAIRED_NOTE = (
    "each cell's value minus that of the LSTM cell of the same features and rebalance (both means over "
    "seeds); 95% CI: "
    "paired moving-block bootstrap over test dates (the same date blocks for both cells and all seeds "
    "in a replicate); p: two-sided bootstrap p-value, Holm–Bonferroni adjusted over all compared "
    "cells per metric; ahead / behind: adjusted p < 0.05"
)
THRESHOLD_RULE_NOTES = {
    "f1": "the threshold of highest F1",
    "precision_at_recall": "the highest-precision threshold keeping recall >= 0.1",
    "top_frac": "the threshold flagging as many validation windows as there are validation positives",
    "fixed": "a fixed 0.5 on the class-balanced score",
}


# -- metrics of a cell -------------------------------------------------------------------------
def _nanmean(a: np.ndarray, axis: int = 0) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns stay NaN
        return np.nanmean(a, axis=axis)


def _seed_stats(y: np.ndarray, scores: np.ndarray, preds: np.ndarray, W: np.ndarray) -> dict[str, np.ndarray]:
    """CI_METRICS of every seed under sample weights W (R, N): name -> (S, R)."""
    from tsssl.evaluate.metrics import (
        balanced_precision_weighted,
        weighted_average_precision,
        weighted_lift,
        weighted_precision,
        weighted_recall,
    )

    return {
        "precision": np.stack([weighted_precision(y, p, W) for p in preds]),
        "recall": np.stack([weighted_recall(y, p, W) for p in preds]),
        "pr_auc": np.stack([weighted_average_precision(y, s, W) for s in scores]),
        "lift": np.stack([weighted_lift(y, p, W) for p in preds]),
        "balanced_precision": np.stack([balanced_precision_weighted(y, p, W) for p in preds]),
    }


def _point_metrics(y: np.ndarray, scores: np.ndarray, preds: np.ndarray, top_k: Sequence[float]) -> dict[str, Any]:
    """Seed means of the metrics on the whole test set, the confusion counts, the seed spread of
    precision and precision among the top fraction ``k`` of scores."""
    from tsssl.evaluate.metrics import precision_at_k, top_k_label

    per_seed = {k: v[:, 0] for k, v in _seed_stats(y, scores, preds, np.ones((1, y.size))).items()}  # (S,)
    out: dict[str, Any] = {"n_seeds": scores.shape[0], **{k: float(_nanmean(v)) for k, v in per_seed.items()}}
    tp = (preds * y).sum(axis=1)
    fp = (preds * (1 - y)).sum(axis=1)
    fn = ((1 - preds) * y).sum(axis=1)
    tn = y.size - tp - fp - fn
    f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), np.nan)
    out["f1"] = float(_nanmean(f1))
    out["base_rate"] = float(y.mean())
    out["n_test"], out["n_test_pos"] = int(y.size), int(y.sum())
    out["n_pred_pos_mean"] = float((tp + fp).mean())
    out["confusion_matrix_mean"] = [[float(tn.mean()), float(fp.mean())], [float(fn.mean()), float(tp.mean())]]
    prec = per_seed["precision"]
    out["n_seeds_defined"] = int(np.isfinite(prec).sum())
    finite = prec[np.isfinite(prec)]
    out["precision_seed_min"] = float(finite.min()) if finite.size else math.nan
    out["precision_seed_max"] = float(finite.max()) if finite.size else math.nan
    out["precision_seed_std"] = float(finite.std(ddof=1)) if finite.size > 1 else math.nan
    for k in top_k:
        label = top_k_label(k)
        pk = float(np.mean([precision_at_k(y, s, k) for s in scores]))
        out[f"precision_at_{label}"] = pk
        out[f"lift_at_{label}"] = pk / out["base_rate"] if out["base_rate"] > 0 else math.nan
    return out


def _intervals(
    y: np.ndarray,
    scores: np.ndarray,
    preds: np.ndarray,
    dates: np.ndarray | None,
    n_boot: int,
    ci: float,
    seed: int,
    block_days: int | None,
) -> tuple[dict[str, float], dict[str, Any]]:
    """``<metric>_ci_low`` / ``_ci_high`` of the seed-mean of CI_METRICS (one bootstrap shared by
    the seeds) and a description of the bootstrap."""
    from tsssl.evaluate.bootstrap import DEFAULT_BLOCK_DAYS, bootstrap, date_groups, effective_block_len

    block = DEFAULT_BLOCK_DAYS if block_days is None else int(block_days)
    info: dict[str, Any] = {"n_boot": int(n_boot), "ci": float(ci), "seed": int(seed)}
    if dates is not None:
        info["method"] = "moving-block bootstrap over test dates (circular), shared by the seeds"
        info["block_days"] = effective_block_len(block, date_groups(dates)[1])
    else:
        info["method"] = "iid bootstrap over test windows, shared by the seeds"
    out = {f"{name}_ci_{end}": math.nan for name in CI_METRICS for end in ("low", "high")}
    if n_boot == 0:
        return out, info
    # the bootstrap calls every statistic on the same weight chunk: compute the seeds' metrics
    # once per chunk, not once per statistic
    last: dict[str, Any] = {}

    def stat_of(name: str) -> Callable[[np.ndarray], np.ndarray]:
        def stat(W: np.ndarray) -> np.ndarray:
            if last.get("W") is not W:
                last["W"], last["values"] = W, _seed_stats(y, scores, preds, W)
            return _nanmean(last["values"][name], axis=0)

        return stat

    res = bootstrap(
        {name: stat_of(name) for name in CI_METRICS},
        y.size,
        dates=dates,
        n_boot=n_boot,
        block_days=block,
        ci=ci,
        seed=seed,
    )
    for name, r in res.items():
        out[f"{name}_ci_low"], out[f"{name}_ci_high"] = r.low, r.high
    return out, info


def aggregate_seeds(
    y: np.ndarray,
    scores: np.ndarray,
    thresholds: Sequence[float],
    dates: np.ndarray | None = None,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    block_days: int | None = None,
    top_k: Sequence[float] = TOP_K,
) -> dict[str, Any]:
    """Seed-averaged metrics of one cell with bootstrap intervals (see the module docstring).

    y: (N,) 0/1 test labels; scores: (S, N) one row of scores per seed; thresholds: (S,), or
    (S, N) one per window (walk-forward folds) (a window is a call iff score >= threshold); dates: (N,) test end dates (block bootstrap by
    date; None: iid over windows). Returns precision, recall, f1, pr_auc, lift,
    balanced_precision (mean over seeds), ``<metric>_ci_low`` / ``_ci_high`` for CI_METRICS,
    precision_at_<k> / lift_at_<k>, base_rate, n_test, n_test_pos, n_seeds, n_seeds_defined,
    the seed spread of precision and the mean confusion matrix; ``ci_kind`` / ``ci_degenerate``
    say where an interval is exact binomial instead (``tsssl.evaluate.binomial``).
    """
    from tsssl.evaluate.binomial import exact_where_degenerate
    from tsssl.evaluate.metrics import _as_labels, _as_score

    y = _as_labels(y)
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    thresholds = np.asarray(thresholds, dtype=np.float64)
    thresholds = thresholds.reshape(-1, 1) if thresholds.ndim < 2 else thresholds
    if y.size == 0:
        raise ValueError("aggregate_seeds needs at least one test window, got y empty")
    if thresholds.shape not in ((scores.shape[0], 1), (scores.shape[0], y.size)):
        raise ValueError(
            f"thresholds must hold one value per seed ({scores.shape[0]}) or per seed and window, got {thresholds.shape}"
        )
    for row in scores:
        _as_score(row, y.size, "scores[seed]")
    preds = (scores >= thresholds).astype(np.int64)
    out = _point_metrics(y, scores, preds, top_k)
    intervals, info = _intervals(y, scores, preds, dates, n_boot, ci, seed, block_days)
    out.update(intervals)
    # where no resample can move precision / recall (no hit, all hits): exact binomial intervals
    tp = (preds * y).sum(axis=1)
    exact_where_degenerate(out, tp, preds.sum(axis=1), np.full_like(tp, y.sum()), out["base_rate"], ci)
    out["bootstrap"] = info
    return out


_PER_SEED_KEYS = (
    "precision",
    "precision_ci_low",
    "precision_ci_high",
    "recall",
    "recall_ci_low",
    "recall_ci_high",
    "f1",
    "pr_auc",
    "pr_auc_ci_low",
    "pr_auc_ci_high",
    "lift",
    "balanced_precision",
    "balanced_precision_ci_low",
    "balanced_precision_ci_high",
    "confusion_matrix",
    "n_pred_pos",
    "precision_undefined",
    "ci_kind",
)


def _seed_entry(c: Any, y: np.ndarray, dates: np.ndarray | None, **boot: Any) -> dict[str, Any]:
    """One seed's own metrics and interval (``boot``: top_k, n_boot, ci, seed) and training facts."""
    from tsssl.evaluate.metrics import classification_report

    rep = classification_report(
        y, c.test_score, _thresholds(c), dates=dates, threshold_description=c.threshold_description, **boot
    )
    return {
        "seed": c.seed,
        "threshold": c.threshold,
        "threshold_description": c.threshold_description,
        **{k: rep[k] for k in _PER_SEED_KEYS},
        "train_seconds": c.train_seconds,
        "steps": c.steps,
        "final_loss": c.final_loss,
        "n_fit_rebalanced": c.n_fit_rebalanced,
        "diagnostics": getattr(c, "diagnostics", None),
    }


def _thresholds(c: Any) -> Any:
    """A run's threshold of every test window: (N,) pooled over walk-forward folds, else one float."""
    per_window = getattr(c, "test_threshold", None)
    return c.threshold if per_window is None else per_window


def cell_record(
    method: str,
    features: str,
    rebalance: str,
    cells: Sequence[Any],
    y: np.ndarray,
    dates: np.ndarray | None,
    n_boot: int = 1000,
    ci: float = 0.95,
    boot_seed: int = 0,
    top_k: Sequence[float] = TOP_K,
    fold: np.ndarray | None = None,
) -> dict[str, Any]:
    """One JSON-ready record of a cell: its axes, the seed aggregate (:func:`aggregate_seeds`),
    thresholds, training facts, representation diagnostics (:func:`seed_diagnostics`) and
    ``per_seed`` (each seed's own metrics, interval and diagnostics); with ``fold`` ((N,)
    walk-forward fold of each test window) also ``per_fold`` (:func:`fold_metrics`)."""
    if not cells:
        raise ValueError(f"cell ({method}, {features}, {rebalance}) has no run")
    scores = np.stack([c.test_score for c in cells])
    thresholds = [c.threshold for c in cells]
    per_window = np.stack([np.broadcast_to(_thresholds(c), y.shape) for c in cells])
    agg = aggregate_seeds(y, scores, per_window, dates=dates, n_boot=n_boot, ci=ci, seed=boot_seed, top_k=top_k)
    per_seed = [_seed_entry(c, y, dates, top_k=top_k, n_boot=n_boot, ci=ci, seed=boot_seed) for c in cells]
    record = {
        "method": method,
        "features": features,
        "rebalance": rebalance,
        "label": f"{registry.label(method)} / {FEATURE_LABELS.get(features, features)} {rebalance.upper()}",
        "seeds": [c.seed for c in cells],
        **agg,
        "threshold_mean": float(np.mean(thresholds)),
        "thresholds": thresholds,
        "scored_by": cells[0].scored_by,
        "diagnostics": seed_diagnostics([getattr(c, "diagnostics", None) for c in cells]),
        "per_seed": per_seed,
    }
    if fold is not None:
        record["per_fold"] = fold_metrics(y, np.stack([c.calls() for c in cells]), fold)
    return json_ready(record)


def fold_metrics(y: np.ndarray, calls: np.ndarray, fold: np.ndarray) -> list[dict[str, Any]]:
    """Per walk-forward fold: base rate, windows, rises, and the seed means of precision (over
    the seeds that called something), recall and calls. calls: (S, N) bool; fold: (N,) int."""
    out = []
    for k in range(int(fold.max()) + 1):
        mine = fold == k
        yk, ck = y[mine], calls[:, mine]
        tp, n_pred = (ck & (yk == 1)).sum(axis=1), ck.sum(axis=1)
        prec = tp[n_pred > 0] / n_pred[n_pred > 0]
        out.append({
            "fold": k + 1, "n_test": int(mine.sum()), "n_test_pos": int(yk.sum()),
            "base_rate": float(yk.mean()) if yk.size else math.nan,
            "precision": float(prec.mean()) if prec.size else math.nan,
            "recall": float((tp / yk.sum()).mean()) if yk.sum() else math.nan,
            "n_pred_pos_mean": float(n_pred.mean()),
        })  # fmt: skip
    return out


def seed_diagnostics(diags: Sequence[dict[str, Any] | None]) -> dict[str, Any] | None:
    """The representation diagnostics of a cell at the last training step over its seeds: the
    mean of alignment / uniformity / effective_rank (over the seeds that have the value), dim,
    collapsed (any seed), n_collapsed and n_seeds (seeds measured); None when no seed was."""
    diags = [d for d in diags if d]
    if not diags:
        return None

    def mean(key: str) -> float | None:
        vals = [d[key] for d in diags if d.get(key) is not None and math.isfinite(d[key])]
        return float(np.mean(vals)) if vals else None

    n_collapsed = sum(bool(d.get("collapsed")) for d in diags)
    return {
        "alignment": mean("alignment"),
        "uniformity": mean("uniformity"),
        "effective_rank": mean("effective_rank"),
        "dim": diags[0].get("dim"),
        "collapsed": n_collapsed > 0,
        "n_collapsed": n_collapsed,
        "n_seeds": len(diags),
        "step": diags[0].get("step"),
    }


# -- the report ----------------------------------------------------------------------------------
def _versions() -> dict[str, str]:
    import sklearn
    import torch

    from tsssl import __version__

    return {
        "tsssl": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "python": platform.python_version(),
    }


def _training_meta(cfg: Any) -> dict[str, Any]:
    """How the report's cells were trained (a RunConfig's training keys, and a note)."""
    return {
        "encoder": cfg.encoder,
        "encoder_kwargs": cfg.encoder_kwargs,
        "method_kwargs": cfg.method_kwargs,
        "siamcl": cfg.method_settings("siamcl"),
        "epochs": cfg.epochs,
        "max_steps": cfg.max_steps,
        "batch_size": cfg.batch_size,
        "lr": cfg.lr,
        "weight_decay": cfg.weight_decay,
        "precision": cfg.precision,
        "probe": cfg.probe,
        "note": "lstm trains on the rebalanced fit windows and scores with its classifier "
        "head; a self-supervised method trains its encoder once per (features, seed) "
        "on every fit window (labels unused) and fits a class-balanced probe on the "
        "rebalanced fit windows' representations per rebalance strategy",
    }


def rule_note(rule: str, parameters: dict[str, Any] | None = None) -> str:
    """What the threshold rule does, with its parameter (``min_recall``, ``frac``, ``value``)."""
    p = parameters or {}
    if rule == "precision_at_recall" and "min_recall" in p:
        return f"the highest-precision threshold keeping recall >= {p['min_recall']:g}"
    if rule == "top_frac" and p.get("frac") is not None:
        return f"the threshold flagging the top {p['frac']:.4g} of validation windows"
    if rule == "fixed" and "value" in p:
        return f"a fixed {p['value']:g} on the class-balanced score"
    return THRESHOLD_RULE_NOTES[rule]


def _threshold_meta(grid: Any, split: dict[str, Any]) -> dict[str, Any]:
    """The threshold rule, its parameter and the validation slice it was chosen on."""
    parameters = dict(getattr(grid, "threshold_kwargs", {}) or {})
    if split["mode"] == "walk-forward":
        chosen_on = (
            f"validation slice of each walk-forward fold: the last {grid.val_frac:.0%} of that fold's training "
            "end dates, purged like the test split; models fitted on the windows before it; never on test"
        )
    else:
        chosen_on = (
            f"validation slice: the last {grid.val_frac:.0%} of the training period's end dates "
            f"({split['val_start']} to {split['val_end']}, {split['n_val']} windows), purged like the test split; "
            f"models are fitted on the {split['n_fit']} windows before it; never on test"
        )
    return {
        "rule": grid.threshold_rule,
        "parameters": parameters,
        "rule_note": rule_note(grid.threshold_rule, parameters),
        "chosen_on": chosen_on,
    }


def build_report(
    grid: Any, n_boot: int = 1000, ci: float = 0.95, boot_seed: int = 0, extra_meta: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``{"meta": ..., "records": [...]}``: one record per (method, features, rebalance) in grid
    order, and the meta block (data, split, threshold rule, seeds, training settings, versions,
    device, wall time, how seeds and intervals were aggregated)."""
    if n_boot < 0:
        raise ValueError(f"n_boot must be >= 0 (0: no intervals), got {n_boot}")
    t0 = time.perf_counter()
    test = grid.test
    y, dates = test.y, test.end_date
    fold = getattr(grid, "test_fold", None)
    records = [
        cell_record(m, f, r, grid.cells_of(m, f, r), y, dates, n_boot=n_boot, ci=ci, boot_seed=boot_seed, fold=fold)
        for m in grid.methods
        for f in grid.features
        for r in grid.rebalances
    ]
    paired = paired_comparisons(grid, records, n_boot=n_boot, ci=ci, boot_seed=boot_seed)
    breakdowns = breakdown_tables(grid)
    cfg = grid.cfg
    split = {"mode": getattr(grid, "split_mode", "single"), "test_frac": cfg.test_frac, **grid.split}
    devices = sorted({c.device for c in grid.cells})
    meta = {
        "title": "tsssl precision report: strict rise over the horizon, chronological test set",
        "created": _dt.datetime.now().isoformat(timespec="seconds"),
        "grid": {"methods": grid.methods, "features": grid.features, "rebalance": grid.rebalances, "seeds": grid.seeds},
        "data": {
            "source": cfg.source,
            **grid.data,
            "window": cfg.window,
            "horizon": cfg.horizon,
            "start": cfg.start,
            "end": cfg.end,
            "file": cfg.data,
            "padic_p": cfg.padic_p,
            "padic_deadband": cfg.padic_deadband,
        },
        "split": split,
        "threshold": _threshold_meta(grid, split),
        "training": _training_meta(cfg),
        "aggregation": AGGREGATION_NOTE,
        "bootstrap": {
            "n_boot": n_boot,
            "ci": ci,
            "seed": boot_seed,
            "block_days": records[0]["bootstrap"].get("block_days") if records else None,
        },
        "balanced_precision_note": "precision on a test set rebalanced to 1:1 positives:negatives, "
        "TPR / (TPR + FPR): a different reading, not the precision on the "
        "natural test set",
        "features_note": "P-adic = the base set (ohlcv or closes) plus our documented reading of the talk's "
        "P-adic enhancement "
        "(per-day base-3 digit of the return, one-hot, and the p-adic distance of the "
        "window to the constant reference patterns); see tsssl.data.padic",
        "paired": paired,
        "versions": _versions(),
        "device": ", ".join(devices) if devices else cfg.device,
        "wall_seconds": {"grid": grid.wall_seconds},
        "predictions_file": "predictions.npz",
    }
    meta["wall_seconds"]["report"] = round(time.perf_counter() - t0, 3)
    if extra_meta:
        meta.update(extra_meta)
    return {"meta": json_ready(meta), "records": records, "breakdown": json_ready(breakdowns)}


# -- paired comparisons and breakdowns (post-processing of the collected predictions) ------------
def cell_arrays(grid: Any, method: str, features: str, rebalance: str) -> tuple[np.ndarray, np.ndarray]:
    """(scores, calls) of a cell, each (S, N) with one row per seed; a call is score >= the
    seed's threshold."""
    cells = grid.cells_of(method, features, rebalance)
    scores = np.stack([np.asarray(c.test_score, dtype=np.float64) for c in cells])
    thresholds = np.array([c.threshold for c in cells], dtype=np.float64)
    return scores, (scores >= thresholds[:, None]).astype(np.int64)


def paired_comparisons(
    grid: Any, records: list[dict[str, Any]], n_boot: int = 1000, ci: float = 0.95, boot_seed: int = 0
) -> dict[str, Any] | None:
    """Add ``vs_baseline`` (:func:`tsssl.evaluate.paired.compare_to_baseline`) to every record of
    a non-baseline method: its paired difference to the BASELINE cell of the same features and
    rebalance. Returns the description for the meta block (None without a baseline to compare)."""
    from tsssl.evaluate.paired import compare_to_baseline

    if BASELINE not in grid.methods or len(grid.methods) < 2:
        return None
    keys = [(m, f, r) for m in grid.methods for f in grid.features for r in grid.rebalances]
    baseline_of = {k: (BASELINE, k[1], k[2]) for k in keys if k[0] != BASELINE}
    cells = {k: cell_arrays(grid, *k) for k in keys}
    test = grid.test
    res = compare_to_baseline(test.y, test.end_date, cells, baseline_of, n_boot=n_boot, ci=ci, seed=boot_seed)
    for rec in records:
        key = (rec["method"], rec["features"], rec["rebalance"])
        if key in res:
            rec["vs_baseline"] = json_ready({**res[key], "baseline": "/".join(res[key]["baseline"])})
    return {
        "baseline": BASELINE,
        "n_compared": len(baseline_of),
        "correction": "Holm–Bonferroni over the compared cells, per metric",
        "alpha": round(1.0 - ci, 10),
        "note": PAIRED_NOTE,
    }


def breakdown_tables(grid: Any, features: str | None = None, rebalance: str | None = None) -> dict[str, Any]:
    """Per-ticker and per-year base rate and precision (:func:`tsssl.evaluate.breakdown.breakdown`)
    of each method's cell at ``features`` / ``rebalance`` (default: the grid's first of each)."""
    from tsssl.evaluate.breakdown import breakdown, years_of

    features = features or grid.features[0]
    rebalance = rebalance or grid.rebalances[0]
    calls = {m: cell_arrays(grid, m, features, rebalance)[1] for m in grid.methods}
    test = grid.test
    return {
        "features": features,
        "rebalance": rebalance,
        "by_ticker": breakdown(test.y, np.asarray(test.ticker).astype(str), calls),
        "by_year": breakdown(test.y, years_of(test.end_date), calls),
    }


# -- outputs -------------------------------------------------------------------------------------
def prediction_key(method: str, features: str, rebalance: str, seed: int, what: str) -> str:
    """Key of one array in predictions.npz, e.g. ``lstm__ohlcv_padic__v2__s0__test_score``."""
    return f"{method}__{features.replace('+', '_')}__{rebalance}__s{seed}__{what}"


def prediction_arrays(grid: Any) -> dict[str, np.ndarray]:
    """The arrays of predictions.npz: the test and validation rows (``y_test``, ``test_end_date``,
    ``test_ticker``, ``y_val``, ``val_end_date``, ``val_ticker``) and per run
    ``<key>__test_score``, ``__val_score``, ``__threshold`` (see :func:`prediction_key`).
    Walk-forward: the pooled test rows, ``test_fold`` / ``val_fold`` (fold index from 0 of each
    row; the validation rows are the folds' slices one after the other), ``__threshold`` the folds'
    mean and ``__test_threshold`` the (N,) threshold of each test window (its fold's)."""
    test, val = grid.test, grid.val
    arrays: dict[str, np.ndarray] = {
        "y_test": test.y,
        "test_end_date": test.end_date.astype("datetime64[D]"),
        "test_ticker": np.asarray(test.ticker).astype(str),
        "y_val": val.y,
        "val_end_date": val.end_date.astype("datetime64[D]"),
        "val_ticker": np.asarray(val.ticker).astype(str),
    }
    fold = getattr(grid, "test_fold", None)
    if fold is not None:  # walk-forward: which fold's model scored each window; per-window thresholds
        arrays["test_fold"], arrays["val_fold"] = fold, val.fold
    for c in grid.cells:
        arrays[prediction_key(c.method, c.features, c.rebalance, c.seed, "test_score")] = c.test_score
        arrays[prediction_key(c.method, c.features, c.rebalance, c.seed, "val_score")] = c.val_score
        arrays[prediction_key(c.method, c.features, c.rebalance, c.seed, "threshold")] = np.float64(c.threshold)
        if getattr(c, "test_threshold", None) is not None:
            arrays[prediction_key(c.method, c.features, c.rebalance, c.seed, "test_threshold")] = c.test_threshold
    return arrays


def _pct(v: Any) -> str:
    return "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{100 * v:.1f}%"


def fmt_num(v: Any, digits: int = 3) -> str:
    return "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.{digits}f}"


#: marks an exact binomial interval in the tables (the footnote says why)
EXACT_MARK = "†"


def with_ci(r: dict[str, Any], key: str, fmt: Callable[[Any], str] = _pct) -> str:
    """ "4.2% [2.3–6.1]"; "0.0% [0.0–26.5]†" for an exact interval; "– (no calls)" when undefined."""
    kind = (r.get("ci_kind") or {}).get(key)
    if kind == "undefined":
        return "– (no calls)" if key in ("precision", "lift") else "– (no rises)"
    mark = EXACT_MARK if kind == "exact" else ""
    lo, hi = r.get(f"{key}_ci_low"), r.get(f"{key}_ci_high")
    if lo is None or hi is None:
        return fmt(r.get(key))
    if fmt is _pct:
        return f"{fmt(r.get(key))} [{100 * lo:.1f}–{100 * hi:.1f}]{mark}"
    return f"{fmt(r.get(key))} [{fmt(lo)}–{fmt(hi)}]{mark}"


def _exact_footnote(report: dict[str, Any], key: str) -> str:
    """The footnote of a table whose cells may carry EXACT_MARK ('' when none does)."""
    kinds = [(r.get("ci_kind") or {}).get(key) for r in report["records"]]
    if "exact" not in kinds:
        return ""
    from tsssl.evaluate.binomial import EXACT_NOTE

    return (
        f" {EXACT_MARK} {EXACT_NOTE} — for every seed the hits are none (or all), so every resample gives the "
        "same value; the Clopper–Pearson interval of the seed-mean counts treats the calls as independent."
    )


def _columns(meta: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(features, rebalance, header) in the talk's order: original V1 V2 V3, P-adic V1 V2 V3."""
    g = meta["grid"]
    return [(f, r, f"{FEATURE_LABELS.get(f, f)} {r.upper()}") for f in g["features"] for r in g["rebalance"]]


def metric_table(report: dict[str, Any], cell: Callable[[dict[str, Any]], str]) -> list[list[str]]:
    """Rows of the talk-shaped table: header row, then one row per method; ``cell(record)`` is
    the text of each cell ('–' where the grid has no such cell)."""
    meta, records = report["meta"], report["records"]
    index = {(r["method"], r["features"], r["rebalance"]): r for r in records}
    cols = _columns(meta)
    rows = [["method"] + [c[2] for c in cols]]
    for m in meta["grid"]["methods"]:
        row = [registry.label(m)]
        for f, r, _ in cols:
            rec = index.get((m, f, r))
            row.append("–" if rec is None else cell(rec))
        rows.append(row)
    return rows


def _md_table(rows: list[list[str]]) -> str:
    head, *body = rows
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + [":---:"] * (len(head) - 1)) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines)


def _diagnostics_text(r: dict[str, Any]) -> str:
    """A report cell's diagnostics: "align 0.410 · unif -3.10 · rank 17.2/32 · collapse no"."""
    d = r.get("diagnostics")
    if not d:
        return "–"
    rank = fmt_num(d.get("effective_rank"), 1) + (f"/{d['dim']}" if d.get("dim") else "")
    n, k = d.get("n_seeds", 1), d.get("n_collapsed", int(bool(d.get("collapsed"))))
    collapse = ("yes" if k else "no") if n <= 1 else (f"yes ({k}/{n} seeds)" if k else "no")
    return (
        f"align {fmt_num(d.get('alignment'))} · unif {fmt_num(d.get('uniformity'), 2)} · rank {rank} "
        f"· collapse {collapse}"
    )


def _diagnostics_section(report: dict[str, Any]) -> list[tuple[str, str, list[list[str]]]]:
    """The diagnostics table, when any cell has diagnostics (reports from before them have none)."""
    if not any(r.get("diagnostics") for r in report["records"]):
        return []
    return [
        (
            "Representation diagnostics (final step)",
            "Of the encoder on the first 512 training windows at the last training step, mean over "
            "seeds. Alignment: mean squared distance between the L2-normalised embeddings of two "
            "augmented views of a window (lower: closer; – for a method without views). Uniformity: "
            "log of the mean exp(-2 x squared distance) over all pairs of windows (0: one point; "
            "lower: spread over the sphere). Rank: effective rank of the centred embeddings (exp of "
            "the entropy of their normalised singular values) / embedding size. Collapse: all "
            "embeddings one point, or an effective rank below 1.5.",
            metric_table(report, _diagnostics_text),
        )
    ]


def _signed(v: Any, scale: float, digits: int, unit: str = "") -> str:
    return "–" if v is None or not math.isfinite(v) else f"{scale * v:+.{digits}f}{unit}"


def _diff_text(d: dict[str, Any] | None, scale: float, digits: int, unit: str) -> str:
    """ "+1.2 pp [−0.5, +2.9]" of a paired difference."""
    if not d:
        return "–"
    lo, hi = _signed(d.get("ci_low"), scale, digits), _signed(d.get("ci_high"), scale, digits)
    return f"{_signed(d.get('diff'), scale, digits, unit)} [{lo}, {hi}]"


def _p_text(d: dict[str, Any] | None, n_boot: int) -> str:
    """ "0.210 (0.070)": the Holm-adjusted p-value (the raw one); 0 is written "<1/n_boot"."""
    if not d or d.get("p") is None:
        return "–"
    p, p_holm = d["p"], d.get("p_holm")
    zero = f"<{1 / max(n_boot, 1):.3f}"
    return f"{zero if p_holm == 0 else fmt_num(p_holm)} ({zero if p == 0 else fmt_num(p)})"


def _paired_section(report: dict[str, Any]) -> list[tuple[str, str, list[list[str]]]]:
    """One row per compared cell: its paired differences to the baseline and the verdicts."""
    paired = report["meta"].get("paired")
    if not paired:
        return []
    base = registry.label(paired["baseline"])
    rows = [
        [
            "cell",
            f"precision − {base}",
            "p Holm (raw)",
            f"PR-AUC − {base}",
            "p Holm (raw)",
            "verdict (precision)",
            "verdict (PR-AUC)",
        ]
    ]
    n_boot = report["meta"]["bootstrap"]["n_boot"]
    for r in report["records"]:
        v = r.get("vs_baseline")
        if not v:
            continue
        prec, auc = v.get("precision"), v.get("pr_auc")
        rows.append(
            [
                r["label"],
                _diff_text(prec, 100, 1, " pp"),
                _p_text(prec, n_boot),
                _diff_text(auc, 1, 3, ""),
                _p_text(auc, n_boot),
                (prec or {}).get("verdict", "–"),
                (auc or {}).get("verdict", "–"),
            ]
        )
    note = (
        f"On the same test windows: {paired['note']} ({paired['n_compared']} cells compared). The interval "
        f"shown is not adjusted for the number of cells; p <{1 / max(n_boot, 1):.3f}: no replicate of "
        f"the {n_boot} fell on the other side of 0."
    )
    return [(f"Against the {base} baseline (paired, Holm-adjusted)", note, rows)]


def _breakdown_sections(report: dict[str, Any]) -> list[tuple[str, str, list[list[str]]]]:
    """Per-ticker and per-year tables of base rate, precision and calls of each method's cell at
    the breakdown's features / rebalance."""
    b = report.get("breakdown")
    if not b:
        return []
    methods = report["meta"]["grid"]["methods"]
    setting = f"{FEATURE_LABELS.get(b['features'], b['features'])} {b['rebalance'].upper()}"
    note = (
        f"Each method's {setting} cell. Base rate: share of strict rises among the group's test windows. "
        "Precision: mean over seeds (those calling a window of the group) of the precision among "
        "the group's calls; calls: mean per seed."
    )
    out = []
    for key, name in (("by_ticker", "ticker"), ("by_year", "year")):
        rows = [[name, "windows (rises)", "base rate", *(registry.label(m) for m in methods)]]
        for g in b[key]:
            cells = [f"{_pct(g[m]['precision'])} ({g[m]['calls']:.0f} calls)" for m in methods]
            rows.append([str(g["group"]), f"{g['n']:,} ({g['n_pos']})", _pct(g["base_rate"]), *cells])
        out.append((f"Per {name} at {setting}: base rate and precision", note, rows))
    return out


def _sections(report: dict[str, Any]) -> list[tuple[str, str, list[list[str]]]]:
    """(title, explanation, table rows) of every table of the report, in order."""
    meta = report["meta"]
    ci = int(round(100 * meta["bootstrap"]["ci"]))
    k1 = TOP_K[0]
    from tsssl.evaluate.metrics import top_k_label

    lab = top_k_label(k1)
    return [
        (
            f"Precision of the strict-rise class on the test set ({ci}% CI)",
            "Share of the windows called a rise that were a strict rise, on the untouched chronological "
            "test set at its natural base rate. Mean over seeds, with the block-bootstrap interval."
            + _exact_footnote(report, "precision"),
            metric_table(report, lambda r: with_ci(r, "precision")),
        ),
        (
            f"Recall ({ci}% CI)",
            "Share of the test set's strict rises that were called." + _exact_footnote(report, "recall"),
            metric_table(report, lambda r: with_ci(r, "recall")),
        ),
        (
            f"PR-AUC (average precision, {ci}% CI)",
            "Threshold-free; a classifier with no skill scores the base rate.",
            metric_table(report, lambda r: with_ci(r, "pr_auc", lambda v: fmt_num(v))),
        ),
        (
            "Base rate and lift",
            "Base rate: share of strict rises among the test windows (the precision of calling every "
            "window a rise). Lift: precision / base rate.",
            metric_table(report, lambda r: f"{_pct(r['base_rate'])} · lift {fmt_num(r['lift'], 2)}"),
        ),
        (
            f"Precision among the top {k1:.0%} of test windows by score",
            "No threshold involved: the most confident windows of each model.",
            metric_table(
                report, lambda r: f"{_pct(r.get(f'precision_at_{lab}'))} (lift {fmt_num(r.get(f'lift_at_{lab}'), 2)})"
            ),
        ),
        (
            "Calls and confusion (mean over seeds)",
            "Predicted rises / test windows, F1, and the decision threshold (mean over seeds) chosen on "
            "the validation slice.",
            metric_table(
                report,
                lambda r: (
                    f"{r['n_pred_pos_mean']:.0f}/{r['n_test']} · F1 {fmt_num(r['f1'], 3)} "
                    f"· t={fmt_num(r['threshold_mean'], 3)}"
                ),
            ),
        ),
        (
            f"A DIFFERENT READING: precision on a rebalanced 1:1 test set ({ci}% CI)",
            "TPR / (TPR + FPR): the precision the same calls would show if the test set held as many "
            "rises as non-rises. NOT the precision one would see in use (the first table is). Shown "
            "because figures near 70%, like the talk's, would need a lift of about 70% / base rate on "
            "the natural test set, whereas on a 1:1 test set a modest edge over 50% is enough.",
            metric_table(report, lambda r: with_ci(r, "balanced_precision")),
        ),
        (
            "Seed spread of precision",
            "min – max over seeds (the interval above reflects test-set sampling only).",
            metric_table(
                report,
                lambda r: (
                    f"{_pct(r['precision_seed_min'])} – {_pct(r['precision_seed_max'])} "
                    f"({r['n_seeds_defined']}/{r['n_seeds']} seeds defined)"
                ),
            ),
        ),
        *_diagnostics_section(report),
        *_paired_section(report),
        *_breakdown_sections(report),
        *_fold_sections(report),
    ]


def _fold_sections(report: dict[str, Any]) -> list[tuple[str, str, list[list[str]]]]:
    """Walk-forward only: each fold's dates and base rate, and each cell's precision per fold."""
    s = report["meta"]["split"]
    if s.get("mode") != "walk-forward":
        return []
    folds = s["folds"]
    dates = [["fold", "trained on (purged)", "validation", "test", "test windows", "rises", "base rate"]]
    dates += [
        [str(f["fold"]), f"{f['train_start']} – {f['fit_end']} ({f['n_fit']:,})",
         f"{f['val_start']} – {f['val_end']} ({f['n_val']:,})", f"{f['test_start']} – {f['test_end']}",
         f"{f['n_test']:,}", str(f["n_test_pos"]), _pct(f["base_rate"])]
        for f in folds
    ]  # fmt: skip
    per_fold = metric_table(
        report, lambda r: " · ".join(f"{_pct(p['precision'])} ({p['n_pred_pos_mean']:.0f})" for p in r["per_fold"])
    )
    return [
        (
            f"Walk-forward folds ({len(folds)})",
            f"Each fold tests on its own block of dates and was trained only on the windows before it, purged by "
            f"{s['purge']} trading days plus an embargo of {s['embargo']}; the tables above pool the folds' test "
            "windows, each scored by its own fold's model.",
            dates,
        ),
        (
            "Precision per fold (mean over seeds; mean number of calls)",
            "Fold 1 · fold 2 · …; compare each with its fold's base rate above.",
            per_fold,
        ),
    ]


def _setup_lines(meta: dict[str, Any]) -> list[str]:
    d, s, t, tr, b, v = (
        meta["data"],
        meta["split"],
        meta["threshold"],
        meta["training"],
        meta["bootstrap"],
        meta["versions"],
    )
    tickers = d["tickers"]
    shown = ", ".join(tickers[:20]) + (f", … ({len(tickers)} in all)" if len(tickers) > 20 else "")
    walk = s.get("mode") == "walk-forward"
    limit = f"{tr['epochs']} epochs" + (f", at most {tr['max_steps']} steps" if tr.get("max_steps") else "")
    wall = meta["wall_seconds"]
    return [
        f"- Data: {d['source']} — {shown}; prices {d['first_date']} to {d['last_date']} ({d['n_rows']:,} rows)",
        f"- Windows: {d['window']} trading days, label = strict rise of the close over the next "
        f"{d['horizon']} days; {s['n_windows']:,} labelled windows per feature set",
        *(_walk_forward_lines(s) if walk else _single_split_lines(s)),
        f"- Decision threshold: {t['rule_note']} (rule `{t['rule']}`); chosen on the {t['chosen_on']}",
        f"- P-adic digits: p = {d.get('padic_p', 3)}, dead-band {d.get('padic_deadband', 0.002):g} (log return); "
        f"SiamCL: {', '.join(f'{k} {v}' for k, v in tr.get('siamcl', {}).items())}",
        f"- Seeds: {', '.join(map(str, meta['grid']['seeds']))}; {meta['aggregation']}",
        f"- Bootstrap: {b['n_boot']} replicates, blocks of {b['block_days']} test dates",
        f"- Training: encoder {tr['encoder']} {tr['encoder_kwargs']}, {limit}, "
        + (f"batch {tr['batch_size']}" if tr["batch_size"] is not None else "batch chosen from each cell's data")
        + ", "
        f"lr {tr['lr']:g}, {tr['precision']}; probe {tr['probe']}. {tr['note']}",
        f"- Features: {meta['features_note']}",
        f"- tsssl {v['tsssl']}, torch {v['torch']}, numpy {v['numpy']}, scikit-learn {v['scikit-learn']}, "
        f"Python {v['python']}; device {meta['device']}",
        f"- Wall time: {wall.get('total', wall['grid']):.0f} s (grid {wall['grid']:.0f} s); created {meta['created']}"
        + (f"; command `{meta['command']}`" if meta.get("command") else ""),
        "- Per-run test / validation scores and thresholds: predictions.npz (keys in report.json)",
    ]


def _single_split_lines(s: dict[str, Any]) -> list[str]:
    return [
        f"- Split (identical for every feature set, verified): training windows {s['train_start']} to "
        f"{s['train_end']} ({s['n_train']:,}); test {s['test_start']} to {s['test_end']} "
        f"({s['n_test']:,} windows, {s['n_test_pos']} strict rises)",
        f"- Purge {s['purge']} trading days + embargo {s['embargo']} before the test period "
        f"({s['n_purged']} training windows purged) and before the validation slice",
        f"- Models fitted on {s['train_start']} to {s['fit_end']} ({s['n_fit']:,} windows); "
        f"validation slice {s['val_start']} to {s['val_end']} ({s['n_val']:,} windows, {s['n_val_pos']} rises)",
    ]


def _walk_forward_lines(s: dict[str, Any]) -> list[str]:
    folds = s["folds"]
    return [
        f"- Split: walk-forward, {len(folds)} folds (identical for every feature set, verified); pooled test "
        f"{s['test_start']} to {s['test_end']} ({s['n_test']:,} windows, {s['n_test_pos']} strict rises), "
        "each window scored by the model of its own fold",
        *[
            f"  - fold {f['fold']}: fitted on {f['train_start']} to {f['fit_end']} ({f['n_fit']:,} windows), "
            f"validation {f['val_start']} to {f['val_end']} ({f['n_val']:,}, {f['n_val_pos']} rises), test "
            f"{f['test_start']} to {f['test_end']} ({f['n_test']:,} windows, base rate {_pct(f['base_rate'])}); "
            f"{f['n_purged']} training windows purged"
            for f in folds
        ],
        f"- Purge {s['purge']} trading days + embargo {s['embargo']} before each fold's test period and "
        "before its validation slice",
    ]


def render_markdown(report: dict[str, Any]) -> str:
    """report.md: the talk-shaped tables (precision with CI first), then the setup."""
    meta = report["meta"]
    out = [f"# {meta['title']}", ""]
    s = meta["split"]
    out += [
        f"Test set: {s['test_start']} to {s['test_end']}, {s['n_test']:,} windows of which "
        f"{s['n_test_pos']} strict rises (base rate {_pct(s['n_test_pos'] / max(s['n_test'], 1))}). "
        "Read precision against that base rate: calling every window a rise has precision equal "
        "to the base rate.",
        "",
    ]
    for title, note, rows in _sections(report):
        out += [f"## {title}", "", note, "", _md_table(rows), ""]
    out += ["## Setup", "", *_setup_lines(meta), ""]
    return "\n".join(out)


def _html_escape(s: Any) -> str:
    import html

    return html.escape(str(s))


def render_html(report: dict[str, Any], figures: dict[str, str]) -> str:
    """report.html: self-contained (inline CSS, figures as base64 PNG ``<img>``), the tables of
    report.md and the figures (``figures``: title -> base64 PNG)."""
    meta = report["meta"]
    parts = [
        "<!DOCTYPE html>",
        "<html><head><meta charset='utf-8'>",
        f"<title>{_html_escape(meta['title'])}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.4}"
        "table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;"
        "padding:3px 8px;text-align:center}td:first-child{text-align:left;font-weight:bold}"
        "th{background:#f0f0f0}.warn{background:#fff4e0}img{max-width:100%}</style></head><body>",
        f"<h1>{_html_escape(meta['title'])}</h1>",
    ]
    for title, note, rows in _sections(report):
        cls = " class='warn'" if title.startswith("A DIFFERENT") else ""
        parts.append(f"<h2>{_html_escape(title)}</h2><p>{_html_escape(note)}</p><table{cls}>")
        parts.append("<tr>" + "".join(f"<th>{_html_escape(h)}</th>" for h in rows[0]) + "</tr>")
        for row in rows[1:]:
            parts.append("<tr>" + "".join(f"<td>{_html_escape(c)}</td>" for c in row) + "</tr>")
        parts.append("</table>")
    for title, b64 in figures.items():
        parts.append(
            f"<h2>{_html_escape(title)}</h2><img alt='{_html_escape(title)}' src='data:image/png;base64,{b64}'>"
        )
    parts.append("<h2>Setup</h2><ul>")
    parts += [f"<li>{_html_escape(line[2:])}</li>" for line in _setup_lines(meta)]
    parts.append("</ul></body></html>")
    return "\n".join(parts)


def report_figures(report: dict[str, Any], grid: Any) -> dict[str, str]:
    """The report's figures as base64 PNGs: PR curves per method, precision per cell with CI
    bars, 2-D PCA of the test representations, training loss curves (first seed)."""
    from tsssl.evaluate import plots

    y = grid.test.y
    first = grid.seeds[0]
    runs = [c for c in grid.cells if c.seed == first]
    label = lambda c: f"{FEATURE_LABELS.get(c.features, c.features)} {c.rebalance.upper()}"  # noqa: E731
    pr = {registry.label(m): {label(c): c.test_score for c in runs if c.method == m} for m in grid.methods}
    projections, losses = {}, {}
    for c in runs:
        name = registry.label(c.method)
        labelled = registry.uses_labels(c.method)  # one model per rebalance; SSL: one encoder per (features, seed)
        if labelled or c.rebalance == grid.rebalances[0]:
            title = f"{name} · {FEATURE_LABELS.get(c.features, c.features)}" + (
                f" {c.rebalance.upper()}" if labelled else ""
            )
            if c.projection is not None:
                projections[title] = c.projection
            if c.history:
                losses[title] = c.history
    return {
        f"Precision-recall curves on the test set (seed {first}), base rate dashed": plots.pr_curves_figure(y, pr),
        "Precision per cell with its 95% CI (base rate dashed; hollow: rebalanced-test reading)": plots.precision_ci_figure(
            report["records"], {r["method"]: registry.label(r["method"]) for r in report["records"]}, FEATURE_LABELS
        ),
        f"Test representations, first two principal components, coloured by label (seed {first})": plots.projection_figure(
            y, projections
        ),
        f"Training loss (seed {first})": plots.loss_curves_figure(losses),
    }


def write_report(
    report: dict[str, Any], grid: Any | None, out_dir: str | os.PathLike, html: bool = True
) -> dict[str, Path]:
    """Write report.md, report.json, report.html (with ``grid``: figures) and predictions.npz
    (with ``grid``) into ``out_dir``, each atomically. Returns name -> path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    if grid is not None:
        arrays = prediction_arrays(grid)
        paths["predictions"] = atomic_write(
            out / "predictions.npz", lambda fh: np.savez_compressed(fh, **arrays), mode="wb"
        )
        report["meta"]["predictions_keys"] = {
            "per_run": "<method>__<features, + as _>__<rebalance>__s<seed>__test_score | val_score | threshold",
            "rows": ["y_test", "test_end_date", "test_ticker", "y_val", "val_end_date", "val_ticker"],
        }
    paths["json"] = write_json(out / "report.json", report)
    paths["md"] = atomic_write(out / "report.md", lambda fh: fh.write(render_markdown(report)))
    if html:
        figures = report_figures(report, grid) if grid is not None else {}
        paths["html"] = atomic_write(out / "report.html", lambda fh: fh.write(render_html(report, figures)))
    return paths


def load_report(path: str | os.PathLike) -> dict[str, Any]:
    """report.json (a file or the folder holding it) as a dict."""
    p = Path(path)
    if p.is_dir():
        p = p / "report.json"
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"no report at {str(p)!r}") from None
