"""Reconstruction losses of the auto-encoding methods (inpainting, denoising and variational
auto-encoders) and the Gaussian KL term of the VAE's evidence lower bound.

- ``region_mse(pred, target, mask)``: squared error over the masked pixels only (the context
  encoder's L2 loss on the hidden region);
- ``bernoulli_nll(logits, target)``: the cross-entropy of pixel intensities in [0, 1] under
  independent Bernoulli pixels with the given logits, summed over an image's pixels, mean over
  images (the denoising auto-encoder's and the VAE's reconstruction term);
- ``gaussian_kl(mu, log_var)``: KL( N(mu, diag exp(log_var)) || N(0, I) ) in closed form,
  summed over the latent dimensions, mean over samples;
- ``negative_elbo(logits, target, mu, log_var, beta)``: bernoulli_nll + beta * gaussian_kl.

All compute in float32 (float64 inputs stay float64) with autocast off; per-sample means, so
under DDP they return the local mean.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ._checks import as_float, check_nonempty, check_nonnegative, check_same_shape, check_tensor, float32_region


def region_mse(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean squared error over the masked entries; scalar.

    pred, target: (B, C, H, W) (any equal shapes); mask: bool of the same shape (or
    broadcastable to it, e.g. (B, 1, H, W)), True = an entry to reconstruct::

        loss = sum(mask * (pred - target)^2) / sum(mask)

    0 with zero gradient when nothing is masked.
    """
    check_tensor("pred", pred, tuple(range(1, 9)), "a Tensor such as (B, C, H, W)")
    check_tensor("target", target, pred.ndim, f"a Tensor of pred's shape {tuple(pred.shape)}")
    check_same_shape("pred", pred, "target", target)
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
        raise ValueError(
            f"mask must be a bool Tensor broadcastable to pred's shape, got {getattr(mask, 'dtype', mask)}"
        )
    try:
        mask = mask.expand_as(pred)
    except RuntimeError:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} does not broadcast to pred's shape {tuple(pred.shape)}"
        ) from None
    with float32_region(pred):
        p, t = as_float(pred, target)
        sq = torch.where(mask, (p - t).pow(2), torch.zeros_like(p))
        return sq.sum() / mask.sum().clamp_min(1)


def bernoulli_nll(logits: Tensor, target: Tensor) -> Tensor:
    """-log p(target | logits) of independent Bernoulli pixels, summed over each sample's
    entries, mean over samples; scalar (nats per image).

    logits: (B, ...) decoder outputs; target: the same shape, intensities in [0, 1] (continuous
    intensities give the usual cross-entropy of grey-level images)::

        loss = mean_b sum_i  softplus(l_bi) - target_bi * l_bi
    """
    check_tensor("logits", logits, tuple(range(1, 9)), "a Tensor (B, ...) of pixel logits")
    check_nonempty("logits", logits, "Tensor (B, ...) of pixel logits")
    check_same_shape("logits", logits, "target", target)
    with float32_region(logits):
        s, t = as_float(logits, target)
        per_entry = F.binary_cross_entropy_with_logits(s, t, reduction="none")
        return per_entry.reshape(len(s), -1).sum(1).mean()


def gaussian_kl(mu: Tensor, log_var: Tensor) -> Tensor:
    """KL( N(mu, diag(exp(log_var))) || N(0, I) ), summed over the latent dims, mean over the
    batch; scalar (nats).

    mu, log_var: (B, D)::

        KL_b = 1/2 sum_d ( mu_bd^2 + exp(log_var_bd) - 1 - log_var_bd )
    """
    check_tensor("mu", mu, 2, "a 2-D Tensor (B, D) of posterior means")
    check_nonempty("mu", mu, "2-D Tensor (B, D)")
    check_tensor("log_var", log_var, 2, "a 2-D Tensor (B, D) of posterior log-variances")
    check_same_shape("mu", mu, "log_var", log_var)
    with float32_region(mu):
        m, lv = as_float(mu, log_var)
        return 0.5 * (m.pow(2) + lv.exp() - 1.0 - lv).sum(1).mean()


def negative_elbo(logits: Tensor, target: Tensor, mu: Tensor, log_var: Tensor, beta: float = 1.0) -> Tensor:
    """The VAE's loss, -ELBO with a weighted KL (beta-VAE; beta = 1: Kingma & Welling)::

    bernoulli_nll(logits, target) + beta * gaussian_kl(mu, log_var)   (nats per sample)
    """
    check_nonnegative(beta, "beta")
    return bernoulli_nll(logits, target) + beta * gaussian_kl(mu, log_var)
