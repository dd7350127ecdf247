"""Image encoders: (B, C, H, W) -> (B, out_dim), and a hook to use any torch module as one.

- ``ConvEncoder``: a small conv net (3x3 conv, BatchNorm, ReLU; 2x2 max-pool between blocks;
  global average pooling) for small images such as the 8 x 8 digits; fully convolutional, so
  the same weights encode a whole digit or a 4 x 4 jigsaw tile.
- ``ImageRowEncoder``: an image as a sequence of pixel rows (B, T = H / row_height, D), for
  CPC on images (``tsssl.methods.CPC`` takes it as its per-step encoder).
- ``as_encoder(module, out_dim)``: any module whose output flattens to (B, out_dim).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tsssl.checks import check_positive


def _check_images(x: Tensor, in_channels: int, owner: str) -> None:
    if not isinstance(x, Tensor) or x.dim() != 4:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{owner}: input must have shape (B, C, H, W) with C = {in_channels}, got {shape}")
    if x.shape[1] != in_channels:
        raise ValueError(
            f"{owner}: input has {x.shape[1]} channels (dim 1) but the encoder was built with "
            f"in_channels={in_channels}; input shape {tuple(x.shape)}"
        )


class ConvEncoder(nn.Module):
    """x: (B, in_channels, H, W) -> (B, out_dim).

    One block per entry of ``channels`` (3x3 conv, BatchNorm, ReLU); a 2x2 max-pool (ceil mode,
    so a 1-pixel map stays 1 pixel) before every block but the first; average pooling to a
    ``pool`` x ``pool`` map (1: global average pooling), flattened to channels[-1] * pool^2
    features; then a linear map to ``out_dim`` if given and different.
    """

    def __init__(
        self, in_channels: int = 1, channels: Sequence[int] = (32, 64, 64), out_dim: int | None = None, pool: int = 1
    ) -> None:
        super().__init__()
        check_positive(in_channels, "in_channels", "ConvEncoder")
        channels = list(channels)
        if not channels:
            raise ValueError("ConvEncoder: channels must name at least one block, e.g. (32, 64)")
        for i, c in enumerate(channels):
            check_positive(c, f"channels[{i}]", "ConvEncoder")
        self.in_channels = in_channels
        layers: list[nn.Module] = []
        d = in_channels
        for i, c in enumerate(channels):
            if i > 0:
                layers.append(nn.MaxPool2d(2, ceil_mode=True))
            layers += [nn.Conv2d(d, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
            d = c
        self.features = nn.Sequential(*layers)
        self.map_channels = channels[-1]  # channels of feature_map's output
        self.pool = check_positive(pool, "pool", "ConvEncoder")
        d = d * pool * pool
        self.out_dim = check_positive(out_dim, "out_dim", "ConvEncoder") if out_dim is not None else d
        self.head = nn.Identity() if self.out_dim == d else nn.Linear(d, self.out_dim)

    def feature_map(self, x: Tensor) -> Tensor:
        """x: (B, in_channels, H, W) -> the last block's map (B, channels[-1], h, w), before
        pooling (h = ceil(H / 2^(blocks - 1)))."""
        _check_images(x, self.in_channels, "ConvEncoder")
        return self.features(x)

    def forward(self, x: Tensor) -> Tensor:
        h = self.feature_map(x)
        h = h.mean(dim=(2, 3)) if self.pool == 1 else F.adaptive_avg_pool2d(h, self.pool).flatten(1)
        return self.head(h)


class ImageRowEncoder(nn.Module):
    """An image as a sequence of rows: x (B, C, H, W) -> per-step (B, T, out_dim) with
    T = H / row_height, or (B, out_dim) averaged over the rows.

    Each strip of ``row_height`` pixel rows (C * row_height * W values) goes through the same
    MLP (Linear, ReLU, Linear) with a learned embedding of its row position added. Strips do not
    overlap and each step sees its own strip only: the encoder is causal in the row order, as
    CPC's per-step encoder must be.
    """

    causal = True

    def __init__(
        self,
        in_channels: int = 1,
        width: int = 8,
        height: int = 8,
        row_height: int = 1,
        hidden: int = 64,
        out_dim: int = 32,
    ) -> None:
        super().__init__()
        for name, v in (
            ("in_channels", in_channels),
            ("width", width),
            ("height", height),
            ("row_height", row_height),
            ("hidden", hidden),
            ("out_dim", out_dim),
        ):
            check_positive(v, name, "ImageRowEncoder")
        if height % row_height:
            raise ValueError(f"ImageRowEncoder: height {height} is not a multiple of row_height {row_height}")
        self.in_channels, self.width, self.height, self.row_height = in_channels, width, height, row_height
        self.steps, self.out_dim = height // row_height, out_dim
        self.mlp = nn.Sequential(
            nn.Linear(in_channels * row_height * width, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, out_dim)
        )
        self.position = nn.Parameter(torch.zeros(self.steps, hidden))

    def forward(self, x: Tensor, return_sequence: bool = False) -> Tensor:
        _check_images(x, self.in_channels, "ImageRowEncoder")
        B, C, H, W = x.shape
        if (H, W) != (self.height, self.width):
            raise ValueError(f"ImageRowEncoder: built for {self.height} x {self.width} images, got {H} x {W}")
        strips = x.reshape(B, C, self.steps, self.row_height, W).permute(0, 2, 1, 3, 4).reshape(B, self.steps, -1)
        first, act, last = self.mlp
        z = last(act(first(strips) + self.position))  # (B, T, out_dim)
        return z if return_sequence else z.mean(dim=1)


class ModuleEncoder(nn.Module):
    """Any module as an encoder: ``module(x)`` flattened to (B, out_dim)."""

    def __init__(self, module: nn.Module, out_dim: int) -> None:
        super().__init__()
        self.module = module
        self.out_dim = check_positive(out_dim, "out_dim", "as_encoder")

    def forward(self, x: Tensor) -> Tensor:
        z = self.module(x)
        z = z.reshape(z.shape[0], -1)
        if z.shape[1] != self.out_dim:
            raise ValueError(
                f"as_encoder: the module returned {z.shape[1]} features per sample, not out_dim={self.out_dim}"
            )
        return z


def as_encoder(module: nn.Module, out_dim: int | None = None, example: Tensor | None = None) -> nn.Module:
    """``module`` ready for the methods: an ``nn.Module`` with an integer ``out_dim``.

    A module that already has an integer ``out_dim`` is returned as it is. Otherwise it is
    wrapped so that its output is flattened to (B, D); D is ``out_dim`` or, when omitted,
    measured by one forward pass of ``example`` (a batch of at least one input, no gradient,
    eval mode, the module's mode restored after).
    """
    if not isinstance(module, nn.Module):
        raise ValueError(f"as_encoder: module must be a torch nn.Module, got {type(module).__name__}")
    if out_dim is None and isinstance(getattr(module, "out_dim", None), int):
        return module
    if out_dim is None:
        if example is None:
            raise ValueError("as_encoder: give out_dim, or an example input batch to measure it")
        was_training = module.training
        module.eval()
        try:
            with torch.no_grad():
                z = module(example)
        finally:
            module.train(was_training)
        out_dim = int(z.reshape(z.shape[0], -1).shape[1])
    return ModuleEncoder(module, out_dim)
