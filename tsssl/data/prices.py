"""The long price format and its checks.

A price frame is long: one row per (ticker, trading day), columns ``date`` (datetime64[ns],
naive), ``ticker`` (str), ``close`` (float, > 0) and, when the data have them, ``open``,
``high``, ``low`` (float, > 0) and ``volume`` (float, >= 0), sorted by ticker then date. A
frame of closes alone is a valid price frame (the ``close`` feature sets of
:mod:`tsssl.data.windows` need nothing more). Every loader ends with :func:`validate_prices`.

Column names are matched case-insensitively (``Close``, ``close``, ``CLOSE``; spaces and
underscores ignored, so ``Adj Close`` = ``adj_close``). When an ``Adj Close`` column is present
next to ``Close`` (yfinance's layout with ``auto_adjust=False``), the prices are adjusted the
way yfinance's ``auto_adjust=True`` does it: open, high, low and close are multiplied by
``Adj Close / Close`` and volume is kept. A frame without ``Adj Close`` is taken as is (its
``Close`` is then assumed adjusted already, as ``load_prices`` downloads it), and a frame with
``Adj Close`` but no ``Close`` uses ``Adj Close`` as the close.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format

PRICE_COLUMNS = ("open", "high", "low", "close")
COLUMNS = ("date", "ticker", *PRICE_COLUMNS, "volume")
#: the columns every price frame has; the others of COLUMNS are optional
REQUIRED = ("date", "ticker", "close")
VALUE_COLUMNS = (*PRICE_COLUMNS, "volume")
ACCEPTED = (
    "a long-format frame with columns date, ticker, close and optionally open, high, low, volume "
    "(any case; an 'Adj Close' column is optional)"
)


def _key(name: object) -> str:
    return str(name).strip().lower().replace(" ", "").replace("_", "")


_ALIASES = {
    "date": "date",
    "datetime": "date",
    "ticker": "ticker",
    "symbol": "ticker",
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "volume": "volume",
    "adjclose": "adj close",
}


def canonical_name(name: object) -> str | None:
    """The canonical column a name stands for ("Adj Close" -> "adj close", "Symbol" -> "ticker"), or None."""
    return _ALIASES.get(_key(name))


def standardize_columns(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with canonical lower-case column names and ``Adj Close`` folded into OHLC.

    A ``date`` held as the index (a DatetimeIndex or an index named Date) becomes a column.
    Unknown columns are dropped. Two columns that differ only in case are an error.
    """
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"prices must be a pandas DataFrame, got {type(df).__name__}; accepted: {ACCEPTED}")
    if isinstance(df.columns, pd.MultiIndex):
        raise ValueError(
            "prices have MultiIndex columns (a multi-ticker yfinance frame?); "
            f"use tsssl.data.load_prices or read_prices, or pass {ACCEPTED}"
        )
    names = {_key(c) for c in df.columns}
    if (
        "date" not in names
        and "datetime" not in names
        and (isinstance(df.index, pd.DatetimeIndex) or _key(df.index.name) in ("date", "datetime"))
    ):
        df = df.reset_index()
    rename: dict[object, str] = {}
    seen: dict[str, object] = {}
    for col in df.columns:
        canon = _ALIASES.get(_key(col))
        if canon is None:
            continue
        if canon in seen:
            raise ValueError(
                f"prices have two columns for {canon!r}: {seen[canon]!r} and {col!r} "
                "(names are matched case-insensitively); keep one"
            )
        seen[canon] = col
        rename[col] = canon
    out = df[list(rename)].rename(columns=rename)
    if "adj close" in out.columns:
        adj = pd.to_numeric(out["adj close"], errors="coerce").to_numpy(dtype=float)
        if "close" in out.columns:
            close = pd.to_numeric(out["close"], errors="coerce").to_numpy(dtype=float)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = adj / close
            for col in ("open", "high", "low"):
                if col in out.columns:
                    out[col] = pd.to_numeric(out[col], errors="coerce").to_numpy(dtype=float) * ratio
        out["close"] = adj
        out = out.drop(columns="adj close")
    return out


def _day(value: object) -> str:
    return str(pd.Timestamp(value).date()) if not pd.isna(value) else "NaT"


def validate_prices(df: pd.DataFrame, dropna: bool = False) -> pd.DataFrame:
    """Check a long price frame and return it in canonical form.

    Returns a new frame with the columns date, ticker, then those of open, high, low, close,
    volume it has (close is required; date datetime64[ns], prices and volume float64), sorted by
    ticker then date. Raises a ValueError naming the ticker / column / date at fault for:
    missing columns, dates that cannot be parsed or that mix two formats, non-numeric cells, NaN
    prices or volume (unless ``dropna=True``: those rows are dropped with a warning giving the
    count per ticker), infinite values, prices <= 0, negative volume, and dates that are
    unsorted or duplicated within a ticker.
    """
    out = _coerce_types(_select_columns(df))
    out, values = _handle_nan_rows(out, dropna)
    _check_values(out, values)
    return _sort_and_check_dates(out)


def value_columns(df: pd.DataFrame) -> list[str]:
    """The columns of open, high, low, close, volume that ``df`` (canonical names) has, in that order."""
    return [c for c in VALUE_COLUMNS if c in df.columns]


def _select_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Canonical columns of ``df`` in the order of COLUMNS, on a fresh RangeIndex."""
    out = standardize_columns(df)
    missing = [c for c in REQUIRED if c not in out.columns]
    if missing:
        raise ValueError(f"prices are missing column(s) {', '.join(missing)}; accepted: {ACCEPTED}")
    keep = [c for c in COLUMNS if c in out.columns]
    out = out[keep].reset_index(drop=True)
    out.columns = pd.Index(keep)  # no leftover name (yfinance's "Price" level)
    return out


_OFFSET = r"(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(?:Z|[+-]\d{2}:?\d{2})$"  # a time, then its UTC offset


def parse_dates(values: pd.Series, where: Callable[[int], str]) -> pd.Series:
    """``values`` (strings or datetimes) -> datetime64 Series (NaT where missing).

    Strings are read as ISO 8601 when they all are, else in the format of the first date (a
    UTC offset after a time is dropped: the local calendar day is kept); a
    date in another format (two formats in one file) or not a date at all is a ValueError
    naming it and ``where(row)`` (e.g. "ticker AAPL, row 3").
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    missing = values.isna().to_numpy()
    # "2021-03-15 00:00:00-04:00": the exchange's wall-clock day, as for tz-aware datetimes
    # (a yfinance CSV's offsets change with daylight saving time: one parse would refuse them)
    text = values.astype(str).str.strip().where(~missing)
    if (~missing).any() and re.search(_OFFSET, str(text.iloc[int(np.argmax(~missing))])):
        text = text.str.replace(_OFFSET, r"\1", regex=True)
    try:
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
    except (ValueError, TypeError):  # mixed time zones and the like
        parsed = pd.Series(pd.NaT, index=values.index)
    if not (parsed.isna().to_numpy() & ~missing).any():
        return parsed
    filled = np.flatnonzero(~missing)
    first = str(text.iloc[filled[0]])
    fmt = guess_datetime_format(first)
    if fmt is not None:
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    bad = np.flatnonzero(parsed.isna().to_numpy() & ~missing) if fmt is not None else filled[:1]
    if bad.size == 0:
        return parsed
    row = int(bad[0])
    shown = "no date format" if fmt is None else f"the format {fmt} of the first date {first!r}"
    raise ValueError(
        f"prices: column date cannot be read as dates: {text.iloc[row]!r} ({where(row)}) is not in {shown} "
        f"({bad.size} such dates); accepted: one date format per file, e.g. YYYY-MM-DD"
    )


def _coerce_types(out: pd.DataFrame) -> pd.DataFrame:
    """``out`` (modified in place) with ticker str, date naive datetime64[ns], values float64."""
    tickers = out["ticker"]
    if tickers.isna().any():
        row = int(np.flatnonzero(tickers.isna().to_numpy())[0])
        raise ValueError(f"prices: column ticker is empty in row {row}; every row needs a ticker name")
    out["ticker"] = tickers.astype(str)
    dates = parse_dates(out["date"], lambda row: f"ticker {out['ticker'].iloc[row]}, row {row}")
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)  # daily bars: keep the exchange's calendar date
    out["date"] = dates.astype("datetime64[ns]")
    if out["date"].isna().any():
        row = int(np.flatnonzero(out["date"].isna().to_numpy())[0])
        raise ValueError(
            f"prices: ticker {out['ticker'].iloc[row]} has a missing date (row {row}); every row needs a date"
        )
    for col in value_columns(out):
        numbers = pd.to_numeric(out[col], errors="coerce")
        bad = np.flatnonzero(numbers.isna().to_numpy() & out[col].notna().to_numpy())
        if bad.size:
            row = int(bad[0])
            raise ValueError(
                f"prices: column {col} of ticker {out['ticker'].iloc[row]} on {_day(out['date'].iloc[row])} is "
                f"{out[col].iloc[row]!r}, not a number ({bad.size} such cells in {col}); accepted: numbers"
            )
        out[col] = numbers.astype("float64")
    return out


def _handle_nan_rows(out: pd.DataFrame, dropna: bool) -> tuple[pd.DataFrame, np.ndarray]:
    """Raise on rows with a NaN price or volume, or drop them with a warning when ``dropna``.

    Returns the frame and its (rows, k) float64 values (the columns of ``value_columns``).
    """
    cols = value_columns(out)
    values = out[cols].to_numpy()
    nan_rows = np.isnan(values).any(axis=1)
    if not nan_rows.any():
        return out, values
    counts = out.loc[nan_rows, "ticker"].value_counts(sort=False).sort_index()
    per_ticker = ", ".join(f"{t}: {n}" for t, n in counts.items())
    if not dropna:
        row = int(np.flatnonzero(nan_rows)[0])
        col = [c for c, bad in zip(cols, np.isnan(values[row])) if bad][0]
        raise ValueError(
            f"prices: NaN in column {col} of ticker {out['ticker'].iloc[row]} on "
            f"{_day(out['date'].iloc[row])} ({int(nan_rows.sum())} rows with NaN: {per_ticker}); "
            "accepted: finite prices; pass dropna=True to drop NaN rows (with a warning)"
        )
    # stacklevel 3: the warning points at validate_prices' caller, as before this helper existed
    warnings.warn(
        f"dropna=True: dropped {int(nan_rows.sum())} rows with NaN prices or volume ({per_ticker})",
        UserWarning,
        stacklevel=3,
    )
    return out[~nan_rows].reset_index(drop=True), values[~nan_rows]


def _check_values(out: pd.DataFrame, values: np.ndarray) -> None:
    """Raise on the first infinite value, price <= 0 or negative volume in ``values`` (rows, k)."""
    cols = value_columns(out)
    is_volume = np.array([c == "volume" for c in cols])
    bad = ~np.isfinite(values)
    bad[:, ~is_volume] |= values[:, ~is_volume] <= 0
    bad[:, is_volume] |= values[:, is_volume] < 0
    if bad.any():
        row, j = (int(i) for i in np.argwhere(bad)[0])
        col = cols[j]
        what = "finite volume >= 0" if is_volume[j] else "positive finite prices"
        raise ValueError(
            f"prices: column {col} of ticker {out['ticker'].iloc[row]} is {float(values[row, j])!r} on "
            f"{_day(out['date'].iloc[row])} ({int(bad[:, j].sum())} such values in {col}); "
            f"accepted: {what}"
        )


def _sort_and_check_dates(out: pd.DataFrame) -> pd.DataFrame:
    """``out`` sorted by ticker (stable, so dates keep their order); raises on a date that is
    duplicated or out of order within a ticker."""
    codes, names = pd.factorize(out["ticker"], sort=True)
    if len(codes) > 1 and np.any(codes[1:] < codes[:-1]):
        out = out.iloc[np.argsort(codes, kind="stable")].reset_index(drop=True)
        codes = np.sort(codes, kind="stable")
    d = out["date"].to_numpy()
    same = codes[1:] == codes[:-1]
    step = d[1:] - d[:-1]
    wrong = same & (step <= np.timedelta64(0, "ns"))
    if wrong.any():
        i = int(np.flatnonzero(wrong)[0])
        ticker = names[codes[i]]
        if d[i + 1] == d[i]:
            raise ValueError(
                f"prices: ticker {ticker} has the date {_day(d[i])} twice; accepted: one row per ticker and date"
            )
        raise ValueError(
            f"prices: dates of ticker {ticker} are not sorted ({_day(d[i + 1])} comes "
            f"after {_day(d[i])}); accepted: increasing dates within each ticker "
            "(sort with df.sort_values(['ticker', 'date']))"
        )
    return out
