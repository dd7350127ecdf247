"""Unsupervised SimCSE (Gao et al., 2021): "Simple Contrastive Learning of Sentence Embeddings".

Algorithm (one step)::

    t = batch[0]                              # (B, L) token ids of B sentences
    h1 = f(t); h2 = f(t)                      # the same sentences twice: two dropout masks are
                                              # the only "augmentation" (encoder in train mode)
    z1, z2 = g(h1), g(h2)                     # optional MLP projector (training only)
    loss = info_nce(z1, z2, temperature=0.05) # positive: the other dropout view of the same
                                              # sentence; negatives: the other B - 1 sentences
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from tsssl.losses import info_nce
from tsssl.methods.base import Method, split_batch


class SimCSE(Method):
    """encoder: ids (B, L) -> (B, out_dim) with dropout > 0; ``projector`` a one-hidden-layer
    MLP (Linear, Tanh as in the paper, Linear) or none; cosine similarity / ``temperature``."""

    def __init__(self, encoder: nn.Module, *, temperature: float = 0.05, projector: bool = True) -> None:
        super().__init__()
        if not any(isinstance(m, nn.Dropout) and m.p > 0 for m in encoder.modules()):
            raise ValueError("SimCSE: the encoder has no dropout > 0; its two views would be identical")
        self.encoder = encoder
        d = encoder.out_dim
        self.projector = nn.Sequential(nn.Linear(d, d), nn.Tanh(), nn.Linear(d, d)) if projector else nn.Identity()
        self.temperature = temperature

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        ids, _ = split_batch(batch)
        z1, z2 = self.projector(self.encoder(torch.cat([ids, ids]))).chunk(2)  # one pass, two masks
        return info_nce(z1, z2, temperature=self.temperature)
