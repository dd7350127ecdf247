"""Dilated residual 1-D convolution encoder (a small TCN)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from tsssl.checks import check_positive

from .base import SequenceEncoder, check_choice, pool_steps

POOLINGS = ("mean", "max", "last")


class _ChannelNorm(nn.Module):
    """LayerNorm over channels at each time step of (B, D, T): uses no other step, so it keeps
    the causal property (BatchNorm / GroupNorm statistics would mix in future steps)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x.transpose(1, 2)).transpose(1, 2)


class _ResidualBlock(nn.Module):
    """x + conv(act(conv(act(norm(x))))): two dilated convolutions, pre-norm."""

    def __init__(self, channels: int, kernel_size: int, dilation: int, causal: bool, dropout: float) -> None:
        super().__init__()
        total = (kernel_size - 1) * dilation
        # causal: all padding on the left, so output t sees inputs <= t only
        self.pad = (total, 0) if causal else (total // 2, total - total // 2)
        self.norm = _ChannelNorm(channels)
        self.conv1 = nn.Conv1d(channels, channels, kernel_size, dilation=dilation)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size, dilation=dilation)
        self.act = nn.GELU()
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(F.pad(self.act(self.norm(x)), self.pad))
        h = self.conv2(F.pad(self.drop(self.act(h)), self.pad))
        return x + h


class CNNEncoder(SequenceEncoder):
    """x: (B, T, C) -> (B, channels), or per-step features (B, T, channels).

    A 1x1 input projection, then ``layers`` residual blocks of two convolutions with dilation
    dilation_base**i (receptive field 1 + 2 (kernel_size - 1) sum_i dilation_base**i steps:
    29 days for the defaults), a final LayerNorm, and global "mean" / "max" pooling ("last":
    the last step's features). ``causal=True`` pads on the left only, so per-step features at t
    depend on x[:, :t+1] only (what CPC needs).
    """

    def __init__(
        self,
        in_channels: int,
        channels: int = 64,
        layers: int = 3,
        kernel_size: int = 3,
        dilation_base: int = 2,
        pooling: str = "mean",
        causal: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        for name, value in (
            ("in_channels", in_channels),
            ("channels", channels),
            ("layers", layers),
            ("kernel_size", kernel_size),
            ("dilation_base", dilation_base),
        ):
            check_positive(value, name, "CNNEncoder")
        self.pooling = check_choice(pooling, POOLINGS, "pooling", "CNNEncoder")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"CNNEncoder: dropout must be in [0, 1), got {dropout}")
        self.in_channels = in_channels
        self.out_dim = channels
        self.causal = bool(causal)
        self.receptive_field = 1 + 2 * (kernel_size - 1) * sum(dilation_base**i for i in range(layers))
        self.input = nn.Conv1d(in_channels, channels, 1)
        self.blocks = nn.Sequential(
            *[_ResidualBlock(channels, kernel_size, dilation_base**i, self.causal, dropout) for i in range(layers)]
        )
        self.norm = _ChannelNorm(channels)

    def forward(self, x: Tensor, return_sequence: bool = False) -> Tensor:
        self.check_input(x)
        h = self.norm(self.blocks(self.input(x.transpose(1, 2)))).transpose(1, 2)  # (B, T, D)
        return h if return_sequence else pool_steps(h, self.pooling)
