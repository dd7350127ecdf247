"""Distance-margin losses: pair contrastive (Hadsell et al.), triplet, lifted structured; and the
logistic triplet of T-Loss (Franceschi et al.), on dot products.

Euclidean distances ``d = sqrt(max(|a - b|^2, 1e-12))`` (the floor keeps the gradient finite
when two embeddings coincide). Computed in float32 (float64 inputs stay float64), autocast off.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ._checks import (
    as_float,
    check_labels,
    check_nonempty,
    check_nonnegative,
    check_same_shape,
    check_tensor,
    float32_region,
)
from .gather import all_reduce_sum, combine_partial, gather_sizes, is_distributed, offset
from .gather import gather as _gather

_FLOOR = 1e-12
# Stands in for log(0) = -inf where a logsumexp has no terms: finite, so no NaN gradients.
_LOG_ZERO = -1e30


def _dist(sq: Tensor) -> Tensor:
    return sq.clamp_min(_FLOOR).sqrt()


def contrastive_pair(z1: Tensor, z2: Tensor, same: Tensor, margin: float = 1.0) -> Tensor:
    """Pair contrastive loss with margin (Hadsell, Chopra & LeCun 2006); mean over pairs.

    z1, z2: (B, D); same: (B,) bool or 0/1 (1 = similar pair). With d = |z1_i - z2_i|::

        loss_i = same_i * d^2 + (1 - same_i) * max(0, margin - d)^2

    (without the paper's 1/2 factors). A per-pair loss: under DDP it returns the local mean.
    """
    check_tensor("z1", z1, 2, "a 2-D Tensor (B, D)")
    check_tensor("z2", z2, 2, "a 2-D Tensor (B, D)")
    check_same_shape("z1", z1, "z2", z2)
    check_nonempty("z1", z1, "2-D Tensor (B, D)")
    check_labels(same, z1.shape[0], name="same", against="z1")
    check_nonnegative(margin, "margin")
    with float32_region(z1):
        a, b = as_float(z1, z2)
        s = same.to(device=a.device, dtype=a.dtype)
        sq = (a - b).pow(2).sum(dim=-1)
        return (s * sq + (1 - s) * F.relu(margin - _dist(sq)).pow(2)).mean()


def triplet_margin(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0) -> Tensor:
    """Triplet margin loss ``mean_i max(0, d(a_i, p_i) - d(a_i, n_i) + margin)``, Euclidean d.

    anchor, positive, negative: (B, D). A per-triplet loss: under DDP the local mean.
    """
    for name, x in (("anchor", anchor), ("positive", positive), ("negative", negative)):
        check_tensor(name, x, 2, "a 2-D Tensor (B, D)")
    check_same_shape("anchor", anchor, "positive", positive)
    check_same_shape("anchor", anchor, "negative", negative)
    check_nonempty("anchor", anchor, "2-D Tensor (B, D)")
    check_nonnegative(margin, "margin")
    with float32_region(anchor):
        a, p, n = as_float(anchor, positive, negative)
        d_ap = _dist((a - p).pow(2).sum(dim=-1))
        d_an = _dist((a - n).pow(2).sum(dim=-1))
        return F.relu(d_ap - d_an + margin).mean()


def triplet_logistic(anchor: Tensor, positive: Tensor, negatives: Tensor, negative_weight: float = 1.0) -> Tensor:
    """T-Loss's logistic triplet (Franceschi, Dieuleveut & Jaggi, NeurIPS 2019); mean over anchors.

    anchor, positive: (B, D); negatives: (B, K, D), K >= 1 negatives per anchor. On raw dot
    products (the paper's form, no normalisation, no temperature)::

        loss_i = -log sigma(a_i . p_i) - negative_weight * sum_k log sigma(-a_i . n_ik)

    ``negative_weight`` 1 is the paper's equation; 1 / K is its official code's weighting. Each
    term is a softplus (-log sigma(s) = softplus(-s)), so large scores never overflow. A
    per-anchor loss: under DDP the local mean.
    """
    check_tensor("anchor", anchor, 2, "a 2-D Tensor (B, D)")
    check_tensor("positive", positive, 2, "a 2-D Tensor (B, D)")
    check_same_shape("anchor", anchor, "positive", positive)
    check_nonempty("anchor", anchor, "2-D Tensor (B, D)")
    B, D = anchor.shape
    check_tensor("negatives", negatives, 3, f"a 3-D Tensor (B, K, D) = ({B}, K, {D})")
    if negatives.shape[0] != B or negatives.shape[2] != D or negatives.shape[1] < 1:
        raise ValueError(f"negatives must have shape (B, K, D) = ({B}, K >= 1, {D}), got {tuple(negatives.shape)}")
    check_nonnegative(negative_weight, "negative_weight")
    with float32_region(anchor):
        a, p, n = as_float(anchor, positive, negatives)
        s_pos = (a * p).sum(dim=-1)  # (B,)
        s_neg = torch.einsum("bd,bkd->bk", a, n)  # (B, K)
        return (F.softplus(-s_pos) + negative_weight * F.softplus(s_neg).sum(dim=1)).mean()


def _pairwise_sq(a: Tensor, b: Tensor) -> Tensor:
    """|a_i - b_j|^2 (n, m), never negative."""
    return (a.pow(2).sum(-1)[:, None] + b.pow(2).sum(-1)[None, :] - 2 * a @ b.T).clamp_min(0)


def lifted_structured(embeddings: Tensor, labels: Tensor, margin: float = 1.0, *, gather: bool = True) -> Tensor:
    """Lifted structured loss (Oh Song et al., CVPR 2016) over all pairs of the batch.

    embeddings: (B, D); labels: (B,). With Euclidean D_ij, positive pairs P = {i, j} (i != j,
    same label, unordered) and negatives N(i) = {k : label_k != label_i}::

        J_ij = log( sum_{k in N(i)} exp(margin - D_ik) + sum_{l in N(j)} exp(margin - D_jl) ) + D_ij
        loss = 1 / (2 |P|) * sum_{{i,j} in P} max(0, J_ij)^2

    (the paper's normalisation; the log-sum-exp is computed as such, never exp-then-log). A
    batch without positive pairs gives 0 (zero gradient). Under torch.distributed the pairs and
    negatives span the global batch (rows gathered with gradients; see
    :mod:`tsssl.losses.gather`).
    """
    check_tensor("embeddings", embeddings, 2, "a 2-D Tensor (B, D)")
    check_nonempty("embeddings", embeddings, "2-D Tensor (B, D)")
    check_labels(labels, embeddings.shape[0])
    check_nonnegative(margin, "margin")
    with float32_region(embeddings):
        x = as_float(embeddings)
        y = labels.to(x.device)
        use = gather and is_distributed()
        if use:
            sizes = gather_sizes(x.shape[0], x.device)
            x_all, _ = _gather(x, sizes)
            y_all, _ = _gather(y, sizes, grad=False)
            off = offset(sizes)
        else:
            x_all, y_all, off = x, y, 0
        n, N = x.shape[0], x_all.shape[0]
        dist = _dist(_pairwise_sq(x, x_all))  # (n, N): local rows vs the global batch
        same = y[:, None] == y_all[None, :]
        is_self = torch.arange(N, device=x.device)[None, :] == (torch.arange(n, device=x.device) + off)[:, None]
        pos, neg = same & ~is_self, ~same
        has_neg = neg.any(dim=1)
        # rows with no negative: neutral logits (keeps the graph finite), then log(0) stand-in
        neg_logits = torch.where(neg, margin - dist, torch.full_like(dist, float("-inf")))
        neg_logits = torch.where(has_neg[:, None], neg_logits, torch.zeros_like(dist))
        lse = torch.where(has_neg, torch.logsumexp(neg_logits, dim=1), torch.full_like(dist[:, 0], _LOG_ZERO))
        lse_all = _gather(lse, sizes)[0] if use else lse  # every row's negative term, with grads
        j = torch.logaddexp(lse[:, None], lse_all[None, :]) + dist
        hinge = torch.where(pos, F.relu(j), torch.zeros_like(j)).pow(2)
        # each unordered pair appears twice among the ordered (i, j) of all ranks
        n_ordered = all_reduce_sum(pos.sum()) if use else pos.sum()
        part = hinge.sum() / (2 * n_ordered.clamp_min(1))
        return combine_partial(part) if gather else part
