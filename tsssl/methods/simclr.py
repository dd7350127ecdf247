"""SimCLR (Chen et al., 2020): "A Simple Framework for Contrastive Learning of Visual
Representations", on windows (or images: pass an image encoder and image views).

Algorithm (one step)::

    x = batch[0]                              # (B, ...) inputs; labels unused
    v1, v2 = views(x)                         # two random augmentations
    h1, h2 = f(v1), f(v2)                     # encoder (the representation)
    z1, z2 = g(h1), g(h2)                     # 2-layer MLP projection head
    loss = nt_xent(z1, z2, temperature)       # positives: the other view; negatives: 2B - 2

``tau_plus`` / ``beta`` (0: off, the plain NT-Xent): the debiased (Chuang et al. 2020) /
hardness-weighted (Robinson et al. 2021) negative term of ``tsssl.losses.info_nce``.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from tsssl.losses import nt_xent
from tsssl.losses.info_nce import check_hard_negatives
from tsssl.methods.base import TwoViewFn, TwoViewMethod, split_batch


class SimCLR(TwoViewMethod):
    """encoder: (B, ...) -> (B, encoder.out_dim); projection ``proj_hidden`` -> ``proj_dim``;
    ``tau_plus`` (class prior, [0, 1)) and ``beta`` (hardness, >= 0) for hard negatives."""

    def __init__(
        self,
        encoder: nn.Module,
        views: TwoViewFn | None = None,
        *,
        proj_hidden: int = 128,
        proj_dim: int = 64,
        temperature: float = 0.5,
        tau_plus: float = 0.0,
        beta: float = 0.0,
    ) -> None:
        check_hard_negatives(tau_plus, beta)
        super().__init__(encoder, views, proj_hidden=proj_hidden, proj_dim=proj_dim)
        self.temperature = temperature
        self.tau_plus, self.beta = tau_plus, beta

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        x, _ = split_batch(batch)
        v1, v2 = self.views(x)
        z1, z2 = self.project_views(v1, v2)
        return nt_xent(z1, z2, temperature=self.temperature, tau_plus=self.tau_plus, beta=self.beta)
