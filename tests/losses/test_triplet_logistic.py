"""triplet_logistic (T-Loss) against a naive loop in float64: value, gradients, weighting, checks."""

import math

import pytest
import torch

from tsssl.losses import triplet_logistic


def naive_triplet_logistic(a, p, n, w):
    B, K = n.shape[0], n.shape[1]
    total = 0.0
    for i in range(B):
        s = sum(a[i, d] * p[i, d] for d in range(a.shape[1]))
        loss = -torch.log(1 / (1 + torch.exp(-s)))
        for k in range(K):
            s_n = sum(a[i, d] * n[i, k, d] for d in range(a.shape[1]))
            loss = loss - w * torch.log(1 / (1 + torch.exp(s_n)))
        total = total + loss
    return total / B


def _leaves(*shapes, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return [(scale * torch.randn(*s, generator=g, dtype=torch.float64)).requires_grad_() for s in shapes]


@pytest.mark.parametrize("weight", [1.0, 1 / 3, 0.0])
def test_matches_the_naive_loop_and_its_gradients(weight):
    a, p, n = _leaves((5, 4), (5, 4), (5, 3, 4), scale=0.8)
    fast = triplet_logistic(a, p, n, negative_weight=weight)
    ref = naive_triplet_logistic(a, p, n, weight)
    torch.testing.assert_close(fast, ref, rtol=1e-10, atol=1e-12)
    for gf, gr in zip(torch.autograd.grad(fast, [a, p, n]), torch.autograd.grad(ref, [a, p, n])):
        torch.testing.assert_close(gf, gr, rtol=1e-9, atol=1e-12)


def test_large_scores_stay_finite_and_reach_the_right_limits():
    a = torch.full((2, 3), 30.0)
    # positive aligned, negative opposite: loss -> 0; swapped: loss ~ 2 * 2700 (softplus(s) ~ s)
    good = triplet_logistic(a, a, -a[:, None])
    bad = triplet_logistic(a, -a, a[:, None])
    assert good.item() == pytest.approx(0.0, abs=1e-6)
    assert math.isfinite(bad.item()) and bad.item() == pytest.approx(2 * 2700.0, rel=1e-6)


def test_float32_under_bf16_autocast():
    a, p, n = (t.detach().float() for t in _leaves((4, 6), (4, 6), (4, 2, 6)))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = triplet_logistic(a.bfloat16(), p.bfloat16(), n.bfloat16())
    assert out.dtype == torch.float32


def test_bad_shapes_are_reported():
    a = torch.randn(4, 3)
    with pytest.raises(ValueError, match=r"negatives must have shape \(B, K, D\)"):
        triplet_logistic(a, a, torch.randn(4, 2, 5))
    with pytest.raises(ValueError, match="negatives must be a 3-D"):
        triplet_logistic(a, a, torch.randn(4, 3))
    with pytest.raises(ValueError, match="same shape"):
        triplet_logistic(a, torch.randn(3, 3), torch.randn(4, 1, 3))
    with pytest.raises(ValueError, match="negative_weight"):
        triplet_logistic(a, a, torch.randn(4, 1, 3), negative_weight=-1)
