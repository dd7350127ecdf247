"""Small Transformer window encoder with sinusoidal positional encoding."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .base import SequenceEncoder, check_attention_sizes, check_choice, pool_steps

POOLINGS = ("mean", "last", "cls")


def sinusoidal_positions(max_len: int, d_model: int) -> Tensor:
    """(max_len, d_model) fixed encoding of Vaswani et al.: sin on even, cos on odd features."""
    pos = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
    freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq[: d_model // 2])
    return pe


class TransformerEncoder(SequenceEncoder):
    """x: (B, T, C) -> (B, d_model), or per-step features (B, T, d_model).

    Linear input projection, sinusoidal positional encoding, ``layers`` pre-norm
    ``nn.TransformerEncoderLayer`` blocks (batch_first, GELU) and a final LayerNorm. Pooling:
    "mean" over steps, "last" step, or "cls" (a learned token appended after the last step, so
    that under the causal mask it still attends to every step). ``causal=True`` masks attention to
    later steps: per-step features at t depend on x[:, :t+1] only.
    """

    def __init__(
        self,
        in_channels: int,
        d_model: int = 64,
        heads: int = 4,
        layers: int = 2,
        dim_feedforward: int = 128,
        dropout: float = 0.1,
        pooling: str = "mean",
        causal: bool = False,
        max_len: int = 512,
    ) -> None:
        super().__init__()
        check_attention_sizes(
            "TransformerEncoder",
            d_model,
            heads,
            dropout,
            in_channels=in_channels,
            layers=layers,
            dim_feedforward=dim_feedforward,
            max_len=max_len,
        )
        self.pooling = check_choice(pooling, POOLINGS, "pooling", "TransformerEncoder")
        self.in_channels = in_channels
        self.out_dim = d_model
        self.causal = bool(causal)
        self.max_len = max_len
        self.input = nn.Linear(in_channels, d_model)
        self.register_buffer("positions", sinusoidal_positions(max_len, d_model), persistent=False)
        self.cls = nn.Parameter(torch.randn(1, 1, d_model) * 0.02) if pooling == "cls" else None
        self.drop = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(
            d_model, heads, dim_feedforward, dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(d_model), enable_nested_tensor=False)

    def forward(self, x: Tensor, return_sequence: bool = False) -> Tensor:
        self.check_input(x)
        B, T, _ = x.shape
        use_cls = self.cls is not None and not return_sequence
        L = T + int(use_cls)
        if L > self.max_len:
            raise ValueError(
                f"TransformerEncoder: sequence of {T} steps{' + cls token' if use_cls else ''} is longer "
                f"than max_len={self.max_len}; build the encoder with a larger max_len"
            )
        h = self.input(x)
        if use_cls:
            h = torch.cat([h, self.cls.expand(B, 1, -1).to(h.dtype)], dim=1)
        h = self.drop(h + self.positions[:L].to(h.dtype))
        mask = None
        if self.causal:
            mask = nn.Transformer.generate_square_subsequent_mask(L, device=x.device, dtype=h.dtype)
        h = self.encoder(h, mask=mask, is_causal=self.causal)
        if return_sequence:
            return h
        if use_cls:
            return h[:, -1]
        return pool_steps(h, self.pooling)
