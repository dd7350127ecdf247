"""Reconstruction losses and the VAE's KL term against naive references written out here: the
masked-region L2, the Bernoulli pixel cross-entropy, the Gaussian KL in closed form and as a
Monte-Carlo estimate, and clear errors for bad input."""

import math

import pytest
import torch

from tsssl.losses.reconstruction import bernoulli_nll, gaussian_kl, negative_elbo, region_mse


def test_region_mse_counts_the_masked_pixels_only():
    g = torch.Generator().manual_seed(0)
    pred, target = torch.rand(3, 2, 4, 4, generator=g), torch.rand(3, 2, 4, 4, generator=g)
    mask = torch.rand(3, 1, 4, 4, generator=g) < 0.3
    total, count = 0.0, 0
    for b in range(3):
        for c in range(2):
            for i in range(4):
                for j in range(4):
                    if mask[b, 0, i, j]:
                        total += float(pred[b, c, i, j] - target[b, c, i, j]) ** 2
                        count += 1
    assert math.isclose(float(region_mse(pred, target, mask)), total / count, rel_tol=1e-5)
    # pixels outside the mask do not matter
    changed = torch.where(mask, pred, pred + 10.0)
    assert torch.allclose(region_mse(changed, target, mask), region_mse(pred, target, mask))
    nothing = torch.zeros_like(mask)
    assert float(region_mse(pred, target, nothing)) == 0.0


def test_bernoulli_nll_is_the_summed_pixel_cross_entropy():
    g = torch.Generator().manual_seed(1)
    logits, target = torch.randn(4, 1, 3, 3, generator=g, dtype=torch.float64), torch.rand(4, 1, 3, 3, generator=g)
    per_image = []
    for b in range(4):
        s = 0.0
        for s_i, t in zip(logits[b].flatten().tolist(), target[b].flatten().tolist()):
            p = 1 / (1 + math.exp(-s_i))
            s -= t * math.log(p) + (1 - t) * math.log(1 - p)
        per_image.append(s)
    assert math.isclose(float(bernoulli_nll(logits, target)), sum(per_image) / 4, rel_tol=1e-9)


def test_gaussian_kl_matches_its_closed_form_and_a_monte_carlo_estimate():
    g = torch.Generator().manual_seed(2)
    mu, log_var = (
        torch.randn(3, 4, generator=g, dtype=torch.float64),
        torch.randn(3, 4, generator=g, dtype=torch.float64),
    )
    naive = 0.0
    for b in range(3):
        for d in range(4):
            m, v = float(mu[b, d]), math.exp(float(log_var[b, d]))
            naive += 0.5 * (m * m + v - 1 - math.log(v))
    kl = float(gaussian_kl(mu, log_var))
    assert math.isclose(kl, naive / 3, rel_tol=1e-9)
    # E_q[log q(z) - log p(z)] with z ~ q, 200,000 samples per row
    std = torch.exp(0.5 * log_var)
    z = mu + std * torch.randn(200_000, 3, 4, generator=g, dtype=torch.float64)
    q = torch.distributions.Normal(mu, std)
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    mc = (q.log_prob(z) - p.log_prob(z)).sum(-1).mean(0).mean()
    assert abs(float(mc) - kl) < 0.02 * kl + 0.01, (float(mc), kl)
    assert float(gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3))) == 0.0  # q = prior


def test_negative_elbo_adds_beta_times_the_kl():
    g = torch.Generator().manual_seed(3)
    logits, x = torch.randn(5, 1, 4, 4, generator=g), torch.rand(5, 1, 4, 4, generator=g)
    mu, log_var = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    nll, kl = bernoulli_nll(logits, x), gaussian_kl(mu, log_var)
    assert torch.allclose(negative_elbo(logits, x, mu, log_var), nll + kl)
    assert torch.allclose(negative_elbo(logits, x, mu, log_var, beta=4.0), nll + 4 * kl)


def test_bad_input_raises_a_clear_error():
    x = torch.rand(2, 1, 4, 4)
    with pytest.raises(ValueError, match="bool"):
        region_mse(x, x, torch.ones(2, 1, 4, 4))
    with pytest.raises(ValueError, match="broadcast"):
        region_mse(x, x, torch.ones(2, 1, 3, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="same shape"):
        bernoulli_nll(x, x[:, :, :2])
    with pytest.raises(ValueError, match="log_var"):
        gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="beta"):
        negative_elbo(x, x, torch.zeros(2, 3), torch.zeros(2, 3), beta=-1.0)
