"""negative_cosine against a naive loop reference; the target gets no gradient."""

import pytest
import torch

from tsssl.losses import negative_cosine


def naive_negative_cosine(p, z):
    B, D = p.shape
    total = 0.0
    for i in range(B):
        dot = sum(p[i, d] * z[i, d] for d in range(D))
        norm_p = torch.sqrt(sum(p[i, d] ** 2 for d in range(D)))
        norm_z = torch.sqrt(sum(z[i, d] ** 2 for d in range(D)))
        total = total - dot / (norm_p * norm_z)
    return total / B


def test_negative_cosine_matches_naive_value_and_gradient():
    g = torch.Generator().manual_seed(0)
    p = torch.randn(5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    z = torch.randn(5, 4, generator=g, dtype=torch.float64)
    fast = negative_cosine(p, z)
    (g_fast,) = torch.autograd.grad(fast, p)
    ref = naive_negative_cosine(p, z)
    (g_ref,) = torch.autograd.grad(ref, p)
    torch.testing.assert_close(fast, ref)
    torch.testing.assert_close(g_fast, g_ref)


def test_negative_cosine_stops_the_gradient_at_the_target():
    p = torch.randn(4, 3, requires_grad=True)
    z = torch.randn(4, 3, requires_grad=True)
    negative_cosine(p, z).backward()
    assert z.grad is None and p.grad is not None and p.grad.abs().sum() > 0


def test_negative_cosine_range():
    z = torch.randn(6, 3)
    assert negative_cosine(z, z).item() == pytest.approx(-1.0)
    assert negative_cosine(-z, z).item() == pytest.approx(1.0)


@pytest.mark.parametrize(
    "p, z, match",
    [(torch.randn(4, 3), torch.randn(4, 2), "p and z"), (torch.randn(4), torch.randn(4), "p must")],
)
def test_negative_cosine_argument_errors(p, z, match):
    with pytest.raises(ValueError, match=match):
        negative_cosine(p, z)
