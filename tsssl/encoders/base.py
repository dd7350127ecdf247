"""What every sequence encoder shares: the input check and the pooling of per-step features."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from tsssl.checks import check_positive


def check_choice(value: str, accepted: Sequence[str], name: str, owner: str) -> str:
    """Return ``value`` if it is one of ``accepted``, else a ValueError naming them."""
    if value not in accepted:
        raise ValueError(f"{owner}: unknown {name} {value!r}; accepted: {', '.join(map(repr, accepted))}")
    return value


class SequenceEncoder(nn.Module):
    """Base of the window encoders: x: (B, T, C) -> (B, out_dim), or (B, T, out_dim) per step.

    Subclasses set ``in_channels`` and ``out_dim`` and call ``check_input`` first in forward.
    """

    in_channels: int
    out_dim: int

    def check_input(self, x: Tensor) -> None:
        name = type(self).__name__
        if not isinstance(x, Tensor) or x.dim() != 3:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(
                f"{name}: input must have shape (B, T, C) = (batch, time, {self.in_channels} channels), got {shape}"
            )
        if x.shape[2] != self.in_channels:
            raise ValueError(
                f"{name}: input has {x.shape[2]} channels (last dim) but the encoder was built with "
                f"in_channels={self.in_channels}; input shape {tuple(x.shape)}"
            )
        if x.shape[1] < 1:
            raise ValueError(f"{name}: input has no time steps, shape {tuple(x.shape)}")


def check_attention_sizes(owner: str, d_model: int, heads: int, dropout: float, **sizes: int) -> None:
    """A Transformer's sizes: every one positive, ``d_model`` divisible by ``heads``, dropout in [0, 1)."""
    for name, value in {"d_model": d_model, "heads": heads, **sizes}.items():
        check_positive(value, name, owner)
    if d_model % heads:
        raise ValueError(f"{owner}: d_model={d_model} must be divisible by heads={heads}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"{owner}: dropout must be in [0, 1), got {dropout}")


def pool_steps(h: Tensor, pooling: str) -> Tensor:
    """(B, T, D) -> (B, D) by "mean", "max" or "last" over time."""
    if pooling == "mean":
        return h.mean(dim=1)
    if pooling == "max":
        return h.amax(dim=1)
    if pooling == "last":
        return h[:, -1]
    raise ValueError(f"unknown pooling {pooling!r}; accepted: 'mean', 'max', 'last'")
