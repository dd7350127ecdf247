"""TS2Vec's hierarchical contrastive loss (Yue et al., AAAI 2022, "TS2Vec: Towards Universal
Representation of Time Series"), on per-step representations of two views.

z1, z2: (B, T, D), z1[i, t] and z2[i, t] the representations of series i at the same time step in
two contexts (two overlapping crops). Similarities are plain dot products, no temperature.

* instance-wise, at each step t: the positive of z1[i, t] is z2[i, t]; the negatives are the
  other series at step t, in both views (2B - 2)::

      l_inst(i, t) = -log exp(z1_it . z2_it) / sum_j [exp(z1_it . z2_jt) + 1(j != i) exp(z1_it . z1_jt)]

* temporal, in each series i: the positive of z1[i, t] is z2[i, t]; the negatives are the other
  steps of the same series, in both views (2T - 2)::

      l_temp(i, t) = -log exp(z1_it . z2_it) / sum_s [exp(z1_it . z2_is) + 1(s != t) exp(z1_it . z1_is)]

  Both are averaged over every anchor in both directions (z1 -> z2 and z2 -> z1). With B = 1
  the instance term is 0 (no negative), with T = 1 the temporal term is 0. The temporal term can
  be averaged over a random subset of anchor steps (``max_anchors``): each anchor's term is
  exact (all 2T - 2 negatives), so the mean over a uniform subset estimates the full mean
  without bias, at a cost linear in T rather than quadratic.
* hierarchical: ``alpha * l_inst + (1 - alpha) * l_temp`` at every scale, the representations
  max-pooled over pairs of steps (kernel 2, stride 2; an odd last step dropped) between scales
  until one step is left; at that last scale the instance term alone. The temporal term counts
  from scale ``temporal_unit`` on. The sum is divided by the number of scales.

All three compute in float32 (float64 inputs stay float64) with autocast off, through
log-softmax. They are per-rank: under DDP the negatives are the local batch's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from tsssl.checks import check_positive

from ._checks import as_float, check_nonempty, check_same_shape, check_tensor, float32_region


def _check_pair(z1: object, z2: object) -> None:
    for name, z in (("z1", z1), ("z2", z2)):
        check_tensor(name, z, 3, "a 3-D Tensor (B, T, D) of per-step representations")
        check_nonempty(name, z, "3-D Tensor (B, T, D)")
    check_same_shape("z1", z1, "z2", z2)


def _paired_nll(z: Tensor, anchors: Tensor | None = None) -> Tensor:
    """z: (G, 2n, D), rows k and n + k a positive pair in each group; every other row of the
    group a negative. Mean over the anchors (rows k and n + k for k in ``anchors`` (K,) long;
    None: all 2n rows) and the G groups of -log softmax at the positive."""
    n = z.shape[1] // 2
    k = torch.arange(n, device=z.device) if anchors is None else anchors.to(z.device)
    rows = torch.cat([k, k + n])  # (2K,) the anchors' rows
    partner = torch.cat([k + n, k])  # k <-> n + k
    sim = (z if anchors is None else z[:, rows]) @ z.transpose(1, 2)  # (G, 2K, 2n); no copy of z for all rows
    itself = rows[:, None] == torch.arange(2 * n, device=z.device)  # (2K, 2n): an anchor is not its own negative
    logp = F.log_softmax(sim.masked_fill(itself, float("-inf")), dim=-1)
    return -logp.gather(-1, partner.expand(z.shape[0], -1)[..., None]).mean()


def instance_contrastive(z1: Tensor, z2: Tensor) -> Tensor:
    """The instance-wise term: at each step, the same series in the other view against the
    other series of the batch; scalar, 0 when B = 1."""
    _check_pair(z1, z2)
    with float32_region(z1):
        a, b = as_float(z1, z2)
        if a.shape[0] == 1:
            return a.new_zeros(())
        return _paired_nll(torch.cat([a, b], dim=0).transpose(0, 1))  # (T, 2B, D)


def temporal_contrastive(z1: Tensor, z2: Tensor, anchors: Tensor | None = None) -> Tensor:
    """The temporal term: in each series, the same step in the other view against its other
    steps; scalar, 0 when T = 1. anchors: (K,) long, distinct steps in [0, T): the term averaged
    over these anchor steps only (in both directions; every step stays a negative); None: all."""
    _check_pair(z1, z2)
    with float32_region(z1):
        a, b = as_float(z1, z2)
        if a.shape[1] == 1:
            return a.new_zeros(())
        return _paired_nll(torch.cat([a, b], dim=1), anchors)  # (B, 2T, D)


def sample_anchors(T: int, max_anchors: int | None, generator: torch.Generator | None = None) -> Tensor | None:
    """``max_anchors`` distinct steps of [0, T) uniformly at random (sorted, CPU long), or None
    (every step) when ``max_anchors`` is None or at least T."""
    if max_anchors is None or T <= max_anchors:
        return None
    return torch.randperm(T, generator=generator)[:max_anchors].sort().values


def _halve(z: Tensor) -> Tensor:
    """Max-pool over pairs of steps: (B, T, D) -> (B, T // 2, D)."""
    return F.max_pool1d(z.transpose(1, 2), kernel_size=2).transpose(1, 2)


def hierarchical_contrastive(
    z1: Tensor,
    z2: Tensor,
    alpha: float = 0.5,
    temporal_unit: int = 0,
    max_anchors: int | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """TS2Vec's loss: both terms at every scale of repeated max-pooling (kernel 2) over time,
    averaged over the scales; scalar. alpha in [0, 1]: weight of the instance term;
    temporal_unit >= 0: the first scale with a temporal term; max_anchors: at a scale with more
    steps, the temporal term is averaged over that many anchor steps drawn at random
    (``sample_anchors``, with ``generator``): an unbiased estimate of the term at a cost
    proportional to max_anchors * T instead of T^2 (None: every step, TS2Vec's)."""
    _check_pair(z1, z2)
    check_positive(max_anchors, "max_anchors", allow_none=True)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not (0.0 <= alpha <= 1.0):
        raise ValueError(f"alpha must be a number in [0, 1], got {alpha!r}")
    if isinstance(temporal_unit, bool) or not isinstance(temporal_unit, int) or temporal_unit < 0:
        raise ValueError(f"temporal_unit must be a non-negative integer, got {temporal_unit!r}")
    with float32_region(z1):
        a, b = as_float(z1, z2)
        loss, scales = a.new_zeros(()), 0
        while a.shape[1] > 1:
            if alpha > 0:
                loss = loss + alpha * instance_contrastive(a, b)
            if scales >= temporal_unit and alpha < 1:
                anchors = sample_anchors(a.shape[1], max_anchors, generator)
                loss = loss + (1 - alpha) * temporal_contrastive(a, b, anchors)
            a, b, scales = _halve(a), _halve(b), scales + 1
        if alpha > 0:
            loss = loss + alpha * instance_contrastive(a, b)
        return loss / (scales + 1)
