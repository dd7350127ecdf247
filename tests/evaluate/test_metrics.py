import math
import warnings

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, confusion_matrix, f1_score, precision_score, recall_score

from tsssl.evaluate.metrics import (
    BALANCED_PRECISION_NOTE,
    balanced_precision,
    base_rate,
    binary_metrics,
    classification_report,
    lift,
    pr_auc,
    precision_at_k,
    weighted_average_precision,
    weighted_precision,
)


def _sk(y, p):
    return {
        "precision": precision_score(y, p, zero_division=np.nan),
        "recall": recall_score(y, p, zero_division=np.nan),
        "f1": f1_score(y, p, zero_division=np.nan),
        "cm": confusion_matrix(y, p, labels=[0, 1]).tolist(),
    }


def _same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_binary_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = (rng.random(300) < 0.1 + 0.1 * seed).astype(int)
    p = (rng.random(300) < 0.2).astype(int) | (y & (rng.random(300) < 0.5))
    m, sk = binary_metrics(y, p), _sk(y, p)
    for k in ("precision", "recall", "f1"):
        assert m[k] == pytest.approx(sk[k], abs=1e-12)
    assert m["confusion_matrix"] == sk["cm"]
    assert (m["tn"], m["fp"], m["fn"], m["tp"]) == tuple(np.ravel(sk["cm"]))
    assert m["n"] == 300 and m["n_pos"] == y.sum() and m["n_pred_pos"] == p.sum()
    assert not m["precision_undefined"] and not m["recall_undefined"]


def test_no_predicted_positive_gives_nan_precision_and_a_flag():
    y = np.array([0, 1, 0, 1, 0])
    p = np.zeros(5, dtype=int)
    m, sk = binary_metrics(y, p), _sk(y, p)
    assert math.isnan(m["precision"]) and m["precision_undefined"]
    assert math.isnan(m["lift"])
    assert m["recall"] == 0.0 == sk["recall"]
    assert m["f1"] == 0.0 == f1_score(y, p, zero_division=0.0)  # F1 = 2tp/(2tp+fp+fn), defined
    assert m["confusion_matrix"] == sk["cm"]


def test_no_true_positive_gives_nan_recall_and_a_flag():
    y = np.zeros(6, dtype=int)
    p = np.array([1, 0, 0, 1, 0, 0])
    m, sk = binary_metrics(y, p), _sk(y, p)
    assert m["precision"] == 0.0 == sk["precision"]
    assert math.isnan(m["recall"]) and m["recall_undefined"]
    assert m["confusion_matrix"] == sk["cm"]
    both_empty = binary_metrics(np.zeros(4, int), np.zeros(4, int))
    assert math.isnan(both_empty["f1"]) and math.isnan(both_empty["precision"])


def test_all_positive_labels_and_predictions():
    y = np.ones(7, dtype=int)
    p = np.array([1, 1, 0, 1, 0, 1, 1])
    m, sk = binary_metrics(y, p), _sk(y, p)
    for k in ("precision", "recall", "f1"):
        assert m[k] == pytest.approx(sk[k])
    assert m["base_rate"] == 1.0 and m["lift"] == 1.0
    # predicting everything positive: precision is the base rate, lift exactly 1
    y2 = np.array([0, 0, 0, 1])
    m2 = binary_metrics(y2, np.ones(4, dtype=int))
    assert m2["precision"] == 0.25 == m2["base_rate"] and m2["lift"] == 1.0
    assert m2["precision"] == precision_score(y2, np.ones(4, dtype=int))


def test_base_rate_and_lift_by_hand():
    y = np.array([1, 0, 0, 0, 1, 0, 0, 0, 0, 0])  # 2 of 10
    p = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0])  # 1 of 2 flagged is a rise
    assert base_rate(y) == 0.2
    m = binary_metrics(y, p)
    assert m["precision"] == 0.5 and m["lift"] == pytest.approx(2.5)
    assert lift(0.5, 0.2) == pytest.approx(2.5)
    assert math.isnan(lift(math.nan, 0.2)) and math.isnan(lift(0.5, 0.0))
    assert math.isnan(base_rate(np.array([], dtype=int)))


@pytest.mark.parametrize("seed", range(4))
def test_pr_auc_matches_sklearn_with_ties(seed):
    rng = np.random.default_rng(seed)
    y = (rng.random(200) < 0.15).astype(int)
    score = np.round(rng.random(200) + 0.4 * y, 1)  # coarse: many ties
    assert pr_auc(y, score) == pytest.approx(average_precision_score(y, score), abs=1e-12)
    w = rng.integers(0, 4, 200)
    ref = average_precision_score(np.repeat(y, w), np.repeat(score, w))
    assert weighted_average_precision(y, score, w[None].astype(float))[0] == pytest.approx(ref, abs=1e-12)
    assert average_precision_score(y, score, sample_weight=w) == pytest.approx(ref, abs=1e-12)


def test_pr_auc_edge_cases():
    assert pr_auc([1, 1, 1], [0.2, 0.5, 0.1]) == 1.0 == average_precision_score([1, 1, 1], [0.2, 0.5, 0.1])
    assert pr_auc([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8]) == 1.0
    assert pr_auc([0, 1], [0.5, 0.5]) == pytest.approx(average_precision_score([0, 1], [0.5, 0.5]))
    assert math.isnan(pr_auc([0, 0, 0], [0.1, 0.2, 0.3]))  # undefined without positives


def test_precision_at_k_by_hand():
    y = np.array([0, 1, 1, 0, 0, 1, 0, 0, 0, 0])
    s = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
    assert precision_at_k(y, s, 1) == 0.0
    assert precision_at_k(y, s, 3) == pytest.approx(2 / 3)
    assert precision_at_k(y, s, 6) == pytest.approx(3 / 6)
    assert precision_at_k(y, s, 0.3) == pytest.approx(2 / 3)  # 30% of 10 = 3 windows
    assert precision_at_k(y, s, 0.01) == 0.0  # rounded up to one window
    assert precision_at_k(y, s, 100) == pytest.approx(0.3)  # capped at the test set
    perm = np.random.default_rng(0).permutation(10)
    assert precision_at_k(y[perm], s[perm], 3) == pytest.approx(2 / 3)
    for bad in (0, -1, 1.5, 0.0, "3", True):
        with pytest.raises(ValueError, match="k"):
            precision_at_k(y, s, bad)


def test_balanced_precision_hand_case():
    # 10 positives, 90 negatives; 8 positives and 9 negatives flagged
    y = np.r_[np.ones(10, int), np.zeros(90, int)]
    p = np.r_[np.ones(8, int), np.zeros(2, int), np.ones(9, int), np.zeros(81, int)]
    assert binary_metrics(y, p)["precision"] == pytest.approx(8 / 17)
    # TPR 0.8, FPR 0.1: on a 1:1 test set, 0.8 / (0.8 + 0.1)
    assert balanced_precision(y, p) == pytest.approx(0.8 / 0.9)
    under = balanced_precision(y, p, method="undersample", seed=0, n_repeats=2000)
    assert under == pytest.approx(0.8 / 0.9, abs=0.02)
    assert under == balanced_precision(y, p, method="undersample", seed=0, n_repeats=2000)
    # already balanced: undersampling keeps everything, the plain precision
    yb, pb = np.array([1, 1, 0, 0]), np.array([1, 0, 1, 0])
    assert balanced_precision(yb, pb, method="undersample") == 0.5 == precision_score(yb, pb)
    assert math.isnan(balanced_precision(np.ones(3, int), np.ones(3, int)))
    assert "rebalanced to 1:1" in BALANCED_PRECISION_NOTE


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="y_true"):
        binary_metrics([0, 2, 1], [0, 1, 1])
    with pytest.raises(ValueError, match="y_pred"):
        binary_metrics([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="score"):
        pr_auc([0, 1], [0.1, np.nan])


def test_classification_report_matches_sklearn_and_ci_covers():
    rng = np.random.default_rng(3)
    n_dates, per_date = 120, 15
    dates = np.repeat(np.datetime64("2020-01-01") + np.arange(n_dates), per_date)
    y = (rng.random(dates.size) < 0.1).astype(int)
    score = rng.random(dates.size) + 0.5 * y
    rep = classification_report(
        y, score, 0.9, dates=dates, n_boot=300, seed=1, threshold_description="fixed for the test"
    )
    pred = (score >= 0.9).astype(int)
    assert rep["precision"] == pytest.approx(precision_score(y, pred))
    assert rep["recall"] == pytest.approx(recall_score(y, pred))
    assert rep["f1"] == pytest.approx(f1_score(y, pred))
    assert rep["pr_auc"] == pytest.approx(average_precision_score(y, score))
    assert rep["confusion_matrix"] == confusion_matrix(y, pred).tolist()
    assert rep["base_rate"] == pytest.approx(y.mean())
    assert rep["lift"] == pytest.approx(precision_score(y, pred) / y.mean())
    assert rep["n_test"] == y.size and rep["n_test_pos"] == y.sum()
    assert rep["precision_at_10"] == precision_at_k(y, score, 10)
    assert rep["precision_at_1pct"] == precision_at_k(y, score, 0.01) and rep["n_at_1pct"] == 18
    assert rep["threshold"] == 0.9 and rep["threshold_description"] == "fixed for the test"
    assert "rebalanced" in rep["balanced_precision_note"]
    for name in ("precision", "recall", "pr_auc", "lift", "balanced_precision"):
        assert rep[f"{name}_ci_low"] <= rep[name] <= rep[f"{name}_ci_high"], name
        assert rep[f"{name}_ci_low"] < rep[f"{name}_ci_high"], name
    b = rep["bootstrap"]
    assert b["n_dates"] == n_dates and b["block_days"] == 25 and b["n_boot"] == 300
    assert "date" in b["method"]
    # deterministic in the seed
    again = classification_report(y, score, 0.9, dates=dates, n_boot=300, seed=1)
    assert again["precision_ci_low"] == rep["precision_ci_low"]
    no_ci = classification_report(y, score, 0.9, n_boot=0)
    assert math.isnan(no_ci["precision_ci_low"]) and no_ci["precision"] == rep["precision"]


def test_classification_report_threshold_above_every_score():
    y = np.array([0, 1, 0, 1, 0, 0])
    rep = classification_report(y, np.linspace(0, 1, 6), 2.0, n_boot=50)
    assert rep["precision_undefined"] and math.isnan(rep["precision"])
    assert math.isnan(rep["precision_ci_low"])
    assert rep["bootstrap"]["n_undefined"]["precision"] == 50
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division warnings on undefined values
        weighted_precision(y, np.zeros(6, int), np.ones((3, 6)))
