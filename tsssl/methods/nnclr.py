"""NNCLR (Dwibedi et al., ICCV 2021): "With a Little Help from My Friends: Nearest-Neighbor
Contrastive Learning of Visual Representations", on windows.

The positive of a view is not the other view itself but the nearest neighbour of its
projection in a support set Q of past projections, so that positives carry more variation
than the augmentations alone give.

Algorithm (one step, the paper's pseudo-code)::

    x = batch[0]                              # (B, T, C) windows; labels unused
    v1, v2 = views(x)
    z1, z2 = g(f(v1)), g(f(v2))               # encoder f, projection MLP g
    p1, p2 = h(z1), h(z2)                     # prediction MLP h
    nn1 = NN(normalise(z1), Q)                # top-1 cosine neighbour in the support set, no gradient
    nn2 = NN(normalise(z2), Q)
    loss = L(nn1, p2) / 2 + L(nn2, p1) / 2    # L(nn, p) = cross_entropy(nn @ p.T / tau, arange(B))
    Q.enqueue(normalise(z1))                  # FIFO: the last Q projections of view 1, after the loss

``nearest_neighbour`` and ``nnclr_loss`` live in :mod:`tsssl.losses.neighbours`; the support set
is a :class:`tsssl.losses.MemoryQueue` (MoCo's), so checkpoints carry it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tsssl.encoders import PredictionHead
from tsssl.losses.neighbours import nearest_neighbour, nnclr_loss
from tsssl.losses.queue import MemoryQueue
from tsssl.methods.base import TwoViewFn, TwoViewMethod, split_batch


class NNCLR(TwoViewMethod):
    """Encoder f, projector g (``proj_hidden`` -> ``proj_dim``), predictor h (``pred_hidden``),
    support set of ``queue_size`` normalised projections, InfoNCE ``temperature``."""

    def __init__(
        self,
        encoder: nn.Module,
        views: TwoViewFn | None = None,
        *,
        proj_hidden: int = 128,
        proj_dim: int = 64,
        pred_hidden: int = 128,
        queue_size: int = 4096,
        temperature: float = 0.1,
    ) -> None:
        super().__init__(encoder, views, proj_hidden=proj_hidden, proj_dim=proj_dim)
        self.predictor = PredictionHead(proj_dim, pred_hidden, proj_dim)
        self.support = MemoryQueue(queue_size, proj_dim)
        self.temperature = temperature

    def support_set(self, z1: Tensor) -> Tensor:
        """The support set Q (count, D); at the very first step, while Q is still empty, the
        batch's own normalised z1, as if it had been enqueued before the lookup."""
        return self.support.keys() if len(self.support) else z1

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        x, _ = split_batch(batch)
        v1, v2 = self.views(x)
        z1, z2 = self.project_views(v1, v2)  # (B, proj_dim) each, one pass over 2B views
        p1, p2 = self.predictor(torch.cat([z1, z2])).chunk(2)
        # the support set holds float32 unit vectors (also under autocast), without gradient
        z1n, z2n = (F.normalize(z.detach().float(), dim=-1) for z in (z1, z2))
        support = self.support_set(z1n)
        nn1, nn2 = nearest_neighbour(z1n, support), nearest_neighbour(z2n, support)
        loss = nnclr_loss(p1, p2, nn1, nn2, temperature=self.temperature)
        self.support.enqueue(z1n)  # after the lookup: the batch's neighbours come from past steps
        return loss
