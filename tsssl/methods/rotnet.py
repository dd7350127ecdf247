"""RotNet (Gidaris et al., 2018): "Unsupervised Representation Learning by Predicting Image
Rotations".

Algorithm (one step)::

    x = batch[0]                              # (B, C, H, W) square images; labels unused
    x = view(x)                               # optional single-view augmentation
    xr = [rot90(x, 0); rot90(x, 1); rot90(x, 2); rot90(x, 3)]   # all four rotations: 4B images
    r  = [0]*B + [1]*B + [2]*B + [3]*B        # which rotation each one got
    loss = cross_entropy(head(f(xr)), r)      # predict 0 / 90 / 180 / 270 degrees

To tell the rotations apart the encoder f must find the object's canonical orientation, i.e.
recognise the object: that is the representation kept (``self.encoder``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tsssl.augment.image import rot90_batch
from tsssl.methods.base import Method, ViewFn, eval_mode, split_batch


def rotation_batch(x: Tensor) -> tuple[Tensor, Tensor]:
    """(xr (4B, C, H, W), r (4B,) int64): every image rotated by 0, 90, 180 and 270 degrees."""
    B = x.shape[0]
    r = torch.arange(4, device=x.device).repeat_interleave(B)
    return rot90_batch(x.repeat(4, 1, 1, 1), r), r


class RotNet(Method):
    """encoder: (B, C, H, W) -> (B, out_dim); a linear (or ``hidden``-unit MLP) head predicts
    the rotation; ``view``: an optional augmentation x -> x applied before rotating."""

    def __init__(self, encoder: nn.Module, view: ViewFn | None = None, *, hidden: int | None = None) -> None:
        super().__init__()
        self.encoder = encoder
        d = encoder.out_dim
        self.head = (
            nn.Linear(d, 4)
            if hidden is None
            else nn.Sequential(nn.Linear(d, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 4))
        )
        self.view = view

    def logits(self, x: Tensor) -> Tensor:
        return self.head(self.encoder(x))

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        x, _ = split_batch(batch)
        if x.dim() != 4 or x.shape[-1] != x.shape[-2]:
            raise ValueError(f"RotNet: needs square images (B, C, H, H), got shape {tuple(x.shape)}")
        if self.view is not None:
            x = self.view(x)
        xr, r = rotation_batch(x)
        return F.cross_entropy(self.logits(xr), r)

    @torch.no_grad()
    def rotation_accuracy(self, x: Tensor) -> float:
        """Share of the 4N rotated images whose rotation the head names (eval mode)."""
        with eval_mode(self):
            xr, r = rotation_batch(x)
            return float((self.logits(xr).argmax(1) == r).float().mean())
