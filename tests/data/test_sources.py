"""Loaders: the bundled sample offline, read_prices on CSV / parquet / yfinance layouts, and
load_prices with yfinance's network call replaced (MultiIndex frames, cache, failures)."""

import json

import numpy as np
import pandas as pd
import pytest

import tsssl.data.sources as sources
from tsssl.data import load_prices, load_sample, read_prices


# -- the bundled sample ----------------------------------------------------------------------
def test_load_sample_offline():
    df = load_sample()
    assert list(df.columns) == ["date", "ticker", "open", "high", "low", "close", "volume"]
    assert df["date"].dtype == "datetime64[ns]"
    assert df["ticker"].tolist() == ["^GSPC"] * 5031 + ["^IXIC"] * 5031
    assert str(df["date"].iloc[0].date()) == "1999-01-04" and str(df["date"].iloc[-1].date()) == "2018-12-31"
    first = df.iloc[0]  # sp500.csv: 1999-01-04,1229.22998,1248.810059,1219.099976,1228.099976,...,877000000
    assert (first["open"], first["high"], first["low"], first["close"], first["volume"]) == (
        1229.22998,
        1248.810059,
        1219.099976,
        1228.099976,
        877000000.0,
    )
    assert (df.groupby("ticker")["date"].diff().dropna() > pd.Timedelta(0)).all()
    df.loc[0, "close"] = -1.0  # a copy: the next call is clean again
    assert load_sample()["close"].iloc[0] == 1228.099976
    assert sources.sample_dir().joinpath("sp500.csv").is_file()


def test_load_sample_by_name():
    pd.testing.assert_frame_equal(load_sample("indices"), load_sample())
    stocks = load_sample("stocks20")
    assert list(stocks.columns) == ["date", "ticker", "close"] and stocks["ticker"].nunique() == 20
    spans = stocks.groupby("ticker")["date"].agg(["min", "max", "size"])
    assert set(spans["min"]) == {pd.Timestamp("1990-01-02")} and set(spans["max"]) == {pd.Timestamp("2022-12-28")}
    assert set(spans["size"]) == {8313}
    assert stocks.attrs["layout"] == "wide closes, 20 tickers" and "AAPL" in set(stocks["ticker"])
    assert sources.sample_dir("stocks20").joinpath("stocks20.csv.gz").is_file()
    with pytest.raises(ValueError, match="unknown sample 'sp500'; accepted: indices, stocks20"):
        load_sample("sp500")


def test_sample_names_match_the_registry():
    from tsssl.registry import SAMPLES

    assert tuple(sources.SAMPLES) == SAMPLES


# -- files -----------------------------------------------------------------------------------
def ohlcv(n=6, start="2021-01-04", scale=1.0):
    close = scale * (100 + np.arange(n, dtype=float))
    return pd.DataFrame(
        {"Open": close - 1, "High": close + 2, "Low": close - 2, "Close": close, "Volume": 1e6 + np.arange(n)},
        index=pd.bdate_range(start, periods=n, name="Date"),
    )


def test_read_yfinance_single_ticker_csv_with_adj_close(tmp_path):
    df = ohlcv()
    df.insert(4, "Adj Close", df["Close"] * 0.5)
    df.to_csv(tmp_path / "AAPL.csv")  # Date,Open,High,Low,Close,Adj Close,Volume
    out = read_prices(tmp_path / "AAPL.csv")
    assert set(out["ticker"]) == {"AAPL"} and len(out) == 6
    np.testing.assert_allclose(out["close"], df["Close"] * 0.5)
    np.testing.assert_allclose(out["high"], df["High"] * 0.5)  # adjusted like auto_adjust
    assert read_prices(tmp_path / "AAPL.csv", ticker="apple")["ticker"].iloc[0] == "apple"


def test_read_lower_case_long_csv_and_parquet(tmp_path):
    long = pd.concat([ohlcv().reset_index().assign(ticker="B"), ohlcv(scale=2).reset_index().assign(ticker="A")])
    long.columns = [c.lower() for c in long.columns]
    long.to_csv(tmp_path / "long.csv.gz", index=False)
    long.to_parquet(tmp_path / "long.parquet", index=False)
    for name in ("long.csv.gz", "long.parquet"):
        out = read_prices(tmp_path / name)
        assert out["ticker"].tolist() == ["A"] * 6 + ["B"] * 6
        np.testing.assert_allclose(out["close"].iloc[:6], 2 * (100 + np.arange(6)))
    only_b = read_prices(tmp_path / "long.parquet", ticker="B")
    assert set(only_b["ticker"]) == {"B"} and len(only_b) == 6
    with pytest.raises(ValueError, match="ticker 'C' is not in .*long.parquet; tickers in the file: A, B"):
        read_prices(tmp_path / "long.parquet", ticker="C")


def test_read_parquet_with_a_date_index(tmp_path):
    ohlcv().to_parquet(tmp_path / "MSFT.parquet")
    out = read_prices(tmp_path / "MSFT.parquet")
    assert set(out["ticker"]) == {"MSFT"} and str(out["date"].iloc[0].date()) == "2021-01-04"


def yfinance_frame(tickers, start, end, nan_for=()):
    """A frame shaped like yfinance.download: (Price, Ticker) columns, a Date index, [start, end)."""
    dates = pd.bdate_range(start, pd.Timestamp(end) - pd.Timedelta(days=1), name="Date")
    parts = {}
    for k, t in enumerate(tickers):
        day = (dates - pd.Timestamp("2020-01-01")).days.to_numpy().astype(float)
        close = 100.0 * (k + 1) + day
        if t in nan_for:
            close = np.full(len(dates), np.nan)
        parts[t] = pd.DataFrame(
            {"Close": close, "High": close + 1, "Low": close - 1, "Open": close - 0.5, "Volume": 1000.0 + day},
            index=dates,
        )
    frame = pd.concat(parts, axis=1, names=["Ticker", "Price"])
    frame.columns = frame.columns.swaplevel(0, 1)
    return frame.sort_index(axis=1, level=0)


def test_read_a_saved_yfinance_download_csv(tmp_path):
    yfinance_frame(["AAA", "BBB"], "2020-01-06", "2020-01-11").to_csv(tmp_path / "dl.csv")
    assert (tmp_path / "dl.csv").read_text().splitlines()[1].startswith("Ticker,")
    out = read_prices(tmp_path / "dl.csv")
    assert out["ticker"].tolist() == ["AAA"] * 5 + ["BBB"] * 5
    assert out["close"].iloc[5] == 200.0 + 5


def test_read_prices_bad_paths(tmp_path):
    with pytest.raises(ValueError, match=r"unknown file type\); accepted: \.csv"):
        read_prices(tmp_path / "prices.xlsx")
    with pytest.raises(ValueError, match="no such file .*missing.csv") as err:
        read_prices(tmp_path / "missing.csv")
    assert isinstance(err.value, FileNotFoundError)
    pd.DataFrame({"Date": ["2021-01-04"], "Close": [1.0], "AAPL": [2.0]}).to_csv(tmp_path / "X.csv", index=False)
    with pytest.raises(
        ValueError, match=r"cannot tell the layout.*\(Close\) next to other columns \(AAPL\).*accepted layouts: long"
    ):
        read_prices(tmp_path / "X.csv")


# -- yfinance with the network call replaced ---------------------------------------------------
class FakeYahoo:
    def __init__(self, nan_for=(), fail=None, empty=False):
        self.calls, self.nan_for, self.fail, self.empty = [], nan_for, fail, empty

    def __call__(self, tickers, start, end):
        self.calls.append((list(tickers), start, end))
        if self.fail is not None:
            raise self.fail
        if self.empty:
            return pd.DataFrame()
        return yfinance_frame(tickers, start, end, self.nan_for)


@pytest.fixture
def yahoo(monkeypatch):
    def install(**kwargs):
        fake = FakeYahoo(**kwargs)
        monkeypatch.setattr(sources, "_download", fake)
        return fake

    monkeypatch.setattr(sources, "_today", lambda: np.datetime64("2020-06-01"))
    return install


def test_download_long_format_end_inclusive_and_cache_hit(yahoo, tmp_path):
    fake = yahoo()
    df = load_prices(["bbb", "AAA"], "2020-01-06", "2020-01-10", cache_dir=tmp_path)
    assert fake.calls == [(["BBB", "AAA"], "2020-01-06", "2020-01-11")]  # yfinance's end is exclusive
    assert list(df.columns) == ["date", "ticker", "open", "high", "low", "close", "volume"]
    assert df["ticker"].tolist() == ["AAA"] * 5 + ["BBB"] * 5
    assert str(df["date"].iloc[4].date()) == "2020-01-10" and df.attrs["auto_adjust"] is True
    fake.fail = AssertionError("network used for a cached range")
    again = load_prices(["AAA", "BBB"], "2020-01-06", "2020-01-10", cache_dir=tmp_path)
    pd.testing.assert_frame_equal(again, df)
    inner = load_prices("AAA", "2020-01-07", "2020-01-08", cache_dir=tmp_path)
    assert inner["date"].dt.strftime("%m-%d").tolist() == ["01-07", "01-08"]
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["AAA.parquet", "BBB.parquet"]
    import pyarrow.parquet as pq

    info = json.loads(pq.read_schema(tmp_path / "AAA.parquet").metadata[b"tsssl"])
    assert info["auto_adjust"] is True and info["covered"] == [["2020-01-06", "2020-01-11"]]


def test_only_missing_dates_are_fetched(yahoo, tmp_path):
    fake = yahoo()
    load_prices(["AAA", "BBB"], "2020-01-06", "2020-01-10", cache_dir=tmp_path)
    load_prices(["CCC"], "2020-01-13", "2020-01-17", cache_dir=tmp_path)
    fake.calls.clear()
    df = load_prices(["AAA", "BBB", "CCC"], "2020-01-01", "2020-01-24", cache_dir=tmp_path)
    # one call per distinct missing range, for all the tickers that miss it
    assert sorted(fake.calls, key=lambda c: (c[1], c[2])) == [
        (["AAA", "BBB"], "2020-01-01", "2020-01-06"),
        (["CCC"], "2020-01-01", "2020-01-13"),
        (["AAA", "BBB"], "2020-01-11", "2020-01-25"),
        (["CCC"], "2020-01-18", "2020-01-25"),
    ]
    assert df.groupby("ticker").size().tolist() == [18, 18, 18]  # 2020-01-01 .. 01-24, business days
    fake.calls.clear()
    load_prices(["AAA", "BBB", "CCC"], "2020-01-02", "2020-01-20", cache_dir=tmp_path)
    assert fake.calls == []


def test_one_ticker_multiindex_weekend_gaps_and_today(yahoo, tmp_path):
    fake = yahoo()
    df = load_prices("AAA", "2020-01-06", "2020-01-10", cache_dir=tmp_path)
    assert len(df) == 5
    fake.calls.clear()
    load_prices("AAA", "2020-01-06", "2020-01-12", cache_dir=tmp_path)  # + Saturday and Sunday
    assert fake.calls == []
    # never cover past today (UTC): today's bar may still change, it is asked for again
    load_prices("AAA", "2020-05-25", "2020-06-03", cache_dir=tmp_path)
    fake.calls.clear()
    load_prices("AAA", "2020-05-25", "2020-06-03", cache_dir=tmp_path)
    assert fake.calls == [(["AAA"], "2020-06-01", "2020-06-04")]


def test_flat_single_ticker_frame_is_accepted(monkeypatch, tmp_path):
    monkeypatch.setattr(
        sources,
        "_download",
        lambda tickers, start, end: yfinance_frame(tickers, start, end).droplevel("Ticker", axis=1),
    )
    df = load_prices(["AAA"], "2020-01-06", "2020-01-07", cache_dir=tmp_path)
    assert df["close"].tolist() == [105.0, 106.0]


def test_an_empty_ticker_is_named_and_the_others_load(yahoo, tmp_path):
    fake = yahoo(nan_for=("NOPE",))
    with pytest.warns(
        UserWarning,
        match=r"no prices for NOPE between 2020-01-06 and 2020-01-10 "
        r"\(delisted or misspelt\?\); loaded the other tickers",
    ):
        df = load_prices(["AAA", "NOPE"], "2020-01-06", "2020-01-10", cache_dir=tmp_path)
    assert set(df["ticker"]) == {"AAA"}
    assert not (tmp_path / "NOPE.parquet").exists()  # not cached: asked again next time
    fake.calls.clear()
    with pytest.warns(UserWarning, match="NOPE"):
        load_prices(["AAA", "NOPE"], "2020-01-06", "2020-01-10", cache_dir=tmp_path)
    assert fake.calls == [(["NOPE"], "2020-01-06", "2020-01-11")]


def test_all_empty_is_an_error_naming_them(yahoo, tmp_path):
    yahoo(empty=True)
    with pytest.raises(ValueError, match="yfinance returned no prices for XXX, YYY between 2020-01-06 and 2020-01-10"):
        load_prices(["XXX", "YYY"], "2020-01-06", "2020-01-10", cache_dir=tmp_path)


def test_network_failure_with_and_without_cache(yahoo, tmp_path):
    from yfinance.exceptions import YFRateLimitError

    fake = yahoo()
    load_prices(["AAA"], "2020-01-06", "2020-01-10", cache_dir=tmp_path)
    fake.fail = YFRateLimitError()
    with pytest.warns(
        UserWarning,
        match=r"download of AAA, BBB failed \(YFRateLimitError.*using the cached "
        r"prices of AAA .*no cache for BBB, left out",
    ):
        df = load_prices(["AAA", "BBB"], "2020-01-06", "2020-01-17", cache_dir=tmp_path)
    assert set(df["ticker"]) == {"AAA"} and len(df) == 5
    fake.fail = ConnectionError("offline")
    with pytest.raises(
        ValueError,
        match=r"download of CCC, DDD failed \(ConnectionError: offline\) and no "
        r"cache exists for them in",
    ):
        load_prices(["CCC", "DDD"], "2020-01-06", "2020-01-10", cache_dir=tmp_path)


def test_cache_dir_defaults_to_tsssl_cache_env(yahoo, tmp_path, monkeypatch):
    yahoo()
    monkeypatch.setenv("TSSSL_CACHE", str(tmp_path / "env-cache"))
    load_prices(["AAA"], "2020-01-06", "2020-01-07")
    assert (tmp_path / "env-cache" / "AAA.parquet").is_file()
    with pytest.raises(ValueError, match="start 2020-01-08 is after end 2020-01-07"):
        load_prices(["AAA"], "2020-01-08", "2020-01-07")
    with pytest.raises(ValueError, match="tickers must be non-empty ticker names"):
        load_prices([], "2020-01-06", "2020-01-07")
    with pytest.raises(ValueError, match="end must be a date"):
        load_prices(["AAA"], "2020-01-06", "someday")


def test_download_passes_yfinance_the_documented_arguments(monkeypatch):
    import yfinance

    seen = {}
    monkeypatch.setattr(yfinance, "download", lambda tickers, **kw: seen.update(kw, tickers=tickers) or "frame")
    assert sources._download(["AAA"], "2020-01-01", "2020-01-05") == "frame"
    assert seen["auto_adjust"] is True and seen["progress"] is False and seen["actions"] is False
    assert seen["start"] == "2020-01-01" and seen["end"] == "2020-01-05" and seen["tickers"] == ["AAA"]


def test_download_turns_a_logged_network_failure_into_a_connection_error(monkeypatch, tmp_path):
    # yfinance logs a failed request and returns an empty frame, like a delisted ticker
    import logging

    import yfinance

    def offline(tickers, **kw):
        logging.getLogger("yfinance").error(
            "Failed to get ticker 'AAA' reason: Failed to perform, "
            "curl: (6) Could not resolve host: query2.finance.yahoo.com"
        )
        return pd.DataFrame()

    monkeypatch.setattr(yfinance, "download", offline)
    with pytest.raises(ConnectionError, match="could not reach its servers.*resolve host"):
        sources._download(["AAA"], "2020-01-01", "2020-01-05")
    # through load_prices: a download failure without cache, not "delisted or misspelt"
    monkeypatch.setattr(sources, "_today", lambda: np.datetime64("2020-06-01"))
    with pytest.raises(ValueError, match=r"download of AAA failed \(ConnectionError.*no cache"):
        load_prices(["AAA"], "2020-01-06", "2020-01-10", cache_dir=tmp_path)


def test_download_keeps_a_delisted_ticker_apart_from_a_network_failure(monkeypatch):
    import logging

    import yfinance

    def delisted(tickers, **kw):
        logging.getLogger("yfinance").error("['ZZZZ']: possibly delisted; no price data found")
        return "frame"

    monkeypatch.setattr(yfinance, "download", delisted)
    assert sources._download(["ZZZZ"], "2020-01-01", "2020-01-05") == "frame"
    assert logging.getLogger("yfinance").handlers == [] or all(
        type(h).__name__ != "_Collect" for h in logging.getLogger("yfinance").handlers
    )
