"""Label-aware in-batch losses: supervised contrastive (SupCon) and soft nearest neighbours.

Both treat every sample of the batch as an anchor against all *other* samples (itself
excluded); under torch.distributed (world size > 1, ``gather=True``) the others are the
global batch, gathered with gradients (see :mod:`tsssl.losses.gather`). Anchors with no other
sample of their class are ignored; the mean is over the anchors that have one (a batch where
no anchor has one gives 0 with zero gradient).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ._checks import as_float, check_labels, check_nonempty, check_temperature, check_tensor, float32_region
from .gather import all_reduce_sum, combine_partial, gather_sizes, is_distributed, offset
from .gather import gather as _gather


def _global(x: Tensor, y: Tensor, use: bool) -> tuple[Tensor, Tensor, int]:
    if use and is_distributed():
        sizes = gather_sizes(x.shape[0], x.device)
        x_all, _ = _gather(x, sizes)
        y_all, _ = _gather(y, sizes, grad=False)
        return x_all, y_all, offset(sizes)
    return x, y, 0


def _anchor_masks(y: Tensor, y_all: Tensor, off: int) -> tuple[Tensor, Tensor, Tensor]:
    """(is_self, positives, has_positive) for local anchors (n,) against the batch (N,)."""
    n, N = y.shape[0], y_all.shape[0]
    is_self = torch.arange(N, device=y.device)[None, :] == (torch.arange(n, device=y.device) + off)[:, None]
    pos = (y[:, None] == y_all[None, :]) & ~is_self
    return is_self, pos, pos.any(dim=1)


def _mean_over_anchors(row_loss: Tensor, has_pos: Tensor, use: bool) -> Tensor:
    total = torch.where(has_pos, row_loss, torch.zeros_like(row_loss)).sum()
    count = all_reduce_sum(has_pos.sum()) if use and is_distributed() else has_pos.sum()
    part = total / count.clamp_min(1)
    return combine_partial(part) if use else part


def _flatten_views(embeddings: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    if embeddings.ndim == 3:  # (B, V, D) views of the same sample share its label
        B, V, D = embeddings.shape
        return embeddings.reshape(B * V, D), labels.repeat_interleave(V)
    return embeddings, labels


def supcon(
    embeddings: Tensor, labels: Tensor, temperature: float = 0.1, *, normalize: bool = True, gather: bool = True
) -> Tensor:
    """Supervised contrastive loss (Khosla et al. 2020), the paper's "L_out"; mean over anchors.

    embeddings: (B, D), or (B, V, D) for V views per sample (flattened; views share the label);
    labels: (B,). Cosine similarity (``normalize=True``) over ``temperature``; for anchor i with
    positives P(i) = {p != i : y_p = y_i} and A(i) = all samples but i::

        loss_i = -1/|P(i)| * sum_{p in P(i)} log( exp(s_ip) / sum_{a in A(i)} exp(s_ia) )

    (no ``temperature / base_temperature`` rescaling). SimCLR's two views: pass
    ``torch.cat([z1, z2])`` with ``torch.cat([y, y])``; with all labels distinct this is
    exactly :func:`nt_xent`.
    """
    check_tensor("embeddings", embeddings, (2, 3), "a Tensor (B, D) or (B, V, D)")
    check_nonempty("embeddings", embeddings, "Tensor (B, D) or (B, V, D)")
    check_labels(labels, embeddings.shape[0])
    check_temperature(temperature)
    with float32_region(embeddings):
        x, y = _flatten_views(as_float(embeddings), labels.to(embeddings.device))
        if normalize:
            x = F.normalize(x, dim=-1)
        x_all, y_all, off = _global(x, y, gather)
        is_self, pos, has_pos = _anchor_masks(y, y_all, off)
        logits = (x @ x_all.T / temperature).masked_fill(is_self, float("-inf"))
        # anchors without positive (possibly alone in the batch): neutral row, excluded below
        logits = torch.where(has_pos[:, None], logits, torch.zeros_like(logits))
        logp = F.log_softmax(logits, dim=1)
        row = -torch.where(pos, logp, torch.zeros_like(logp)).sum(dim=1) / pos.sum(dim=1).clamp_min(1)
        return _mean_over_anchors(row, has_pos, gather)


def soft_nearest_neighbors(
    embeddings: Tensor, labels: Tensor, temperature: float = 1.0, *, gather: bool = True
) -> Tensor:
    """Soft nearest neighbour loss (Frosst, Papernot & Hinton 2019); mean over anchors.

    embeddings: (B, D); labels: (B,). With squared Euclidean distances and T = temperature::

        loss_i = -log( sum_{j != i, y_j = y_i} exp(-|x_i - x_j|^2 / T)
                       / sum_{k != i} exp(-|x_i - x_k|^2 / T) )

    computed as a difference of log-sum-exps. Low when classes are well separated.
    """
    check_tensor("embeddings", embeddings, 2, "a 2-D Tensor (B, D)")
    check_nonempty("embeddings", embeddings, "2-D Tensor (B, D)")
    check_labels(labels, embeddings.shape[0])
    check_temperature(temperature)
    with float32_region(embeddings):
        x, y = as_float(embeddings), labels.to(embeddings.device)
        x_all, y_all, off = _global(x, y, gather)
        is_self, pos, has_pos = _anchor_masks(y, y_all, off)
        sq = (x.pow(2).sum(-1)[:, None] + x_all.pow(2).sum(-1)[None, :] - 2 * x @ x_all.T).clamp_min(0)
        logits = torch.where(has_pos[:, None], -sq / temperature, torch.zeros_like(sq))
        minus_inf = torch.full_like(logits, float("-inf"))
        log_num = torch.logsumexp(torch.where(pos | ~has_pos[:, None], logits, minus_inf), dim=1)
        log_den = torch.logsumexp(torch.where(~is_self | ~has_pos[:, None], logits, minus_inf), dim=1)
        return _mean_over_anchors(log_den - log_num, has_pos, gather)
