"""The decision threshold, chosen on a validation slice of the training period (never on test).

    split = validation_slice(train_ws)                  # fit on split.train, tune on split.test
    probe = fit_probe(embed(enc, split.train.X), split.train.y)
    t, how = choose_threshold(split.test.y, probe_scores(probe, embed(enc, split.test.X)), "f1")
    report = classification_report(test.y, test_scores, t, dates=test.end_date,
                                   threshold_description=how)

Carve the validation slice out of the training windows *before* rebalancing them, so that the
threshold is tuned at the natural base rate the test set will have. A window is predicted
positive iff ``score >= threshold``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tsssl.data.windowset import WindowSet
from tsssl.evaluate.metrics import _as_labels, _as_score, _ratio
from tsssl.registry import THRESHOLD_RULES as RULES


def threshold_curve(y: Any, score: Any) -> dict[str, np.ndarray]:
    """Every distinct score as a candidate threshold, highest first, with the precision, recall,
    F1 and number of predicted positives of ``score >= threshold`` on (y, score)."""
    y = _as_labels(y, "y_val")
    s = _as_score(score, y.size, "score_val")
    order = np.argsort(-s, kind="stable")
    s_sorted = s[order]
    last = np.flatnonzero(np.r_[s_sorted[1:] != s_sorted[:-1], True])
    tp = np.cumsum(y[order])[last]
    n_pred = last + 1
    fp = n_pred - tp
    fn = y.sum() - tp
    return {
        "threshold": s_sorted[last],
        "precision": _ratio(tp, n_pred),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "n_pred_pos": n_pred,
    }


def choose_threshold(
    y_val: Any,
    score_val: Any,
    rule: str = "f1",
    *,
    min_recall: float = 0.1,
    frac: float | None = None,
    value: float = 0.5,
) -> tuple[float, str]:
    """Pick the decision threshold on validation labels and scores; returns (threshold, how).

    rule:
      - "f1": the threshold of highest F1 (the highest such threshold on ties);
      - "precision_at_recall": the highest precision among thresholds keeping recall >=
        ``min_recall`` (on ties the one of larger recall);
      - "top_frac": flag the top ``frac`` of windows (default: the validation base rate, i.e.
        predict as many rises as there are); the threshold is the score of the
        ceil(frac * n)-th highest window;
      - "fixed": ``value`` as given (e.g. 0.5 on a probability).
    ``how`` is a sentence for the report: rule, parameters, validation size and positives, and
    the validation precision / recall at the chosen threshold.
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {', '.join(RULES)}; got {rule!r}")
    y = _as_labels(y_val, "y_val")
    s = _as_score(score_val, y.size, "score_val")
    if y.size == 0:
        raise ValueError("choose_threshold needs validation windows, got y_val empty")
    n_pos = int(y.sum())
    if rule in ("f1", "precision_at_recall") and n_pos == 0:
        raise ValueError(
            f"rule={rule!r} needs positive windows in the validation slice, y_val has "
            "none; use rule='top_frac' or 'fixed', or a longer validation slice"
        )
    curve = threshold_curve(y, s)
    if rule == "f1":
        i = int(np.nanargmax(curve["f1"]))  # first maximum: the highest threshold
        t = float(curve["threshold"][i])
        what = "F1-maximising threshold"
    elif rule == "precision_at_recall":
        if not 0.0 < min_recall <= 1.0:
            raise ValueError(f"min_recall must be in (0, 1], got {min_recall}")
        ok = np.flatnonzero(curve["recall"] >= min_recall - 1e-12)  # the lowest threshold always qualifies
        prec = curve["precision"][ok]
        i = int(ok[np.flatnonzero(prec == prec.max())[-1]])
        t = float(curve["threshold"][i])
        what = f"highest-precision threshold with recall >= {min_recall:g}"
    elif rule == "top_frac":
        f = n_pos / y.size if frac is None else float(frac)
        if not 0.0 < f <= 1.0:
            raise ValueError(
                f"frac must be in (0, 1], got {f}"
                + (" (the validation base rate: y_val has no positive; pass frac)" if frac is None else "")
            )
        k = min(y.size, max(1, math.ceil(f * y.size)))
        t = float(np.sort(s)[::-1][k - 1])
        what = f"threshold flagging the top {f:.4g} of windows" + (
            " (the validation base rate)" if frac is None else ""
        )
    else:
        t = float(value)
        if math.isnan(t):
            raise ValueError("value must be a number for rule='fixed', got NaN")
        what = "fixed threshold"
    pred = s >= t
    tp = int((pred & (y == 1)).sum())
    prec = tp / pred.sum() if pred.sum() else math.nan
    rec = tp / n_pos if n_pos else math.nan
    how = (
        f"{what} = {t:.6g}, chosen on a validation slice of the training period "
        f"({y.size} windows, {n_pos} positive); validation precision {prec:.3f}, recall {rec:.3f}"
    )
    return t, how


def validation_slice(train_ws: WindowSet, frac: float = 0.2, purge: int | None = None, embargo: int = 0) -> Any:
    """The chronological tail of the training windows as a validation slice, purged.

    Returns the ``Split`` of ``tsssl.data.chronological_split(train_ws, test_frac=frac,
    purge=purge, embargo=embargo)``: ``.train`` the windows to fit on, ``.test`` the validation
    windows (the last ``frac`` of the training period's end dates). purge defaults to the
    horizon the windows were built with (``train_ws.meta["horizon"]``): fit windows whose label
    horizon reaches into the validation slice are dropped, as between train and test.
    """
    if not isinstance(train_ws, WindowSet):
        raise ValueError(f"train_ws must be a WindowSet, got {type(train_ws).__name__}")
    if not 0.0 < frac < 1.0:
        raise ValueError(f"frac must be in (0, 1), e.g. 0.2, got {frac}")
    if train_ws.synthetic is not None and bool(np.any(train_ws.synthetic)):
        raise ValueError(
            "train_ws holds synthetic (SMOTE) windows: carve the validation slice "
            "before rebalancing, so that it has real dates and the natural base rate"
        )
    from tsssl.data import chronological_split

    return chronological_split(train_ws, test_frac=frac, purge=purge, embargo=embargo)
