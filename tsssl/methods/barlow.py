"""Barlow Twins (Zbontar et al., 2021): redundancy reduction between two views.

Algorithm (one step)::

    x = batch[0]
    v1, v2 = views(x)
    z1, z2 = g(f(v1)), g(f(v2))               # shared encoder f, projector g
    loss = barlow_twins(z1, z2, lambd)        # cross-correlation of the batch-standardised
                                              # z1, z2 driven to the identity matrix
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor, nn

from tsssl.augment import default_timeseries_views
from tsssl.encoders import ProjectionHead
from tsssl.losses import barlow_twins
from tsssl.methods.base import Method
from tsssl.methods.siamcl import TwoViewFn, split_batch


class BarlowTwins(Method):
    """``lambd`` weighs the off-diagonal (redundancy) terms; projector ``proj_hidden`` ->
    ``proj_dim`` (wide in the paper; small here for windows)."""

    def __init__(self, encoder: nn.Module, views: Optional[TwoViewFn] = None, *,
                 proj_hidden: int = 128, proj_dim: int = 128, lambd: float = 5e-3) -> None:
        super().__init__()
        self.encoder = encoder
        self.projector = ProjectionHead(encoder.out_dim, proj_hidden, proj_dim)
        self.views = views if views is not None else default_timeseries_views()
        self.lambd = lambd

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        x, _ = split_batch(batch)
        v1, v2 = self.views(x)
        z1, z2 = self.projector(self.encoder(torch.cat([v1, v2]))).chunk(2)
        return barlow_twins(z1, z2, lambd=self.lambd)
