"""Chronological split: purge (no training label reaches the test period), embargo, per-ticker
trading days, walk-forward folds, describe()."""

import numpy as np
import pandas as pd
import pytest

from tsssl.data import WindowSet, build_windows, chronological_split, synthetic_market, walk_forward


@pytest.fixture(scope="module")
def ws():
    return build_windows(synthetic_market(3, 300, seed=1), window=20, horizon=5)


def trading_days_between(calendar, after, before):
    return int(((calendar > after) & (calendar < before)).sum())


def test_default_split_purges_exactly_the_horizon(ws):
    split = chronological_split(ws, test_frac=0.2)
    cal = np.unique(ws.end_date)
    start = np.datetime64(split.test_start)
    assert (split.test.end_date >= start).all() and (split.train.end_date < start).all()
    assert not (split.train.label_end_date >= start).any()
    # nothing more than needed: the last kept label ends on the trading day before test_start
    every_day = np.unique(np.concatenate([ws.end_date, ws.label_end_date]))
    assert split.train.label_end_date.max() == every_day[every_day < start].max()
    assert trading_days_between(cal, split.train.end_date.max(), start) == 5
    assert split.purge == 5 and split.n_purged == 5 * 3
    assert len(split.train) + len(split.test) + split.n_purged == len(ws)
    n_test_dates = len(np.unique(split.test.end_date))
    assert n_test_dates == round(0.2 * len(cal))


def test_explicit_test_start_embargo_and_purge(ws):
    cal = np.unique(ws.end_date)
    test_start = str(pd.Timestamp(cal[200]).date())
    split = chronological_split(ws, test_start=test_start, embargo=7)
    assert split.test_start == pd.Timestamp(test_start) and split.test.end_date.min() == cal[200]
    assert trading_days_between(cal, split.train.end_date.max(), cal[200]) == 5 + 7
    assert split.n_purged == 12 * 3
    split0 = chronological_split(ws, test_start=test_start, purge=0)
    assert split0.train.end_date.max() == cal[199] and split0.n_purged == 0
    split9 = chronological_split(ws, test_start=test_start, purge=9, embargo=1)
    assert trading_days_between(cal, split9.train.end_date.max(), cal[200]) == 10
    assert split.train.meta["split"] == {"test_start": test_start, "purge": 5, "embargo": 7, "part": "train"}
    assert split.test.meta["split"]["part"] == "test"


def test_purge_counts_each_tickers_own_trading_days():
    prices = synthetic_market(2, 120, seed=2)
    dates = np.sort(prices["date"].unique())
    test_start = dates[80]
    holidays = dates[76:78]  # SYN001 did not trade on two days
    prices = prices[~((prices["ticker"] == "SYN001") & prices["date"].isin(holidays))]
    ws = build_windows(prices, window=10, horizon=5)
    split = chronological_split(ws, test_start=test_start)
    assert not (split.train.label_end_date >= test_start).any()
    for ticker in ("SYN000", "SYN001"):
        own = np.unique(ws.end_date[ws.ticker == ticker])
        last = split.train.end_date[split.train.ticker == ticker].max()
        assert trading_days_between(own, last, test_start) == 5, ticker
    last = {t: split.train.end_date[split.train.ticker == t].max() for t in ("SYN000", "SYN001")}
    assert last["SYN001"] < last["SYN000"]  # two fewer days, two days earlier


def test_hand_made_windows_without_label_end_dates_use_their_end_dates():
    end = np.repeat(pd.bdate_range("2020-01-01", periods=60).to_numpy(), 2)
    tick = np.tile(np.array(["A", "B"], dtype=object), 60)
    ws = WindowSet(
        X=np.zeros((120, 3, 1), np.float32),
        y=np.arange(120) % 2,
        end_date=end,
        ticker=tick,
        feature_names=["f"],
        meta={"horizon": 4},
    )
    split = chronological_split(ws, test_start=end[100])
    cal = np.unique(end)
    assert trading_days_between(cal, split.train.end_date.max(), end[100]) == 4
    no_meta = WindowSet(X=ws.X, y=ws.y, end_date=end, ticker=tick, feature_names=["f"])
    with pytest.raises(ValueError, match="pass purge="):
        chronological_split(no_meta)
    assert len(chronological_split(no_meta, purge=2).train) == (48 - 2) * 2  # test: the last 12 dates


def test_describe_counts_and_base_rates(ws):
    split = chronological_split(ws, test_frac=0.25, embargo=2)
    d = split.describe()
    for part, sub in (("train", split.train), ("test", split.test)):
        assert d[part]["windows"] == len(sub) and d[part]["positives"] == int(sub.y.sum())
        assert d[part]["base_rate"] == pytest.approx(sub.y.mean(), abs=1e-6)
        assert d[part]["tickers"] == 3
    assert d["test_start"] == str(pd.Timestamp(split.test.end_date.min()).date()) == d["test"]["start"]
    assert d["train_end"] == d["train"]["end"] and d["purge"] == 5 and d["embargo"] == 2
    assert d["n_purged"] == 7 * 3


def test_walk_forward_expanding_purged_folds(ws):
    folds = list(walk_forward(ws, n_folds=4))
    cal = np.unique(ws.end_date)
    block = len(cal) // 5
    assert len(folds) == 4
    for i, fold in enumerate(folds):
        lo = len(cal) - 4 * block + i * block
        assert fold.test.end_date.min() == cal[lo]
        if i < 3:
            assert fold.test.end_date.max() == cal[lo + block - 1]
            assert folds[i + 1].test.end_date.min() > fold.test.end_date.max()
        assert not (fold.train.label_end_date >= fold.test_start).any()
        assert trading_days_between(cal, fold.train.end_date.max(), cal[lo]) == 5
        if i:
            assert len(fold.train) > len(folds[i - 1].train)
    assert folds[-1].test.end_date.max() == cal[-1]
    with pytest.raises(ValueError, match="test_frac \\* n_folds"):
        list(walk_forward(ws, n_folds=5, test_frac=0.3))
    with pytest.raises(ValueError, match="n_folds"):
        list(walk_forward(ws, n_folds=0))


def test_bad_split_arguments(ws):
    cal = np.unique(ws.end_date)
    with pytest.raises(ValueError, match="test_start 2031-01-02 leaves no test windows; the windows end from .* to "):
        chronological_split(ws, test_start="2031-01-02")
    with pytest.raises(ValueError, match="leaves no training windows"):
        chronological_split(ws, test_start=cal[3])
    with pytest.raises(ValueError, match="test_start must be a date"):
        chronological_split(ws, test_start="soon")
    with pytest.raises(ValueError, match="test_frac must be in"):
        chronological_split(ws, test_frac=1.0)
    with pytest.raises(ValueError, match="embargo must be an integer >= 0"):
        chronological_split(ws, embargo=-1)
    with pytest.raises(ValueError, match="purge must be an integer >= 0"):
        chronological_split(ws, purge=1.5)
    smote = ws.subset(np.arange(len(ws)))
    smote.synthetic[0] = True
    with pytest.raises(ValueError, match="split before rebalancing"):
        chronological_split(smote)
