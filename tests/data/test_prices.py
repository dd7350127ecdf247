"""validate_prices: canonical form and every bad input named in its message."""

import numpy as np
import pandas as pd
import pytest

from tsssl.data import validate_prices


def frame(n=5, tickers=("AAA", "BBB")):
    dates = pd.bdate_range("2021-01-04", periods=n)
    rows = []
    for k, t in enumerate(tickers):
        close = 10.0 * (k + 1) + np.arange(n)
        rows.append(
            pd.DataFrame(
                {
                    "date": dates,
                    "ticker": t,
                    "open": close - 0.5,
                    "high": close + 1,
                    "low": close - 1,
                    "close": close,
                    "volume": 1000.0 + np.arange(n),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def test_canonical_columns_any_case_and_date_major_rows_sorted_by_ticker():
    df = frame().sort_values(["date", "ticker"]).reset_index(drop=True)  # date-major panel
    df.columns = ["Date", "TICKER", "Open", "high", "LOW", "Close", "Volume"]
    df["extra"] = 1
    df["Date"] = df["Date"].dt.strftime("%Y-%m-%d")
    out = validate_prices(df)
    assert list(out.columns) == ["date", "ticker", "open", "high", "low", "close", "volume"]
    assert out["date"].dtype == "datetime64[ns]"
    assert out["ticker"].tolist() == ["AAA"] * 5 + ["BBB"] * 5
    pd.testing.assert_frame_equal(out, validate_prices(frame()))


def test_adj_close_adjusts_ohlc_like_yfinance_auto_adjust():
    df = frame(3, ("AAA",))
    df["Adj Close"] = df["close"] / 2
    out = validate_prices(df)
    base = frame(3, ("AAA",))
    for col in ("open", "high", "low", "close"):
        np.testing.assert_allclose(out[col], base[col] / 2)
    np.testing.assert_allclose(out["volume"], base["volume"])


def test_tz_aware_dates_become_naive_calendar_dates():
    df = frame(3, ("AAA",))
    df["date"] = df["date"].dt.tz_localize("America/New_York")
    out = validate_prices(df)
    assert str(out["date"].iloc[0].date()) == "2021-01-04" and out["date"].dt.tz is None


def test_missing_column_is_named_with_what_is_accepted():
    with pytest.raises(ValueError, match=r"missing column\(s\) close; accepted: a long-format"):
        validate_prices(frame().drop(columns="close"))
    with pytest.raises(ValueError, match="missing column.*ticker"):
        validate_prices(frame().drop(columns="ticker"))
    with pytest.raises(ValueError, match="must be a pandas DataFrame"):
        validate_prices(np.zeros((3, 7)))


def test_nan_names_ticker_column_date_and_dropna():
    df = frame()
    df.loc[7, "close"] = np.nan  # BBB, 2021-01-06
    df.loc[1, "volume"] = np.nan  # AAA, 2021-01-05
    with pytest.raises(
        ValueError,
        match=r"NaN in column volume of ticker AAA on 2021-01-05 \(2 rows with "
        r"NaN: AAA: 1, BBB: 1\).*dropna=True",
    ):
        validate_prices(df)
    with pytest.warns(UserWarning, match=r"dropped 2 rows with NaN prices or volume \(AAA: 1, BBB: 1\)"):
        out = validate_prices(df, dropna=True)
    assert len(out) == 8 and not out[["close", "volume"]].isna().any().any()


@pytest.mark.parametrize(
    "col,value,what",
    [
        ("close", 0.0, "positive finite prices"),
        ("low", -1.0, "positive finite prices"),
        ("open", np.inf, "positive finite prices"),
        ("volume", -5.0, "volume >= 0"),
    ],
)
def test_non_positive_or_infinite_values_are_named(col, value, what):
    df = frame()
    df.loc[8, col] = value  # BBB, 2021-01-07
    with pytest.raises(ValueError, match=rf"column {col} of ticker BBB is .* on 2021-01-07.*accepted: .*{what}"):
        validate_prices(df, dropna=True)  # dropna only drops NaN


def test_zero_volume_is_accepted():
    df = frame()
    df.loc[0, "volume"] = 0.0
    assert validate_prices(df)["volume"].iloc[0] == 0.0


def test_unsorted_and_duplicate_dates_within_a_ticker_are_named():
    df = frame()
    swapped = df.copy()
    swapped.iloc[[6, 7]] = swapped.iloc[[7, 6]].to_numpy()
    with pytest.raises(
        ValueError,
        match=r"dates of ticker BBB are not sorted \(2021-01-05 comes after "
        r"2021-01-06\).*sort_values",
    ):
        validate_prices(swapped)
    dup = df.copy()
    dup.loc[3, "date"] = dup.loc[2, "date"]
    with pytest.raises(ValueError, match="ticker AAA has the date 2021-01-06 twice"):
        validate_prices(dup)


def test_unreadable_dates_and_duplicate_columns():
    df = frame()
    df["date"] = df["date"].astype(str)
    df.loc[2, "date"] = "not a date"
    with pytest.raises(ValueError, match="column date cannot be read as dates"):
        validate_prices(df)
    df = frame()
    df["CLOSE"] = df["close"]
    with pytest.raises(ValueError, match="two columns for 'close'"):
        validate_prices(df)


def test_closes_alone_or_without_volume_are_a_price_frame():
    closes = validate_prices(frame()[["date", "ticker", "close"]])
    assert list(closes.columns) == ["date", "ticker", "close"]
    pd.testing.assert_series_equal(closes["close"], validate_prices(frame())["close"])
    no_volume = validate_prices(frame().drop(columns="volume"))
    assert list(no_volume.columns) == ["date", "ticker", "open", "high", "low", "close"]
    df = frame()[["date", "ticker", "close"]]
    df.loc[6, "close"] = -2.0  # BBB, 2021-01-05
    with pytest.raises(ValueError, match=r"column close of ticker BBB is -2.0 on 2021-01-05"):
        validate_prices(df)


def test_dates_in_two_formats_name_the_ticker_and_the_date():
    df = frame()
    df["date"] = df["date"].dt.strftime("%Y-%m-%d")
    df.loc[7, "date"] = "01/06/2021"  # BBB, US format among ISO dates
    with pytest.raises(
        ValueError, match=r"'01/06/2021' \(ticker BBB, row 7\) is not in the format %Y-%m-%d of the first date"
    ):
        validate_prices(df)
    us = frame()
    us["date"] = us["date"].dt.strftime("%m/%d/%Y")  # one format throughout: read
    pd.testing.assert_frame_equal(validate_prices(us), validate_prices(frame()))


def test_non_numeric_cell_names_ticker_column_and_date():
    df = frame().astype({"close": object})
    df.loc[3, "close"] = "12.5x"  # AAA, 2021-01-07
    with pytest.raises(ValueError, match=r"column close of ticker AAA on 2021-01-07 is '12.5x', not a number"):
        validate_prices(df)


def test_iso_dates_with_changing_utc_offsets_keep_the_local_day():
    df = frame(2, ("AAA",))
    df["date"] = ["2021-03-12 00:00:00-05:00", "2021-03-15 00:00:00-04:00"]  # yfinance CSV across DST
    out = validate_prices(df)
    assert out["date"].dt.strftime("%Y-%m-%d").tolist() == ["2021-03-12", "2021-03-15"]
    df["date"] = ["2021-03-12T00:00:00+09:00", "2021-03-15T00:00:00+09:00"]  # east of UTC: still that day
    assert validate_prices(df)["date"].dt.strftime("%Y-%m-%d").tolist() == ["2021-03-12", "2021-03-15"]
