"""The layouts a price table comes in, told apart and brought to the long format of
:mod:`tsssl.data.prices` (docs/design.md, "Data flow"). Pure functions on DataFrames; reading
files is :func:`tsssl.data.sources.read_prices`'s job.

Layouts (column names in any case, see :func:`tsssl.data.prices.canonical_name`):

- ``long``: one row per ticker and day, columns date, ticker, close; open, high, low, volume
  and Adj Close optional;
- ``wide``: a date column (or a date index) and one column of closes per ticker, as a quant's
  panel of adjusted closes usually is;
- ``single``: one ticker, a date column or date index (also the unnamed first column pandas'
  ``to_csv`` writes for a date-indexed frame) and price columns (close; open, high, low, volume,
  Adj Close optional); the ticker is given by the caller (the file name);
- ``yfinance``: a ``yf.download([...])`` frame, MultiIndex columns (field, ticker) or
  (ticker, field), dates in the index.

Empty cells of a wide panel or a yfinance download (a stock listed later than the others,
delisted earlier, or halted) are dropped, not an error: the ticker's series keeps its other
days, and its return over a gap inside the series spans the gap. :class:`Dropped` counts them.
A ticker without a single price is an error naming it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tsssl.data.prices import VALUE_COLUMNS, canonical_name, parse_dates, standardize_columns

LAYOUTS = {
    "long": "long: columns date, ticker, close (open, high, low, volume, Adj Close optional), one row per ticker and day",
    "wide": "wide closes: a date column or date index and one column of closes per ticker",
    "single": "one ticker: a date column or date index (also an unnamed first column) and price columns "
    "close (open, high, low, volume, Adj Close optional), the ticker from the file name",
    "yfinance": "a yfinance download: MultiIndex columns (field, ticker) or (ticker, field), dates in the index",
}
ACCEPTED_LAYOUTS = "; ".join(LAYOUTS.values())
#: price-field names (canonical) of the single-ticker and yfinance layouts
FIELDS = (*VALUE_COLUMNS, "adj close")
#: columns yfinance adds with actions=True: not prices, ignored
_IGNORED = {"dividends", "stocksplits", "capitalgains", "repaired?"}


@dataclass(frozen=True)
class Layout:
    """What a table was: ``kind`` (a key of LAYOUTS), its tickers and the value columns found."""

    kind: str
    n_tickers: int
    fields: tuple[str, ...]

    def describe(self) -> str:
        """E.g. "wide closes, 20 tickers", "long OHLCV, 3 tickers", "single ticker OHLCV"."""
        what = _fields_text(self.fields)
        many = f"{self.n_tickers} ticker{'s' if self.n_tickers != 1 else ''}"
        return {
            "long": f"long {what}, {many}",
            "wide": f"wide closes, {many}",
            "single": f"single ticker {what}",
            "yfinance": f"yfinance download ({what}), {many}",
        }[self.kind]


@dataclass(frozen=True)
class Dropped:
    """Empty cells left out of a wide panel or a yfinance download: ticker -> (before its first
    price, inside its series, after its last price)."""

    counts: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return int(sum(sum(c) for c in self.counts.values()))

    def as_dict(self) -> dict[str, int]:
        """JSON-ready totals: before_first, inside, after_last, total."""
        parts = np.array(list(self.counts.values()), dtype=np.int64).reshape(-1, 3).sum(axis=0)
        return {"before_first": int(parts[0]), "inside": int(parts[1]), "after_last": int(parts[2]),
                "total": self.total}  # fmt: skip

    def describe(self) -> str:
        """One line: how many rows were dropped, why, and the tickers with the most."""
        if not self.total:
            return "no rows dropped"
        d = self.as_dict()
        worst = sorted(self.counts.items(), key=lambda kv: -sum(kv[1]))[:5]
        most = ", ".join(f"{t} {sum(c):,}" for t, c in worst if sum(c))
        return (
            f"{d['total']:,} empty cells dropped: {d['before_first']:,} before a ticker's first price (listed later), "
            f"{d['inside']:,} inside a series (halts, gaps), {d['after_last']:,} after its last price; most: {most}"
        )


def _fields_text(fields: tuple[str, ...]) -> str:
    if {"open", "high", "low", "close", "volume"} <= set(fields):
        return "OHLCV"
    return "closes" if tuple(fields) == ("close",) else "+".join(fields)


def _unnamed(name: object) -> bool:
    return (
        name is None
        or (isinstance(name, float) and np.isnan(name))
        or str(name).startswith("Unnamed: ")
        or not str(name).strip()
    )


def _date_column(frame: pd.DataFrame) -> object | None:
    """The label of the date column, "__index__" for a date index, or None."""
    for col in frame.columns:
        if canonical_name(col) == "date":
            return col
    if isinstance(frame.index, pd.DatetimeIndex) or canonical_name(frame.index.name) == "date":
        return "__index__"
    if len(frame.columns) and _unnamed(frame.columns[0]):
        return frame.columns[0]  # pandas' to_csv of a date-indexed frame: the dates, header cell empty
    return None


def _layout_error(why: str) -> ValueError:
    return ValueError(f"cannot tell the layout of the prices: {why}; accepted layouts: {ACCEPTED_LAYOUTS}")


def detect_layout(frame: pd.DataFrame) -> str:
    """The kind of ``frame`` (a key of LAYOUTS); ValueError listing the layouts when it is none
    of them or could be two."""
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"prices must be a pandas DataFrame, got {type(frame).__name__}")
    if isinstance(frame.columns, pd.MultiIndex):
        return "yfinance"
    names = [canonical_name(c) for c in frame.columns]
    if "ticker" in names:
        return "long"
    date = _date_column(frame)
    if date is None:
        raise _layout_error(f"no date column or date index among {', '.join(map(str, frame.columns[:8]))}")
    rest = [c for c in frame.columns if c != date and str(c).strip().lower().replace(" ", "") not in _IGNORED]
    fields = [str(c) for c in rest if canonical_name(c) in FIELDS]
    others = [str(c) for c in rest if canonical_name(c) not in FIELDS]
    if fields and others:
        raise _layout_error(
            f"price fields ({', '.join(fields)}) next to other columns ({', '.join(others[:5])}) and no ticker column"
        )
    if not rest:
        raise _layout_error("no price column besides the dates")
    return "single" if fields else "wide"


def to_long(frame: pd.DataFrame, ticker: str | None = None) -> tuple[pd.DataFrame, Layout, Dropped]:
    """(long frame, layout, dropped cells) of a table in any layout of LAYOUTS.

    The long frame has canonical column names but is not validated yet (the caller runs
    :func:`tsssl.data.prices.validate_prices`). ``ticker`` names the ticker of a single-ticker
    table (required for that layout).
    """
    kind = detect_layout(frame)
    dropped = Dropped()
    if kind == "yfinance":
        long, dropped = _yfinance_to_long(frame)
    elif kind == "wide":
        long, dropped = _wide_to_long(frame)
    else:
        long = standardize_columns(_with_date_column(frame))
        if kind == "single":
            if ticker is None:
                raise ValueError("a single-ticker price table needs its ticker name (read_prices(..., ticker=...))")
            long["ticker"] = ticker
    fields = tuple(c for c in VALUE_COLUMNS if c in long.columns)
    return long, Layout(kind, int(long["ticker"].nunique()), fields), dropped


def _with_date_column(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its dates in a column named "date" (from the index or an unnamed column)."""
    date = _date_column(frame)
    if date == "__index__":
        out = frame.reset_index()
        return out.rename(columns={out.columns[0]: "date"})
    if date is not None and date != "date":
        return frame.rename(columns={date: "date"})
    return frame


def _presence_counts(present: np.ndarray, tickers: list[str]) -> Dropped:
    """Dropped cells per ticker from ``present`` (dates, tickers) bool; ValueError for a ticker
    without any price."""
    n_dates = present.shape[0]
    empty = np.flatnonzero(~present.any(axis=0))
    if empty.size:
        names = ", ".join(tickers[k] for k in empty[:10])
        raise ValueError(
            f"prices: ticker column(s) {names} have no price at all ({n_dates} empty cells each); "
            "drop them; accepted: at least one price per ticker"
        )
    before = present.argmax(axis=0)
    after = present[::-1].argmax(axis=0)
    inside = n_dates - before - after - present.sum(axis=0)
    return Dropped({t: (int(b), int(i), int(a)) for t, b, i, a in zip(tickers, before, inside, after)})


def _wide_to_long(frame: pd.DataFrame) -> tuple[pd.DataFrame, Dropped]:
    """Long (date, ticker, close) of a wide panel of closes; empty cells dropped and counted."""
    frame = _with_date_column(frame)
    dup = frame.columns[frame.columns.duplicated()]
    if len(dup):
        raise ValueError(
            f"prices: the wide table has the ticker column {dup[0]!r} twice; accepted: one column of closes per ticker"
        )
    dates = parse_dates(frame["date"], lambda row: f"row {row}")
    if dates.isna().any():
        row = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise ValueError(f"prices: row {row} of the wide table has no date; every row needs a date")
    values = frame.drop(columns="date")
    tickers = [str(c) for c in values.columns]
    numbers = values.apply(pd.to_numeric, errors="coerce")
    bad = numbers.isna().to_numpy() & values.notna().to_numpy()
    if bad.any():
        row, k = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"prices: column {tickers[k]} on {dates.iloc[row]:%Y-%m-%d} is {values.iloc[row, k]!r}, not a number "
            f"({int(bad.sum())} such cells); accepted: numbers (an empty cell for a missing close)"
        )
    closes = numbers.to_numpy(dtype=np.float64).T  # (tickers, dates): ticker-major, as the long format
    present = ~np.isnan(closes)
    dropped = _presence_counts(present.T, tickers)
    long = pd.DataFrame(
        {
            "date": np.tile(dates.to_numpy(), len(tickers))[present.ravel()],
            "ticker": np.repeat(np.asarray(tickers, dtype=object), present.sum(axis=1)),
            "close": closes[present],
        }
    )
    return long, dropped


def _yfinance_to_long(frame: pd.DataFrame) -> tuple[pd.DataFrame, Dropped]:
    """Long frame of a (field, ticker) or (ticker, field) MultiIndex frame; the days on which
    all of a ticker's fields are empty are dropped and counted."""
    if frame.columns.nlevels != 2:
        raise _layout_error(f"MultiIndex columns with {frame.columns.nlevels} levels, expected (field, ticker)")
    is_field = [all(canonical_name(v) in FIELDS for v in frame.columns.get_level_values(i)) for i in (0, 1)]
    if is_field[0] == is_field[1]:
        raise _layout_error("neither or both column levels are price fields (open, high, low, close, volume)")
    tl = 1 if is_field[0] else 0
    keys = list(dict.fromkeys(frame.columns.get_level_values(tl)))
    tickers = [str(k) for k in keys]
    dates = frame.index.to_series(index=pd.RangeIndex(len(frame)))
    dates = parse_dates(dates, lambda row: f"row {row}")
    parts, present = [], []
    for key, t in zip(keys, tickers):  # a handful of tickers: one frame each
        part = frame.xs(key, axis=1, level=tl).reset_index(drop=True)
        part = standardize_columns(part.rename(columns=str))
        has = part[[c for c in part.columns if c != "volume"]].notna().any(axis=1).to_numpy()
        present.append(has)
        parts.append(part[has].assign(date=dates[has].to_numpy(), ticker=t))
    dropped = _presence_counts(np.stack(present, axis=1), tickers)
    return pd.concat(parts, ignore_index=True), dropped
