"""The P-adic enhancement (docs/design.md, "P-adic features"): our documented reading of the
talk's "P-adic 加強版".

1. **Digits.** Each day's log return r is quantised into p levels (p prime, default 3) with a
   dead-band ``deadband`` (an absolute log return, default 0.002 = 0.2%):

   - p = 3: digit 0 = down (r < -deadband), 1 = flat (|r| <= deadband), 2 = up (r > deadband);
   - p = 2h + 1 in general: the offset from the flat digit h is sign(r) * k with
     k = clip(ceil(|r| / deadband) - 1, 0, h): flat inside the dead-band, then one level per
     further dead-band width, the outermost levels open-ended (p = 5: strong down, down, flat,
     up, strong up);
   - p = 2: digit 1 = up (r > deadband), 0 = not up.

   A day without a return (a ticker's first day, a NaN) has digit -1, which agrees with nothing.

2. **The window as a p-adic integer.** The k-th p-adic digit of a window is the digit of the
   day k days before its last day: a = sum_k digit(t - k) p^k. Two windows a, b are p-adically
   close when they agree on their most recent days: v = v_p(a - b) is the number of most recent
   days on which their digits agree (the p-adic valuation of the difference), and
   |a - b|_p = p^(-v), with |a - a|_p = 0 (all T digits agree). Recency-weighted similarity:
   agreeing on yesterday matters more than agreeing on a day three weeks ago.

3. **Features.** Per day, the one-hot digit (p channels ``padic_digit_0 .. padic_digit_{p-1}``).
   Per window, the p-adic distance |a - ref|_p to each reference pattern, broadcast over the
   window's days (channels ``padic_dist_<name>``).

**Reference patterns.** The p constant patterns "every day at level L" (L = 0 .. p-1: for
p = 3 "all down", "all flat", "all up") over the whole window. The distance to "all L" is
p^(-run) where run is the number of most recent days in a row at level L (0 when the last day is
at another level; distance 0 when the whole window is at level L), a recency-weighted streak
length. They are fixed in advance, so nothing is fitted on any data (and none on test data),
the features of a window depend on that window alone, and the train / test split needs no
care here. Other fixed patterns can be passed to :func:`padic_features` as ``references``.
"""

from __future__ import annotations

import numpy as np

DEFAULT_P = 3
DEFAULT_DEADBAND = 0.002


def _check_p(p: int) -> int:
    if (
        isinstance(p, bool)
        or not isinstance(p, (int, np.integer))
        or p < 2
        or any(p % q == 0 for q in range(2, int(p**0.5) + 1))
    ):
        raise ValueError(f"p must be a prime number (2, 3, 5, 7, ...), got {p!r}")
    return int(p)


def padic_digits(returns: np.ndarray, p: int = DEFAULT_P, deadband: float = DEFAULT_DEADBAND) -> np.ndarray:
    """Quantise log returns (any shape) into p-adic digits 0..p-1 (int8; -1 where NaN).

    See the module docstring for the levels; digit (p - 1) // 2 is flat for odd p.
    """
    p = _check_p(p)
    if not np.isfinite(deadband) or deadband <= 0:
        raise ValueError(f"deadband must be a positive log return (e.g. 0.002 = 0.2%), got {deadband!r}")
    r = np.asarray(returns, dtype=float)
    valid = ~np.isnan(r)
    r0 = np.where(valid, r, 0.0)
    if p == 2:
        digits = (r0 > deadband).astype(np.int8)
    else:
        h = (p - 1) // 2
        k = np.clip(np.ceil(np.abs(r0) / deadband) - 1, 0, h)
        digits = (h + np.sign(r0) * k).astype(np.int8)
    digits[~valid] = -1
    return digits


def padic_valuation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """v = number of most recent days (from the end of the last axis) on which a and b agree.

    a, b: digit sequences in date order, (..., T), broadcastable. v is in 0..T (T: identical);
    for complete digit sequences it is the p-adic valuation v_p(a - b) of the windows' integers.
    A digit of -1 (no return) agrees with nothing.
    """
    a, b = np.asarray(a), np.asarray(b)
    agree = (a == b) & (a >= 0)
    rev = agree[..., ::-1]
    T = rev.shape[-1]
    return np.where(rev.all(axis=-1), T, np.argmin(rev, axis=-1)).astype(np.int64)


def padic_distance(a: np.ndarray, b: np.ndarray, p: int = DEFAULT_P) -> np.ndarray:
    """|a - b|_p = p^(-v) of two digit sequences (..., T); 0.0 where all T digits agree."""
    p = _check_p(p)
    a, b = np.asarray(a), np.asarray(b)
    v = padic_valuation(a, b)
    T = np.broadcast_shapes(a.shape, b.shape)[-1]
    return np.where(v >= T, 0.0, np.power(float(p), -v.astype(float)))


def padic_to_int(digits: np.ndarray, p: int = DEFAULT_P) -> np.ndarray:
    """The window's p-adic integer sum_k digit(T-1-k) p^k (last day = lowest digit), int64."""
    p = _check_p(p)
    d = np.asarray(digits, dtype=np.int64)[..., ::-1]
    return (d * p ** np.arange(d.shape[-1], dtype=np.int64)).sum(axis=-1)


def reference_patterns(window: int, p: int = DEFAULT_P) -> tuple[np.ndarray, list[str]]:
    """The p constant patterns (p, window) int8 and their names ("all_0" .. "all_{p-1}")."""
    p = _check_p(p)
    refs = np.repeat(np.arange(p, dtype=np.int8)[:, None], window, axis=1)
    return refs, [f"all_{level}" for level in range(p)]


def padic_feature_names(p: int = DEFAULT_P, reference_names: list[str] | None = None) -> list[str]:
    """Channel names of :func:`padic_features`."""
    p = _check_p(p)
    if reference_names is None:
        reference_names = [f"all_{level}" for level in range(p)]
    return [f"padic_digit_{d}" for d in range(p)] + [f"padic_dist_{n}" for n in reference_names]


def padic_features(
    digit_windows: np.ndarray, p: int = DEFAULT_P, references: np.ndarray | None = None, out: np.ndarray | None = None
) -> np.ndarray:
    """P-adic channels of windows of digits.

    digit_windows: (N, T) int digits (from :func:`padic_digits`), date order.
    references: (R, T) fixed digit patterns; default the p constant patterns.
    Returns (N, T, p + R) float32: one-hot digit per day (all zero for digit -1), then the
    distance |window - ref_r|_p broadcast over the T days. ``out`` (N, T, p + R) is filled in
    place when given (e.g. a slice of a bigger feature array).
    """
    p = _check_p(p)
    w = np.asarray(digit_windows)
    if w.ndim != 2:
        raise ValueError(f"digit_windows must be (N, T), got shape {w.shape}")
    n, T = w.shape
    if references is None:
        references, _ = reference_patterns(T, p)
    references = np.asarray(references)
    if references.ndim != 2 or references.shape[1] != T:
        raise ValueError(f"references must be (R, {T}) digit patterns, got shape {references.shape}")
    c = p + len(references)
    if out is None:
        out = np.empty((n, T, c), dtype=np.float32)
    elif out.shape != (n, T, c):
        raise ValueError(f"out must have shape {(n, T, c)}, got {out.shape}")
    for d in range(p):
        out[:, :, d] = w == d
    for r, ref in enumerate(references):
        out[:, :, p + r] = padic_distance(w, ref[None, :], p)[:, None]
    return out
