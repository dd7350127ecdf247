"""Windows as views into the per-day feature array (docs/design.md, "Window and features").

A panel of 3,000 tickers x 30 years is ~22 million windows: materialised as (N, window, C)
float32 that is ``window`` times the per-day array. :class:`WindowViews` holds the per-day
array (rows, C) and the row of each window's last day, ``ends`` (N,) int64, and gathers
windows when they are indexed, so memory grows with days, not days x window.

The per-window channels are filled at gather time, by the one gather used for the dense X too
(:func:`gather_windows`): the z-score over the window's own days of a per-day source (the raw
volume for the ``ohlcv`` sets, the 5-day realised volatility for the ``close`` sets) and the
P-adic closeness of the window to
the constant digit patterns (a function of the window's last row only, kept per day: (rows, p),
written into the last p channels of every day of the window, when present).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

CHUNK = 8192  # windows gathered per block: each gather and write stays inside the CPU cache


def window_zscore(v: np.ndarray) -> np.ndarray:
    """(n, window) -> z-score of each row over its own days (population std); 0 for flat rows."""
    mean = v.mean(axis=1, keepdims=True)
    dev = v - mean
    std = np.sqrt(np.mean(dev * dev, axis=1, keepdims=True))
    flat = std <= 1e-9 * np.abs(mean)
    return np.where(flat, 0.0, dev / np.where(flat, 1.0, std))


def gather_windows(
    per_day: np.ndarray,
    ends: np.ndarray,
    window: int,
    zsource: np.ndarray | None = None,
    z_channel: int | None = None,
    closeness: np.ndarray | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """(n, window, C) float32 windows ending at rows ``ends`` (n,) of ``per_day`` (rows, C).

    zsource (rows,): the per-day source (raw volume, realised volatility) z-scored per window
    into channel ``z_channel``;
    closeness (rows, p): per-window channels of the window ending at that row, written into
    the last p channels of each of its days. ``out``: an (n, window, C) float32 array to fill.
    """
    if out is None:
        out = np.empty((ends.size, window, per_day.shape[1]), dtype=np.float32)
    for lo in range(0, ends.size, CHUNK):
        block_ends = ends[lo : lo + CHUNK]
        rows = block_ends[:, None] - (window - 1) + np.arange(window)  # (block, window)
        block = out[lo : lo + CHUNK]
        np.take(per_day, rows, axis=0, out=block)
        if z_channel is not None:
            block[:, :, z_channel] = window_zscore(zsource[rows])
        if closeness is not None:
            block[:, :, per_day.shape[1] - closeness.shape[1] :] = closeness[block_ends, None, :]
    return out


class WindowViews:
    """A read-only (N, window, C) float32 array of windows gathered on demand from per-day data.

    per_day: (rows, C) float32, laid out like one day of a window (per-window channels unused);
    ends: (N,) int64 row of each window's last day (its first day is ends - window + 1, in the
    same ticker); zsource / z_channel / closeness: the per-window channels (see
    :func:`gather_windows`). Indexing with an int, a slice, an int array or a bool mask returns
    the gathered ndarray, bit-identical to the rows of the materialised array; ``take`` returns
    a subset sharing the per-day arrays.
    """

    is_window_views = True  # duck-type marker (layers above check this, not the class)
    dtype = np.dtype(np.float32)
    ndim = 3

    def __init__(
        self,
        per_day: np.ndarray,
        ends: np.ndarray,
        window: int,
        zsource: np.ndarray | None = None,
        z_channel: int | None = None,
        closeness: np.ndarray | None = None,
    ) -> None:
        per_day = np.asarray(per_day)
        ends = np.asarray(ends, dtype=np.int64)
        if per_day.ndim != 2 or per_day.dtype != np.float32:
            raise ValueError(f"per_day must be (rows, C) float32, got {per_day.dtype} {per_day.shape}")
        if ends.ndim != 1 or (ends.size and (ends.min() < window - 1 or ends.max() >= len(per_day))):
            raise ValueError(f"ends must be (N,) rows in [window - 1, {len(per_day) - 1}] of per_day")
        if (z_channel is None) != (zsource is None):
            raise ValueError("zsource and z_channel go together: give both or neither")
        if zsource is not None and zsource.shape != (len(per_day),):
            raise ValueError(f"zsource must be ({len(per_day)},) like per_day's rows, got {zsource.shape}")
        if closeness is not None and (closeness.ndim != 2 or len(closeness) != len(per_day)):
            raise ValueError(f"closeness must be ({len(per_day)}, p) like per_day's rows, got {closeness.shape}")
        self.per_day, self.ends, self.window = per_day, ends, int(window)
        self.zsource, self.z_channel, self.closeness = zsource, z_channel, closeness

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.ends.size, self.window, self.per_day.shape[1])

    @property
    def nbytes(self) -> int:
        """Bytes held: the per-day arrays (shared between subsets) and the window ends."""
        parts = (self.per_day, self.ends, self.zsource, self.closeness)
        return int(sum(a.nbytes for a in parts if a is not None))

    def __len__(self) -> int:
        return self.ends.size

    def __repr__(self) -> str:
        return f"WindowViews(shape={self.shape}, nbytes={self.nbytes:,})"

    def _gather(self, ends: np.ndarray) -> np.ndarray:
        return gather_windows(self.per_day, ends, self.window, self.zsource, self.z_channel, self.closeness)

    def positions(self, index: Any) -> np.ndarray:
        """(n,) int64 window positions of an int array, a bool mask or a slice."""
        if isinstance(index, slice):
            return np.arange(len(self))[index]
        index = np.asarray(index)
        if index.dtype == bool:
            if index.shape != (len(self),):
                raise ValueError(f"a boolean mask must have shape ({len(self)},), got {index.shape}")
            return np.flatnonzero(index)
        if index.ndim != 1 or not (np.issubdtype(index.dtype, np.integer) or index.size == 0):
            raise ValueError(f"index must be an int, a slice, a 1-d int array or a bool mask, got {index!r:.60}")
        return index.astype(np.int64, copy=False)

    def __getitem__(self, key: Any) -> np.ndarray:
        rest: tuple = ()
        if isinstance(key, tuple):
            key, rest = key[0], key[1:]
        if isinstance(key, (int, np.integer)):
            out = self._gather(self.ends[[key]])[0]
            return out[rest] if rest else out
        out = self._gather(self.ends[self.positions(key)])
        return out[(slice(None), *rest)] if rest else out

    def take(self, index: Any) -> WindowViews:
        """The windows at ``index`` (int array, bool mask or slice) as views on the same days."""
        new = object.__new__(WindowViews)
        new.__dict__.update(self.__dict__)
        new.ends = self.ends[self.positions(index)]
        return new

    def blocks(self, size: int = CHUNK) -> Iterator[np.ndarray]:
        """Consecutive gathered blocks of at most ``size`` windows, in order."""
        for lo in range(0, len(self), size):
            yield self._gather(self.ends[lo : lo + size])

    def materialise(self) -> np.ndarray:
        """The dense (N, window, C) float32 array (filled block by block)."""
        return self._gather(self.ends)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self.materialise()
        return out if dtype is None else out.astype(dtype, copy=False)
