"""Split-brain auto-encoder (Zhang, Isola and Efros, "Split-Brain Autoencoders: Unsupervised
Learning by Cross-Channel Prediction", CVPR 2017): two disjoint sub-networks, each predicting
one part of an L*a*b* image's channels from the other; the representation is both halves'
features, concatenated.

Algorithm (one step)::

    lab = batch[0]                                   # (B, 3, H, W) L*a*b* patches; labels unused
    z1 = F1.feature_map(L / 100)                     # lightness half  (B, C1, h, w)
    z2 = F2.feature_map(ab / 100)                    # colour half     (B, C2, h, w)
    loss_ab = CE(soft_encode(pool(ab)), head1(z1))   # L -> ab over the Q quantised ab bins
    loss_L  = CE(bin(pool(L)), head2(z2))            # ab -> L over ``l_bins`` lightness bins
    loss = loss_ab + loss_L
    representation(lab / 100) = [F1(L / 100), F2(ab / 100)]   # concatenated, globally pooled

Both halves are classifiers, as in the paper, which found cross-entropy better than L2
regression for both directions; the ab bins and soft encoding are colorization's
(``tsssl.methods.colorization``), the L bins equal-width (2 units for the paper's 50 bins).
Class rebalancing is optional (``bin_weights``) and off in our experiment: we read the paper as
training split-brain's halves with the plain cross-entropy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tsssl.augment.image import horizontal_flip
from tsssl.encoders.heads import pixel_head
from tsssl.losses.colour import check_lab, colour_loss
from tsssl.methods.base import Method, split_batch


class SplitBrainEncoder(nn.Module):
    """x: (B, 3, H, W) L*a*b* / 100 -> (B, l.out_dim + ab.out_dim): the lightness half on
    channel 0, the colour half on channels 1-2, features concatenated."""

    def __init__(self, l_encoder: nn.Module, ab_encoder: nn.Module) -> None:
        super().__init__()
        self.l_encoder, self.ab_encoder = l_encoder, ab_encoder
        self.out_dim = l_encoder.out_dim + ab_encoder.out_dim

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"SplitBrainEncoder: needs L*a*b* / 100 images (B, 3, H, W), got {tuple(x.shape)}")
        return torch.cat([self.l_encoder(x[:, :1]), self.ab_encoder(x[:, 1:])], dim=1)


class SplitBrain(Method):
    """l_encoder: (B, 1, H, W) -> features, ab_encoder: (B, 2, H, W) -> features, each with
    ``feature_map`` and ``map_channels`` (conv encoders); centres: (Q, 2) ab bin centres;
    l_bins: lightness classes; bin_weights: optional (Q,) rebalancing weights of the L -> ab half."""

    def __init__(
        self,
        l_encoder: nn.Module,
        ab_encoder: nn.Module,
        centres: np.ndarray | Tensor,
        bin_weights: np.ndarray | Tensor | None = None,
        *,
        l_bins: int = 50,
        hidden: int = 128,
        k: int = 5,
        sigma: float = 5.0,
        flip: bool = True,
    ) -> None:
        super().__init__()
        centres = torch.as_tensor(np.asarray(centres), dtype=torch.float32)
        if centres.dim() != 2 or centres.shape[1] != 2 or not isinstance(l_bins, int) or l_bins < 2:
            raise ValueError(
                f"SplitBrain: centres must be (Q, 2) and l_bins an int >= 2, got {tuple(centres.shape)}, {l_bins!r}"
            )
        self.encoder = SplitBrainEncoder(l_encoder, ab_encoder)
        self.l_encoder, self.ab_encoder = l_encoder, ab_encoder
        self.register_buffer("centres", centres)
        weights = None if bin_weights is None else torch.as_tensor(np.asarray(bin_weights)).float()
        if weights is not None and weights.shape != (len(centres),):
            raise ValueError(
                f"SplitBrain: bin_weights must be ({len(centres)},), one per bin, got {tuple(weights.shape)}"
            )
        self.register_buffer("bin_weights", weights)
        self.head_ab = pixel_head(l_encoder.map_channels, hidden, len(centres))
        self.head_l = pixel_head(ab_encoder.map_channels, hidden, l_bins)
        self.l_bins, self.k, self.sigma, self.flip = l_bins, k, sigma, flip

    def ab_logits(self, lightness: Tensor) -> Tensor:
        """The L -> ab half: lightness (B, 1, H, W) L / 100 -> (B, Q, h, w) logits over the ab bins."""
        return self.head_ab(self.l_encoder.feature_map(lightness))

    def losses(self, lab: Tensor) -> tuple[Tensor, Tensor]:
        """(L -> ab loss, ab -> L loss) on L*a*b* images lab (B, 3, H, W)."""
        check_lab(lab, "SplitBrain")
        logits_ab = self.ab_logits(lab[:, :1] / 100.0)
        loss_ab = colour_loss(logits_ab, lab[:, 1:], self.centres, self.bin_weights, self.k, self.sigma)
        logits_l = self.head_l(self.ab_encoder.feature_map(lab[:, 1:] / 100.0))
        L = F.adaptive_avg_pool2d(lab[:, :1].float(), logits_l.shape[-2:])[:, 0]
        l_class = (L * self.l_bins / 100.0).long().clamp_(0, self.l_bins - 1)
        return loss_ab, F.cross_entropy(logits_l.float(), l_class)

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        lab, _ = split_batch(batch)
        loss_ab, loss_l = self.losses(horizontal_flip(lab) if self.flip else lab)
        return loss_ab + loss_l
