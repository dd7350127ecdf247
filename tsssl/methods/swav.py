"""SwAV (Caron et al., 2020): "Unsupervised Learning of Visual Features by Contrasting Cluster
Assignments", on windows.

Algorithm (one step)::

    with no_grad: C <- normalize(C)           # prototypes: (K, D) rows on the unit sphere
    x = batch[0]                              # (B, T, C) windows; labels unused
    v1, v2 = views(x)                         # two random augmentations (the full-length crops)
    s_1.., s_n = views(subwindows(x))[0]      # optional multi-crop: n shorter random sub-windows
    z = normalize(g(f(v)))  for every view    # encoder f, MLP projector g
    scores = z C^T                            # (V, B, K) cosine to each prototype
    with no_grad, for the two full views i:   # codes from the full views only
        q_i = sinkhorn([queue_i C^T; scores_i] / epsilon)[-B:]   # equal partition, 3 iterations
    loss = mean_i mean_{v != i} CE(q_i, softmax(scores_v / temperature))   # swapped prediction
    queue_i.enqueue(z_i)                      # optional: earlier embeddings for small batches

Multi-crop: the small crops are contiguous random sub-windows of ``small_crop_ratio * T`` days
(start uniform), cut out and NOT stretched back to T: they are encoded at their own length,
which every window encoder accepts (its representation pools or reads the last step) and
which is what makes them cheap, as SwAV's 96-pixel crops are next to its 224-pixel ones. They
then get the first view's augmentation. Their scores are predicted towards the full views'
codes; they never provide codes. ``self.encoder`` (f) is the representation kept.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tsssl.losses.clustering import sinkhorn, swapped_prediction
from tsssl.losses.queue import MemoryQueue
from tsssl.methods.base import TwoViewFn, TwoViewMethod, split_batch


def random_subwindows(x: Tensor, length: int, n: int, *, generator: torch.Generator | None = None) -> Tensor:
    """n random contiguous sub-windows of ``length`` steps of every window: (B, T, C) -> (n * B, length, C).

    Row ``j * B + b`` is crop j of window b (crop-major, so the scores reshape to (n, B, K)); each
    start is uniform over 0..T - length. One gather, no loop over windows.
    """
    B, T, C = x.shape
    if not 1 <= length <= T:
        raise ValueError(f"random_subwindows: length must be in 1..T={T}, got {length}")
    start = torch.randint(T - length + 1, (n * B, 1), device=x.device, generator=generator)
    steps = start + torch.arange(length, device=x.device)  # (n*B, length)
    return torch.gather(x.repeat(n, 1, 1), 1, steps.unsqueeze(-1).expand(-1, -1, C))


class SwAV(TwoViewMethod):
    """Online clustering with swapped prediction.

    encoder: (B, T, C) -> (B, encoder.out_dim); projector ``proj_hidden`` -> ``proj_dim``;
    ``n_prototypes`` K prototypes (a linear layer without bias, rows renormalised at every step);
    codes from ``sinkhorn_iters`` Sinkhorn-Knopp iterations at ``epsilon``; predictions
    softmax(scores / ``temperature``). ``queue_size`` > 0 keeps that many earlier projections
    per full view for the Sinkhorn step, used from step ``queue_start`` on (SwAV's remedy for
    small batches: the equal partition is then over B + queue samples). The prototypes take no
    gradient for the first ``freeze_prototypes_steps`` steps (the paper's first epoch).
    ``n_small_crops`` extra sub-windows of ``small_crop_ratio`` of the window per sample.
    """

    step: Tensor

    def __init__(
        self,
        encoder: nn.Module,
        views: TwoViewFn | None = None,
        *,
        proj_hidden: int = 128,
        proj_dim: int = 64,
        n_prototypes: int = 64,
        temperature: float = 0.1,
        epsilon: float = 0.05,
        sinkhorn_iters: int = 3,
        queue_size: int = 0,
        queue_start: int = 0,
        freeze_prototypes_steps: int = 0,
        n_small_crops: int = 0,
        small_crop_ratio: float = 0.5,
    ) -> None:
        super().__init__(encoder, views, proj_hidden=proj_hidden, proj_dim=proj_dim)
        for name, value, least in (("n_prototypes", n_prototypes, 1), ("queue_size", queue_size, 0),
                                   ("n_small_crops", n_small_crops, 0)):  # fmt: skip
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"SwAV: {name} must be an int >= {least}, got {value!r}")
        if not 0.0 < small_crop_ratio <= 1.0:
            raise ValueError(f"SwAV: small_crop_ratio must be in (0, 1], got {small_crop_ratio!r}")
        self.prototypes = nn.Linear(proj_dim, n_prototypes, bias=False)
        self.temperature, self.epsilon, self.sinkhorn_iters = temperature, epsilon, sinkhorn_iters
        self.queue_start, self.freeze_prototypes_steps = queue_start, freeze_prototypes_steps
        self.n_small_crops, self.small_crop_ratio = n_small_crops, small_crop_ratio
        # one queue per view that gives codes, as in the paper
        self.queues = nn.ModuleList([MemoryQueue(queue_size, proj_dim) for _ in range(2)] if queue_size else [])
        self.register_buffer("step", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def normalize_prototypes(self) -> None:
        """C <- C / ||C|| row-wise: scores are cosines (the paper does it before each step)."""
        w = self.prototypes.weight
        w.copy_(F.normalize(w, dim=1))

    def scores(self, z: Tensor, frozen: bool = False) -> Tensor:
        """Cosine of each normalised projection to each prototype: (..., proj_dim) -> (..., K)."""
        w = self.prototypes.weight
        return F.linear(z, w.detach() if frozen else w)

    def codes(self, z: Tensor, view: int, use_queue: bool) -> Tensor:
        """Sinkhorn codes of one full view from its projections z (B, D): (B, K), no gradient.

        The scores are recomputed in float32 (autocast off): the codes are targets, and bf16
        cosines divided by a small epsilon would be coarse. With the queue, the queued
        projections are scored by the current prototypes and share the equal partition; only
        the batch's own rows are returned. z then joins the queue.
        """
        with torch.no_grad(), torch.autocast(z.device.type, enabled=False):
            z = z.detach().float()
            points = torch.cat([self.queues[view].keys(), z]) if use_queue else z
            q = sinkhorn(F.linear(points, self.prototypes.weight.float()), self.epsilon, self.sinkhorn_iters)
            if self.queues:
                self.queues[view].enqueue(z)
        return q[-len(z) :]

    def embed_views(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Normalised projections of every view: (2 + n_small_crops, B, D) stacked, and the
        two full views' projections (2, B, D)."""
        v1, v2 = self.views(x)
        z = F.normalize(self.project(torch.cat([v1, v2])), dim=-1).unflatten(0, (2, -1))
        if self.n_small_crops == 0:
            return z, z
        length = max(1, math.ceil(self.small_crop_ratio * x.shape[1] - 1e-9))
        crops = self.views(random_subwindows(x, length, self.n_small_crops))[0]
        z_small = F.normalize(self.project(crops), dim=-1).unflatten(0, (self.n_small_crops, -1))
        return torch.cat([z, z_small]), z

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        self.normalize_prototypes()  # before the forward pass: the codes see unit prototypes
        x, _ = split_batch(batch)
        step = int(self.step) if (self.queues or self.freeze_prototypes_steps) else 0
        self.step += 1
        z_all, z_full = self.embed_views(x)
        scores = self.scores(z_all, frozen=step < self.freeze_prototypes_steps)  # (V, B, K)
        use_queue = bool(self.queues) and step >= self.queue_start
        q = torch.stack([self.codes(z_full[i], i, use_queue) for i in range(2)])
        return swapped_prediction(scores, q, self.temperature)
