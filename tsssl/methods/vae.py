"""Variational auto-encoder (Kingma & Welling, ICLR 2014): "Auto-Encoding Variational Bayes".

Algorithm (one step)::

    x = batch[0]                              # (B, C, H, W) intensities in [0, 1]; labels unused
    h = trunk(x)                              # shared encoder layers
    mu, log_var = W_mu h, W_var h             # Gaussian posterior q(z|x) = N(mu, diag exp(log_var))
    z = mu + exp(log_var / 2) * eps           # reparameterisation, eps ~ N(0, I): one sample
    l = g(z)                                  # decoder: Bernoulli pixel logits p(x|z)
    loss = bernoulli_nll(l, x) + beta * KL(q(z|x) || N(0, I))   # -ELBO (beta = 1), nats per image

The representation kept is the posterior mean mu(x): ``self.encoder`` is trunk followed by
W_mu (out_dim = latent_dim). beta > 1 (beta-VAE, Higgins et al. 2017) weighs the prior more.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from tsssl.checks import check_positive
from tsssl.losses.reconstruction import negative_elbo
from tsssl.methods.base import Method, ViewFn, split_batch


class PosteriorMean(nn.Sequential):
    """x -> mu(x) = W_mu trunk(x): (B, latent_dim), the VAE's representation."""

    def __init__(self, trunk: nn.Module, mu: nn.Linear) -> None:
        super().__init__(trunk, mu)
        self.out_dim = mu.out_features


class VAE(Method):
    """trunk: (B, C, H, W) -> (B, trunk.out_dim); decoder: (B, latent_dim) -> (B, C, H, W)
    pixel logits (e.g. ``ConvDecoder``); ``beta`` weighs the KL term; ``view``: an optional
    augmentation of the input."""

    def __init__(
        self,
        trunk: nn.Module,
        decoder: nn.Module,
        view: ViewFn | None = None,
        *,
        latent_dim: int = 16,
        beta: float = 1.0,
    ) -> None:
        super().__init__()
        check_positive(latent_dim, "latent_dim", "VAE")
        if not isinstance(beta, (int, float)) or not beta >= 0:
            raise ValueError(f"VAE: beta must be a number >= 0, got {beta!r}")
        d = trunk.out_dim
        self.encoder = PosteriorMean(trunk, nn.Linear(d, latent_dim))
        self.log_var = nn.Linear(d, latent_dim)
        self.decoder, self.view, self.beta = decoder, view, float(beta)

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(mu, log_var), each (B, latent_dim)."""
        trunk, mu = self.encoder
        h = trunk(x)
        return mu(h), self.log_var(h)

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        x, _ = split_batch(batch)
        if self.view is not None:
            x = self.view(x)
        mu, log_var = self.posterior(x)
        z = mu + torch.exp(0.5 * log_var) * torch.randn_like(mu)
        return negative_elbo(self.decoder(z), x, mu, log_var, self.beta)
