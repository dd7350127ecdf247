"""Representation diagnostics during training: alignment and uniformity (Wang & Isola, 2020),
effective rank (Roy & Vetterli, 2007) and a collapse test, and the Trainer callback that tracks
them on a fixed probe batch (the NeurIPS 2021 SSL tutorial's "alignment and uniformity" and
"dimensional collapse").

    diag = Diagnostics(every=50, windows=train.X[:512])   # a fixed probe batch, chosen once
    Trainer(..., callbacks=[diag]).fit(method, train)
    diag.summary()   # {"step": 150, "alignment": 0.41, "uniformity": -3.1, "effective_rank": 17.2,
                     #  "dim": 32, "collapsed": False, ..., "history": [{"step": 50, ...}, ...]}

The functions take (N, D) embeddings (any float dtype, any device) and compute in float32;
alignment and uniformity L2-normalise the rows first. Lower alignment: positive pairs closer;
lower (more negative) uniformity: embeddings spread more evenly over the sphere (0: all one
point; about -4 for points spread evenly in many dimensions at t = 2). Effective rank: between 1 and
min(N, D) for a matrix with any spread, 0 when every row is the same point.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tsssl.train.checkpoint import capture_rng_state, restore_rng_state, seed_everything

#: effective rank under which a representation of at least ``RANK_MIN_DIM`` dimensions counts as
#: collapsed to (about) one direction
RANK_COLLAPSE = 1.5
RANK_MIN_DIM = 4
#: embeddings whose largest distance to their mean is under this fraction of their largest norm
#: count as one point (complete collapse)
SPREAD_RTOL = 1e-3


class CollapseWarning(RuntimeWarning):
    """The representation collapsed (see :func:`collapsed`)."""


def _as_2d(z: Tensor, name: str = "z") -> Tensor:
    """``z`` detached as float32 (N, D); ValueError for another shape."""
    z = torch.as_tensor(z).detach()
    if z.ndim != 2:
        raise ValueError(f"{name} must be (N, D) embeddings, got shape {tuple(z.shape)}")
    return z.float()


def alignment(z1: Tensor, z2: Tensor, alpha: float = 2.0) -> float:
    """E ||f(x) - f(y)||^alpha over the positive pairs (z1[i], z2[i]) of L2-normalised rows.

    z1, z2: (N, D) embeddings of two views of the same N inputs. 0 when the views embed alike,
    at most 2^alpha (opposite points)."""
    z1, z2 = _as_2d(z1, "z1"), _as_2d(z2, "z2")
    if z1.shape != z2.shape or len(z1) == 0:
        raise ValueError(
            f"z1 and z2 must be the same non-empty (N, D) shape, got {tuple(z1.shape)} and {tuple(z2.shape)}"
        )
    d = (F.normalize(z1, dim=1) - F.normalize(z2, dim=1)).norm(dim=1)  # (N,)
    return float(d.pow(alpha).mean())


def uniformity(z: Tensor, t: float = 2.0) -> float:
    """log E exp(-t ||f(x) - f(y)||^2) over all pairs i < j of L2-normalised rows of z (N, D).

    0 when all rows are one point; lower when they spread over the sphere. Needs N >= 2."""
    z = _as_2d(z)
    if len(z) < 2:
        raise ValueError(f"uniformity needs at least 2 embeddings, got {len(z)}")
    sq = torch.pdist(F.normalize(z, dim=1)).pow(2)  # (N(N-1)/2,) squared distances of the pairs i < j
    # log-mean-exp through logsumexp: exp(-t d^2) underflows nowhere near as early
    return float(torch.logsumexp(-t * sq, dim=0) - math.log(sq.numel()))


def effective_rank(z: Tensor) -> float:
    """exp of the entropy of the normalised singular values of the centred z (N, D).

    Roy & Vetterli (2007): p_k = s_k / sum(s), erank = exp(-sum p_k log p_k). Singular values
    at the level of float32 rounding of z (max(N, D) * eps * max|z|) are not directions and are
    left out, so that identical rows give 0 and not the rank of their rounding noise. NaN for
    non-finite z."""
    z = _as_2d(z)
    if not bool(torch.isfinite(z).all()):
        return math.nan
    s = torch.linalg.svdvals(z - z.mean(dim=0, keepdim=True))
    noise = max(z.shape) * torch.finfo(torch.float32).eps * float(z.abs().max()) if z.numel() else 0.0
    s = s[s > noise]
    if s.numel() == 0:
        return 0.0
    p = s / s.sum()
    return float(torch.exp(-(p * p.log()).sum()))


def collapsed(z: Tensor, rank_below: float = RANK_COLLAPSE, rtol: float = SPREAD_RTOL) -> bool:
    """Whether the embeddings z (N, D) collapsed: every row the same point (largest distance to
    the mean <= ``rtol`` x the largest row norm), or, with D >= 4, an effective rank below
    ``rank_below`` (the spread lies along about one direction)."""
    z = _as_2d(z)
    if not bool(torch.isfinite(z).all()):
        return False  # a diverged run is the Trainer's to report
    spread = float((z - z.mean(dim=0, keepdim=True)).norm(dim=1).max()) if len(z) else 0.0
    if spread <= rtol * (float(z.norm(dim=1).max()) if len(z) else 0.0):
        return True
    return z.shape[1] >= RANK_MIN_DIM and effective_rank(z) < rank_below


def describe(d: dict[str, Any] | None) -> str:
    """One line for a summary: "alignment 0.410, uniformity -3.10, effective rank 17.2 of 32"
    (", COLLAPSED" when it is); ``d``: :meth:`Diagnostics.summary` or its final entry plus dim."""
    if not d:
        return "no diagnostics"
    align = "n/a" if d.get("alignment") is None else f"{d['alignment']:.3f}"
    unif = "n/a" if d.get("uniformity") is None else f"{d['uniformity']:.2f}"
    rank = "n/a" if d.get("effective_rank") is None else f"{d['effective_rank']:.1f}"
    of = f" of {d['dim']}" if d.get("dim") else ""
    return f"alignment {align}, uniformity {unif}, effective rank {rank}{of}" + (
        ", COLLAPSED" if d.get("collapsed") else ""
    )


class Diagnostics:
    """Trainer callback: every ``every`` optimiser steps and at the last one, embeds the fixed
    probe batch ``windows`` (N, ...) with ``method.encoder`` (eval mode, no_grad; each module's
    mode restored after) and records uniformity and effective rank of the embeddings and, when
    there are views (``views``, else the method's ``views``), the alignment of two views of the
    batch (made once at the start under a fixed ``seed``, the run's RNG states restored after,
    so they are the same at every measurement and the run draws the same numbers as without
    the callback). Warns (:class:`CollapseWarning`) once per collapse episode, naming the step.

    The measurements go into the log rows (``log_columns``: the latest one taken since the
    previous row, ``diag_step`` being its step; nothing in a row with none), ``history`` (one
    dict per measurement: step, alignment (None without views), uniformity, effective_rank,
    collapsed) and :meth:`summary`. On resume the history is rebuilt from the checkpoint's rows.
    Cost: one forward of N (3N with views) windows, in chunks of ``chunk``, per measurement.
    """

    log_columns = ("diag_step", "alignment", "uniformity", "effective_rank", "collapsed")

    def __init__(
        self,
        every: int = 50,
        windows: Tensor | np.ndarray | None = None,
        views: Callable[[Tensor], tuple[Tensor, Tensor]] | None = None,
        *,
        seed: int = 0,
        chunk: int = 512,
    ) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive int (steps), got {every!r}")
        if windows is None or len(windows) < 2:
            raise ValueError("windows must be a probe batch of at least 2 inputs (e.g. the first 512 training windows)")
        self.every, self.views, self.seed, self.chunk = every, views, int(seed), max(1, int(chunk))
        self.windows = torch.as_tensor(np.asarray(windows) if not isinstance(windows, Tensor) else windows)
        self.history: list[dict[str, Any]] = []
        self.dim: int | None = None
        self._encoder: nn.Module | None = None
        self._inputs: tuple[Tensor, Tensor | None, Tensor | None] | None = None
        self._total = 0
        self._pending: dict[str, Any] | None = None
        self._in_collapse = False

    # -- Trainer hooks ---------------------------------------------------------------------------
    def on_fit_start(self, info: dict[str, Any]) -> None:
        method = info["method"]
        self._encoder = method.encoder
        self._total = int(info["total_steps"])
        device = next(method.parameters()).device
        x = self.windows.to(device)
        views = self.views if self.views is not None else getattr(method, "views", None)
        v1 = v2 = None
        if views is not None:
            state = capture_rng_state()  # the views draw from the global RNGs: put the run's back
            try:
                seed_everything(self.seed)
                v1, v2 = views(x)
            finally:
                restore_rng_state(state)
        self._inputs = (x, v1, v2)
        self.history = [_entry_of_row(r) for r in info.get("history") or [] if r.get("diag_step") is not None]
        self._pending, self._in_collapse = None, False

    def on_step_end(self, step: int) -> None:
        if step % self.every == 0 or step == self._total:
            self.measure(step)

    def log_values(self, step: int) -> dict[str, Any]:
        e, self._pending = self._pending, None
        if e is None:
            return {}
        return {"diag_step": e["step"], **{k: e[k] for k in self.log_columns[1:]}}

    # -- measuring -------------------------------------------------------------------------------
    def measure(self, step: int) -> dict[str, Any]:
        """Embed the probe batch now, record and return the entry of ``step``; warn on collapse."""
        if self._encoder is None or self._inputs is None:
            raise RuntimeError("Diagnostics.measure before on_fit_start (the Trainer calls it)")
        x, v1, v2 = self._inputs
        z = self._embed(x)
        z1, z2 = (self._embed(v1), self._embed(v2)) if v1 is not None else (None, None)
        self.dim = int(z.shape[1])
        entry = {
            "step": int(step),
            "alignment": alignment(z1, z2) if z1 is not None else None,
            "uniformity": uniformity(z),
            "effective_rank": effective_rank(z),
            "collapsed": collapsed(z),
        }
        self.history.append(entry)
        self._pending = entry
        if entry["collapsed"] and not self._in_collapse:
            warnings.warn(
                f"the representation collapsed at step {step}: effective rank "
                f"{entry['effective_rank']:.2f} of {self.dim}, uniformity {entry['uniformity']:.3f} "
                f"on the {len(x)} probe windows",
                CollapseWarning,
                stacklevel=2,
            )
        self._in_collapse = entry["collapsed"]
        return entry

    @torch.no_grad()
    def _embed(self, x: Tensor) -> Tensor:
        """(N, D) float32 embeddings of x by the encoder in eval mode; every module's mode
        restored after (a frozen part kept in eval stays so)."""
        enc = self._encoder
        modes = [(m, m.training) for m in enc.modules()]
        enc.eval()
        try:
            parts = [enc(x[i : i + self.chunk]) for i in range(0, len(x), self.chunk)]
        finally:
            for m, mode in modes:
                m.training = mode
        return torch.cat(parts).reshape(len(x), -1).float()

    # -- results ---------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any] | None:
        """The last measurement with dim (embedding size), n_probe, every and the history; None
        before any measurement."""
        if not self.history:
            return None
        return {
            **self.history[-1],
            "dim": self.dim,
            "n_probe": len(self.windows),
            "every": self.every,
            "history": [dict(e) for e in self.history],
        }


def _entry_of_row(row: dict[str, Any]) -> dict[str, Any]:
    """A history entry back from a log row's diagnostics columns (a resumed run)."""
    return {
        "step": int(row["diag_step"]),
        "alignment": row.get("alignment"),
        "uniformity": row.get("uniformity"),
        "effective_rank": row.get("effective_rank"),
        "collapsed": bool(row.get("collapsed")),
    }
