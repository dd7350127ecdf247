"""SiamCL: the talk's Siamese contrastive network on price windows.

Algorithm (one step)::

    x, y = batch                              # x: (B, T, C) windows, y: (B,) labels (optional)
    v1, v2 = views(x)                         # two random augmentations of every window
    z1 = g(f(v1)); z2 = g(f(v2))              # ONE shared encoder f and projection head g
    ids = [0, 1, ..., B - 1]                  # each window its own class (y when supervised)
    loss = pair_loss(z1, z2, ids)             # any pair loss of tsssl.losses, chosen by ``loss``

How each ``loss`` forms its pairs from the two views (pi: a random derangement of the batch,
:func:`derangement`, so pi(i) != i; "unit" means L2-normalised first, so margins and distances
live on the unit sphere; t = ``temperature``, m = ``margin``):

====================== =====================================================================
``loss``               pairs / triplets
====================== =====================================================================
nt_xent (default)      every one of the 2B views is a query: positive its partner view, the
                       other 2B - 2 views negatives (SimCLR); ``tau_plus`` / ``beta`` apply
info_nce               query z1_i, keys z2: positive z2_i, negatives z2_j (j != i); and the
                       same with the views swapped, the two directions averaged (as CLIP);
                       ``tau_plus`` / ``beta`` apply
supcon                 the 2B views labelled [ids; ids]: positives the views of the same class
                       (with ids: the partner view, which makes it NT-Xent again)
pair_margin            unit; positive pairs (z1_i, z2_i), negative pairs (z1_i, z2_pi(i)),
                       ``contrastive_pair`` with margin m (the talk's Siamese loss)
contrastive_pair       the same as pair_margin (the library's name for it)
triplet_margin         unit; anchor z1_i, positive z2_i, negative z2_pi(i), margin m
n_pair                 raw projections; anchor z1_i, positive z2_i, negatives z2_j (j != i),
                       with the paper's embedding penalty ``l2_reg``
lifted_structured      unit; the 2B views labelled [ids; ids]: each positive pair against all
                       the views of other classes, margin m
soft_nearest_neighbors unit; the 2B views labelled [ids; ids], squared distances over t
====================== =====================================================================

``supervised=True`` with labels in the batch: the label-aware losses (supcon,
lifted_structured, soft_nearest_neighbors) take the labels y as classes instead of ids; any
other ``loss`` is replaced by SupCon with the labels. ``self.encoder`` (f) is the
representation used downstream.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tsssl import losses
from tsssl.losses.info_nce import check_hard_negatives
from tsssl.methods.base import TwoViewFn, TwoViewMethod, split_batch
from tsssl.registry import SIAMCL_LOSSES

#: the ``loss`` names SiamCL accepts, in the order of the module docstring's table (kept in the
#: registry, so that the configuration checks them without importing torch)
LOSSES = SIAMCL_LOSSES
#: losses that read classes: with ``supervised=True`` they take the batch's labels
LABEL_AWARE = ("supcon", "lifted_structured", "soft_nearest_neighbors")
#: losses with the debiased / hardness-weighted negative term (``tau_plus``, ``beta``)
HARD_NEGATIVE_LOSSES = ("nt_xent", "info_nce")


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
    ``loss``: one of :data:`LOSSES` (how each pairs the views: module docstring), with
    ``temperature`` (nt_xent, info_nce, supcon, soft_nearest_neighbors), ``margin``
    (pair_margin / contrastive_pair, triplet_margin, lifted_structured), ``l2_reg`` (n_pair) and
    ``tau_plus`` / ``beta`` (nt_xent, info_nce; 0: off); ``supervised=True`` uses the batch's
    labels when the batch carries them.
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
        l2_reg: float = 0.002,
        tau_plus: float = 0.0,
        beta: float = 0.0,
        supervised: bool = False,
    ) -> None:
        if loss not in LOSSES:
            raise ValueError(f"SiamCL: unknown loss {loss!r}; accepted: {', '.join(LOSSES)}")
        check_hard_negatives(tau_plus, beta)
        if (tau_plus or beta) and loss not in HARD_NEGATIVE_LOSSES:
            raise ValueError(f"SiamCL: tau_plus / beta apply to loss {' or '.join(HARD_NEGATIVE_LOSSES)}, not {loss!r}")
        super().__init__(encoder, views, proj_hidden=proj_hidden, proj_dim=proj_dim)
        self.loss, self.temperature, self.margin, self.l2_reg = loss, temperature, margin, l2_reg
        self.tau_plus, self.beta = tau_plus, beta
        self.supervised = supervised

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        x, y = split_batch(batch)
        v1, v2 = self.views(x)
        z1, z2 = self.project_views(v1, v2)
        if self.supervised and y is not None:
            if self.loss in LABEL_AWARE:
                return self.pair_loss(z1, z2, y)
            return losses.supcon(torch.cat([z1, z2]), torch.cat([y, y]), temperature=self.temperature)
        return self.pair_loss(z1, z2, torch.arange(len(z1), device=z1.device))

    def pair_loss(self, z1: Tensor, z2: Tensor, classes: Tensor) -> Tensor:
        """The chosen loss of the two views z1, z2: (B, D) of windows of class ``classes`` (B,)."""
        return _PAIR_LOSSES[self.loss](self, z1, z2, classes)

    def _nt_xent(self, z1: Tensor, z2: Tensor, classes: Tensor) -> Tensor:
        return losses.nt_xent(z1, z2, temperature=self.temperature, tau_plus=self.tau_plus, beta=self.beta)

    def _info_nce(self, z1: Tensor, z2: Tensor, classes: Tensor) -> Tensor:
        kw = {"temperature": self.temperature, "tau_plus": self.tau_plus, "beta": self.beta}
        return 0.5 * (losses.info_nce(z1, z2, **kw) + losses.info_nce(z2, z1, **kw))

    def _supcon(self, z1: Tensor, z2: Tensor, classes: Tensor) -> Tensor:
        return losses.supcon(torch.cat([z1, z2]), torch.cat([classes, classes]), temperature=self.temperature)

    def _contrastive_pair(self, z1: Tensor, z2: Tensor, classes: Tensor) -> Tensor:
        z1, z2 = F.normalize(z1, dim=-1), F.normalize(z2, dim=-1)
        negatives = z2[derangement(len(z2), z2.device)]
        same = torch.cat([torch.ones(len(z1), device=z1.device), torch.zeros(len(z1), device=z1.device)])
        return losses.contrastive_pair(torch.cat([z1, z1]), torch.cat([z2, negatives]), same, margin=self.margin)

    def _triplet_margin(self, z1: Tensor, z2: Tensor, classes: Tensor) -> Tensor:
        z1, z2 = F.normalize(z1, dim=-1), F.normalize(z2, dim=-1)
        return losses.triplet_margin(z1, z2, z2[derangement(len(z2), z2.device)], margin=self.margin)

    def _n_pair(self, z1: Tensor, z2: Tensor, classes: Tensor) -> Tensor:
        return losses.n_pair(z1, z2, l2_reg=self.l2_reg)

    def _lifted_structured(self, z1: Tensor, z2: Tensor, classes: Tensor) -> Tensor:
        z = F.normalize(torch.cat([z1, z2]), dim=-1)
        return losses.lifted_structured(z, torch.cat([classes, classes]), margin=self.margin)

    def _soft_nearest_neighbors(self, z1: Tensor, z2: Tensor, classes: Tensor) -> Tensor:
        z = F.normalize(torch.cat([z1, z2]), dim=-1)
        return losses.soft_nearest_neighbors(z, torch.cat([classes, classes]), temperature=self.temperature)


#: ``loss`` name -> the SiamCL method that forms its pairs and calls it
_PAIR_LOSSES: dict[str, Callable[[SiamCL, Tensor, Tensor, Tensor], Tensor]] = {
    "nt_xent": SiamCL._nt_xent,
    "info_nce": SiamCL._info_nce,
    "supcon": SiamCL._supcon,
    "pair_margin": SiamCL._contrastive_pair,
    "contrastive_pair": SiamCL._contrastive_pair,
    "triplet_margin": SiamCL._triplet_margin,
    "n_pair": SiamCL._n_pair,
    "lifted_structured": SiamCL._lifted_structured,
    "soft_nearest_neighbors": SiamCL._soft_nearest_neighbors,
}
