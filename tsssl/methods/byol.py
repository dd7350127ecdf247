"""BYOL (Grill et al., 2020): "Bootstrap Your Own Latent", no negatives.

Algorithm (one step)::

    x = batch[0]
    v1, v2 = views(x)
    p1 = q(g(f(v1))); p2 = q(g(f(v2)))        # online: encoder f, projector g, predictor q
    with no_grad: t1 = g'(f'(v1)); t2 = g'(f'(v2))   # target: EMA of (f, g), no predictor
    loss = (negative_cosine(p1, t2) + negative_cosine(p2, t1)) / 2     # symmetric
    # after the optimiser step the Trainer applies (f', g') <- m (f', g') + (1 - m) (f, g)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from tsssl.encoders import PredictionHead
from tsssl.losses import negative_cosine
from tsssl.methods.base import TwoViewFn, TwoViewMethod, frozen_copy, split_batch


class BYOL(TwoViewMethod):
    """Online (encoder, projector, predictor) and a momentum target (encoder, projector)."""

    def __init__(
        self,
        encoder: nn.Module,
        views: TwoViewFn | None = None,
        *,
        proj_hidden: int = 128,
        proj_dim: int = 64,
        pred_hidden: int = 128,
        momentum: float = 0.99,
    ) -> None:
        super().__init__(encoder, views, proj_hidden=proj_hidden, proj_dim=proj_dim)
        self.predictor = PredictionHead(proj_dim, pred_hidden, proj_dim)
        self.target_encoder = frozen_copy(self.encoder)
        self.target_projector = frozen_copy(self.projector)
        self.base_momentum = momentum

    def momentum_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        return [(self.encoder, self.target_encoder), (self.projector, self.target_projector)]

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        x, _ = split_batch(batch)
        v1, v2 = self.views(x)
        v = torch.cat([v1, v2])  # one pass through each network for both views
        p1, p2 = self.predictor(self.project(v)).chunk(2)
        with torch.no_grad():
            t1, t2 = self.target_projector(self.target_encoder(v)).chunk(2)
        return 0.5 * (negative_cosine(p1, t2) + negative_cosine(p2, t1))
