"""barlow_twins and vicreg against naive loop references in float64 (values and gradients)."""

import pytest
import torch

from tsssl.losses import barlow_twins, vicreg


def _columns_standardised(z, eps):
    N, D = z.shape
    out = [[None] * D for _ in range(N)]
    for d in range(D):
        mean = sum(z[n, d] for n in range(N)) / N
        var = sum((z[n, d] - mean) ** 2 for n in range(N)) / N
        for n in range(N):
            out[n][d] = (z[n, d] - mean) / torch.sqrt(var + eps)
    return out


def naive_barlow_twins(z1, z2, lambd, eps=1e-5):
    N, D = z1.shape
    a, b = _columns_standardised(z1, eps), _columns_standardised(z2, eps)
    loss = 0.0
    for i in range(D):
        for j in range(D):
            c = sum(a[n][i] * b[n][j] for n in range(N)) / N
            loss = loss + ((1 - c) ** 2 if i == j else lambd * c**2)
    return loss


def naive_vicreg(z1, z2, sim=25.0, std=25.0, cov=1.0, eps=1e-4):
    N, D = z1.shape
    inv = sum((z1[n, d] - z2[n, d]) ** 2 for n in range(N) for d in range(D)) / (N * D)
    var_term, cov_term = 0.0, 0.0
    for z in (z1, z2):
        means = [sum(z[n, d] for n in range(N)) / N for d in range(D)]
        for d in range(D):
            var = sum((z[n, d] - means[d]) ** 2 for n in range(N)) / (N - 1)
            var_term = var_term + torch.relu(1 - torch.sqrt(var + eps)) / D / 2
        for i in range(D):
            for j in range(D):
                if i != j:
                    c = sum((z[n, i] - means[i]) * (z[n, j] - means[j]) for n in range(N)) / (N - 1)
                    cov_term = cov_term + c**2 / D
    return sim * inv + std * var_term + cov * cov_term


def _check(fast_fn, naive_fn, scale=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    leaves = [(scale * torch.randn(6, 3, generator=g, dtype=torch.float64)).requires_grad_() for _ in range(2)]
    fast = fast_fn(*leaves)
    g_fast = torch.autograd.grad(fast, leaves)
    ref = naive_fn(*leaves)
    g_ref = torch.autograd.grad(ref, leaves)
    torch.testing.assert_close(fast, ref, rtol=1e-10, atol=1e-12)
    for gf, gr in zip(g_fast, g_ref):
        torch.testing.assert_close(gf, gr, rtol=1e-9, atol=1e-12)


def test_barlow_twins_matches_naive():
    _check(lambda a, b: barlow_twins(a, b, lambd=0.05), lambda a, b: naive_barlow_twins(a, b, 0.05))


@pytest.mark.parametrize("scale", [0.3, 2.0])  # below 1: the variance hinge is active
def test_vicreg_matches_naive(scale):
    _check(vicreg, naive_vicreg, scale=scale, seed=1)


def test_vicreg_coefficients_are_used():
    g = torch.Generator().manual_seed(2)
    z1, z2 = torch.randn(8, 4, generator=g), torch.randn(8, 4, generator=g)
    only_inv = vicreg(z1, z2, sim_coeff=1.0, std_coeff=0.0, cov_coeff=0.0)
    torch.testing.assert_close(only_inv, torch.nn.functional.mse_loss(z1, z2))


def test_barlow_twins_is_minimal_for_identical_decorrelated_views():
    g = torch.Generator().manual_seed(3)
    z = torch.linalg.qr(torch.randn(64, 4, generator=g))[0]  # orthonormal, decorrelated columns
    z = z - z.mean(0)
    assert barlow_twins(z, z).item() < 0.05 < barlow_twins(z, torch.randn(64, 4, generator=g)).item()


@pytest.mark.parametrize("fn", [barlow_twins, vicreg])
@pytest.mark.parametrize(
    "z1, z2, match",
    [
        (torch.randn(4, 3), torch.randn(4, 2), "z1 and z2"),
        (torch.randn(4), torch.randn(4), "z1 must"),
        (torch.randn(1, 3), torch.randn(1, 3), "at least 2"),
    ],
)
def test_argument_errors(fn, z1, z2, match):
    with pytest.raises(ValueError, match=match):
        fn(z1, z2)


def test_negative_coefficients_are_rejected():
    with pytest.raises(ValueError, match="lambd"):
        barlow_twins(torch.randn(4, 3), torch.randn(4, 3), lambd=-1.0)
    with pytest.raises(ValueError, match="std_coeff"):
        vicreg(torch.randn(4, 3), torch.randn(4, 3), std_coeff=-1.0)
