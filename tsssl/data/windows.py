"""Price frame -> WindowSet of scale-free features and strict-rise labels
(docs/design.md, "Window and features" and "Label").

Per ticker and trading day t (prev = the ticker's previous trading day):

- ``log_ret``        log(close[t] / close[prev])
- ``log_high_close`` log(high[t] / close[t])     (>= 0 for consistent bars)
- ``log_low_close``  log(low[t] / close[t])      (<= 0 for consistent bars)
- ``log_open_prev``  log(open[t] / close[prev])  (the overnight gap)
- ``volume_z``       (volume[t] - mean) / std over the window's own days (population std; 0 when
                     the window's volume does not vary). A per-window statistic, so nothing
                     is fitted across windows or on test data.

``features="close"`` needs the close alone (a panel of adjusted closes); every channel is
scale-free and uses day t and earlier days of the ticker only (no look-ahead):

- ``log_ret``        log(close[t] / close[prev]), as above
- ``log_close_ma5``  log(close[t] / mean of the closes of the last 5 days up to t)
- ``log_close_ma20`` the same over 20 days (both over the days there are in a ticker's first days)
- ``rvol5_z``        realised volatility sqrt(mean of log_ret^2 over the last 5 days up to t),
                     z-scored over the window's own days like ``volume_z`` (0 when flat)

``features="auto"`` is ``ohlcv`` when the prices have open, high, low and volume, else
``close`` (:func:`resolve_features`); ``ohlcv`` on closes alone is an error naming the missing
columns.

A window is the ``window`` days ending at t of one ticker; its first day needs a previous close,
so a ticker with n rows gives n - window - horizon windows (the last ``horizon`` days have no
full label future and give none: they are dropped, never labelled 0). Windows never cross
tickers. ``features="ohlcv+padic"`` / ``"close+padic"`` append the channels of :mod:`tsssl.data.padic`.

Vectorised over all tickers at once: the per-day features are computed on the concatenated
rows (validity masks keep windows inside their ticker) and the windows are views into them
(:class:`tsssl.data.windowviews.WindowViews`: per-day arrays and the row of each window's last
day). X is those views, or the dense (N, window, C) float32 array filled from them by gathers of
whole blocks of windows (``lazy``; no loop over windows), so peak memory stays close to the
output itself.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tsssl.data.labels import strict_rise_label
from tsssl.data.padic import (
    DEFAULT_DEADBAND,
    DEFAULT_P,
    padic_digits,
    padic_feature_names,
)
from tsssl.data.prices import validate_prices
from tsssl.data.windowset import WindowSet
from tsssl.data.windowviews import WindowViews
from tsssl.registry import AUTO_FEATURES, FEATURES, GRID_AUTO_FEATURES

LAZY_AUTO_BYTES = 2 << 30  # lazy="auto": views when the dense X would exceed 2 GiB
OHLCV_FEATURES = ["log_ret", "log_high_close", "log_low_close", "log_open_prev", "volume_z"]
CLOSE_FEATURES = ["log_ret", "log_close_ma5", "log_close_ma20", "rvol5_z"]
#: the columns the ``ohlcv`` feature sets need beyond the close
OHLCV_COLUMNS = ("open", "high", "low", "volume")
MA_DAYS = (5, 20)  # horizons of log(close / trailing mean)
RVOL_DAYS = 5  # days of the realised volatility


def resolve_features(features: str, columns: object) -> str:
    """The feature set to build on prices with ``columns``: ``"auto"`` -> ``"ohlcv"`` when open,
    high, low and volume are all there, else ``"close"`` (``"auto+padic"``: the same + ``"+padic"``); any other name is checked (an ``ohlcv``
    set on prices without those columns is a ValueError naming them and the sets that work)."""
    if features not in (*FEATURES, *GRID_AUTO_FEATURES):
        accepted = ", ".join((*FEATURES, *GRID_AUTO_FEATURES))
        raise ValueError(f"features must be one of {accepted}, got {features!r}")
    missing = [c for c in OHLCV_COLUMNS if c not in set(columns)]
    if features in GRID_AUTO_FEATURES:  # "auto" / "auto+padic"
        return ("close" if missing else "ohlcv") + features[len(AUTO_FEATURES) :]
    if features.startswith("ohlcv") and missing:
        raise ValueError(
            f"features {features!r} need the column(s) {', '.join(missing)}, which these prices lack; "
            "feature sets that work on closes alone: close, close+padic"
        )
    return features


def _constant_pattern_distances(digits: np.ndarray, ends: np.ndarray, window: int, p: int) -> np.ndarray:
    """(N, p) float32: |window - "all L"|_p of each window ending at row ``ends`` (L = 0..p-1).

    Equal to ``padic_distance(window digits, constant pattern L)`` (checked in the tests), in
    O(rows): the most recent days agreeing with "all L" are the run of digit L ending at the
    window's last day, capped at the window length (distance 0 for a whole window at L).
    """
    n_rows = digits.size
    index = np.arange(n_rows)
    change = np.ones(n_rows, dtype=bool)
    change[1:] = digits[1:] != digits[:-1]
    run = index - np.maximum.accumulate(np.where(change, index, 0)) + 1
    run[digits < 0] = 0  # no return: agrees with nothing
    v = np.minimum(run[ends], window)
    dist = np.where(v >= window, 0.0, np.power(float(p), -v.astype(float)))
    last = digits[ends]
    out = np.ones((ends.size, p), dtype=np.float32)
    for level in range(p):
        hit = last == level
        out[hit, level] = dist[hit]
    return out


def _check_int(name: str, value: object, minimum: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum} ({what}), got {value!r}")
    return int(value)


def build_windows(
    prices: pd.DataFrame,
    window: int = 20,
    horizon: int = 5,
    features: str = AUTO_FEATURES,
    p: int = DEFAULT_P,
    deadband: float = DEFAULT_DEADBAND,
    dropna: bool = False,
    lazy: bool | str = "auto",
) -> WindowSet:
    """Labelled windows of every ticker in ``prices`` (long format; validated first).

    Returns a WindowSet with X (N, window, C) float32, y (N,) int64 (strict ``horizon``-day
    rise after the window's last day t), end_date (date of t), label_end_date (date of
    t + horizon), ticker (object array of str); rows ordered by ticker then date.
    ``features``: a name of ``tsssl.registry.FEATURES`` or ``"auto"`` (:func:`resolve_features`;
    ``meta["features"]`` records the set built). ``p`` and ``deadband`` set the P-adic digits of
    the ``+padic`` sets. ``dropna=True`` drops NaN rows first (with a warning), see
    :func:`validate_prices`.
    ``lazy``: True makes X a :class:`WindowViews` (windows gathered on demand from the per-day
    array, bit-identical rows), False the dense array, "auto" views only when the dense X would
    exceed ``LAZY_AUTO_BYTES`` (2 GiB).
    """
    if lazy not in (True, False, "auto"):
        raise ValueError(f"lazy must be True, False or 'auto', got {lazy!r}")
    window, horizon, padic = _check_args(window, horizon, features, p, deadband)
    df = validate_prices(prices, dropna=dropna)
    features = resolve_features(features, df.columns)
    base = OHLCV_FEATURES if features.startswith("ohlcv") else CLOSE_FEATURES
    codes, names, first, counts = _ticker_index(df, window, horizon)
    names_out = list(base) + (padic_feature_names(p) if padic else [])
    per_day, digits, zsource = _per_day_channels(df, first, base, len(names_out), p if padic else None, deadband)
    pos = np.arange(len(codes)) - first[codes]  # day index within the ticker
    ends = np.flatnonzero((pos >= window) & (pos + horizon <= counts[codes] - 1))
    views = _window_views(per_day, digits, zsource, len(base) - 1, ends, window, p)
    X = views if _use_views(lazy, views) else views.materialise()
    del views, per_day  # the dense X needs the per-day arrays no more: free them before the labels
    meta = {
        "window": window,
        "horizon": horizon,
        "features": features,
        "p": int(p) if padic else None,
        "deadband": float(deadband) if padic else None,
        "n_tickers": int(len(names)),
    }
    return _assemble(df, X, ends, codes, names, names_out, horizon, meta)


def _check_args(window: object, horizon: object, features: object, p: int, deadband: float) -> tuple[int, int, bool]:
    """(window, horizon, padic) after checking the arguments, before any work on the prices."""
    window = _check_int("window", window, 2, "days per window")
    horizon = _check_int("horizon", horizon, 1, "days of strict rise in the label")
    if features != AUTO_FEATURES and features not in FEATURES:
        raise ValueError(f"features must be one of {', '.join(FEATURES)} or {AUTO_FEATURES}, got {features!r}")
    padic = str(features).endswith("+padic")
    if padic:  # fail on a bad p / deadband before the work
        padic_digits(np.zeros(1), p, deadband)
    return window, horizon, padic


def _ticker_index(df: pd.DataFrame, window: int, horizon: int) -> tuple[np.ndarray, pd.Index, np.ndarray, np.ndarray]:
    """Per-row ticker codes (rows,) int64, the sorted ticker names, and per ticker its first
    row and row count (tickers,); raises when a ticker has too few days for one window."""
    if len(df) == 0:
        raise ValueError(
            "prices have no rows; accepted: at least one ticker with "
            f"window + horizon + 1 = {window + horizon + 1} trading days"
        )
    codes, names = pd.factorize(df["ticker"], sort=True)  # sorted by ticker already
    codes = codes.astype(np.int64)
    counts = np.bincount(codes, minlength=len(names))
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    need = window + horizon + 1
    short = np.flatnonzero(counts < need)
    if short.size:
        listed = ", ".join(f"{names[k]} ({counts[k]} days)" for k in short[:10])
        more = f" and {short.size - 10} more" if short.size > 10 else ""
        raise ValueError(
            f"series too short for window={window}, horizon={horizon}: {listed}{more}; each ticker "
            f"needs at least window + horizon + 1 = {need} trading days (one more for the first "
            "day's return); drop those tickers or use a shorter window"
        )
    return codes, names, first, counts


def _per_day_channels(
    df: pd.DataFrame, first: np.ndarray, base: list[str], n_channels: int, p: int | None, deadband: float
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """(rows, n_channels) float32 of the per-day channels, the p-adic digits (rows,) of the log
    returns (None when ``p`` is None), and the per-day values (rows,) z-scored within each window
    (the volume of ``ohlcv``, the realised volatility of ``close``).

    Laid out like a window's day, so that a block of windows is one contiguous np.take; the
    per-window channels (the z-score, p-adic distances) stay 0 here, filled per block. ``base``:
    OHLCV_FEATURES or CLOSE_FEATURES, the channels before the p-adic ones.
    """
    close = df["close"].to_numpy()
    prev = np.empty(len(close))
    prev[0] = np.nan
    prev[1:] = close[:-1]
    prev[first] = np.nan  # a ticker's first day has no previous close
    log_ret = np.log(close / prev)
    per_day = np.zeros((len(close), n_channels), dtype=np.float32)
    per_day[:, 0] = log_ret
    if base is OHLCV_FEATURES:
        per_day[:, 1] = np.log(df["high"].to_numpy() / close)
        per_day[:, 2] = np.log(df["low"].to_numpy() / close)
        per_day[:, 3] = np.log(df["open"].to_numpy() / prev)
        zsource = df["volume"].to_numpy()
    else:
        row_first = np.zeros(len(close), dtype=np.int64)
        row_first[first] = first
        row_first = np.maximum.accumulate(row_first)  # first row of each row's ticker
        scaled = close / close[row_first]  # per-ticker scale: the trailing sums stay near 1
        for k, days in enumerate(MA_DAYS):
            per_day[:, 1 + k] = np.log(scaled / _trailing_mean(scaled, row_first, days))
        squared = np.where(np.isnan(log_ret), 0.0, log_ret * log_ret)
        zsource = np.sqrt(_trailing_mean(squared, row_first + 1, RVOL_DAYS))
    digits = None
    if p is not None:
        digits = padic_digits(log_ret, p, deadband)
        for d in range(p):
            per_day[:, len(base) + d] = digits == d
    return per_day, digits, zsource


def _trailing_mean(x: np.ndarray, start: np.ndarray, days: int) -> np.ndarray:
    """(rows,) mean of ``x`` over the last ``days`` rows up to each row, not before row ``start``
    of that row (its ticker's first usable row): fewer days at a ticker's start, NaN with none."""
    sums = np.concatenate([[0.0], np.cumsum(x)])
    index = np.arange(len(x))
    lo = np.maximum(index - days + 1, start)
    n = index + 1 - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (sums[index + 1] - sums[np.minimum(lo, index + 1)]) / n, np.nan)


def _window_views(
    per_day: np.ndarray,
    digits: np.ndarray | None,
    zsource: np.ndarray,
    z_channel: int,
    ends: np.ndarray,
    window: int,
    p: int,
) -> WindowViews:
    """The windows ending at rows ``ends`` as views of ``per_day`` (rows, C), with the per-window
    channels: ``zsource`` (rows,) z-scored over each window's days into channel ``z_channel``, and
    the P-adic closeness of each possible last row (when ``digits`` are given)."""
    closeness = None
    if digits is not None:
        closeness = _constant_pattern_distances(digits, np.arange(digits.size), window, p)
    return WindowViews(per_day, ends, window, zsource=zsource, z_channel=z_channel, closeness=closeness)


def _use_views(lazy: bool | str, views: WindowViews) -> bool:
    if lazy == "auto":
        return len(views) * views.window * views.shape[2] * 4 > LAZY_AUTO_BYTES
    return bool(lazy)


def _assemble(
    df: pd.DataFrame,
    X: np.ndarray | WindowViews,
    ends: np.ndarray,
    codes: np.ndarray,
    names: pd.Index,
    feature_names: list[str],
    horizon: int,
    meta: dict,
) -> WindowSet:
    """The WindowSet of ``X`` with labels, dates and tickers of the windows ending at ``ends``."""
    labels = strict_rise_label(df["close"].to_numpy(), horizon)[ends]  # ends are valid: futures in-ticker
    dates = df["date"].to_numpy()
    ticker_names = np.asarray(names, dtype=object)
    return WindowSet(
        X=X,
        y=labels.astype(np.int64),
        end_date=dates[ends],
        ticker=ticker_names[codes[ends]],
        feature_names=feature_names,
        meta=meta,
        label_end_date=dates[ends + horizon],
    )
