"""Where prices come from: yfinance (with an on-disk cache), CSV / parquet files, the bundled
sample. Every loader returns the long format of :mod:`tsssl.data.prices`, validated.
"""

from __future__ import annotations

import datetime as _dt
import logging
import warnings
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tsssl.data.cache import (
    Interval,
    cache_path,
    default_cache_dir,
    merge_intervals,
    missing_intervals,
    read_cache,
    write_cache,
)
from tsssl.data.layouts import to_long
from tsssl.data.prices import PRICE_COLUMNS, standardize_columns, validate_prices

AUTO_ADJUST = True  # adjusted OHLC, no "Adj Close"; recorded in the cache
DEFAULT_START = "1990-01-01"  # start=None
SAMPLE_FILES = {"^GSPC": "sp500.csv", "^IXIC": "nasdaq.csv"}
STOCKS20_FILE = "stocks20.csv.gz"


class PriceFileNotFoundError(ValueError, FileNotFoundError):
    """A price file that does not exist (a ValueError for the CLI, a FileNotFoundError too)."""


# -- yfinance --------------------------------------------------------------------------------
# yfinance reports a failed request as a logged error and an empty frame, the same result as a
# delisted ticker; these phrases in its log tell a network failure apart
_NETWORK_ERRORS = (
    "could not resolve host",
    "dnserror",
    "connectionerror",
    "connection error",
    "failed to establish",
    "timed out",
    "timeout",
    "curl: (",
    "ratelimit",
    "too many requests",
    "network is unreachable",
    "sslerror",
    "ssl:",
)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _download(tickers: list[str], start: str, end: str) -> pd.DataFrame:
    """The one network call: yfinance daily bars of ``tickers`` on [start, end) (end exclusive,
    as yfinance takes it). Tests replace this function.

    yfinance's own log lines are collected instead of printed; when they say the request failed
    for lack of network (DNS, connection, time-out, rate limit), a ``ConnectionError`` is raised,
    so that ``load_prices`` falls back on the cache instead of calling the tickers delisted."""
    import yfinance as yf

    logger = logging.getLogger("yfinance")
    saved = (logger.handlers[:], logger.propagate)
    collect = _Collect()
    logger.handlers, logger.propagate = [collect], False
    try:
        with warnings.catch_warnings():
            # pandas deprecation notices raised inside yfinance: not the user's to act on
            warnings.filterwarnings("ignore", category=FutureWarning, module="yfinance")
            warnings.filterwarnings("ignore", category=DeprecationWarning, module="yfinance")
            warnings.filterwarnings("ignore", message=".*inplace.*", module="yfinance")
            raw = yf.download(
                tickers,
                start=start,
                end=end,
                interval="1d",
                auto_adjust=AUTO_ADJUST,
                actions=False,
                progress=False,
                group_by="column",
                threads=True,
            )
    finally:
        logger.handlers, logger.propagate = saved
    network = [m for m in collect.messages if any(k in m.lower() for k in _NETWORK_ERRORS)]
    if network:
        first = network[0].strip().splitlines()[-1].split(" See https:")[0]
        raise ConnectionError(f"yfinance could not reach its servers: {first}")
    return raw


def _today() -> np.datetime64:
    """Today in UTC: every trading session of an earlier date has closed."""
    return np.datetime64(_dt.datetime.now(_dt.timezone.utc).date(), "D")


def _as_day(value: Any, name: str) -> np.datetime64:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        ts = pd.NaT
    if pd.isna(ts):
        raise ValueError(f"{name} must be a date like 2015-01-02, got {value!r}")
    return np.datetime64(ts.date(), "D")


def _ticker_list(tickers: str | Iterable[str]) -> list[str]:
    if isinstance(tickers, str):
        tickers = tickers.replace(",", " ").split()
    try:
        items = list(tickers)
    except TypeError:
        raise ValueError(f"tickers must be a list of ticker names, got {tickers!r}") from None
    bad = [t for t in items if not isinstance(t, str) or not t.strip()]
    if bad or not items:
        raise ValueError(f"tickers must be non-empty ticker names like ['AAPL', '^GSPC'], got {items!r}")
    return list(dict.fromkeys(t.strip().upper() for t in items))  # Yahoo ignores case; keep order


def frames_by_ticker(raw: pd.DataFrame | None, tickers: list[str]) -> dict[str, pd.DataFrame]:
    """Split a yfinance answer into one frame per ticker (date, open, ..., volume).

    Handles the (Price, Ticker) MultiIndex columns (also for one ticker, either level order) and
    a flat single-ticker frame. Days on which all of a ticker's prices are NaN (it did not trade
    while others did, or it failed) are dropped; a ticker without rows is absent.
    """
    out: dict[str, pd.DataFrame] = {}
    if raw is None or len(raw) == 0 or raw.shape[1] == 0:
        return out
    if isinstance(raw.columns, pd.MultiIndex):
        names = [str(n).lower() if n is not None else "" for n in raw.columns.names]
        if "ticker" in names:
            level = names.index("ticker")
        else:  # unnamed levels: the one that is not made of price fields
            fields = {"open", "high", "low", "close", "adjclose", "volume"}
            level = next(
                (
                    i
                    for i in range(raw.columns.nlevels)
                    if not {str(v).lower().replace(" ", "") for v in raw.columns.get_level_values(i)} <= fields
                ),
                raw.columns.nlevels - 1,
            )
        present = {str(v).upper(): v for v in raw.columns.get_level_values(level)}
        parts = {t: raw.xs(present[t], axis=1, level=level) for t in tickers if t in present}
    elif len(tickers) == 1:
        parts = {tickers[0]: raw}
    else:
        raise ValueError(
            f"cannot tell the tickers apart in a download with flat columns "
            f"{list(raw.columns)} for {', '.join(tickers)}"
        )
    for ticker, part in parts.items():
        frame = part.copy()
        if not isinstance(frame.index, pd.RangeIndex):
            frame.index.name = "date"
            frame = frame.reset_index()
        frame = standardize_columns(frame)
        missing = [c for c in ("date", *PRICE_COLUMNS, "volume") if c not in frame.columns]
        if missing:
            raise ValueError(f"the download for {ticker} lacks column(s) {', '.join(missing)}")
        frame["date"] = pd.to_datetime(frame["date"])
        if getattr(frame["date"].dt, "tz", None) is not None:
            frame["date"] = frame["date"].dt.tz_localize(None)
        frame["date"] = frame["date"].astype("datetime64[ns]").dt.normalize()
        frame = frame[~frame[list(PRICE_COLUMNS)].isna().all(axis=1)]
        if len(frame):
            out[ticker] = frame[["date", *PRICE_COLUMNS, "volume"]].reset_index(drop=True)
    return out


def load_prices(
    tickers: str | Iterable[str],
    start: Any = None,
    end: Any = None,
    cache_dir: str | Path | None = None,
    dropna: bool = False,
) -> pd.DataFrame:
    """Daily adjusted OHLCV of ``tickers`` from ``start`` to ``end`` (both inclusive) via yfinance.

    tickers: names (upper-cased, as Yahoo does) or one string "AAPL MSFT". start: default
    1990-01-01; end: default today. Prices are auto-adjusted (``auto_adjust=True`` passed to
    yfinance and recorded in the cache). Returns the long format (validated, sorted by ticker
    then date; see :func:`validate_prices` for ``dropna``).

    Cache: one file per ticker in ``cache_dir`` (default ``$TSSSL_CACHE`` or the user cache
    folder, see :mod:`tsssl.data.cache`). Only date ranges not yet fetched are downloaded, in
    one call per distinct missing range for all tickers needing it; ranges without a weekday are
    never fetched; a range is marked fetched only up to yesterday (UTC), so today's unfinished
    bar is fetched again. A fetched range that came back empty for a ticker is not marked, so
    it is asked again next time (it may have been a failure rather than no trading).

    Failures: a download that raises (network, ``YFRateLimitError``, ...) falls back on the
    cache with a warning, and is an error naming the tickers when there is no cache. A ticker
    with no rows in the range (delisted, misspelt) is named in a warning and the others load;
    when no ticker has rows, a ValueError names them.
    """
    names = _ticker_list(tickers)
    first = _as_day(DEFAULT_START if start is None else start, "start")
    last = _today() if end is None else _as_day(end, "end")
    if first > last:
        raise ValueError(f"start {first} is after end {last}")
    request: Interval = (first, last + np.timedelta64(1, "D"))  # yfinance's end is exclusive
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    ceiling = _today()

    cached, wanted = _cached_ranges(names, request, folder)
    updates, failures = _fetch_missing(wanted, ceiling)
    _merge_into_cache(folder, cached, updates)
    parts, empty = _rows_in_request(names, cached, request)
    failed = _fall_back_offline(failures, parts, empty, folder)
    _check_no_data(empty, failed, parts, request, last)
    prices = validate_prices(pd.concat(parts, ignore_index=True), dropna=dropna)
    prices.attrs["source"] = "yfinance"
    prices.attrs["auto_adjust"] = AUTO_ADJUST
    return prices


_Cached = dict[str, tuple[pd.DataFrame, list[Interval]]]  # ticker -> (rows, covered ranges)
_Updates = dict[str, tuple[list[pd.DataFrame], list[Interval]]]  # ticker -> (new rows, their ranges)
_Failure = tuple[list[str], Interval, BaseException]  # (tickers, range, what it raised)


def _cached_ranges(names: list[str], request: Interval, folder: Path) -> tuple[_Cached, dict[Interval, list[str]]]:
    """The cache of each ticker that has one, and each range of ``request`` to download with
    the tickers missing it (ranges without a weekday left out)."""
    cached: _Cached = {}
    wanted: dict[Interval, list[str]] = {}
    for ticker in names:
        hit = read_cache(cache_path(folder, ticker), AUTO_ADJUST)
        covered = hit[1] if hit is not None else []
        if hit is not None:
            cached[ticker] = hit
        for gap in missing_intervals(request, covered):
            if np.busday_count(gap[0], gap[1]) > 0:  # weekends alone hold no trading day
                wanted.setdefault(gap, []).append(ticker)
    return cached, wanted


def _fetch_missing(wanted: dict[Interval, list[str]], ceiling: np.datetime64) -> tuple[_Updates, list[_Failure]]:
    """One download per missing range: per ticker, the new rows and the ranges they cover (up
    to ``ceiling``, today exclusive, so that today's unfinished bar is fetched again), and the
    failures.

    A ticker whose rows in a range came back empty gets no cover, so that range is asked again.
    """
    failures: list[_Failure] = []
    updates: _Updates = {}
    for gap, group in sorted(wanted.items()):
        try:
            raw = _download(group, str(gap[0]), str(gap[1]))
        except Exception as err:  # network errors, YFRateLimitError, ...: handled by the caller
            failures.append((group, gap, err))
            continue
        got = frames_by_ticker(raw, group)
        for ticker, frame in got.items():
            in_gap = frame[(frame["date"] >= gap[0]) & (frame["date"] < gap[1])]
            if len(in_gap) == 0:
                continue
            frames, covered = updates.setdefault(ticker, ([], []))
            frames.append(in_gap)
            covered.append((gap[0], min(gap[1], ceiling)))
    return updates, failures


def _merge_into_cache(folder: Path, cached: _Cached, updates: _Updates) -> None:
    """Merge each ticker's new rows into its cache (new rows win on a date), write the file,
    and update ``cached`` in place."""
    for ticker, (frames, new_cover) in updates.items():
        old_rows, old_cover = cached.get(ticker, (None, []))
        rows = pd.concat(([old_rows] if old_rows is not None else []) + frames, ignore_index=True)
        rows = rows.drop_duplicates("date", keep="last").sort_values("date", kind="stable")
        covered = merge_intervals(old_cover + new_cover)
        write_cache(cache_path(folder, ticker), ticker, rows, covered, AUTO_ADJUST)
        cached[ticker] = (rows, covered)


def _rows_in_request(names: list[str], cached: _Cached, request: Interval) -> tuple[list[pd.DataFrame], list[str]]:
    """The cached rows of each ticker inside ``request`` (with a ticker column), and the tickers
    that have none."""
    lo, hi = np.datetime64(request[0], "ns"), np.datetime64(request[1], "ns")
    parts, empty = [], []
    for ticker in names:
        rows = cached.get(ticker, (None, []))[0]
        if rows is not None:
            rows = rows[(rows["date"] >= lo) & (rows["date"] < hi)]
        if rows is None or len(rows) == 0:
            empty.append(ticker)
        else:
            parts.append(rows.assign(ticker=ticker))
    return parts, empty


def _fall_back_offline(
    failures: list[_Failure], parts: list[pd.DataFrame], empty: list[str], folder: Path
) -> list[str]:
    """The sorted tickers of failed downloads; warns that the cache stands in for them, or
    raises when no ticker has rows at all."""
    failed = sorted({t for group, _, _ in failures for t in group})
    if failures:
        err = failures[0][2]
        reason = f"{type(err).__name__}: {err}"
        without = [t for t in failed if t in empty]
        if not parts:
            raise ValueError(
                f"download of {', '.join(failed)} failed ({reason}) and no cache exists for them in {folder}"
            )
        with_cache = [t for t in failed if t not in empty]
        msg = f"download of {', '.join(failed)} failed ({reason}); "
        if with_cache:
            msg += f"using the cached prices of {', '.join(with_cache)} (missing dates not filled)"
        if without:
            msg += ("; " if with_cache else "") + f"no cache for {', '.join(without)}, left out"
        warnings.warn(msg, UserWarning, stacklevel=3)  # at load_prices' caller
    return failed


def _check_no_data(
    empty: list[str], failed: list[str], parts: list[pd.DataFrame], request: Interval, last: np.datetime64
) -> None:
    """Tickers that downloaded fine but have no rows in ``request`` (delisted or misspelt): a
    warning naming them, or a ValueError when no ticker has rows."""
    no_data = [t for t in empty if t not in failed]
    if no_data and not parts:
        raise ValueError(
            f"yfinance returned no prices for {', '.join(no_data)} between {request[0]} "
            f"and {last} (delisted or misspelt tickers?)"
        )
    if no_data:
        warnings.warn(
            f"no prices for {', '.join(no_data)} between {request[0]} and {last} "
            "(delisted or misspelt?); loaded the other tickers",
            UserWarning,
            stacklevel=3,
        )


# -- files -----------------------------------------------------------------------------------
_CSV = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz")
_PARQUET = (".parquet", ".pq")


def read_prices(path: str | Path | pd.DataFrame, ticker: str | None = None, dropna: bool = False) -> pd.DataFrame:
    """Prices from a CSV (also .csv.gz) or parquet file, or a DataFrame, in the long format (validated).

    Accepted layouts (:mod:`tsssl.data.layouts`, column names in any case): long (date,
    ticker, close; open, high, low, volume optional), wide closes (a date column or index and one
    column per ticker), one ticker (e.g. yfinance's ``Date,Open,High,Low,Close,Adj Close,
    Volume`` or pandas' ``to_csv`` of a date-indexed frame; the ticker is ``ticker=`` or else the
    file name without suffix), and a yfinance download (MultiIndex columns, also saved as a CSV
    with its (Price, Ticker) header rows). ``ticker=`` keeps that ticker only in a table of many.
    An ``Adj Close`` column next to ``Close`` adjusts open/high/low/close by Adj Close / Close
    (as yfinance's auto_adjust does), see :mod:`tsssl.data.prices`. Empty cells of a wide panel
    are dropped (a stock listed later, a halt), not an error.

    ``attrs`` of the result: ``source``, ``layout`` (e.g. "wide closes, 20 tickers") and
    ``dropped`` (the empty cells left out, :meth:`tsssl.data.layouts.Dropped.as_dict`, and
    ``dropped_text``, one line).
    """
    if isinstance(path, pd.DataFrame):
        raw, stem, where = path, ticker, "the DataFrame"
    else:
        raw, stem = _read_table(Path(path).expanduser())
        where = str(Path(path).expanduser())
    long, layout, dropped = to_long(raw, ticker=ticker if ticker is not None else stem)
    if ticker is not None and layout.kind != "single":
        available = sorted(long["ticker"].astype(str).unique())
        long = long[long["ticker"].astype(str) == ticker]
        if len(long) == 0:
            raise ValueError(
                f"read_prices: ticker {ticker!r} is not in {where}; tickers in the file: {', '.join(available[:20])}"
            )
    prices = validate_prices(long, dropna=dropna)
    prices.attrs.update(source=where, layout=layout.describe(), dropped=dropped.as_dict(),
                        dropped_text=dropped.describe())  # fmt: skip
    return prices


def _read_table(path: Path) -> tuple[pd.DataFrame, str]:
    """The raw table of a price file and the file name without its suffix; a CSV's header is
    kept as written (pandas would rename a repeated column "AAPL" to "AAPL.1")."""
    name = path.name.lower()
    kind = "csv" if name.endswith(_CSV) else "parquet" if name.endswith(_PARQUET) else None
    if kind is None:
        raise ValueError(f"read_prices: cannot read {path} (unknown file type); accepted: {', '.join(_CSV + _PARQUET)}")
    if not path.is_file():
        raise PriceFileNotFoundError(f"read_prices: no such file {path}")
    stem = path.name[: -len(next(s for s in _CSV + _PARQUET if name.endswith(s)))]
    if kind == "parquet":
        return pd.read_parquet(path), stem
    if _yfinance_header(path):
        raw = pd.read_csv(path, header=[0, 1], index_col=0, skiprows=[2])
        raw.index = pd.to_datetime(raw.index)
        return raw, stem
    raw = pd.read_csv(path)
    header = pd.read_csv(path, header=None, nrows=1, dtype=str).iloc[0].tolist()
    if len(header) == raw.shape[1]:
        raw.columns = [c if isinstance(h, float) else h for c, h in zip(raw.columns, header)]
    return raw, stem


def _yfinance_header(path: Path) -> bool:
    """True for a CSV saved from a yfinance download frame (rows "Price,..." then "Ticker,...")."""
    try:
        head = pd.read_csv(path, header=None, nrows=2, usecols=[0], dtype=str)[0].tolist()
    except (ValueError, pd.errors.ParserError):
        return False
    return [str(c).strip().lower() for c in head] == ["price", "ticker"]


# -- the bundled samples ---------------------------------------------------------------------
#: the bundled samples by name (tsssl.registry.SAMPLES lists the same names): their files
SAMPLES: dict[str, tuple[str, ...]] = {
    "indices": tuple(SAMPLE_FILES.values()),
    "stocks20": (STOCKS20_FILE,),
}


def sample_dir(name: str = "indices") -> Path:
    """The folder of the bundled sample ``name``: ``tsssl/_sample`` in an installed wheel, the
    repository's ``data/`` in a checkout or an editable install."""
    import tsssl

    files = SAMPLES[_sample_name(name)]
    here = Path(tsssl.__file__).resolve().parent
    for folder in (here / "_sample", here.parent / "data"):
        if all((folder / f).is_file() for f in files):
            return folder
    raise PriceFileNotFoundError(
        f"the bundled sample ({', '.join(files)}) is missing from {here / '_sample'} "
        f"and {here.parent / 'data'}; reinstall tsssl"
    )


def _sample_name(name: object) -> str:
    if name not in SAMPLES:
        raise ValueError(f"unknown sample {name!r}; accepted: {', '.join(SAMPLES)}")
    return str(name)


@lru_cache(maxsize=len(SAMPLES))
def _sample(name: str) -> pd.DataFrame:
    folder = sample_dir(name)
    if name == "stocks20":
        return read_prices(folder / STOCKS20_FILE)
    parts = [read_prices(folder / f, ticker=t) for t, f in SAMPLE_FILES.items()]
    return validate_prices(pd.concat(parts, ignore_index=True))


def load_sample(name: str = "indices") -> pd.DataFrame:
    """A bundled real sample, offline, in the long format sorted by ticker then date (data/README.md):

    - ``"indices"`` (the default): daily OHLCV of the S&P 500 (``^GSPC``) and the NASDAQ
      Composite (``^IXIC``), 1999-01-04 to 2018-12-31 (Yahoo! Finance via the ``arch`` package);
    - ``"stocks20"``: daily adjusted closes (no open / high / low / volume) of 20 large US
      stocks, 1990-01-02 to 2022-12-28, 8,313 days (the S&P 500 set of the ``skfolio`` package).

    ``attrs``: ``source``, ``sample`` (the name) and ``layout``.
    """
    prices = _sample(_sample_name(name)).copy()
    prices.attrs["source"] = "tsssl bundled sample" + ("" if name == "indices" else f" {name}")
    prices.attrs["sample"] = name
    prices.attrs["layout"] = (
        "two single-ticker OHLCV files" if name == "indices" else f"wide closes, {prices['ticker'].nunique()} tickers"
    )
    return prices
