import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score

import tsssl.data
from tsssl.data.windowset import WindowSet
from tsssl.evaluate.threshold import choose_threshold, threshold_curve, validation_slice

Y = np.array([1, 1, 0, 1, 0, 0])
S = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])


def test_threshold_curve_against_sklearn():
    rng = np.random.default_rng(0)
    y = (rng.random(80) < 0.3).astype(int)
    s = np.round(rng.random(80) + 0.3 * y, 1)
    c = threshold_curve(y, s)
    assert (np.diff(c["threshold"]) < 0).all()
    assert np.array_equal(np.sort(c["threshold"]), np.unique(s))
    for t, p, r, f in zip(c["threshold"], c["precision"], c["recall"], c["f1"]):
        pred = (s >= t).astype(int)
        assert p == pytest.approx(precision_score(y, pred))
        assert r == pytest.approx(recall_score(y, pred))
        assert f == pytest.approx(f1_score(y, pred))


def test_f1_rule_by_hand_and_by_brute_force():
    # thresholds .9 .8 .7 .6 .5 .4 -> F1 .5, .8, .667, .857, .75, .667
    t, how = choose_threshold(Y, S, "f1")
    assert t == 0.6
    assert "F1" in how and "validation" in how and "6 windows, 3 positive" in how
    rng = np.random.default_rng(1)
    y = (rng.random(200) < 0.2).astype(int)
    s = rng.random(200) + 0.4 * y
    t, _ = choose_threshold(y, s, "f1")
    best = max(f1_score(y, (s >= c).astype(int)) for c in s)
    assert f1_score(y, (s >= t).astype(int)) == pytest.approx(best)


def test_precision_at_recall_rule():
    # recall >= .5: thresholds .8 (P 1, R .67), .7, .6, ... -> .8 has the best precision
    assert choose_threshold(Y, S, "precision_at_recall", min_recall=0.5)[0] == 0.8
    # recall >= .9: .6 (P .75) beats .5 (.6) and .4 (.5)
    assert choose_threshold(Y, S, "precision_at_recall", min_recall=0.9)[0] == 0.6
    # ties in precision: the larger recall wins (.9 and .8 both have precision 1)
    assert choose_threshold(Y, S, "precision_at_recall", min_recall=0.2)[0] == 0.8


def test_top_frac_and_fixed_rules():
    t, how = choose_threshold(Y, S, "top_frac", frac=0.5)
    assert t == 0.7 and (S >= t).sum() == 3
    assert choose_threshold(Y, S, "top_frac")[0] == 0.7  # default: the base rate, 3 of 6
    assert "base rate" in choose_threshold(Y, S, "top_frac")[1]
    assert choose_threshold(Y, S, "top_frac", frac=0.01)[0] == 0.9  # at least one window
    t, how = choose_threshold(Y, S, "fixed", value=0.55)
    assert t == 0.55 and "fixed" in how and "precision 0.750" in how


def test_threshold_errors_name_the_problem():
    with pytest.raises(ValueError, match="rule"):
        choose_threshold(Y, S, "youden")
    with pytest.raises(ValueError, match="no.*positive|none"):
        choose_threshold(np.zeros(6, int), S, "f1")
    with pytest.raises(ValueError, match="score_val"):
        choose_threshold(Y, S[:4])
    with pytest.raises(ValueError, match="min_recall"):
        choose_threshold(Y, S, "precision_at_recall", min_recall=0.0)
    # without positives a frequency rule still works
    assert choose_threshold(np.zeros(6, int), S, "top_frac", frac=0.5)[0] == 0.7


def _windows(n_days=120, tickers=("AAA", "BBB"), horizon=5):
    days = np.datetime64("2019-01-01") + np.arange(n_days)
    end_date = np.tile(days, len(tickers))
    ticker = np.repeat(np.array(tickers), n_days)
    n = end_date.size
    rng = np.random.default_rng(0)
    return WindowSet(
        X=rng.normal(size=(n, 20, 2)).astype(np.float32),
        y=(rng.random(n) < 0.2).astype(np.int64),
        end_date=end_date.astype("datetime64[ns]"),
        ticker=ticker,
        feature_names=["a", "b"],
        meta={"horizon": horizon},
    )


@pytest.mark.skipif(
    not hasattr(tsssl.data, "chronological_split"), reason="tsssl.data.chronological_split has not landed yet"
)
def test_validation_slice_is_a_purged_tail_of_the_training_period():
    ws = _windows()
    calendar = np.unique(ws.end_date)
    test_start = calendar[100]
    train = ws.subset(ws.end_date < calendar[100 - 5])  # the training period, purged from test
    split = validation_slice(train, frac=0.2)
    fit, val = split.train, split.test
    assert len(val) > 0 and len(fit) > 0
    assert val.end_date.max() < test_start  # never touches the test period
    assert fit.end_date.max() < val.end_date.min()
    # purge = horizon (5, from meta): >= 5 trading days strictly between the last fit window
    # and the first validation window, so no fit label looks into the validation slice
    between = ((calendar > fit.end_date.max()) & (calendar < val.end_date.min())).sum()
    assert between >= 5
    assert len(val) == pytest.approx(0.2 * len(train), rel=0.15)
    more = validation_slice(train, frac=0.2, purge=10)
    assert ((calendar > more.train.end_date.max()) & (calendar < more.test.end_date.min())).sum() >= 10


def test_validation_slice_refuses_synthetic_windows_and_bad_frac():
    ws = _windows(30)
    with pytest.raises(ValueError, match="frac"):
        validation_slice(ws, frac=1.5)
    smote = ws.subset(np.arange(len(ws)))
    smote.synthetic[:3] = True
    with pytest.raises(ValueError, match="before rebalancing"):
        validation_slice(smote)
