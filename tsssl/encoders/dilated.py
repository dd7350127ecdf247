"""Dilated residual convolution encoder with per-step outputs and missing-step masks (TS2Vec's
encoder; Yue et al., AAAI 2022, "TS2Vec: Towards Universal Representation of Time Series").

    enc = DilatedEncoder(1, length=251)              # depth chosen so the receptive field covers 251 steps
    enc.forward_steps(x)                             # (B, T, C) -> (B, T, out_dim)
    enc(x)                                           # (B, T, C) -> (B, out_dim), max over observed steps
    enc.forward_steps(x, mask=keep)                  # keep: (B, T) bool; False steps' latents zeroed

Missing steps: a step whose channels are all NaN is padding or missing. Its input is set to 0
only after the mask is taken, its latent is zeroed before every convolution (so a convolution
sees it exactly as it sees the zero padding past the ends of a series: a NaN-padded series
gives the same outputs at its observed steps as the unpadded one), its output is 0 and pooling
leaves it out. A step with NaN in some channels only is refused: it cannot be told from data.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tsssl.checks import check_positive

from .base import SequenceEncoder, check_choice

POOLINGS = ("max", "mean")
#: how the last block reaches out_dim: "block" (its convolutions are out_dim wide, TS2Vec's) or
#: "linear" (every block at hidden, then a per-step linear map hidden -> out_dim: cheaper)
OUTPUTS = ("block", "linear")
#: depth when neither ``depth`` nor ``length`` is given: TS2Vec's (11 blocks, reach 4,094 steps)
DEFAULT_DEPTH = 10


def reach(depth: int, kernel_size: int = 3) -> int:
    """Steps one output sees on each side: (kernel_size - 1) * (2^(depth + 1) - 1) for the
    depth + 1 blocks of two convolutions with dilations 1, 2, ..., 2^depth."""
    return (kernel_size - 1) * (2 ** (depth + 1) - 1)


def depth_for(length: int, kernel_size: int = 3) -> int:
    """The smallest depth whose reach is at least length - 1: the last step sees the first."""
    depth = 0
    while reach(depth, kernel_size) < length - 1:
        depth += 1
    return depth


class _Block(nn.Module):
    """x + conv2(gelu(conv1(gelu(x)))) with "same" padding and dilation ``dilation``; a 1x1
    projection of the residual when the width changes. ``keep`` (B, 1, T) zeroes the missing
    steps at each convolution's input."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, dilation: int) -> None:
        super().__init__()
        pad = (kernel_size - 1) * dilation // 2
        self.conv1 = nn.Conv1d(c_in, c_out, kernel_size, padding=pad, dilation=dilation)
        self.conv2 = nn.Conv1d(c_out, c_out, kernel_size, padding=pad, dilation=dilation)
        self.project = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else None

    def forward(self, h: Tensor, keep: Tensor | None) -> Tensor:
        residual = h if self.project is None else self.project(h)
        a = self.conv1(F.gelu(h))  # gelu(0) = 0: a zeroed step stays zero at the input
        if keep is not None:
            a = a * keep
        out = residual + self.conv2(F.gelu(a))
        return out if keep is None else out * keep


class DilatedEncoder(SequenceEncoder):
    """x: (B, T, C) -> (B, out_dim) pooled, or (B, T, out_dim) per step.

    A linear input projection C -> ``hidden`` at every step, ``depth`` residual blocks at
    ``hidden`` channels and one to ``out_dim``, block i with dilation 2^i (kernel
    ``kernel_size``, odd); no normalisation layer (TS2Vec's layout: ``depth=10``, ``hidden=64``,
    ``out_dim=320``). Each output step sees ``reach(depth)`` steps on both sides.

    Depth rule: ``depth`` when given; else, with ``length`` (the longest series the encoder
    will see), the fewest blocks for which the last step sees the first,
    ``(kernel_size - 1)(2^(depth + 1) - 1) >= length - 1`` (``depth_for``: 20 steps -> 3,
    251 -> 6, 427 -> 7); else ``DEFAULT_DEPTH`` (10). ``pooling``: "max" (TS2Vec's) or "mean"
    over the observed steps. ``dropout``: on the per-step outputs in training (TS2Vec: 0.1).
    ``output``: "block" (TS2Vec's: the last block's two convolutions are ``out_dim`` wide, most of
    the compute at out_dim 320) or "linear" (all depth + 1 blocks at ``hidden``, then a per-step
    linear map to ``out_dim``; the same receptive field for much less compute at 64 / 320).
    ``forward_steps(x, mask)``: ``mask`` (B, T) bool, False where the input projection's output
    is zeroed (TS2Vec's timestamp masking; the method passes it in training only).
    """

    #: steps NaN in every channel are missing: masked, left out of pooling (module docstring)
    accepts_missing = True

    def __init__(
        self,
        in_channels: int,
        out_dim: int = 320,
        hidden: int = 64,
        depth: int | None = None,
        length: int | None = None,
        kernel_size: int = 3,
        pooling: str = "max",
        dropout: float = 0.1,
        output: str = "block",
    ) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_dim", out_dim), ("hidden", hidden)):
            check_positive(value, name, "DilatedEncoder")
        check_positive(kernel_size, "kernel_size", "DilatedEncoder")
        if kernel_size % 2 == 0:
            raise ValueError(f"DilatedEncoder: kernel_size must be odd (same padding), got {kernel_size}")
        if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0):
            raise ValueError(f"DilatedEncoder: depth must be a non-negative integer or None, got {depth!r}")
        if length is not None:
            check_positive(length, "length", "DilatedEncoder")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"DilatedEncoder: dropout must be in [0, 1), got {dropout}")
        self.pooling = check_choice(pooling, POOLINGS, "pooling", "DilatedEncoder")
        self.output = check_choice(output, OUTPUTS, "output", "DilatedEncoder")
        self.in_channels, self.out_dim, self.hidden = in_channels, out_dim, hidden
        self.depth = depth if depth is not None else depth_for(length, kernel_size) if length else DEFAULT_DEPTH
        self.receptive_field = 2 * reach(self.depth, kernel_size) + 1
        self.input = nn.Linear(in_channels, hidden)
        widths = [hidden] * (self.depth + 1) + [out_dim if output == "block" else hidden]
        self.blocks = nn.ModuleList(_Block(widths[i], widths[i + 1], kernel_size, 2**i) for i in range(self.depth + 1))
        self.head = nn.Linear(hidden, out_dim) if output == "linear" else None
        self.dropout = nn.Dropout(dropout)

    def observed(self, x: Tensor) -> Tensor:
        """(B, T) bool: steps with at least one value; a step with only some channels NaN is refused."""
        nan = torch.isnan(x)
        missing = nan.all(dim=-1)
        if bool((nan.any(dim=-1) & ~missing).any()):
            raise ValueError(
                "DilatedEncoder: a step has NaN in some channels but not all; a missing step must be "
                "NaN in every channel (impute partial gaps before encoding)"
            )
        return ~missing

    def forward_steps(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """(B, T, C) -> (B, T, out_dim); missing steps (all channels NaN) output 0.

        mask: (B, T) bool, False where the input projection's output is zeroed (timestamp masking).
        """
        self.check_input(x)
        observed = self.observed(x)
        x = torch.where(observed[..., None], x, torch.zeros((), dtype=x.dtype, device=x.device))
        keep = None if bool(observed.all()) else observed[:, None, :].to(x.dtype)  # (B, 1, T)
        latent = observed if mask is None else observed & mask.to(torch.bool)
        # contiguous: a transposed view would pass its (B, T, hidden) layout on through every residual sum
        h = (self.input(x) * latent[..., None].to(x.dtype)).transpose(1, 2).contiguous()  # (B, hidden, T)
        for block in self.blocks:
            h = block(h, keep)
        h = h.transpose(1, 2)
        if self.head is not None:
            h = self.head(h) * observed[..., None].to(h.dtype)  # missing steps stay 0 past the bias
        return self.dropout(h)

    def pool(self, steps: Tensor, observed: Tensor) -> Tensor:
        """(B, T, D) -> (B, D) by ``pooling`` over the observed steps (B, T) bool only."""
        if not bool(observed.any(dim=1).all()):
            raise ValueError("DilatedEncoder: a series has no observed step (every step is NaN in every channel)")
        if self.pooling == "max":
            return steps.masked_fill(~observed[..., None], float("-inf")).amax(dim=1)
        weights = observed[..., None].to(steps.dtype)
        return (steps * weights).sum(dim=1) / weights.sum(dim=1)

    def forward(self, x: Tensor, return_sequence: bool = False, mask: Tensor | None = None) -> Tensor:
        steps = self.forward_steps(x, mask)
        return steps if return_sequence else self.pool(steps, ~torch.isnan(x).all(dim=-1))
