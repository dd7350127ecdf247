"""Leakage-free chronological splits (docs/design.md, "Split").

A window ending on day t of a ticker has a label that reads that ticker's closes up to day
t + horizon (its ``label_end_date``). The test period starts at ``test_start``: every window with
t >= test_start is a test window. A training window (t < test_start) is **purged** when the
ticker's trading day ``purge + embargo`` days after t falls on or after ``test_start``; with
the default ``purge = horizon`` and ``embargo = 0`` that is exactly "its label_end_date >=
test_start". The embargo adds more days (against serial correlation between the last
training labels and the first test windows). Trading days are counted on each ticker's own
calendar (the end and label-end dates of its windows), so holidays of one exchange do not
shorten another ticker's purge. When the windows carry ``label_end_date`` and purge >= the
horizon, a window whose label_end_date >= test_start is dropped in any case.

Nothing is fitted here; the split only selects rows. Split windows before rebalancing:
SMOTE rows have no dates and are refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tsssl.data.windowset import WindowSet

_TICKER_STRIDE = 1 << 21  # key = ticker code * stride + day + offset (days fit in +-2^20)
_DAY_OFFSET = 1 << 20


@dataclass
class Split:
    """One chronological split: ``train`` (purged) and ``test`` windows and how they were cut.

    test_start: first test day; test_end: last test window's end date (``test_stop`` of a
    walk-forward fold is exclusive); train_end: last kept training window's end date;
    purge / embargo: trading days; n_purged: training windows dropped by the purge.
    """

    train: WindowSet
    test: WindowSet
    test_start: pd.Timestamp
    train_end: pd.Timestamp
    test_end: pd.Timestamp
    purge: int
    embargo: int
    n_purged: int

    def describe(self) -> dict[str, Any]:
        """JSON-ready summary: dates, purge, and per part windows / positives / base rate."""

        def part(ws: WindowSet) -> dict[str, Any]:
            dates = ws.end_date[~ws.synthetic] if len(ws) else ws.end_date
            return {
                "windows": len(ws),
                "positives": ws.n_positive,
                "base_rate": None if len(ws) == 0 else round(ws.base_rate, 6),
                "start": _day(dates.min()) if len(dates) else None,
                "end": _day(dates.max()) if len(dates) else None,
                "tickers": int(len(pd.unique(ws.ticker))),
            }

        return {
            "test_start": _day(self.test_start),
            "test_end": _day(self.test_end),
            "train_end": _day(self.train_end),
            "purge": self.purge,
            "embargo": self.embargo,
            "n_purged": self.n_purged,
            "train": part(self.train),
            "test": part(self.test),
        }


def _day(value: Any) -> str | None:
    ts = pd.Timestamp(value)
    return None if pd.isna(ts) else ts.strftime("%Y-%m-%d")


def _days(dates: np.ndarray) -> np.ndarray:
    return np.asarray(dates).astype("datetime64[D]").astype(np.int64)


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """np.unique by sorting (numpy's hash-based unique is slow on millions of dates)."""
    s = np.sort(a)
    keep = np.ones(s.size, dtype=bool)
    keep[1:] = s[1:] != s[:-1]
    return s[keep]


def _check_windows(ws: WindowSet) -> None:
    if not isinstance(ws, WindowSet):
        raise ValueError(f"ws must be a WindowSet (from build_windows), got {type(ws).__name__}")
    if len(ws) == 0:
        raise ValueError("ws has no windows to split")
    if np.any(ws.synthetic):
        raise ValueError(
            "ws holds synthetic (SMOTE) windows, which have no dates: split before "
            "rebalancing (rebalance the training part only)"
        )


def _resolve(ws: WindowSet, purge: int | None, embargo: int) -> tuple[int, int]:
    if purge is None:
        if "horizon" not in ws.meta:
            raise ValueError("purge: ws.meta has no 'horizon' to purge by; pass purge=<days>, the label horizon")
        purge = ws.meta["horizon"]
    for name, value in (("purge", purge), ("embargo", embargo)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be an integer >= 0 (trading days), got {value!r}")
    return int(purge), int(embargo)


def purge_mask(ws: WindowSet, test_start: Any, purge: int, embargo: int = 0) -> np.ndarray:
    """(N,) bool: windows kept for training before ``test_start`` (see the module docstring)."""
    start_day = int(_days(np.datetime64(pd.Timestamp(test_start), "D")))
    end_day = _days(ws.end_date)
    codes = pd.factorize(pd.Series(ws.ticker, dtype=object))[0].astype(np.int64)
    keys = codes * _TICKER_STRIDE + end_day + _DAY_OFFSET
    calendar = [keys]
    has_label_end = ws.label_end_date is not None
    if has_label_end:
        known = ~np.isnat(ws.label_end_date)
        calendar.append(codes[known] * _TICKER_STRIDE + _days(ws.label_end_date[known]) + _DAY_OFFSET)
    calendar = _sorted_unique(np.concatenate(calendar))
    pos = np.searchsorted(calendar, keys)
    last = np.searchsorted(calendar, (codes + 1) * _TICKER_STRIDE) - 1
    ahead = calendar[np.minimum(pos + purge + embargo, last)] - codes * _TICKER_STRIDE - _DAY_OFFSET
    keep = (end_day < start_day) & (ahead < start_day)
    horizon = ws.meta.get("horizon")
    if has_label_end and horizon is not None and purge >= horizon:
        keep &= ~(_days(ws.label_end_date) >= start_day)  # NaT compares False: kept
    return keep


def _split(ws: WindowSet, test_start: Any, test_stop: Any, purge: int, embargo: int) -> Split:
    start = np.datetime64(pd.Timestamp(test_start), "ns")
    in_test = ws.end_date >= start
    if test_stop is not None:
        in_test &= ws.end_date < np.datetime64(pd.Timestamp(test_stop), "ns")
    keep = purge_mask(ws, start, purge, embargo)
    before = ws.end_date < start
    first, last = ws.end_date.min(), ws.end_date.max()
    span = f"the windows end from {_day(first)} to {_day(last)}"
    if not in_test.any():
        raise ValueError(f"test_start {_day(start)} leaves no test windows; {span}")
    if not keep.any():
        raise ValueError(
            f"test_start {_day(start)} leaves no training windows after purging "
            f"{purge} + embargo {embargo} trading days; {span}"
        )
    info = {"test_start": _day(start), "purge": purge, "embargo": embargo}
    train = ws.subset(keep).with_meta(split={**info, "part": "train"})
    test = ws.subset(in_test).with_meta(split={**info, "part": "test"})
    return Split(
        train=train,
        test=test,
        test_start=pd.Timestamp(start),
        train_end=pd.Timestamp(train.end_date.max()),
        test_end=pd.Timestamp(test.end_date.max()),
        purge=purge,
        embargo=embargo,
        n_purged=int(before.sum() - keep.sum()),
    )


def chronological_split(
    ws: WindowSet, test_start: Any = None, test_frac: float = 0.2, purge: int | None = None, embargo: int = 0
) -> Split:
    """Train on windows ending before ``test_start``, test on those ending on or after it.

    test_start: a date ("YYYY-MM-DD" or datetime); None: the first of the last ``test_frac``
    of the distinct window end dates. purge: trading days (default ``ws.meta["horizon"]``);
    embargo: extra trading days dropped before the test period. Raises a ValueError when either
    part would be empty.
    """
    _check_windows(ws)
    purge, embargo = _resolve(ws, purge, embargo)
    if test_start is None:
        if not isinstance(test_frac, (int, float)) or not 0.0 < test_frac < 1.0:
            raise ValueError(f"test_frac must be in (0, 1), e.g. 0.2, got {test_frac!r}")
        dates = _sorted_unique(ws.end_date)
        n_test = max(1, int(round(test_frac * len(dates))))
        if n_test >= len(dates):
            raise ValueError(f"test_frac={test_frac} leaves no training dates ({len(dates)} end dates)")
        test_start = dates[len(dates) - n_test]
    else:
        try:
            test_start = pd.Timestamp(test_start)
        except (ValueError, TypeError):
            raise ValueError(f"test_start must be a date like 2016-01-04, got {test_start!r}") from None
    return _split(ws, test_start, None, purge, embargo)


def walk_forward(
    ws: WindowSet,
    n_folds: int = 5,
    test_frac: float | None = None,
    purge: int | None = None,
    embargo: int = 0,
    test_start: Any = None,
) -> Iterator[Split]:
    """Expanding-window folds: fold i tests on the i-th of ``n_folds`` consecutive blocks of end
    dates at the end of the data and trains on everything before that block (purged).

    Each test block holds ``test_frac`` of the distinct end dates (default 1 / (n_folds + 1), so
    the first fold trains on the first block's worth of dates). The last block runs to the end.
    test_start: when given, the end dates from it on are cut into ``n_folds`` blocks of (nearly)
    equal size instead, and ``test_frac`` is not used.
    """
    _check_windows(ws)
    purge, embargo = _resolve(ws, purge, embargo)
    if isinstance(n_folds, bool) or not isinstance(n_folds, (int, np.integer)) or n_folds < 1:
        raise ValueError(f"n_folds must be an integer >= 1, got {n_folds!r}")
    dates = _sorted_unique(ws.end_date)
    if test_start is not None:
        first = int(np.searchsorted(dates, np.datetime64(pd.Timestamp(test_start), "ns")))
        if len(dates) - first < n_folds:
            raise ValueError(
                f"test_start {_day(test_start)} leaves {len(dates) - first} end dates, fewer than n_folds={n_folds}"
            )
        starts = [first + int(b[0]) for b in np.array_split(np.arange(len(dates) - first), n_folds)]
    else:
        if test_frac is None:
            test_frac = 1.0 / (n_folds + 1)
        if not 0.0 < test_frac * n_folds < 1.0:
            raise ValueError(
                f"test_frac * n_folds must be in (0, 1) so that training dates remain, "
                f"got test_frac={test_frac}, n_folds={n_folds}"
            )
        block = int(len(dates) * test_frac)
        if block < 1:
            raise ValueError(f"{len(dates)} end dates are too few for {n_folds} folds of test_frac={test_frac}")
        first = len(dates) - n_folds * block
        starts = [first + i * block for i in range(n_folds)]
    for i, lo in enumerate(starts):
        stop = None if i == n_folds - 1 else dates[starts[i + 1]]
        yield _split(ws, dates[lo], stop, purge, embargo)
