"""Price layouts: long / wide / single-ticker / yfinance frames and files read to the same long
frame, the layout named, empty cells of a wide panel dropped and counted, bad input named."""

import numpy as np
import pandas as pd
import pytest

from tsssl.data import read_prices
from tsssl.data.layouts import ACCEPTED_LAYOUTS, detect_layout, to_long

DATES = pd.bdate_range("2021-01-04", periods=6)


def closes():
    """Wide closes of AAA and BBB (a date index named Date)."""
    return pd.DataFrame(
        {"AAA": 10.0 + np.arange(6), "BBB": 50.0 - np.arange(6)}, index=pd.DatetimeIndex(DATES, name="Date")
    )


def expected():
    """The long frame every layout of closes() reads to."""
    w = closes()
    return pd.DataFrame(
        {
            "date": np.tile(DATES.to_numpy(), 2),
            "ticker": ["AAA"] * 6 + ["BBB"] * 6,
            "close": np.concatenate([w["AAA"].to_numpy(), w["BBB"].to_numpy()]),
        }
    ).astype({"date": "datetime64[ns]"})


def check(out, layout):
    pd.testing.assert_frame_equal(out.reset_index(drop=True), expected(), check_dtype=False)
    assert out.attrs["layout"] == layout


def test_wide_csv_parquet_and_frame_read_to_the_long_frame(tmp_path):
    closes().to_csv(tmp_path / "wide.csv")  # Date,AAA,BBB
    closes().reset_index().rename(columns={"Date": "date"}).to_csv(tmp_path / "wide2.csv.gz", index=False)
    closes().to_parquet(tmp_path / "wide.parquet")  # the date index kept by parquet
    closes().rename_axis(None).to_csv(tmp_path / "unnamed.csv")  # ",AAA,BBB": unnamed date column
    for name in ("wide.csv", "wide2.csv.gz", "wide.parquet", "unnamed.csv"):
        check(read_prices(tmp_path / name), "wide closes, 2 tickers")
    check(read_prices(closes()), "wide closes, 2 tickers")
    assert read_prices(closes(), ticker="BBB")["ticker"].unique().tolist() == ["BBB"]


def test_long_closes_single_ticker_and_yfinance_layouts(tmp_path):
    long = expected().sort_values(["date", "ticker"])  # date-major rows
    long.to_csv(tmp_path / "long.csv", index=False)
    check(read_prices(tmp_path / "long.csv"), "long closes, 2 tickers")
    # one ticker per file, pandas' to_csv of a date-indexed frame: ",Close" header, ticker = file name
    closes()[["AAA"]].rename(columns={"AAA": "Close"}).rename_axis(None).to_csv(tmp_path / "AAA.csv")
    single = read_prices(tmp_path / "AAA.csv")
    assert single.attrs["layout"] == "single ticker closes" and single["ticker"].unique().tolist() == ["AAA"]
    np.testing.assert_allclose(single["close"], closes()["AAA"])
    # yf.download([...]): (field, ticker) and (ticker, field) columns
    fields = pd.concat({"Close": closes(), "Volume": closes() * 0 + 1e6}, axis=1)
    for frame in (fields, fields.swaplevel(0, 1, axis=1)):
        out = read_prices(frame)
        assert out.attrs["layout"] == "yfinance download (close+volume), 2 tickers"
        check(out[["date", "ticker", "close"]], "yfinance download (close+volume), 2 tickers")


def test_layout_names_and_an_ambiguous_table():
    assert detect_layout(closes()) == "wide"
    assert detect_layout(expected()) == "long"
    assert detect_layout(closes()[["AAA"]].rename(columns={"AAA": "Adj Close"})) == "single"
    assert detect_layout(pd.concat({"Close": closes()}, axis=1)) == "yfinance"
    with pytest.raises(ValueError, match="price fields \\(close\\) next to other columns \\(AAA, BBB\\)") as err:
        detect_layout(closes().assign(close=1.0))
    assert ACCEPTED_LAYOUTS in str(err.value)
    with pytest.raises(ValueError, match="no date column or date index among AAA, BBB"):
        detect_layout(closes().reset_index(drop=True))


def test_empty_cells_of_a_wide_panel_are_dropped_and_counted():
    w = closes()
    w.loc[DATES[:2], "BBB"] = np.nan  # listed two days later
    w.loc[DATES[3], "AAA"] = np.nan  # a halt
    w.loc[DATES[5], "AAA"] = np.nan  # delisted before the last day
    long, layout, dropped = to_long(w)
    assert layout.describe() == "wide closes, 2 tickers"
    assert dropped.counts == {"AAA": (0, 1, 1), "BBB": (2, 0, 0)}
    assert dropped.as_dict() == {"before_first": 2, "inside": 1, "after_last": 1, "total": 4}
    out = read_prices(w)
    assert len(out) == 8 and out.attrs["dropped"]["total"] == 4
    assert "4 empty cells dropped: 2 before a ticker's first price" in out.attrs["dropped_text"]
    assert out.loc[out["ticker"] == "AAA", "date"].tolist() == [DATES[i] for i in (0, 1, 2, 4)]


@pytest.mark.parametrize(
    "case,message",
    [
        ("all_nan", r"ticker column\(s\) BBB have no price at all"),
        ("duplicate", r"the wide table has the ticker column 'AAA' twice"),
        ("text", r"column BBB on 2021-01-06 is 'n.a.', not a number"),
        ("zero", r"column close of ticker AAA is 0.0 on 2021-01-05"),
        ("negative", r"column close of ticker BBB is -1.0 on 2021-01-11"),
        ("two_formats", r"'01/07/2021' \(row 3\) is not in the format %Y-%m-%d of the first date '2021-01-04'"),
    ],
)
def test_bad_wide_files_name_the_ticker_and_the_date(tmp_path, case, message):
    w = closes().astype(object)
    w.index = w.index.strftime("%Y-%m-%d")
    w.index.name = "Date"
    if case == "all_nan":
        w["BBB"] = np.nan
    elif case == "text":
        w.iloc[2, 1] = "n.a."
    elif case == "zero":
        w.iloc[1, 0] = 0.0
    elif case == "negative":
        w.iloc[5, 1] = -1.0
    elif case == "two_formats":
        w.index = [*w.index[:3], "01/07/2021", *w.index[4:]]
        w.index.name = "Date"
    path = tmp_path / "wide.csv"
    w.to_csv(path)
    if case == "duplicate":
        text = path.read_text().splitlines()
        text[0] = "Date,AAA,AAA"
        path.write_text("\n".join(text) + "\n")
    with pytest.raises(ValueError, match=message):
        read_prices(path)
