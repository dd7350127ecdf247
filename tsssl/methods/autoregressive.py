"""Autoregressive self-prediction: from the encoder's representations of days 1..t, predict the
next k days' features (the "autoregressive generation" family of Weng & Kim's NeurIPS 2021
tutorial "Self-Supervised Learning: Self-Prediction and Contrastive Learning"; the time-series
form of next-token prediction, as in van den Oord et al.'s WaveNet or Radford et al.'s GPT).

Algorithm (one step)::

    x = batch[0]                              # (B, T, C) windows; labels unused
    u = (x - mean) / std                      # the standardised inputs (the encoder's own statistics)
    h = f(x, return_sequence=True)            # (B, T, D) per-step features; f is CAUSAL: h_t sees u_{<=t}
    pred = head(h).view(B, T, K, C)           # pred[:, t, k-1] predicts u[:, t+k], k = 1..K
    loss = next_step_prediction(pred, u)      # MSE over every t + k < T   (gaussian=True: Gaussian
                                              # NLL, the head also giving a log-variance per value)

The prediction must not see the future: with a causal encoder h_t depends on days <= t only
(a unidirectional LSTM; a CNN / Transformer built by name is made causal by
``causal_encoder = True``); a non-causal encoder is warned about, as for CPC, since its h_t
already contains u_{t+1}. The targets are the standardised inputs, the same scale as the
encoder's inputs, so every channel weighs alike in the MSE. ``views`` are accepted (the common
constructor) but not used: a random crop or time warp would move the days the targets are
read from, and masked / jittered days are noise to predict. ``self.encoder`` (f on the whole
window, its usual pooling: the last step's state for the LSTM) is the representation used
downstream.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

from torch import Tensor, nn

from tsssl.checks import check_positive
from tsssl.losses.pretext import next_step_prediction
from tsssl.methods.base import Method, TwoViewFn, split_batch


def standardized_inputs(encoder: nn.Module, x: Tensor) -> Tensor:
    """x as the encoder sees it: (x - mean) / std when the encoder carries per-channel statistics
    (a ``StandardizedEncoder``, as every command builds it), else x unchanged."""
    mean, std = getattr(encoder, "mean", None), getattr(encoder, "std", None)
    if isinstance(mean, Tensor) and isinstance(std, Tensor):
        return (x - mean.to(x.dtype)) / std.to(x.dtype)
    return x


class Autoregressive(Method):
    """Next-days prediction from a causal encoder's per-step features.

    encoder f: ``f(x, return_sequence=True)`` -> (B, T, D) (its ``out_dim`` D) and ``in_channels``
    C; ``horizon`` K days predicted from each step by one linear head; ``gaussian``: Gaussian NLL
    with a predicted log-variance instead of the MSE; ``context_from``: the first step t whose
    predictions count (t >= context_from, so early steps with little context can be left out).
    """

    causal_encoder = True  # h_t must not see the days t + 1..t + K it is asked to predict

    def __init__(
        self,
        encoder: nn.Module,
        views: TwoViewFn | None = None,
        *,
        horizon: int = 1,
        gaussian: bool = False,
        context_from: int = 0,
    ) -> None:
        super().__init__()
        check_positive(horizon, "horizon", "Autoregressive")
        channels = getattr(encoder, "in_channels", None)
        if not isinstance(channels, int):
            raise ValueError(f"Autoregressive: the encoder {type(encoder).__name__} must have an integer in_channels")
        if getattr(encoder, "bidirectional", False) or not getattr(encoder, "causal", True):
            warnings.warn(
                f"Autoregressive: the encoder {type(encoder).__name__} is not causal; its h_t sees the "
                "future days it is asked to predict",
                stacklevel=2,
            )
        self.encoder = encoder
        self.views = views  # not used: see the module docstring
        self.horizon, self.gaussian, self.context_from = horizon, gaussian, context_from
        self.head = nn.Linear(encoder.out_dim, horizon * channels * (2 if gaussian else 1))

    def predict(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """(B, T, C) -> predictions (B, T, K, C) of the standardised next days, and their
        log-variances (B, T, K, C) when ``gaussian`` (else None)."""
        B, T, C = x.shape
        out = self.head(self.encoder(x, return_sequence=True)).view(B, T, self.horizon, -1, C)
        return (out[:, :, :, 0], out[:, :, :, 1]) if self.gaussian else (out[:, :, :, 0], None)

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        x, _ = split_batch(batch)
        T = x.shape[1]
        if T - 1 <= self.context_from:
            raise ValueError(
                f"Autoregressive: a window of {T} days leaves nothing to predict after context_from="
                f"{self.context_from}; use context_from < {T - 1}"
            )
        pred, log_var = self.predict(x)
        return next_step_prediction(pred, standardized_inputs(self.encoder, x), log_var, context_from=self.context_from)
