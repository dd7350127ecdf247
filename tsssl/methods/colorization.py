"""Colorization (Zhang, Isola and Efros, "Colorful Image Colorization", ECCV 2016): predict a
photo's colour (the a, b channels of CIE L*a*b*) from its lightness L.

Algorithm (one step)::

    lab = batch[0]                              # (B, 3, H, W) L*a*b* patches; labels unused
    lab = horizontal_flip(lab)                  # optional
    z   = f.feature_map(L / 100)                # (B, C, h, w): the encoder sees lightness only
    p   = softmax(head(z))                      # (B, Q, h, w) over Q quantised ab bins (grid 10)
    Z   = soft_encode(avg_pool(ab, (h, w)))     # Gaussian weights on each cell's 5 nearest bins
    loss = mean_cells w[q*] * CE(Z, p)          # w: class-rebalancing weight of the nearest bin

Why quantised bins and not regression: colour is multimodal (a grey patch of a flower may be red
or yellow); the L2 regression the paper compares against predicts the mean of the modes, a
desaturated brown, and its gradient is dominated by the common greys of the background. The
multinomial cross-entropy keeps every mode, and rebalancing (weights from the training pixels'
ab distribution smoothed by a Gaussian of 5 ab units and mixed half-and-half with the uniform,
``tsssl.data.colour.rebalance_weights``) keeps rare saturated colours from being ignored.
The representation kept is ``self.encoder`` (global average of its last feature map).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from tsssl.augment.image import horizontal_flip
from tsssl.encoders.heads import pixel_head
from tsssl.losses.colour import check_lab, colour_loss
from tsssl.methods.base import Method, split_batch


class Colorization(Method):
    """encoder: a conv encoder with ``feature_map`` ((B, 1, H, W) lightness L / 100 in [0, 1]
    -> (B, map_channels, h, w)) and ``map_channels``; centres: (Q, 2) ab bin centres;
    bin_weights: (Q,) rebalancing weights (None: plain cross-entropy); k, sigma: soft encoding."""

    def __init__(
        self,
        encoder: nn.Module,
        centres: np.ndarray | Tensor,
        bin_weights: np.ndarray | Tensor | None = None,
        *,
        hidden: int = 128,
        k: int = 5,
        sigma: float = 5.0,
        flip: bool = True,
    ) -> None:
        super().__init__()
        centres = torch.as_tensor(np.asarray(centres), dtype=torch.float32)
        if centres.dim() != 2 or centres.shape[1] != 2:
            raise ValueError(f"Colorization: centres must be (Q, 2) ab bin centres, got {tuple(centres.shape)}")
        self.encoder = encoder
        self.register_buffer("centres", centres)
        w = torch.ones(len(centres)) if bin_weights is None else torch.as_tensor(np.asarray(bin_weights)).float()
        if w.shape != (len(centres),):
            raise ValueError(f"Colorization: bin_weights must be ({len(centres)},), one per bin, got {tuple(w.shape)}")
        self.register_buffer("bin_weights", w)
        self.rebalance = bin_weights is not None
        self.head = pixel_head(encoder.map_channels, hidden, len(centres))
        self.k, self.sigma, self.flip = k, sigma, flip

    def ab_logits(self, lightness: Tensor) -> Tensor:
        """lightness: (B, 1, H, W) L / 100 -> (B, Q, h, w) logits over the ab bins."""
        return self.head(self.encoder.feature_map(lightness))

    def loss(self, lab: Tensor, rebalance: bool | None = None) -> Tensor:
        """The (rebalanced unless ``rebalance`` is False) cross-entropy on L*a*b* images lab."""
        check_lab(lab, "Colorization")
        weights = self.bin_weights if (self.rebalance if rebalance is None else rebalance) else None
        return colour_loss(self.ab_logits(lab[:, :1] / 100.0), lab[:, 1:], self.centres, weights, self.k, self.sigma)

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        lab, _ = split_batch(batch)
        return self.loss(horizontal_flip(lab) if self.flip else lab)
