"""SimSiam (Chen & He, 2021): "Exploring Simple Siamese Representation Learning".

Algorithm (one step)::

    x = batch[0]
    v1, v2 = views(x)
    z1, z2 = g(f(v1)), g(f(v2))               # one encoder f + projector g for both views
    p1, p2 = h(z1), h(z2)                     # predictor h
    loss = (negative_cosine(p1, stopgrad(z2)) + negative_cosine(p2, stopgrad(z1))) / 2
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from tsssl.encoders import PredictionHead
from tsssl.losses import negative_cosine
from tsssl.methods.base import TwoViewFn, TwoViewMethod, split_batch


class SimSiam(TwoViewMethod):
    """No negatives, no momentum encoder: the stop-gradient prevents collapse."""

    def __init__(
        self,
        encoder: nn.Module,
        views: TwoViewFn | None = None,
        *,
        proj_hidden: int = 128,
        proj_dim: int = 64,
        pred_hidden: int = 32,
    ) -> None:
        super().__init__(encoder, views, proj_hidden=proj_hidden, proj_dim=proj_dim)
        self.predictor = PredictionHead(proj_dim, pred_hidden, proj_dim)  # bottleneck, as in the paper

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        x, _ = split_batch(batch)
        v1, v2 = self.views(x)
        z1, z2 = self.project_views(v1, v2)
        p1, p2 = self.predictor(z1), self.predictor(z2)
        # negative_cosine stops the gradient through its second argument; detach says so here too
        return 0.5 * (negative_cosine(p1, z2.detach()) + negative_cosine(p2, z1.detach()))
