"""Exact binomial intervals where the block bootstrap of a proportion degenerates.

A proportion hits / trials (precision = hits / calls, recall = hits / rises) has a degenerate
bootstrap when no resample can change it: with no hit every replicate is 0, with every trial a
hit every replicate is 1, and the percentile interval collapses to a point ("0.0% [0.0–0.0]").
There the report gives the Clopper–Pearson interval instead (see docs/design.md, "Intervals"),
and with no trial at all the proportion and its interval are undefined.

Over several seeds (``hits``, ``trials``: (S,) counts) the proportion is degenerate when every
seed with a trial has no hit (or only hits); the interval is then that of the seed-mean counts.
Those edge bounds have the closed forms 1 - (a/2)^(1/n) and (a/2)^(1/n), valid for a real n.
The binomial interval treats the calls as independent; calls on overlapping windows are not, so
it is, if anything, too narrow, but it is never the empty interval of the degenerate bootstrap.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: what a degenerate proportion is called in a record (``<metric>_ci_kind``)
EXACT_NOTE = "exact binomial interval (Clopper–Pearson): bootstrap degenerate"


def _check_ci(ci: float) -> float:
    if not 0.0 < ci < 1.0:
        raise ValueError(f"ci must be in (0, 1), e.g. 0.95, got {ci}")
    return (1.0 - ci) / 2.0


def _binom_cdf(x: int, n: int, p: float) -> float:
    """P(X <= x) for X ~ Binomial(n, p), summed in log space (n up to millions)."""
    if x < 0:
        return 0.0
    if x >= n:
        return 1.0
    k = np.arange(x + 1)
    logc = math.lgamma(n + 1) - np.array([math.lgamma(i + 1) + math.lgamma(n - i + 1) for i in k])
    logp = logc + k * math.log(p) + (n - k) * math.log1p(-p)
    return float(np.exp(logp).sum())


def _bisect(f: Any, target: float) -> float:
    """p in (0, 1) with f(p) = target for f decreasing in p (50 halvings: below 1e-15)."""
    lo, hi = 0.0, 1.0
    for _ in range(50):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if f(mid) > target else (lo, mid)
    return (lo + hi) / 2


def clopper_pearson(hits: float, trials: float, ci: float = 0.95) -> tuple[float, float]:
    """Equal-tailed exact binomial interval of hits / trials; (NaN, NaN) with no trial.

    hits = 0 or hits = trials use the closed forms (any real trials > 0, e.g. a mean over
    seeds); between them hits and trials must be whole counts.
    """
    a = _check_ci(ci)
    if trials < 0 or hits < 0 or hits > trials:
        raise ValueError(f"need 0 <= hits <= trials, got hits={hits}, trials={trials}")
    if trials == 0:
        return math.nan, math.nan
    if hits == 0:
        return 0.0, 1.0 - a ** (1.0 / trials)
    if hits == trials:
        return a ** (1.0 / trials), 1.0
    if hits != int(hits) or trials != int(trials):
        raise ValueError(f"between the edges hits and trials must be whole counts, got {hits}, {trials}")
    x, n = int(hits), int(trials)
    low = _bisect(lambda p: _binom_cdf(x - 1, n, p), 1.0 - a)  # P(X >= x) = a
    high = _bisect(lambda p: _binom_cdf(x, n, p), a)  # P(X <= x) = a
    return low, high


def degenerate(hits: Any, trials: Any) -> str | None:
    """Why the bootstrap of hits / trials (over seeds, (S,) counts) is degenerate: "no trials",
    "no hit", "all hits"; None when it is not."""
    h, t = np.asarray(hits, dtype=np.float64).reshape(-1), np.asarray(trials, dtype=np.float64).reshape(-1)
    if h.shape != t.shape:
        raise ValueError(f"hits {h.shape} and trials {t.shape} must have one count per seed each")
    some = t > 0
    if not some.any():
        return "no trials"
    if (h[some] == 0).all():
        return "no hit"
    if (h[some] == t[some]).all():
        return "all hits"
    return None


def edge_interval(hits: Any, trials: Any, ci: float = 0.95) -> tuple[float, float, str] | None:
    """(low, high, reason) of a degenerate proportion over seeds, None when not degenerate: the
    Clopper–Pearson interval of the mean counts over the seeds with a trial, NaN with none."""
    reason = degenerate(hits, trials)
    if reason is None:
        return None
    t = np.asarray(trials, dtype=np.float64).reshape(-1)
    some = t > 0
    if not some.any():
        return math.nan, math.nan, reason
    mean_t = float(t[some].mean())
    mean_h = 0.0 if reason == "no hit" else mean_t
    low, high = clopper_pearson(mean_h, mean_t, ci)
    return low, high, reason


def exact_where_degenerate(
    out: dict[str, Any], tp: Any, calls: Any, pos: Any, base: float, ci: float = 0.95
) -> dict[str, Any]:
    """Replace in ``out`` the ``<metric>_ci_low`` / ``_high`` of precision (tp / calls), recall
    (tp / pos) and lift (precision / base) by exact intervals where degenerate, and add
    ``ci_kind``: metric -> "bootstrap" | "exact" | "undefined" and ``ci_degenerate``: metric ->
    reason. tp, calls, pos: (S,) counts per seed. Returns ``out``."""
    kinds: dict[str, str] = {}
    reasons: dict[str, str] = {}
    for name, trials in (("precision", calls), ("recall", pos)):
        edge = edge_interval(tp, trials, ci)
        kinds[name] = "bootstrap" if edge is None else ("undefined" if math.isnan(edge[0]) else "exact")
        if edge is not None:
            out[f"{name}_ci_low"], out[f"{name}_ci_high"], reasons[name] = edge
    kinds["lift"] = kinds["precision"]
    if kinds["precision"] != "bootstrap":
        reasons["lift"] = reasons["precision"]
        scale = base if base and math.isfinite(base) else math.nan
        out["lift_ci_low"], out["lift_ci_high"] = out["precision_ci_low"] / scale, out["precision_ci_high"] / scale
    out["ci_kind"], out["ci_degenerate"] = kinds, reasons
    return out
