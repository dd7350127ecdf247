"""The long price format and its checks.

A price frame is long: one row per (ticker, trading day), columns ``date`` (datetime64[ns],
naive), ``ticker`` (str), ``open``, ``high``, ``low``, ``close`` (float, > 0) and ``volume``
(float, >= 0), sorted by ticker then date. Every loader ends with :func:`validate_prices`.

Column names are matched case-insensitively (``Close``, ``close``, ``CLOSE``; spaces and
underscores ignored, so ``Adj Close`` = ``adj_close``). When an ``Adj Close`` column is present
next to ``Close`` (yfinance's layout with ``auto_adjust=False``), the prices are adjusted the
way yfinance's ``auto_adjust=True`` does it: open, high, low and close are multiplied by
``Adj Close / Close`` and volume is kept. A frame without ``Adj Close`` is taken as is (its
``Close`` is then assumed adjusted already, as ``load_prices`` downloads it), and a frame with
``Adj Close`` but no ``Close`` uses ``Adj Close`` as the close.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

PRICE_COLUMNS = ("open", "high", "low", "close")
COLUMNS = ("date", "ticker", *PRICE_COLUMNS, "volume")
ACCEPTED = (
    "a long-format frame with columns date, ticker, open, high, low, close, volume "
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

    Returns a new frame with exactly the columns date, ticker, open, high, low, close, volume
    (date datetime64[ns], prices and volume float64), sorted by ticker then date. Raises a
    ValueError naming the ticker / column / date at fault for: missing columns, dates that
    cannot be parsed, NaN prices or volume (unless ``dropna=True``: those rows are dropped with
    a warning giving the count per ticker), infinite values, prices <= 0, negative volume, and
    dates that are unsorted or duplicated within a ticker.
    """
    out = _coerce_types(_select_columns(df))
    out, values = _handle_nan_rows(out, dropna)
    _check_values(out, values)
    return _sort_and_check_dates(out)


def _select_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Canonical columns of ``df`` in the order of COLUMNS, on a fresh RangeIndex."""
    out = standardize_columns(df)
    missing = [c for c in COLUMNS if c not in out.columns]
    if missing:
        raise ValueError(f"prices are missing column(s) {', '.join(missing)}; accepted: {ACCEPTED}")
    out = out[list(COLUMNS)].reset_index(drop=True)
    out.columns = pd.Index(COLUMNS)  # no leftover name (yfinance's "Price" level)
    return out


def _coerce_types(out: pd.DataFrame) -> pd.DataFrame:
    """``out`` (modified in place) with ticker str, date naive datetime64[ns], values float64."""
    tickers = out["ticker"]
    if tickers.isna().any():
        row = int(np.flatnonzero(tickers.isna().to_numpy())[0])
        raise ValueError(f"prices: column ticker is empty in row {row}; every row needs a ticker name")
    out["ticker"] = tickers.astype(str)
    try:
        dates = pd.to_datetime(out["date"])
    except (ValueError, TypeError) as err:
        raise ValueError(
            f"prices: column date cannot be read as dates ({err}); accepted: YYYY-MM-DD strings or datetimes"
        ) from None
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)  # daily bars: keep the exchange's calendar date
    out["date"] = dates.astype("datetime64[ns]")
    if out["date"].isna().any():
        row = int(np.flatnonzero(out["date"].isna().to_numpy())[0])
        raise ValueError(
            f"prices: ticker {out['ticker'].iloc[row]} has a missing date (row {row}); every row needs a date"
        )
    for col in (*PRICE_COLUMNS, "volume"):
        try:
            out[col] = pd.to_numeric(out[col]).astype("float64")
        except (ValueError, TypeError) as err:
            raise ValueError(f"prices: column {col} is not numeric ({err})") from None
    return out


def _handle_nan_rows(out: pd.DataFrame, dropna: bool) -> tuple[pd.DataFrame, np.ndarray]:
    """Raise on rows with a NaN price or volume, or drop them with a warning when ``dropna``.

    Returns the frame and its (rows, 5) float64 values (open, high, low, close, volume).
    """
    values = out[list(PRICE_COLUMNS) + ["volume"]].to_numpy()
    nan_rows = np.isnan(values).any(axis=1)
    if not nan_rows.any():
        return out, values
    counts = out.loc[nan_rows, "ticker"].value_counts(sort=False).sort_index()
    per_ticker = ", ".join(f"{t}: {n}" for t, n in counts.items())
    if not dropna:
        row = int(np.flatnonzero(nan_rows)[0])
        col = [c for c, bad in zip((*PRICE_COLUMNS, "volume"), np.isnan(values[row])) if bad][0]
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
    """Raise on the first infinite value, price <= 0 or negative volume in ``values`` (rows, 5)."""
    bad = ~np.isfinite(values)
    bad[:, :4] |= values[:, :4] <= 0
    bad[:, 4] |= values[:, 4] < 0
    if bad.any():
        row, j = (int(i) for i in np.argwhere(bad)[0])
        col = (*PRICE_COLUMNS, "volume")[j]
        what = "positive finite prices" if j < 4 else "finite volume >= 0"
        raise ValueError(
            f"prices: column {col} of ticker {out['ticker'].iloc[row]} is {values[row, j]!r} on "
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
