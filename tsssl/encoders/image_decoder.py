"""An image decoder for the auto-encoding methods: z (B, in_dim) -> (B, out_channels, size, size).

``ConvDecoder`` mirrors ``ConvEncoder``: a linear map of z to a small map of channels[0]
channels, then one block per entry of ``channels`` (2x nearest upsampling, 3x3 conv,
BatchNorm, ReLU), and a 3x3 conv to ``out_channels`` raw outputs (logits or intensities: the
method's loss decides). A last bilinear resize reaches ``size`` when it is not the start map's
side times 2^blocks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from tsssl.checks import check_positive


class ConvDecoder(nn.Module):
    """z: (B, in_dim) -> (B, out_channels, size, size)."""

    def __init__(self, in_dim: int, size: int, channels: Sequence[int] = (64, 32), out_channels: int = 1) -> None:
        super().__init__()
        check_positive(in_dim, "in_dim", "ConvDecoder")
        check_positive(size, "size", "ConvDecoder")
        check_positive(out_channels, "out_channels", "ConvDecoder")
        channels = list(channels)
        if not channels:
            raise ValueError("ConvDecoder: channels must name at least one block, e.g. (64, 32)")
        for i, c in enumerate(channels):
            check_positive(c, f"channels[{i}]", "ConvDecoder")
        self.in_dim, self.size, self.out_channels = in_dim, size, out_channels
        self.start = max(1, math.ceil(size / 2 ** len(channels)))
        self.fc = nn.Linear(in_dim, channels[0] * self.start**2)
        layers: list[nn.Module] = []
        d = channels[0]
        for c in channels:
            layers += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(d, c, 3, padding=1, bias=False),
                nn.BatchNorm2d(c),
                nn.ReLU(inplace=True),
            ]
            d = c
        layers.append(nn.Conv2d(d, out_channels, 3, padding=1))
        self.blocks = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        if not isinstance(z, Tensor) or z.dim() != 2 or z.shape[1] != self.in_dim:
            shape = tuple(z.shape) if isinstance(z, Tensor) else type(z).__name__
            raise ValueError(f"ConvDecoder: input must have shape (B, {self.in_dim}), got {shape}")
        h = F.relu(self.fc(z)).reshape(len(z), -1, self.start, self.start)
        out = self.blocks(h)
        if out.shape[-1] != self.size:
            out = F.interpolate(out, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return out
