"""Figures of the precision report, rendered off-screen as base64 PNGs for a self-contained HTML.

Every function returns the PNG as a base64 string (``<img src="data:image/png;base64,...">``).
Figures are made with ``matplotlib.figure.Figure`` and the Agg canvas directly, so no pyplot
state and no display backend are touched (safe in notebooks and on headless machines).
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def _figure(n_panels: int = 1, width: float = 4.2, height: float = 3.4, max_cols: int = 3):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = max(1, n_panels)
    cols = min(max_cols, n)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(width * cols, height * rows), dpi=90)
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(n)]
    return fig, axes


def fig_to_base64(fig) -> str:
    """A matplotlib Figure as a base64-encoded PNG."""
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _empty(message: str) -> str:
    fig, (ax,) = _figure(1)
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center")
    return fig_to_base64(fig)


def pr_curve(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(recall, precision) at every distinct threshold, from the highest score down."""
    from tsssl.evaluate.threshold import threshold_curve

    c = threshold_curve(y, score)
    return c["recall"], c["precision"]


def pr_curves_figure(y: np.ndarray, curves: Mapping[str, Mapping[str, np.ndarray]]) -> str:
    """One panel per method (``curves``: method -> {cell label -> (N,) test scores}), a
    precision-recall curve per cell and the base rate as a dashed line."""
    if not curves:
        return _empty("no runs")
    y = np.asarray(y)
    base = float(y.mean()) if y.size else math.nan
    fig, axes = _figure(len(curves))
    for ax, (method, cells) in zip(axes, curves.items()):
        if y.sum() == 0:
            ax.text(0.5, 0.5, "no positive test window", ha="center", va="center")
        for label, score in cells.items():
            if y.sum() == 0:
                break
            r, p = pr_curve(y, score)
            ax.step(np.r_[0.0, r], np.r_[p[0], p], where="post", lw=1.2, label=label)
        ax.axhline(base, ls="--", c="k", lw=1, label=f"base rate {base:.1%}")
        ax.set(title=method, xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1))
        ax.legend(fontsize=7, loc="upper right")
    return fig_to_base64(fig)


def precision_ci_figure(
    records: Sequence[Mapping[str, Any]],
    method_labels: Mapping[str, str] | None = None,
    feature_labels: Mapping[str, str] | None = None,
) -> str:
    """Precision per cell with its CI as error bars, one marker series per method, the cells
    (features x rebalance) along x; the base rate dashed; the rebalanced-test precision as
    hollow markers."""
    if not records:
        return _empty("no cells")
    method_labels, feature_labels = method_labels or {}, feature_labels or {}
    cols = list(dict.fromkeys((r["features"], r["rebalance"]) for r in records))
    methods = list(dict.fromkeys(r["method"] for r in records))
    fig, (ax,) = _figure(1, width=max(6.0, 1.1 * len(cols) + 2), height=4.0)
    width = 0.8 / max(1, len(methods))

    def val(v: Any) -> float:
        return math.nan if v is None else float(v)

    for i, m in enumerate(methods):
        recs = {(r["features"], r["rebalance"]): r for r in records if r["method"] == m}
        x = np.arange(len(cols)) + (i - (len(methods) - 1) / 2) * width
        p = np.array([val(recs.get(c, {}).get("precision")) for c in cols])
        lo = np.array([val(recs.get(c, {}).get("precision_ci_low")) for c in cols])
        hi = np.array([val(recs.get(c, {}).get("precision_ci_high")) for c in cols])
        bp = np.array([val(recs.get(c, {}).get("balanced_precision")) for c in cols])
        err = np.vstack([np.clip(p - lo, 0, None), np.clip(hi - p, 0, None)])
        line = ax.errorbar(
            x, p, yerr=np.nan_to_num(err), fmt="o", capsize=3, label=f"{method_labels.get(m, m)} precision"
        )
        ax.scatter(
            x,
            bp,
            marker="o",
            facecolors="none",
            edgecolors=line[0].get_color(),
            label=f"{method_labels.get(m, m)} on a 1:1 test set",
        )
    base = [val(r.get("base_rate")) for r in records]
    ax.axhline(float(np.nanmean(base)), ls="--", c="k", lw=1, label="base rate")
    ax.set_xticks(np.arange(len(cols)))
    ax.set_xticklabels([f"{feature_labels.get(f, f)}\n{r.upper()}" for f, r in cols])
    ax.set(ylabel="precision", ylim=(0, 1))
    ax.legend(fontsize=7, loc="upper left", ncol=2)
    return fig_to_base64(fig)


def projection_figure(
    y: np.ndarray, projections: Mapping[str, np.ndarray], max_points: int = 3000, seed: int = 0
) -> str:
    """One panel per representation (``projections``: title -> (N, 2) coordinates), windows
    coloured by label (rises drawn on top); at most ``max_points`` non-rises drawn (random subset)."""
    if not projections:
        return _empty("no representations")
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    neg, pos = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
    if neg.size > max_points:
        neg = np.sort(rng.choice(neg, max_points, replace=False))
    fig, axes = _figure(len(projections), width=3.6, height=3.2, max_cols=4)
    for ax, (title, xy) in zip(axes, projections.items()):
        xy = np.asarray(xy)
        ax.scatter(xy[neg, 0], xy[neg, 1], s=3, c="#9aa5b1", alpha=0.5, label="no strict rise")
        ax.scatter(xy[pos, 0], xy[pos, 1], s=8, c="#d62728", alpha=0.9, label="strict rise")
        ax.set(title=title, xticks=[], yticks=[], xlabel="PC 1", ylabel="PC 2")
    axes[0].legend(fontsize=7, loc="best")
    return fig_to_base64(fig)


def loss_curves_figure(histories: Mapping[str, Sequence[Mapping[str, Any]]]) -> str:
    """Training loss against optimiser step, one line per run (``histories``: label -> the
    Trainer's history rows with ``step`` and ``loss``); supervised and self-supervised losses
    are on different scales, so one panel per method family (the label's text before " · ")."""
    rows = {k: v for k, v in histories.items() if v}
    if not rows:
        return _empty("no training history")
    groups: dict[str, dict[str, Sequence[Mapping[str, Any]]]] = {}
    for label, hist in rows.items():
        groups.setdefault(label.split(" · ")[0], {})[label] = hist
    fig, axes = _figure(len(groups))
    for ax, (family, runs) in zip(axes, groups.items()):
        for label, hist in runs.items():
            steps = [h["step"] for h in hist]
            loss = [h["loss"] for h in hist]
            ax.plot(steps, loss, marker="." if len(steps) < 4 else None, lw=1.2, label=label)
        ax.set(title=family, xlabel="step", ylabel="training loss")
        ax.legend(fontsize=7)
    return fig_to_base64(fig)
