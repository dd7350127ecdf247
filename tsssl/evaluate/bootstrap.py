"""Bootstrap confidence intervals for metrics over test windows.

Windows overlap in time: the windows that end on the same date share the market's day, and
windows a few days apart share most of their days and part of their label horizon. An iid
bootstrap over windows would treat them as independent and give intervals that are too narrow.
With ``dates`` given we therefore resample whole dates (every window of a date comes along), in
moving blocks of ``block_days`` consecutive dates (default window + horizon = 25 trading days,
the span over which two windows can share data), circularly (Politis & Romano, 1992) so that
every date is equally likely to be drawn. Without dates: a plain iid bootstrap of windows.

A replicate is expressed as weights: ``W[b, i]`` = how many times window i is drawn in
replicate b. A statistic maps ``W: (b, N)`` to (b,) values (see the ``weighted_*`` functions of
``tsssl.evaluate.metrics``), so all replicates of a chunk are evaluated with array operations;
chunks only bound the memory (about 2 million weights per chunk).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

#: window (20) + horizon (5) trading days: two windows further apart share no day of data or label
DEFAULT_BLOCK_DAYS = 25
_CHUNK_ELEMENTS = 2_000_000

Statistic = Callable[[np.ndarray], np.ndarray]


class BootstrapResult(NamedTuple):
    """Percentile interval (low, high) at the requested level, the (n_boot,) replicate values
    (NaN where the statistic was undefined in a replicate) and how many were undefined."""

    low: float
    high: float
    replicates: np.ndarray
    n_undefined: int


def date_groups(dates: Any) -> tuple[np.ndarray, int]:
    """(N,) dates -> ((N,) index of each window's date among the sorted distinct dates, count)."""
    d = np.asarray(dates)
    if d.ndim != 1:
        raise ValueError(f"dates must be a 1-D array of the windows' end dates, got shape {d.shape}")
    uniq, group = np.unique(d, return_inverse=True)
    return group.reshape(-1).astype(np.int64), int(uniq.size)


def effective_block_len(block_days: int, n_groups: int) -> int:
    """The block length used: ``block_days`` capped at half the number of dates (with one block
    covering all dates every replicate would be the same set of dates)."""
    if int(block_days) < 1:
        raise ValueError(f"block_days must be >= 1, got {block_days}")
    return max(1, min(int(block_days), n_groups // 2))


def block_indices(n_groups: int, n_boot: int, block_len: int, rng: np.random.Generator) -> np.ndarray:
    """Circular moving-block resampling of ``n_groups`` ordered groups.

    Returns (n_boot, n_groups) int64: row b lists the groups drawn in replicate b, as
    ceil(n_groups / block_len) blocks of ``block_len`` consecutive groups (wrapping past the
    last group to the first), truncated to n_groups. block_len=1 is the iid bootstrap.
    """
    n_blocks = -(-n_groups // block_len)
    starts = rng.integers(0, n_groups, size=(n_boot, n_blocks))
    idx = (starts[:, :, None] + np.arange(block_len)) % n_groups
    return idx.reshape(n_boot, n_blocks * block_len)[:, :n_groups]


def group_counts(idx: np.ndarray, n_groups: int) -> np.ndarray:
    """(B, M) drawn group indices -> (B, n_groups) how many times each group was drawn."""
    b = idx.shape[0]
    flat = (idx + np.arange(b)[:, None] * n_groups).ravel()
    return np.bincount(flat, minlength=b * n_groups).reshape(b, n_groups)


def replicate_weights(
    n: int,
    dates: Any | None = None,
    n_boot: int = 1000,
    block_days: int = DEFAULT_BLOCK_DAYS,
    seed: int = 0,
    chunk_size: int | None = None,
) -> Iterator[np.ndarray]:
    """Yield the replicates as float64 weight chunks (b, n), b <= chunk_size, n_boot rows in all.

    With dates: moving blocks of dates, every window weighted by its date's count (so windows of
    one date always share a weight). Without: iid draws of windows. Deterministic in ``seed``.
    """
    if n < 1:
        raise ValueError(f"the bootstrap needs at least one window, got n={n}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if dates is None:
        group, n_groups, block = np.arange(n), n, 1
    else:
        group, n_groups = date_groups(dates)
        if group.size != n:
            raise ValueError(f"dates has {group.size} entries but there are {n} windows")
        block = effective_block_len(block_days, n_groups)
    rng = np.random.default_rng(seed)
    chunk = chunk_size or max(1, _CHUNK_ELEMENTS // max(n, n_groups))
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        counts = group_counts(block_indices(n_groups, b, block, rng), n_groups)
        yield counts[:, group].astype(np.float64)


def percentile_interval(replicates: np.ndarray, ci: float = 0.95) -> tuple[float, float]:
    """Equal-tailed percentile interval of the finite replicate values; NaN if none is finite."""
    if not 0.0 < ci < 1.0:
        raise ValueError(f"ci must be in (0, 1), e.g. 0.95, got {ci}")
    r = np.asarray(replicates, dtype=np.float64)
    r = r[np.isfinite(r)]
    if r.size == 0:
        return math.nan, math.nan
    alpha = (1.0 - ci) / 2.0
    low, high = np.quantile(r, [alpha, 1.0 - alpha])
    return float(low), float(high)


def bootstrap(
    statistic: Statistic | Mapping[str, Statistic],
    n: int,
    dates: Any | None = None,
    n_boot: int = 1000,
    block_days: int = DEFAULT_BLOCK_DAYS,
    ci: float = 0.95,
    seed: int = 0,
) -> BootstrapResult | dict[str, BootstrapResult]:
    """Bootstrap one statistic, or several on the same replicates (a dict name -> statistic).

    statistic: ``W (b, n) -> (b,)`` values of the metric on the data weighted by W (NaN where
    undefined). Returns a ``BootstrapResult`` (or a dict of them) with the percentile interval.

        res = bootstrap(lambda W: weighted_precision(y, pred, W), len(y), dates=end_dates)
        low, high = res.low, res.high
    """
    single = callable(statistic)
    stats = {"value": statistic} if single else dict(statistic)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in stats}
    for W in replicate_weights(n, dates, n_boot, block_days, seed):
        for name, fn in stats.items():
            parts[name].append(np.asarray(fn(W), dtype=np.float64).reshape(-1))
    out = {}
    for name, chunks in parts.items():
        reps = np.concatenate(chunks)
        low, high = percentile_interval(reps, ci)
        out[name] = BootstrapResult(low, high, reps, int((~np.isfinite(reps)).sum()))
    return out["value"] if single else out
