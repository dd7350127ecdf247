"""The WindowSet: labelled windows of scale-free features, one row per (ticker, end date)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from tsssl.data.windowviews import WindowViews


@dataclass
class WindowSet:
    """Windows and their labels.

    X: (N, window, C) float32 scale-free features (an ndarray, or :class:`WindowViews` gathering
    the windows from the per-day array on demand); y: (N,) int64 strict-rise label (0/1);
    end_date: (N,) datetime64[ns], the window's last day t; ticker: (N,) str;
    feature_names: C names; synthetic: (N,) bool, True for rows made by SMOTE (they have no
    real date or ticker of their own); meta: how the set was built (window, horizon,
    features, split and rebalance settings), carried along for reports;
    label_end_date: (N,) datetime64[ns], the date of day t + horizon of the window's ticker
    (the last close its label reads), used to purge training windows whose label reaches into
    a test period; None when unknown (a hand-made set), NaT for SMOTE rows.
    """

    X: np.ndarray | WindowViews
    y: np.ndarray
    end_date: np.ndarray
    ticker: np.ndarray
    feature_names: list[str]
    synthetic: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    label_end_date: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.X)
        if self.synthetic is None:
            self.synthetic = np.zeros(n, dtype=bool)
        names = ("y", "end_date", "ticker", "synthetic")
        if self.label_end_date is not None:
            names += ("label_end_date",)
        for name in names:
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"WindowSet.{name} has {len(getattr(self, name))} rows but X has {n}; "
                    "all per-window arrays must have the same length"
                )
        if self.X.ndim != 3:
            raise ValueError(f"WindowSet.X must be (N, window, C), got shape {self.X.shape}")
        if self.X.shape[2] != len(self.feature_names):
            raise ValueError(f"WindowSet.X has {self.X.shape[2]} channels but {len(self.feature_names)} feature_names")

    def __len__(self) -> int:
        return len(self.X)

    @property
    def n_positive(self) -> int:
        return int(self.y.sum())

    @property
    def base_rate(self) -> float:
        """Share of positive (strict-rise) windows; NaN for an empty set."""
        return float(self.y.mean()) if len(self.y) else float("nan")

    def subset(self, index: np.ndarray) -> WindowSet:
        """Rows `index` (integer positions or a boolean mask), metadata kept; views stay views
        (sharing the per-day array)."""
        index = np.asarray(index)
        return replace(
            self,
            X=self.X.take(index) if isinstance(self.X, WindowViews) else self.X[index],
            y=self.y[index],
            end_date=self.end_date[index],
            ticker=self.ticker[index],
            synthetic=self.synthetic[index],
            meta=dict(self.meta),
            label_end_date=None if self.label_end_date is None else self.label_end_date[index],
        )

    def with_meta(self, **meta: Any) -> WindowSet:
        """A shallow copy with `meta` updated (arrays shared, not copied)."""
        return replace(self, meta={**self.meta, **meta})
