"""MoCo v2 (He et al., 2020; Chen et al., 2020): momentum contrast with a queue of negatives.

Algorithm (one step)::

    x = batch[0]
    v1, v2 = views(x)
    q = g_q(f_q(v1))                          # query: encoder + MLP head, trained by gradient
    with no_grad: k = g_k(f_k(v2))            # key: momentum copies (EMA of f_q, g_q)
    keys = [k; queue]                         # (B + Q, D): positives first, then old keys
    loss = info_nce(q, keys, positive_mask=[I_B | 0], temperature)
    queue.enqueue(k)                          # after the loss, so a key never meets itself
    # after the optimiser step the Trainer applies f_k <- m f_k + (1 - m) f_q (momentum_pairs)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tsssl.losses import MemoryQueue, info_nce
from tsssl.methods.base import TwoViewFn, TwoViewMethod, frozen_copy, split_batch


def moco_positive_mask(batch_size: int, n_keys: int, device: torch.device | str | None = None) -> Tensor:
    """(B, K) bool: query i's positive is key i (the first B keys); the rest are negatives."""
    mask = torch.zeros(batch_size, n_keys, dtype=torch.bool, device=device)
    mask[:, :batch_size].fill_diagonal_(True)
    return mask


class MoCo(TwoViewMethod):
    """MoCo v2. ``queue_size`` negative keys of ``proj_dim`` features, ``temperature`` 0.2,
    key-encoder momentum ``base_momentum`` (raised to 1 over the run by the Trainer)."""

    def __init__(
        self,
        encoder: nn.Module,
        views: TwoViewFn | None = None,
        *,
        proj_hidden: int = 128,
        proj_dim: int = 64,
        queue_size: int = 4096,
        temperature: float = 0.2,
        momentum: float = 0.99,
    ) -> None:
        super().__init__(encoder, views, proj_hidden=proj_hidden, proj_dim=proj_dim)
        self.key_encoder = frozen_copy(self.encoder)
        self.key_projector = frozen_copy(self.projector)
        self.queue = MemoryQueue(queue_size, proj_dim)
        self.temperature = temperature
        self.base_momentum = momentum

    def momentum_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        return [(self.encoder, self.key_encoder), (self.projector, self.key_projector)]

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        x, _ = split_batch(batch)
        v1, v2 = self.views(x)
        q = self.project(v1)
        with torch.no_grad():
            k = self.key_projector(self.key_encoder(v2))
        k = F.normalize(k.float(), dim=-1)  # float32 under autocast too, like the queue
        keys = torch.cat([k, self.queue.keys()])
        loss = info_nce(q, keys, moco_positive_mask(len(q), len(keys), q.device), self.temperature)
        self.queue.enqueue(k)
        return loss
