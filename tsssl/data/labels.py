"""The strict k-day rise label (docs/design.md, "Label")."""

from __future__ import annotations

import numpy as np


def strict_rise_label(close: np.ndarray, horizon: int = 5) -> np.ndarray:
    """y[t] = 1.0 iff close[t] < close[t+1] < ... < close[t+horizon], else 0.0.

    close: (n,) or (n_series, n_days) closes of one ticker per row, in date order (the label
    runs along the last axis). Ties are not rises. The last ``horizon`` positions have no
    known future and are NaN (never 0). A NaN close makes every label that reads it NaN.
    Returns float64 of close's shape.
    """
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"horizon must be an integer >= 1 (days of strict rise), got {horizon!r}")
    close = np.asarray(close, dtype=float)
    if close.ndim not in (1, 2):
        raise ValueError(f"close must be (n,) or (n_series, n_days), got shape {close.shape}")
    n = close.shape[-1]
    y = np.full(close.shape, np.nan)
    if n <= horizon:
        return y
    up = close[..., 1:] > close[..., :-1]  # (.., n-1): day d+1 closes above day d
    unknown = np.isnan(close[..., 1:]) | np.isnan(close[..., :-1])
    # rises in a row ending at each step, via a cumulative count of rises per prefix
    csum = np.concatenate([np.zeros(close.shape[:-1] + (1,)), np.cumsum(up, axis=-1)], axis=-1)
    nan_sum = np.concatenate([np.zeros(close.shape[:-1] + (1,)), np.cumsum(unknown, axis=-1)], axis=-1)
    m = n - horizon  # positions with a full future
    rises = csum[..., horizon : horizon + m] - csum[..., :m]
    gaps = nan_sum[..., horizon : horizon + m] - nan_sum[..., :m]
    y[..., :m] = np.where(gaps > 0, np.nan, (rises == horizon).astype(float))
    return y
