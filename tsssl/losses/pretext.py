"""Pretext-task losses: a binary verification loss (temporal order, arrow of time) and the
autoregressive next-steps prediction loss (MSE or Gaussian negative log-likelihood).

Both compute in float32 (float64 inputs stay float64) with autocast off. The binary loss is the
softplus form of cross-entropy on logits (``-log sigmoid(s) = softplus(-s)``), never a log of a
probability. Per-sample losses: under DDP they return the local mean.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ._checks import as_float, check_nonempty, check_same_shape, check_tensor, float32_region


def binary_pretext(logits: Tensor, positive: Tensor) -> Tensor:
    """Binary cross-entropy of a verification head; scalar float32, mean over samples.

    logits: (N,) scores s_i (> 0 means "in order" / "played forward"); positive: (N,) bool or
    0/1, the truth::

        loss = mean_i  positive_i * softplus(-s_i) + (1 - positive_i) * softplus(s_i)
    """
    check_tensor("logits", logits, 1, "a 1-D Tensor (N,) of scores")
    check_nonempty("logits", logits, "1-D Tensor (N,) of scores")
    check_tensor("positive", positive, 1, "a 1-D bool or 0/1 Tensor (N,)")
    check_same_shape("logits", logits, "positive", positive)
    with float32_region(logits):
        s = as_float(logits)
        y = positive.to(device=s.device, dtype=s.dtype)
        return (y * F.softplus(-s) + (1 - y) * F.softplus(s)).mean()


def _future_targets(x: Tensor, K: int) -> tuple[Tensor, Tensor]:
    """(targets (B, T, K, C) with targets[:, t, k - 1] = x[:, t + k], valid (T, K) bool: t + k < T)."""
    T = x.shape[1]
    step = torch.arange(T, device=x.device)[:, None] + torch.arange(1, K + 1, device=x.device)  # (T, K)
    valid = step < T
    return x[:, step.clamp(max=T - 1)], valid


def next_step_prediction(pred: Tensor, x: Tensor, log_var: Tensor | None = None, *, context_from: int = 0) -> Tensor:
    """Autoregressive self-prediction loss; scalar float32, mean over every predicted value.

    pred: (B, T, K, C), pred[:, t, k - 1] the prediction of x[:, t + k] made from steps <= t;
    x: (B, T, C) the (standardised) windows. Counted: t >= ``context_from`` and t + k <= T - 1.
    Without ``log_var``, the mean squared error; with ``log_var`` (the same shape as pred, the
    predicted log-variance), the Gaussian negative log-likelihood without its constant::

        loss = mean_{b, t, k, c}  0.5 * (log_var + (x[b, t + k, c] - pred)^2 / exp(log_var))
    """
    check_tensor("pred", pred, 4, "a 4-D Tensor (B, T, K, C)")
    check_tensor("x", x, 3, "a 3-D Tensor (B, T, C)")
    check_nonempty("pred", pred, "4-D Tensor (B, T, K, C)")
    B, T, K, C = pred.shape
    if (x.shape[0], x.shape[1], x.shape[2]) != (B, T, C):
        raise ValueError(
            f"x must have shape (B, T, C) = ({B}, {T}, {C}) to match pred {tuple(pred.shape)}, got {tuple(x.shape)}"
        )
    if log_var is not None:
        check_tensor("log_var", log_var, 4, "a 4-D Tensor (B, T, K, C)")
        check_same_shape("pred", pred, "log_var", log_var)
    if isinstance(context_from, bool) or not isinstance(context_from, int) or not 0 <= context_from <= T - 2:
        raise ValueError(f"context_from must be an integer in [0, T - 2 = {T - 2}], got {context_from!r}")
    with float32_region(pred):
        p, target = as_float(pred, x)
        future, valid = _future_targets(target, K)
        valid = valid & (torch.arange(T, device=valid.device) >= context_from)[:, None]
        err = (future - p).pow(2)
        if log_var is not None:
            lv = as_float(log_var).to(err.dtype)
            err = 0.5 * (lv + err * torch.exp(-lv))
        w = valid.to(err.dtype)[None, :, :, None]  # (1, T, K, 1)
        # torch.where rather than a product: an unused (invalid) entry can never turn into NaN
        total = torch.where(w > 0, err, torch.zeros_like(err)).sum()
        return total / (B * C * w.sum())
