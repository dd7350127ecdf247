"""SiamCL: the talk's Siamese contrastive network on price windows.

Algorithm (one step)::

    x, y = batch                              # x: (B, T, C) windows, y: (B,) labels (optional)
    v1, v2 = views(x)                         # two random augmentations of every window
    z1 = g(f(v1)); z2 = g(f(v2))              # ONE shared encoder f and projection head g
    loss = nt_xent(z1, z2)                    # "nt_xent": the other 2B - 2 views are negatives
         | contrastive_pair([z1; z1], [z2; z2[perm]], same=[1; 0])   # "pair_margin"
         | supcon([z1; z2], [y; y])           # supervised=True and labels given

The pair-margin form is the classic Siamese loss: a positive pair (two views of one window)
is pulled together, a negative pair (a view of another window of the batch, by a random
derangement) is pushed beyond ``margin``; embeddings are L2-normalised first so the margin is
on the unit sphere. ``self.encoder`` (f) is the representation used downstream.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tsssl import losses
from tsssl.methods.base import TwoViewFn, TwoViewMethod, split_batch

LOSSES = ("nt_xent", "pair_margin")


def derangement(n: int, device: torch.device | str | None = None) -> Tensor:
    """A random permutation of range(n) with no fixed point (a cyclic shift by 1..n-1)."""
    if n < 2:
        raise ValueError(f"a negative pair needs at least 2 windows in the batch, got {n}")
    shift = torch.randint(1, n, (1,), device=device)  # no host sync
    return (torch.arange(n, device=device) + shift) % n


class SiamCL(TwoViewMethod):
    """Siamese contrastive learning with one shared encoder.

    encoder: (B, T, C) -> (B, encoder.out_dim); views: x -> (v1, v2) (default
    ``default_timeseries_views()``); projection head ``proj_hidden`` -> ``proj_dim``;
    loss "nt_xent" (``temperature``) or "pair_margin" (``margin``); ``supervised=True`` uses
    SupCon with the batch's labels when the batch carries them.
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: TwoViewFn | None = None,
        *,
        proj_hidden: int = 64,
        proj_dim: int = 32,
        loss: str = "nt_xent",
        temperature: float = 0.2,
        margin: float = 1.0,
        supervised: bool = False,
    ) -> None:
        if loss not in LOSSES:
            raise ValueError(f"SiamCL: unknown loss {loss!r}; accepted: {', '.join(LOSSES)}")
        super().__init__(encoder, views, proj_hidden=proj_hidden, proj_dim=proj_dim)
        self.loss, self.temperature, self.margin = loss, temperature, margin
        self.supervised = supervised

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        x, y = split_batch(batch)
        v1, v2 = self.views(x)
        z1, z2 = self.project_views(v1, v2)
        if self.supervised and y is not None:
            return losses.supcon(torch.cat([z1, z2]), torch.cat([y, y]), temperature=self.temperature)
        if self.loss == "nt_xent":
            return losses.nt_xent(z1, z2, temperature=self.temperature)
        z1, z2 = F.normalize(z1, dim=-1), F.normalize(z2, dim=-1)
        negatives = z2[derangement(len(z2), z2.device)]
        same = torch.cat([torch.ones(len(z1), device=z1.device), torch.zeros(len(z1), device=z1.device)])
        return losses.contrastive_pair(torch.cat([z1, z1]), torch.cat([z2, negatives]), same, margin=self.margin)
