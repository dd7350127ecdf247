"""Colorization's loss (Zhang, Isola and Efros, "Colorful Image Colorization", ECCV 2016).

- ``check_lab``: a clear error unless a batch is L*a*b* images (B, 3, H, W).
- ``soft_encode``: each pixel's ab as a distribution over the quantised bins: Gaussian weights
  (``sigma`` ab units) on its ``k`` nearest bin centres, normalised (the paper: k = 5, sigma = 5).
- ``rebalanced_cross_entropy``: the multinomial cross-entropy between those targets Z and the
  predicted distributions, each pixel weighted by the rebalancing weight of its nearest bin:
  L = mean_pixels w[q*(h, w)] * (- sum_q Z[q, h, w] log softmax(logits)[q, h, w]).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def check_lab(x: Tensor, owner: str) -> None:
    """ValueError unless x is a (B, 3, H, W) L*a*b* batch (L in [0, 100])."""
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"{owner}: needs L*a*b* images (B, 3, H, W), got shape {tuple(x.shape)}")
    if x.numel() and (x[:, 0].min() < -1e-3 or x[:, 0].max() > 100.001):
        raise ValueError(f"{owner}: channel 0 must be lightness L in [0, 100] (CIE L*a*b* units)")


def soft_encode(ab: Tensor, centres: Tensor, k: int = 5, sigma: float = 5.0) -> tuple[Tensor, Tensor]:
    """ab: (B, 2, H, W), centres: (Q, 2) -> (targets (B, Q, H, W) summing to 1 over Q,
    nearest (B, H, W) int64 index of each pixel's nearest bin)."""
    if ab.dim() != 4 or ab.shape[1] != 2 or centres.dim() != 2 or centres.shape[1] != 2:
        raise ValueError(f"ab must be (B, 2, H, W) and centres (Q, 2), got {tuple(ab.shape)}, {tuple(centres.shape)}")
    if not 1 <= k <= len(centres) or sigma <= 0:
        raise ValueError(f"k must be in 1..{len(centres)} (the bins) and sigma > 0, got k={k}, sigma={sigma}")
    B, _, H, W = ab.shape
    flat = ab.float().permute(0, 2, 3, 1).reshape(-1, 2)
    d2, idx = torch.cdist(flat, centres.float()).pow(2).topk(k, dim=1, largest=False)  # nearest first
    w = torch.softmax(-d2 / (2 * sigma**2), dim=1)  # normalised Gaussian weights
    targets = torch.zeros(len(flat), len(centres), device=ab.device).scatter_(1, idx, w)
    targets = targets.reshape(B, H, W, -1).permute(0, 3, 1, 2)
    return targets, idx[:, 0].reshape(B, H, W)


def rebalanced_cross_entropy(logits: Tensor, targets: Tensor, pixel_weights: Tensor | None = None) -> Tensor:
    """logits, targets: (B, Q, H, W); pixel_weights: (B, H, W) or None (all 1) -> scalar, the
    weighted cross-entropy averaged over the B * H * W pixels (float32)."""
    if logits.shape != targets.shape or logits.dim() != 4:
        raise ValueError(
            f"logits and targets must both be (B, Q, H, W), got {tuple(logits.shape)}, {tuple(targets.shape)}"
        )
    ce = -(targets.float() * F.log_softmax(logits.float(), dim=1)).sum(dim=1)  # (B, H, W)
    if pixel_weights is not None:
        if pixel_weights.shape != ce.shape:
            raise ValueError(f"pixel_weights must be (B, H, W) = {tuple(ce.shape)}, got {tuple(pixel_weights.shape)}")
        ce = ce * pixel_weights.float()
    return ce.mean()


def colour_loss(
    logits: Tensor, ab: Tensor, centres: Tensor, bin_weights: Tensor | None = None, k: int = 5, sigma: float = 5.0
) -> Tensor:
    """Colorization's loss for predictions on a coarser grid than the image.

    logits: (B, Q, h, w) over the ab bins ``centres`` (Q, 2); ab: (B, 2, H, W) in ab units, averaged
    over each cell of the h x w grid first (the paper predicts at 1/4 resolution too);
    bin_weights: (Q,) rebalancing weights, None for the plain cross-entropy.
    """
    ab = F.adaptive_avg_pool2d(ab.float(), logits.shape[-2:])
    targets, nearest = soft_encode(ab, centres, k=k, sigma=sigma)
    return rebalanced_cross_entropy(logits, targets, None if bin_weights is None else bin_weights[nearest])
