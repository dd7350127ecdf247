"""Barlow Twins (Zbontar et al., 2021): redundancy reduction between two views.

Algorithm (one step)::

    x = batch[0]
    v1, v2 = views(x)
    z1, z2 = g(f(v1)), g(f(v2))               # shared encoder f, projector g
    loss = barlow_twins(z1, z2, lambd)        # cross-correlation of the batch-standardised
                                              # z1, z2 driven to the identity matrix
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from tsssl.losses import barlow_twins
from tsssl.methods.base import TwoViewFn, TwoViewMethod, split_batch


class BarlowTwins(TwoViewMethod):
    """``lambd`` weighs the off-diagonal (redundancy) terms; projector ``proj_hidden`` ->
    ``proj_dim`` (wide in the paper; small here for windows)."""

    def __init__(
        self,
        encoder: nn.Module,
        views: TwoViewFn | None = None,
        *,
        proj_hidden: int = 128,
        proj_dim: int = 128,
        lambd: float = 5e-3,
    ) -> None:
        super().__init__(encoder, views, proj_hidden=proj_hidden, proj_dim=proj_dim)
        self.lambd = lambd

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        x, _ = split_batch(batch)
        v1, v2 = self.views(x)
        z1, z2 = self.project_views(v1, v2)
        return barlow_twins(z1, z2, lambd=self.lambd)
