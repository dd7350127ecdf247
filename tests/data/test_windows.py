"""build_windows: features against a direct hand computation, labels, tickers kept apart, bad input."""

import math

import numpy as np
import pandas as pd
import pytest

from tsssl.data import build_windows, padic_digits, padic_features, strict_rise_label


def prices_of(ticker, close, volume=None, start="2021-01-04"):
    n = len(close)
    close = np.asarray(close, dtype=float)
    rng = np.random.default_rng(len(ticker) + n)
    return pd.DataFrame(
        {
            "date": pd.bdate_range(start, periods=n),
            "ticker": ticker,
            "open": close * (1 + rng.uniform(-0.01, 0.01, n)),
            "high": close * (1 + rng.uniform(0, 0.02, n)),
            "low": close * (1 - rng.uniform(0, 0.02, n)),
            "close": close,
            "volume": rng.integers(1_000, 5_000, n).astype(float) if volume is None else np.asarray(volume, float),
        }
    )


def walk(n, seed):
    rng = np.random.default_rng(seed)
    return 50 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))


def test_one_window_by_hand():
    df = prices_of("AAA", walk(40, 1))
    window, horizon = 6, 3
    ws = build_windows(df, window=window, horizon=horizon)
    assert len(ws) == 40 - window - horizon
    assert ws.X.dtype == np.float32 and ws.y.dtype == np.int64 and ws.X.shape[1:] == (6, 5)
    k = 4  # the 5th window: days 5..10, it ends on day t = 10
    t = window + k
    rows = df.iloc[t - window + 1 : t + 1]
    prev = df["close"].iloc[t - window : t].to_numpy()
    vol = rows["volume"].to_numpy()
    mean = sum(vol) / window
    std = math.sqrt(sum((v - mean) ** 2 for v in vol) / window)
    for j in range(window):
        o, h, lo, c = (rows[col].iloc[j] for col in ("open", "high", "low", "close"))
        expect = [
            math.log(c / prev[j]),
            math.log(h / c),
            math.log(lo / c),
            math.log(o / prev[j]),
            (vol[j] - mean) / std,
        ]
        np.testing.assert_allclose(ws.X[k, j], expect, rtol=2e-6, atol=1e-7)
    assert ws.end_date[k] == df["date"].iloc[t]
    assert ws.label_end_date[k] == df["date"].iloc[t + horizon]
    close = df["close"].to_numpy()
    assert ws.y[k] == int(close[t] < close[t + 1] < close[t + 2] < close[t + 3])
    np.testing.assert_array_equal(ws.y, strict_rise_label(close, horizon)[window : 40 - horizon])
    assert ws.meta == {"window": 6, "horizon": 3, "features": "ohlcv", "p": None, "deadband": None, "n_tickers": 1}
    assert list(ws.ticker) == ["AAA"] * len(ws) and not ws.synthetic.any()


def test_labels_on_a_hand_made_path_and_the_dropped_tail():
    close = [10, 11, 12, 13, 14, 15, 15, 16, 17, 18, 19, 20]  # a tie on day 6
    ws = build_windows(prices_of("AAA", close), window=2, horizon=3)
    # windows end on days 2..8 (day 1 is the first with a previous close; days 9..11 lack a future)
    assert len(ws) == 7
    # t=2: 12<13<14<15; t=3..5 read the tie 15 -> 15; t=6..8 rise from the second 15 on
    np.testing.assert_array_equal(ws.y, [1, 0, 0, 0, 1, 1, 1])


def test_constant_volume_gives_zero_z_score():
    df = prices_of("AAA", walk(30, 2), volume=np.full(30, 7e8))
    ws = build_windows(df, window=5, horizon=2)
    assert np.all(ws.X[:, :, 4] == 0)
    df = prices_of("AAA", walk(30, 2), volume=np.zeros(30))
    assert np.all(build_windows(df, window=5, horizon=2).X[:, :, 4] == 0)


def test_no_window_crosses_tickers():
    a, b = prices_of("AAA", walk(30, 3)), prices_of("BBB", walk(45, 4), start="2021-01-18")
    joint = build_windows(pd.concat([b, a]).sort_values("date", kind="stable"), window=5, horizon=2)
    alone = [build_windows(a, window=5, horizon=2), build_windows(b, window=5, horizon=2)]
    assert len(joint) == len(alone[0]) + len(alone[1]) == (30 - 7) + (45 - 7)
    np.testing.assert_array_equal(joint.X, np.concatenate([alone[0].X, alone[1].X]))
    np.testing.assert_array_equal(joint.y, np.concatenate([alone[0].y, alone[1].y]))
    np.testing.assert_array_equal(joint.ticker, ["AAA"] * 23 + ["BBB"] * 38)
    # BBB's first window starts on BBB's second day: its first return is BBB's own
    first_b = np.flatnonzero(joint.ticker == "BBB")[0]
    assert joint.X[first_b, 0, 0] == pytest.approx(math.log(b["close"].iloc[1] / b["close"].iloc[0]), rel=1e-6)
    assert joint.end_date[first_b] == b["date"].iloc[5]
    assert np.all(joint.label_end_date > joint.end_date)


def test_padic_channels_match_the_pure_functions():
    df = prices_of("AAA", walk(60, 5))
    ws = build_windows(df, window=8, horizon=2, features="ohlcv+padic", p=3, deadband=0.005)
    assert ws.X.shape == (60 - 10, 8, 11)
    assert ws.feature_names[5:] == [
        "padic_digit_0",
        "padic_digit_1",
        "padic_digit_2",
        "padic_dist_all_0",
        "padic_dist_all_1",
        "padic_dist_all_2",
    ]
    close = df["close"].to_numpy()
    log_ret = np.log(close[1:] / close[:-1])  # log_ret[i] is day i + 1's return
    digit_windows = np.stack([padic_digits(log_ret[k : k + 8], 3, 0.005) for k in range(len(ws))])
    np.testing.assert_allclose(ws.X[:, :, 5:], padic_features(digit_windows, 3))
    np.testing.assert_array_equal(ws.X[:, :, :5], build_windows(df, window=8, horizon=2).X)
    assert ws.meta["p"] == 3 and ws.meta["deadband"] == 0.005 and ws.meta["features"] == "ohlcv+padic"
    ws5 = build_windows(df, window=8, horizon=2, features="ohlcv+padic", p=5, deadband=0.005)
    assert ws5.X.shape[2] == 5 + 10


def test_dropna_drops_with_a_warning_and_without_it_fails():
    df = prices_of("AAA", walk(40, 6))
    df.loc[12, "high"] = np.nan
    with pytest.raises(ValueError, match="NaN in column high of ticker AAA"):
        build_windows(df, window=5, horizon=2)
    with pytest.warns(UserWarning, match=r"dropped 1 rows .*AAA: 1"):
        ws = build_windows(df, window=5, horizon=2, dropna=True)
    assert len(ws) == 39 - 7 and np.isfinite(ws.X).all()


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"window": 1}, "window must be an integer >= 2"),
        ({"window": 20.5}, "window must be an integer >= 2"),
        ({"horizon": 0}, "horizon must be an integer >= 1"),
        (
            {"features": "ohlc"},
            "features must be one of ohlcv, ohlcv\\+padic, close, close\\+padic or auto, got .ohlc.",
        ),
        ({"features": "ohlcv+padic", "p": 4}, "p must be a prime"),
        ({"features": "ohlcv+padic", "deadband": -1.0}, "deadband must be a positive"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_windows(prices_of("AAA", walk(40, 7)), **kwargs)


def test_series_shorter_than_window_plus_horizon_is_named():
    df = pd.concat([prices_of("LONG", walk(40, 8)), prices_of("SHORT", walk(25, 9))])
    with pytest.raises(
        ValueError,
        match=r"too short for window=20, horizon=5: SHORT \(25 days\).*"
        r"window \+ horizon \+ 1 = 26",
    ):
        build_windows(df, window=20, horizon=5)
    assert len(build_windows(prices_of("X", walk(26, 8)), window=20, horizon=5)) == 1


def test_close_features_by_hand_on_a_tiny_path():
    close = [10.0, 11.0, 10.5, 12.0, 12.5, 11.0, 13.0, 13.5, 12.0, 14.0, 15.0, 14.5]
    df = prices_of("AAA", close)[["date", "ticker", "close"]]  # closes alone
    window, horizon = 4, 2
    ws = build_windows(df, window=window, horizon=horizon, features="close")
    assert ws.feature_names == ["log_ret", "log_close_ma5", "log_close_ma20", "rvol5_z"]
    assert ws.meta["features"] == "close" and ws.X.shape == (12 - window - horizon, window, 4)
    c = np.array(close)
    r = [math.nan] + [math.log(c[t] / c[t - 1]) for t in range(1, 12)]
    ma = lambda t, h: sum(c[max(0, t - h + 1) : t + 1]) / (t + 1 - max(0, t - h + 1))  # noqa: E731
    rvol = [math.nan] + [math.sqrt(np.mean([r[s] ** 2 for s in range(max(1, t - 4), t + 1)])) for t in range(1, 12)]
    k, end = 2, window + 2  # the 3rd window ends on day 6: days 3..6
    days = range(end - window + 1, end + 1)
    want_rvol = np.array([rvol[t] for t in days])
    want_rvol = (want_rvol - want_rvol.mean()) / want_rvol.std()
    for j, t in enumerate(days):
        assert ws.X[k, j, 0] == pytest.approx(r[t], rel=1e-5)
        assert ws.X[k, j, 1] == pytest.approx(math.log(c[t] / ma(t, 5)), rel=1e-5)
        assert ws.X[k, j, 2] == pytest.approx(math.log(c[t] / ma(t, 20)), rel=1e-5)
        assert ws.X[k, j, 3] == pytest.approx(want_rvol[j], rel=1e-4, abs=1e-5)
    # no look-ahead: changing the last days leaves the earlier windows as they were
    later = df.copy()
    later.loc[9:, "close"] *= 3.0
    np.testing.assert_array_equal(
        build_windows(later, window=window, horizon=horizon, features="close").X[:4], ws.X[:4]
    )
    # the scale of the prices does not matter
    scaled = df.assign(close=df["close"] * 1000)
    np.testing.assert_allclose(
        build_windows(scaled, window=window, horizon=horizon, features="close").X, ws.X, atol=1e-5
    )


def test_auto_features_and_ohlcv_on_closes_alone():
    full = prices_of("AAA", walk(40, 3))
    assert build_windows(full, window=5, horizon=2).meta["features"] == "ohlcv"
    closes = full[["date", "ticker", "close"]]
    auto = build_windows(closes, window=5, horizon=2)
    assert auto.meta["features"] == "close" and auto.X.shape[2] == 4
    padic = build_windows(closes, window=5, horizon=2, features="close+padic")
    assert padic.feature_names[:4] == auto.feature_names and padic.X.shape[2] == 4 + 6
    np.testing.assert_array_equal(padic.X[:, :, :4], auto.X)
    np.testing.assert_array_equal(padic.y, build_windows(full, window=5, horizon=2, features="ohlcv+padic").y)
    with pytest.raises(
        ValueError,
        match=r"features 'ohlcv\+padic' need the column\(s\) open, high, low, volume, which these prices lack; "
        r"feature sets that work on closes alone: close, close\+padic",
    ):
        build_windows(closes, window=5, horizon=2, features="ohlcv+padic")
