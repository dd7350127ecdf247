"""Base rate and precision per group of test windows (per ticker, per calendar year).

    rows = breakdown(y, groups=tickers, calls={"LSTM": calls_lstm, "SiamCL": calls_siamcl})

A method's precision in a group is aggregated over seeds as in the report: the mean over the
seeds that call a window of the group of that seed's precision there; its calls are the mean
number of windows called per seed. Group sums are bincounts, no loop over windows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from tsssl.evaluate.paired import _seed_mean


def years_of(dates: Any) -> np.ndarray:
    """(N,) dates (datetime64 or ISO strings) -> (N,) int64 calendar years."""
    d = np.asarray(dates).astype("datetime64[D]")
    return d.astype("datetime64[Y]").astype(np.int64) + 1970


def group_counts(y: Any, calls: Any, groups: Any) -> dict[str, np.ndarray]:
    """Per group: ``group`` (G,) the sorted distinct labels, ``n`` and ``n_pos`` (G,) windows and
    rises, and per seed ``calls`` and ``hits`` (S, G). y, groups: (N,); calls: (S, N) 0/1."""
    y = np.asarray(y, dtype=np.int64).reshape(-1)
    c = np.atleast_2d(np.asarray(calls, dtype=np.int64))
    g = np.asarray(groups)
    if g.shape != y.shape or c.shape[1] != y.size:
        raise ValueError(f"groups {g.shape} and calls {c.shape} must cover the {y.size} windows of y")
    labels, inv = np.unique(g, return_inverse=True)
    inv, n_groups = inv.reshape(-1), labels.size
    # one bincount over (seed, group) pairs for all seeds at once
    flat = (inv[None, :] + n_groups * np.arange(c.shape[0])[:, None]).ravel()
    size = n_groups * c.shape[0]
    return {
        "group": labels,
        "n": np.bincount(inv, minlength=n_groups),
        "n_pos": np.bincount(inv, weights=y, minlength=n_groups).astype(np.int64),
        "calls": np.bincount(flat, weights=c.ravel(), minlength=size).reshape(c.shape[0], n_groups),
        "hits": np.bincount(flat, weights=(c * y).ravel(), minlength=size).reshape(c.shape[0], n_groups),
    }


def breakdown(y: Any, groups: Any, calls: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per group, in sorted order: ``group``, ``n``, ``n_pos``, ``base_rate`` and for each
    name of ``calls`` (name -> (S, N) 0/1 calls per seed) ``{precision, calls, n_seeds_defined}``
    (precision: seed-mean over the seeds with a call in the group, NaN with none)."""
    if not calls:
        raise ValueError("breakdown needs the calls of at least one method, got none")
    counts = {name: group_counts(y, c, groups) for name, c in calls.items()}
    first = next(iter(counts.values()))
    rows = [
        {"group": first["group"][i].item(), "n": int(first["n"][i]), "n_pos": int(first["n_pos"][i])}
        for i in range(first["group"].size)
    ]
    for row in rows:
        row["base_rate"] = row["n_pos"] / row["n"]
    for name, cnt in counts.items():
        with np.errstate(invalid="ignore", divide="ignore"):
            prec = np.where(cnt["calls"] > 0, cnt["hits"] / cnt["calls"], np.nan)  # (S, G)
        mean_prec, defined, mean_calls = _seed_mean(prec), np.isfinite(prec).sum(axis=0), cnt["calls"].mean(axis=0)
        for i, row in enumerate(rows):
            row[name] = {
                "precision": float(mean_prec[i]),
                "calls": float(mean_calls[i]),
                "n_seeds_defined": int(defined[i]),
            }
    return rows
