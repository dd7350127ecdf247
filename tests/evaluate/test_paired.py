"""Paired differences to a baseline cell: the replicates against a naive loop that materialises
each resample, the seed aggregation of the report, Holm's adjustment by hand, and the verdicts
on planted data."""

import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from tsssl.evaluate import report as rep
from tsssl.evaluate.bootstrap import block_indices, date_groups, effective_block_len, percentile_interval
from tsssl.evaluate.paired import (
    AHEAD,
    BEHIND,
    TIE,
    bootstrap_pvalue,
    cell_replicates,
    compare_to_baseline,
    holm_adjust,
)


def _panel(n_dates=40, n_tickers=2, rate=0.2, seed=0):
    """(y, dates) of a small panel: every date holds one window per ticker."""
    rng = np.random.default_rng(seed)
    dates = np.repeat(np.arange(n_dates), n_tickers)
    y = (rng.random(n_dates * n_tickers) < rate).astype(np.int64)
    return y, dates


def _cell(y, rng, n_seeds, skill):
    """(scores, calls) (S, N): scores = skill * y + noise, calls = the top third of the scores."""
    scores = skill * y + rng.normal(size=(n_seeds, y.size))
    calls = (scores >= np.quantile(scores, 2 / 3, axis=1, keepdims=True)).astype(np.int64)
    return scores, calls


def _naive_diffs(y, dates, cand, base, n_boot, block_days, seed):
    """Seed-mean precision and AP differences per replicate, each resample built row by row."""
    group, n_groups = date_groups(dates)
    idx = block_indices(n_groups, n_boot, effective_block_len(block_days, n_groups), np.random.default_rng(seed))
    out = {"precision": [], "pr_auc": []}
    for b in range(n_boot):
        rows = np.concatenate([np.flatnonzero(group == g) for g in idx[b]])
        yb = y[rows]
        stats = []
        for scores, calls in (cand, base):
            prec = [yb[c[rows] == 1].mean() if c[rows].sum() else np.nan for c in calls]
            ap = [average_precision_score(yb, s[rows]) if yb.sum() else np.nan for s in scores]
            stats.append((np.nanmean(prec), np.nanmean(ap)))
        out["precision"].append(stats[0][0] - stats[1][0])
        out["pr_auc"].append(stats[0][1] - stats[1][1])
    return {k: np.array(v) for k, v in out.items()}


def test_replicates_and_intervals_match_a_naive_loop():
    y, dates = _panel()
    rng = np.random.default_rng(1)
    cells = {"base": _cell(y, rng, 2, 0.5), "cand": _cell(y, rng, 2, 1.0)}
    _, reps = cell_replicates(y, cells, dates, n_boot=40, block_days=5, seed=3)
    naive = _naive_diffs(y, dates, cells["cand"], cells["base"], 40, 5, 3)
    for m in ("precision", "pr_auc"):
        np.testing.assert_allclose(reps["cand"][m] - reps["base"][m], naive[m], atol=1e-12)
    res = compare_to_baseline(y, dates, cells, {"cand": "base"}, n_boot=40, block_days=5, seed=3)["cand"]
    for m in ("precision", "pr_auc"):
        assert (res[m]["ci_low"], res[m]["ci_high"]) == pytest.approx(percentile_interval(naive[m]))
        d = naive[m]
        assert res[m]["p"] == pytest.approx(min(1.0, 2 * min(np.mean(d <= 0), np.mean(d >= 0))))


def test_point_difference_is_the_difference_of_the_report_seed_means():
    y, dates = _panel(seed=4)
    rng = np.random.default_rng(5)
    base, cand = _cell(y, rng, 3, 0.3), _cell(y, rng, 3, 1.5)
    res = compare_to_baseline(y, dates, {"b": base, "c": cand}, {"c": "b"}, n_boot=0)["c"]
    # the report's calls come from thresholds: one per seed, equal to each seed's cut
    agg = {}
    for name, (scores, calls) in (("b", base), ("c", cand)):
        thr = [s[c == 1].min() for s, c in zip(scores, calls)]
        agg[name] = rep.aggregate_seeds(y, scores, thr, dates=dates, n_boot=0)
    assert res["precision"]["diff"] == pytest.approx(agg["c"]["precision"] - agg["b"]["precision"])
    assert res["pr_auc"]["diff"] == pytest.approx(agg["c"]["pr_auc"] - agg["b"]["pr_auc"])
    assert res["precision"]["verdict"] == "undefined"  # no bootstrap, no verdict


def test_identical_better_and_worse_cells_on_planted_data():
    y, dates = _panel(n_dates=300, n_tickers=3, rate=0.1, seed=7)
    rng = np.random.default_rng(8)
    base = _cell(y, rng, 2, 0.0)  # calls at random
    better = _cell(y, rng, 2, 4.0)  # calls almost every rise
    cells = {"base": base, "same": base, "better": better, "worse": base}
    cells["worse"] = (-better[0], 1 - better[1])  # calls the windows the good model rejects
    pairs = {"same": "base", "better": "base", "worse": "base"}
    res = compare_to_baseline(y, dates, cells, pairs, n_boot=200, seed=1)
    same = res["same"]
    assert same["precision"]["diff"] == 0 and same["precision"]["ci_low"] == same["precision"]["ci_high"] == 0
    assert same["precision"]["p"] == 1 and same["precision"]["verdict"] == TIE and same["pr_auc"]["verdict"] == TIE
    assert res["better"]["precision"]["diff"] > 0.1 and res["better"]["precision"]["verdict"] == AHEAD
    assert res["better"]["pr_auc"]["verdict"] == AHEAD
    assert res["worse"]["precision"]["verdict"] == BEHIND and res["worse"]["pr_auc"]["verdict"] == BEHIND
    # the adjustment: p_holm >= p, and the family is the three candidates
    for r in res.values():
        assert r["precision"]["p_holm"] >= r["precision"]["p"]
    assert res["same"]["precision"]["p_holm"] == 1.0


def test_holm_matches_hand_computed_adjusted_pvalues():
    # sorted: 0.01 x4 = 0.04; 0.03 x3 = 0.09; 0.04 x2 = 0.08 -> 0.09 (monotone); 0.2 x1 = 0.2
    np.testing.assert_allclose(holm_adjust([0.01, 0.04, 0.03, 0.2]), [0.04, 0.09, 0.09, 0.2])
    np.testing.assert_allclose(holm_adjust([0.3, 0.6]), [0.6, 0.6])
    np.testing.assert_allclose(holm_adjust([0.01, np.nan]), [0.02, 1.0])  # undefined counts as p = 1
    assert holm_adjust([]).size == 0


def test_bootstrap_pvalue_counts_both_sides():
    assert bootstrap_pvalue([-1, 1, 2, 3]) == pytest.approx(0.5)
    assert bootstrap_pvalue([1, 2, 3, np.nan]) == 0.0
    assert bootstrap_pvalue([0, 0, 0]) == 1.0
    assert math.isnan(bootstrap_pvalue([np.nan]))


def test_a_cell_without_calls_is_undefined_and_counts_in_the_family():
    y, dates = _panel(seed=2)
    rng = np.random.default_rng(3)
    base, good = _cell(y, rng, 1, 3.0), _cell(y, rng, 1, 3.0)
    silent = (good[0], np.zeros_like(good[1]))
    res = compare_to_baseline(y, dates, {"b": base, "g": good, "s": silent}, {"g": "b", "s": "b"}, n_boot=50)
    assert res["s"]["precision"]["verdict"] == "undefined" and math.isnan(res["s"]["precision"]["diff"])
    assert res["g"]["precision"]["p_holm"] == pytest.approx(min(1.0, 2 * res["g"]["precision"]["p"]))


def test_bad_input_raises():
    y, dates = _panel()
    scores = np.zeros((1, y.size))
    with pytest.raises(ValueError, match="must both be"):
        compare_to_baseline(y, dates, {"a": (scores, scores[:, :3]), "b": (scores, scores)}, {"a": "b"})
    with pytest.raises(ValueError, match="not given"):
        compare_to_baseline(y, dates, {"a": (scores, scores)}, {"a": "lstm"})
