"""`tsssl data`: the summary on the bundled sample, other sources and clean errors."""

import re

import numpy as np
import pandas as pd
import pytest

import tsssl.data.sources as sources
from tsssl.cli import main
from tsssl.data import build_windows, chronological_split, load_sample


def table(out):
    """{part: (windows, positives, base rate %)} from the printed table."""
    rows = re.findall(r"^(train|test)\s+(\d+)\s+(\d+)\s+([\d.]+)%$", out, flags=re.M)
    return {p: (int(w), int(k), float(r)) for p, w, k, r in rows}


def test_sample_summary_matches_the_split(capsys):
    assert main(["data", "--sample"]) == 0
    out = capsys.readouterr().out
    split = chronological_split(build_windows(load_sample(), window=20, horizon=5), test_frac=0.2)
    d = split.describe()
    assert "^GSPC, ^IXIC" in out and "1999-01-04 to 2018-12-31" in out
    assert f"test {d['test_start']} .. {d['test_end']}" in out and d["train_end"] in out
    assert "purge      5 trading days + embargo 0" in out and f"{d['n_purged']} training windows purged" in out
    got = table(out)
    for part in ("train", "test"):
        assert got[part][:2] == (d[part]["windows"], d[part]["positives"])
        assert got[part][2] == pytest.approx(100 * d[part]["base_rate"], abs=0.006)


def test_flags_reach_the_windows_and_the_split(capsys):
    assert (
        main(
            [
                "data",
                "--start",
                "2010-01-01",
                "--stock-window",
                "10",
                "--horizon",
                "3",
                "--features",
                "ohlcv+padic",
                "--test-start",
                "2016-01-04",
                "--embargo",
                "4",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "2010-01-04 to 2018-12-31" in out and "10 days, label: strict 3-day rise" in out
    assert "ohlcv+padic (p=3, deadband=0.002)" in out
    assert "test 2016-01-04 .." in out and "purge      3 trading days + embargo 4: 14 training windows" in out


def test_data_file_and_tickers_sources(tmp_path, monkeypatch, capsys):
    path = tmp_path / "prices.csv"
    load_sample().query("ticker == '^IXIC'").to_csv(path, index=False)
    assert main(["data", "--data", str(path), "--test-frac", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "tickers    ^IXIC\n" in out and abs(table(out)["train"][0] - table(out)["test"][0]) < 30

    def fake(tickers, start, end):
        dates = pd.bdate_range(start, pd.Timestamp(end) - pd.Timedelta(days=1), name="Date")
        rng = np.random.default_rng(0)
        close = {t: 100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(dates)))) for t in tickers}
        cols = {
            (f, t): close[t] * m
            for t in tickers
            for f, m in (("Close", 1.0), ("High", 1.01), ("Low", 0.99), ("Open", 1.0))
        }
        cols.update({("Volume", t): np.full(len(dates), 1e6) for t in tickers})
        frame = pd.DataFrame(cols, index=dates)
        frame.columns.names = ["Price", "Ticker"]
        return frame

    monkeypatch.setattr(sources, "_download", fake)
    assert (
        main(
            [
                "data",
                "--tickers",
                "AAA",
                "BBB",
                "--start",
                "2019-01-01",
                "--end",
                "2019-12-31",
                "--cache-dir",
                str(tmp_path / "cache"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "tickers    AAA, BBB" in out and "2019-01-01 to 2019-12-31" in out


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--test-start", "2030-01-02"], "test_start 2030-01-02 leaves no test windows"),
        (["--start", "2030-01-01"], "no prices between --start 2030-01-01"),
        (["--stock-window", "1"], "window must be an integer >= 2"),
        (["--horizon", "0"], "horizon must be an integer >= 1"),
        (["--data", "nowhere/missing.csv"], "missing.csv"),
    ],
)
def test_bad_input_is_a_clean_error(argv, message, capsys):
    with pytest.raises(SystemExit) as err:
        main(["data", *argv])
    msg = capsys.readouterr().err
    assert err.value.code == 2 and "tsssl data: error:" in msg and message in msg and "Traceback" not in msg


def test_wide_file_prints_its_layout_and_the_dropped_rows(tmp_path, capsys):
    dates = pd.bdate_range("2020-01-01", periods=80, name="Date")
    rng = np.random.default_rng(0)
    wide = pd.DataFrame(
        {t: 100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(dates)))) for t in ("AAA", "BBB", "CCC")}, index=dates
    )
    wide.iloc[:10, 1] = np.nan  # BBB listed 10 days later
    wide.iloc[40:42, 2] = np.nan  # CCC halted two days
    wide.to_csv(tmp_path / "wide.csv")
    assert main(["data", "--data", str(tmp_path / "wide.csv"), "--stock-window", "10", "--horizon", "2"]) == 0
    out = capsys.readouterr().out
    assert "layout     wide closes, 3 tickers" in out
    assert "dropped    12 empty cells dropped: 10 before a ticker's first price (listed later), 2 inside" in out
    assert "features close (auto: chosen from the columns close)" in out
    assert f"(80 trading days, {80 * 3 - 12} rows)" in out


def test_sample_by_name(capsys):
    assert main(["data", "--sample", "stocks20", "--start", "2022-01-01"]) == 0
    out = capsys.readouterr().out
    assert "(20 in all)" in out and "layout     wide closes, 20 tickers" in out and "2022-12-28" in out
    with pytest.raises(SystemExit):
        main(["data", "--sample", "nope"])
    assert "invalid choice: 'nope'" in capsys.readouterr().err
