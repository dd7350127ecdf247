"""LSTM window encoder (the talk's baseline architecture, also the SiamCL backbone)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from tsssl.checks import check_positive

from .base import SequenceEncoder, check_choice

POOLINGS = ("last", "mean")


class LSTMEncoder(SequenceEncoder):
    """x: (B, T, C) -> (B, D) with D = hidden * (2 if bidirectional else 1).

    pooling "last": the final hidden state of the top layer (bidirectional: the forward
    direction's state after step T-1 concatenated with the backward direction's state after
    step 0); "mean": the per-step outputs averaged over time. ``return_sequence=True`` gives the
    top layer's per-step outputs (B, T, D) (causal only when unidirectional). A batch_first
    ``nn.LSTM``, so CUDA runs the fused cuDNN kernel.
    """

    def __init__(
        self,
        in_channels: int,
        hidden: int = 64,
        layers: int = 1,
        bidirectional: bool = False,
        pooling: str = "last",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_positive(in_channels, "in_channels", "LSTMEncoder")
        check_positive(hidden, "hidden", "LSTMEncoder")
        check_positive(layers, "layers", "LSTMEncoder")
        self.pooling = check_choice(pooling, POOLINGS, "pooling", "LSTMEncoder")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"LSTMEncoder: dropout must be in [0, 1), got {dropout}")
        self.in_channels = in_channels
        self.bidirectional = bool(bidirectional)
        self.out_dim = hidden * (2 if bidirectional else 1)
        # nn.LSTM applies dropout between layers only (it warns when layers == 1)
        self.lstm = nn.LSTM(
            in_channels,
            hidden,
            num_layers=layers,
            batch_first=True,
            bidirectional=self.bidirectional,
            dropout=dropout if layers > 1 else 0.0,
        )

    def forward(self, x: Tensor, return_sequence: bool = False) -> Tensor:
        self.check_input(x)
        seq, (h, _) = self.lstm(x)  # seq: (B, T, D); h: (layers * directions, B, hidden)
        if return_sequence:
            return seq
        if self.pooling == "mean":
            return seq.mean(dim=1)
        if self.bidirectional:
            return torch.cat([h[-2], h[-1]], dim=-1)
        return h[-1]
