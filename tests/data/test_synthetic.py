"""synthetic_market: seeded, plausible, OHLC-consistent; the planted motif raises the base rate."""

import numpy as np
import pandas as pd
import pytest

from tsssl.data import build_windows, synthetic_market, validate_prices


@pytest.fixture(scope="module")
def market():
    return synthetic_market(20, 1500, seed=7)


def test_seeded_and_long_format(market):
    assert list(market.columns) == ["date", "ticker", "open", "high", "low", "close", "volume"]
    assert len(market) == 20 * 1500 and market["date"].dtype == "datetime64[ns]"
    pd.testing.assert_frame_equal(market, synthetic_market(20, 1500, seed=7))
    assert not np.allclose(market["close"], synthetic_market(20, 1500, seed=8)["close"])
    pd.testing.assert_frame_equal(validate_prices(market), market)  # valid and already sorted
    dates = market["date"].iloc[:1500]
    assert dates.iloc[0] == pd.Timestamp("2000-01-03") and (dates.dt.day_of_week < 5).all()
    assert market["ticker"].iloc[0] == "SYN000" and market["ticker"].iloc[-1] == "SYN019"


def test_positive_and_consistent_bars(market):
    assert (market[["open", "high", "low", "close"]] > 0).all().all()
    assert (market["low"] <= market[["open", "close"]].min(axis=1)).all()
    assert (market["high"] >= market[["open", "close"]].max(axis=1)).all()
    assert (market["volume"] > 0).all()


def test_volatility_clusters_and_volume_follows_moves(market):
    close = market["close"].to_numpy().reshape(20, 1500)
    r = np.diff(np.log(close), axis=1)
    a = np.abs(r) - np.abs(r).mean(axis=1, keepdims=True)
    acf1 = (a[:, 1:] * a[:, :-1]).mean() / (a * a).mean()
    assert acf1 > 0.05  # |r| autocorrelated: clustering
    assert 0.005 < r.std() < 0.04  # daily-stock-like volatility
    logv = np.log(market["volume"].to_numpy().reshape(20, 1500)[:, 1:])
    corr = [np.corrcoef(np.abs(r[i]), logv[i])[0, 1] for i in range(20)]
    assert np.mean(corr) > 0.3


def test_planted_pattern_makes_the_label_predictable():
    plain = build_windows(synthetic_market(10, 800, seed=1), window=20, horizon=5)
    planted = build_windows(synthetic_market(10, 800, seed=1, planted_pattern=0.05), window=20, horizon=5)
    assert planted.base_rate > plain.base_rate + 0.02
    last3 = planted.X[:, -3:, 0]
    motif = (last3 < -0.02).all(axis=1) & (planted.X[:, -3:, 4] > 0).all(axis=1)
    assert motif.sum() > 50 and planted.y[motif].mean() > 0.95  # the motif is followed by a rise
    full = build_windows(synthetic_market(6, 700, seed=3, planted_pattern=1.0), window=20, horizon=5)
    assert 0.08 < full.base_rate < 0.2  # one motif per 10-day slot


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"n_tickers": 0, "n_days": 10}, "n_tickers"),
        ({"n_tickers": 2, "n_days": 1}, "n_days"),
        ({"n_tickers": 2, "n_days": 10, "planted_pattern": 1.5}, "planted_pattern must be a probability"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        synthetic_market(seed=0, **kwargs)
