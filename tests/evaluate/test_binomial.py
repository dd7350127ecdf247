"""Exact binomial intervals at the edges where the block bootstrap degenerates: Clopper–Pearson
against the beta quantiles and its closed forms, the degenerate cases over seeds, and a report
cell whose calls hit no rise."""

import math

import numpy as np
import pytest

from tsssl.evaluate import classification_report
from tsssl.evaluate import report as rep
from tsssl.evaluate.binomial import clopper_pearson, degenerate, edge_interval, exact_where_degenerate


def test_no_hit_of_12_calls_has_the_known_upper_bound():
    low, high = clopper_pearson(0, 12, 0.95)
    assert low == 0.0 and high == pytest.approx(0.2646, abs=1e-4)
    assert high == pytest.approx(1 - 0.025 ** (1 / 12), rel=1e-12)


def test_all_hits_mirror_no_hit():
    low, high = clopper_pearson(12, 12, 0.95)
    assert high == 1.0 and low == pytest.approx(1 - 0.2646, abs=1e-4)


def test_no_trial_is_undefined_and_bad_counts_raise():
    assert all(math.isnan(v) for v in clopper_pearson(0, 0))
    with pytest.raises(ValueError, match="hits <= trials"):
        clopper_pearson(5, 3)
    with pytest.raises(ValueError, match="whole counts"):
        clopper_pearson(1.5, 4)
    with pytest.raises(ValueError, match="ci must be in"):
        clopper_pearson(1, 4, ci=95)


@pytest.mark.parametrize("x,n", [(1, 10), (3, 12), (7, 40), (50, 1000)])
def test_interior_matches_the_beta_quantiles(x, n):
    beta = pytest.importorskip("scipy.stats").beta
    low, high = clopper_pearson(x, n, 0.95)
    assert low == pytest.approx(beta.ppf(0.025, x, n - x + 1), abs=1e-9)
    assert high == pytest.approx(beta.ppf(0.975, x + 1, n - x), abs=1e-9)


def test_degenerate_over_seeds():
    assert degenerate([0, 0], [5, 9]) == "no hit"
    assert degenerate([5, 0], [5, 0]) == "all hits"  # the seed without a call does not count
    assert degenerate([0, 0], [0, 0]) == "no trials"
    assert degenerate([0, 1], [5, 9]) is None
    # two seeds with 0 of 10 and 0 of 14 calls: the interval of 0 of their mean, 12
    low, high, reason = edge_interval([0, 0], [10, 14])
    assert reason == "no hit" and (low, high) == pytest.approx(clopper_pearson(0, 12))
    assert edge_interval([1, 2], [10, 14]) is None


def test_exact_where_degenerate_replaces_only_degenerate_intervals():
    out = {f"{m}_ci_{e}": 0.0 for m in ("precision", "recall", "lift") for e in ("low", "high")}
    exact_where_degenerate(out, tp=[0], calls=[12], pos=[4], base=0.1)
    assert out["ci_kind"] == {"precision": "exact", "recall": "exact", "lift": "exact"}
    assert out["precision_ci_high"] == pytest.approx(0.2646, abs=1e-4)
    assert out["lift_ci_high"] == pytest.approx(out["precision_ci_high"] / 0.1)
    kept = {"precision_ci_low": 0.1, "precision_ci_high": 0.3, "recall_ci_low": 0.2, "recall_ci_high": 0.4}
    exact_where_degenerate(kept, tp=[2], calls=[10], pos=[5], base=0.1)
    assert kept["precision_ci_low"] == 0.1 and kept["ci_kind"]["precision"] == "bootstrap"
    none = {}
    exact_where_degenerate(none, tp=[0], calls=[0], pos=[5], base=0.1)
    assert none["ci_kind"]["precision"] == "undefined" and math.isnan(none["precision_ci_high"])


def _single_stock(rng):
    """A single stock's test set: 425 windows (one per date), 15 rises."""
    y = np.zeros(425, dtype=np.int64)
    y[rng.choice(425, 15, replace=False)] = 1
    start = np.datetime64("2020-01-01")
    return y, np.arange(start, start + 425)


def test_a_cell_whose_calls_hit_no_rise_gets_an_exact_interval_not_zero_width():
    rng = np.random.default_rng(0)
    y, dates = _single_stock(rng)
    score = np.zeros(425)
    score[np.flatnonzero(y == 0)[:12]] = 1.0  # 12 calls, none a rise
    agg = rep.aggregate_seeds(y, score[None], [0.5], dates=dates, n_boot=200)
    assert agg["precision"] == 0.0 and agg["ci_kind"]["precision"] == "exact"
    assert (agg["precision_ci_low"], agg["precision_ci_high"]) == pytest.approx((0.0, 0.2646), abs=1e-4)
    assert "0.0% [0.0–26.5]" + rep.EXACT_MARK == rep.with_ci(agg, "precision")
    single = classification_report(y, score, 0.5, dates=dates, n_boot=200)
    assert single["precision_ci_high"] == pytest.approx(0.2646, abs=1e-4)
    # no call at all: undefined, said so
    none = rep.aggregate_seeds(y, np.zeros((1, 425)), [0.5], dates=dates, n_boot=50)
    assert none["ci_kind"]["precision"] == "undefined" and rep.with_ci(none, "precision") == "– (no calls)"
    # an ordinary cell keeps its bootstrap interval
    score[np.flatnonzero(y == 1)[:5]] = 1.0
    ok = rep.aggregate_seeds(y, score[None], [0.5], dates=dates, n_boot=200)
    assert ok["ci_kind"]["precision"] == "bootstrap" and ok["precision_ci_high"] > ok["precision_ci_low"]
