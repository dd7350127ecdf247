"""Classification metrics of the positive (strict-rise) class, in plain numpy.

Conventions
-----------
- ``y_true``: (N,) 0/1 labels; ``score``: (N,) real-valued confidence that the window is
  positive (a probability or any monotone score); ``y_pred``: (N,) 0/1 decisions. A window is
  predicted positive iff ``score >= threshold``.
- Undefined values are NaN, never a silent 0 or 1: precision is NaN when nothing is predicted
  positive (the dict then carries ``precision_undefined=True``), recall is NaN when the test set
  has no positive window (``recall_undefined=True``), PR-AUC is NaN without positives.
- The statistics used by the bootstrap take a weight matrix ``W: (B, N)`` (how many times each
  window is drawn in each of B replicates) and return (B,) values; the point estimates are the
  same functions with one row of ones, so the two can never disagree.

The talk reported precision only. Precision depends on the base rate of the test set (about 3%
of windows are strict five-day rises), so it is reported next to the base rate, the lift over
it, recall, PR-AUC and the confusion matrix; and, clearly labelled, the *balanced precision*
(the precision the same classifier would show on a test set rebalanced to 1:1), which is the
reading under which figures like the talk's ~70% are plausible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np

from tsssl.evaluate.binomial import exact_where_degenerate
from tsssl.evaluate.bootstrap import DEFAULT_BLOCK_DAYS, bootstrap, effective_block_len

BALANCED_PRECISION_NOTE = (
    "precision on a test set rebalanced to 1:1 positives:negatives, TPR / (TPR + FPR); "
    "not the precision one would see on the natural test set"
)

TopK = int | float


# --------------------------------------------------------------------------- input checks


def _as_labels(y: Any, name: str = "y_true") -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of 0/1 labels, got shape {arr.shape}")
    if arr.dtype == bool:
        return arr.astype(np.int64)
    if arr.size and not np.isin(arr, (0, 1)).all():
        bad = np.unique(arr[~np.isin(arr, (0, 1))])[:5]
        raise ValueError(f"{name} must hold only 0 and 1, found {bad.tolist()}")
    return arr.astype(np.int64)


def _as_score(score: Any, n: int, name: str = "score") -> np.ndarray:
    arr = np.asarray(score, dtype=np.float64)
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) like y_true, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} holds {int((~np.isfinite(arr)).sum())} NaN/inf values; scores must be finite")
    return arr


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with NaN where den == 0 (undefined, not 0)."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


# --------------------------------------------------------------------------- point metrics


def confusion_counts(y_true: Any, y_pred: Any) -> dict[str, int]:
    """tp, fp, fn, tn of the positive class."""
    y = _as_labels(y_true)
    p = _as_labels(y_pred, "y_pred")
    if p.shape != y.shape:
        raise ValueError(f"y_pred has shape {p.shape} but y_true has {y.shape}")
    tp = int(np.sum(p & y))
    fp = int(np.sum(p & (1 - y)))
    fn = int(np.sum((1 - p) & y))
    return {"tp": tp, "fp": fp, "fn": fn, "tn": int(y.size - tp - fp - fn)}


def binary_metrics(y_true: Any, y_pred: Any) -> dict[str, Any]:
    """Precision, recall, F1 of the positive class, and the confusion matrix.

    Returns a dict: precision, recall, f1, base_rate, lift (precision / base_rate), tp, fp, fn,
    tn, n, n_pos, n_pred_pos, confusion_matrix ``[[tn, fp], [fn, tp]]`` (rows: true 0/1,
    columns: predicted 0/1, scikit-learn's layout), and the flags ``precision_undefined``
    (nothing predicted positive: precision is NaN) and ``recall_undefined`` (no positive window:
    recall is NaN). F1 = 2 tp / (2 tp + fp + fn): 0 when positives exist and none is found,
    NaN only when there is no positive at all, neither true nor predicted.
    """
    c = confusion_counts(y_true, y_pred)
    tp, fp, fn, tn = c["tp"], c["fp"], c["fn"], c["tn"]
    n = tp + fp + fn + tn
    precision = float(_ratio(tp, tp + fp))
    base_rate = float(_ratio(tp + fn, n))
    return {
        "precision": precision,
        "recall": float(_ratio(tp, tp + fn)),
        "f1": float(_ratio(2 * tp, 2 * tp + fp + fn)),
        "base_rate": base_rate,
        "lift": float(_ratio(precision, base_rate)) if not math.isnan(precision) else math.nan,
        **c,
        "n": n,
        "n_pos": tp + fn,
        "n_pred_pos": tp + fp,
        "confusion_matrix": [[tn, fp], [fn, tp]],
        "precision_undefined": tp + fp == 0,
        "recall_undefined": tp + fn == 0,
    }


def base_rate(y_true: Any) -> float:
    """Share of positive windows; NaN for an empty set."""
    y = _as_labels(y_true)
    return float(y.mean()) if y.size else math.nan


def lift(precision: float, base: float) -> float:
    """precision / base rate: how many times more often a predicted-positive window is a rise
    than a window picked at random. NaN when either is undefined or the base rate is 0."""
    if math.isnan(precision) or math.isnan(base) or base == 0:
        return math.nan
    return precision / base


def pr_auc(y_true: Any, score: Any) -> float:
    """Area under the precision-recall curve as average precision (scikit-learn's
    ``average_precision_score``): sum over thresholds of (R_k - R_{k-1}) * P_k, tied scores
    forming one threshold. NaN when y_true has no positive."""
    y = _as_labels(y_true)
    s = _as_score(score, y.size)
    return float(weighted_average_precision(y, s, np.ones((1, y.size)))[0])


def _resolve_k(k: TopK, n: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (Integral, Real)):
        raise ValueError(f"k must be an int count or a float fraction in (0, 1], got {k!r}")
    if isinstance(k, Integral):
        if k < 1:
            raise ValueError(f"k must be >= 1 windows, got {k}")
        return min(int(k), n)
    if not 0.0 < float(k) <= 1.0:
        raise ValueError(
            f"k as a fraction of the test set must be in (0, 1], got {k}; pass an int for a count of windows"
        )
    return min(n, max(1, math.ceil(float(k) * n)))


def top_k_label(k: TopK) -> str:
    """ "10" for a count, "1pct" for the fraction 0.01 (a key-safe name)."""
    if isinstance(k, Integral):
        return str(int(k))
    return f"{float(k) * 100:g}pct"


def precision_at_k(y_true: Any, score: Any, k: TopK) -> float:
    """Precision among the k highest-scoring windows.

    k: an int count of windows, or a float fraction of the test set in (0, 1] (rounded up,
    at least one window). Ties at the k-th score are broken by position (stable sort), so the
    result is deterministic. NaN for an empty test set.
    """
    y = _as_labels(y_true)
    s = _as_score(score, y.size)
    if y.size == 0:
        return math.nan
    kk = _resolve_k(k, y.size)
    order = np.argsort(-s, kind="stable")[:kk]
    return float(y[order].mean())


def balanced_precision(y_true: Any, y_pred: Any, method: str = "rates", seed: int = 0, n_repeats: int = 100) -> float:
    """Precision the classifier would have on a test set rebalanced to 1:1 (clearly NOT the
    precision on the natural test set; see ``BALANCED_PRECISION_NOTE``).

    method="rates": TPR / (TPR + FPR), the expected precision at prevalence 1/2 (exact, no
    randomness). method="undersample": the mean precision over ``n_repeats`` seeded random
    undersamplings of the negatives to as many as there are positives (as the talk may have
    done); it converges to "rates" as the classes grow. NaN when there is no positive, no
    negative, or nothing predicted positive.
    """
    y = _as_labels(y_true)
    p = _as_labels(y_pred, "y_pred")
    if p.shape != y.shape:
        raise ValueError(f"y_pred has shape {p.shape} but y_true has {y.shape}")
    n_pos, n_neg = int(y.sum()), int(y.size - y.sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    if method == "rates":
        return float(balanced_precision_weighted(y, p, np.ones((1, y.size)))[0])
    if method != "undersample":
        raise ValueError(f"method must be 'rates' or 'undersample', got {method!r}")
    if n_repeats < 1:
        raise ValueError(f"n_repeats must be >= 1, got {n_repeats}")
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    m = min(n_pos, n_neg)
    # each row: m positives and m negatives drawn without replacement (argsort of uniforms)
    pos_pick = pos[np.argsort(rng.random((n_repeats, n_pos)), axis=1)[:, :m]]
    neg_pick = neg[np.argsort(rng.random((n_repeats, n_neg)), axis=1)[:, :m]]
    tp = p[pos_pick].sum(axis=1)
    fp = p[neg_pick].sum(axis=1)
    prec = _ratio(tp, tp + fp)
    return float(np.nanmean(prec)) if np.isfinite(prec).any() else math.nan


# --------------------------------------------------------------------------- weighted (bootstrap) statistics


def _weighted_counts(y: np.ndarray, pred: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, ...]:
    """(tp, fp, pos, n) per row of W: (B, N) -> four (B,) arrays."""
    yf, pf = y.astype(np.float64), pred.astype(np.float64)
    tp = W @ (yf * pf)
    fp = W @ ((1 - yf) * pf)
    pos = W @ yf
    n = W.sum(axis=1)
    return tp, fp, pos, n


def weighted_precision(y: np.ndarray, pred: np.ndarray, W: np.ndarray) -> np.ndarray:
    """tp / (tp + fp) per row of W (NaN where nothing is predicted positive)."""
    tp, fp, _, _ = _weighted_counts(y, pred, W)
    return _ratio(tp, tp + fp)


def weighted_recall(y: np.ndarray, pred: np.ndarray, W: np.ndarray) -> np.ndarray:
    """tp / positives per row of W (NaN without positive weight)."""
    tp, _, pos, _ = _weighted_counts(y, pred, W)
    return _ratio(tp, pos)


def weighted_lift(y: np.ndarray, pred: np.ndarray, W: np.ndarray) -> np.ndarray:
    """precision / base rate per row of W."""
    tp, fp, pos, n = _weighted_counts(y, pred, W)
    return _ratio(_ratio(tp, tp + fp), _ratio(pos, n))


def balanced_precision_weighted(y: np.ndarray, pred: np.ndarray, W: np.ndarray) -> np.ndarray:
    """TPR / (TPR + FPR) per row of W."""
    tp, fp, pos, n = _weighted_counts(y, pred, W)
    tpr, fpr = _ratio(tp, pos), _ratio(fp, n - pos)
    return _ratio(tpr, tpr + fpr)


def weighted_average_precision(y: np.ndarray, score: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Average precision per row of W (B, N): the AP of the data set in which window i appears
    W[b, i] times (equal to scikit-learn's AP with ``sample_weight=W[b]``). NaN for a row
    without positive weight."""
    order = np.argsort(-score, kind="stable")
    s_sorted, yo = score[order], y[order]
    # last position of each group of tied scores: one threshold per distinct score. Recall only
    # moves at a threshold whose group holds a positive, so only those thresholds are evaluated.
    last = np.flatnonzero(np.r_[s_sorted[1:] != s_sorted[:-1], True])
    n_pos_upto = np.cumsum(yo)[last]
    keep = np.diff(np.r_[0, n_pos_upto]) > 0
    ends, n_pos_upto = last[keep], n_pos_upto[keep]
    b = W.shape[0]
    if ends.size == 0:
        return np.full(b, np.nan)
    Wo = np.take(W, order, axis=1)
    # weight drawn up to each kept threshold: segment sums, then a short cumsum
    drawn = np.cumsum(np.add.reduceat(Wo[:, : ends[-1] + 1], np.r_[0, ends[:-1] + 1], axis=1), axis=1)
    pos_cum = np.cumsum(Wo[:, np.flatnonzero(yo)], axis=1)
    tp = pos_cum[:, n_pos_upto - 1]
    total_pos = pos_cum[:, -1:]
    recall = _ratio(tp, total_pos)
    d_recall = np.diff(recall, axis=1, prepend=0.0)
    # where a threshold adds no drawn weight, precision may be 0/0 but it adds no recall either
    ap = np.sum(d_recall * np.nan_to_num(_ratio(tp, drawn)), axis=1)
    return np.where(total_pos[:, 0] > 0, ap, np.nan)


# --------------------------------------------------------------------------- the report


def _report_intervals(
    y: np.ndarray,
    s: np.ndarray,
    pred: np.ndarray,
    dates: Any | None,
    n_boot: int,
    block_days: int | None,
    ci: float,
    seed: int,
) -> tuple[dict[str, float], dict[str, Any]]:
    """``<metric>_ci_low`` / ``_ci_high`` of classification_report and how they were made."""
    stats = {
        "precision": lambda W: weighted_precision(y, pred, W),
        "recall": lambda W: weighted_recall(y, pred, W),
        "pr_auc": lambda W: weighted_average_precision(y, s, W),
        "lift": lambda W: weighted_lift(y, pred, W),
        "balanced_precision": lambda W: balanced_precision_weighted(y, pred, W),
    }
    block = DEFAULT_BLOCK_DAYS if block_days is None else int(block_days)
    info: dict[str, Any] = {
        "n_boot": int(n_boot),
        "ci": float(ci),
        "seed": int(seed),
        "method": "none"
        if n_boot == 0
        else ("moving-block bootstrap over dates (circular)" if dates is not None else "iid bootstrap over windows"),
        "n_undefined": {},
    }
    if dates is not None:
        d = np.asarray(dates)
        if d.shape != (y.size,):
            raise ValueError(f"dates must have shape ({y.size},) like y_true, got {d.shape}")
        info["n_dates"] = int(np.unique(d).size)
        info["block_days"] = effective_block_len(block, info["n_dates"])
    out: dict[str, float] = {}
    if n_boot > 0:
        res = bootstrap(stats, y.size, dates=dates, n_boot=n_boot, block_days=block, ci=ci, seed=seed)
        for name, r in res.items():
            out[f"{name}_ci_low"], out[f"{name}_ci_high"] = r.low, r.high
            info["n_undefined"][name] = r.n_undefined
    else:
        for name in stats:
            out[f"{name}_ci_low"] = out[f"{name}_ci_high"] = math.nan
    return out, info


def classification_report(
    y_true: Any,
    score: Any,
    threshold: float | np.ndarray,
    dates: Any | None = None,
    top_k: Sequence[TopK] = (10, 0.01),
    n_boot: int = 1000,
    block_days: int | None = None,
    ci: float = 0.95,
    seed: int = 0,
    threshold_description: str | None = None,
) -> dict[str, Any]:
    """Every metric of the positive class on a test set, with bootstrap confidence intervals.

    y_true: (N,) 0/1; score: (N,) confidence of a rise; a window is predicted positive iff
    ``score >= threshold`` (a number, or (N,) one per window: walk-forward folds; chosen on a validation slice of the training period, see
    ``tsssl.evaluate.threshold``). dates: (N,) end dates of the windows; when given, the CIs come
    from a moving-block bootstrap over dates (all windows of a date drawn together, blocks of
    ``block_days`` consecutive dates, default window + horizon = 25), otherwise from an iid
    bootstrap over windows. ``n_boot=0`` skips the intervals (NaN).

    The dict holds the point values of ``binary_metrics`` plus pr_auc, balanced_precision (with
    ``balanced_precision_note``), ``precision_at_<k>`` and ``lift_at_<k>`` per entry of top_k
    (keys like ``precision_at_10``, ``precision_at_1pct``), ``<metric>_ci_low`` /
    ``<metric>_ci_high`` for precision, recall, pr_auc, lift and balanced_precision, the
    threshold and how it was chosen, and a ``bootstrap`` sub-dict saying how the intervals were
    made (including how many replicates left a metric undefined; they are left out of its
    interval). Where the bootstrap of precision or recall is degenerate (no hit, all hits) their
    intervals (and lift's) are exact binomial ones; ``ci_kind`` / ``ci_degenerate`` say which
    (``tsssl.evaluate.binomial``).
    """
    y = _as_labels(y_true)
    s = _as_score(score, y.size)
    if y.size == 0:
        raise ValueError("classification_report needs at least one test window, got y_true empty")
    t = np.asarray(threshold, dtype=np.float64)
    if t.ndim and t.shape != (y.size,):
        raise ValueError(f"threshold must be a number or one per window ({y.size}), got shape {t.shape}")
    if np.isnan(t).any():
        raise ValueError("threshold must be a number, got NaN")
    pred = (s >= t).astype(np.int64)
    # per-window thresholds (walk-forward folds): their mean stands for them in the record
    out: dict[str, Any] = {"threshold": float(t.mean()), "threshold_description": threshold_description or "given"}
    m = binary_metrics(y, pred)
    out.update(m)
    out["n_test"], out["n_test_pos"] = m["n"], m["n_pos"]
    out["pr_auc"] = pr_auc(y, s)
    out["balanced_precision"] = balanced_precision(y, pred)
    out["balanced_precision_note"] = BALANCED_PRECISION_NOTE
    for k in top_k:
        label = top_k_label(k)
        pk = precision_at_k(y, s, k)
        out[f"precision_at_{label}"] = pk
        out[f"lift_at_{label}"] = lift(pk, m["base_rate"])
        out[f"n_at_{label}"] = _resolve_k(k, y.size)

    intervals, info = _report_intervals(y, s, pred, dates, n_boot, block_days, ci, seed)
    out.update(intervals)
    exact_where_degenerate(out, [m["tp"]], [m["n_pred_pos"]], [m["n_pos"]], m["base_rate"], ci)
    out["bootstrap"] = info
    return out
