"""TS2Vec's hierarchical contrastive loss against the paper's formulas written out anchor by anchor
(float64), its edge cases (B = 1, T = 1, odd lengths), gradients and errors."""

import math

import pytest
import torch

from tsssl.losses import hierarchical_contrastive, instance_contrastive, temporal_contrastive
from tsssl.losses.hierarchical import sample_anchors


def _pair(B, T, D, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, T, D, generator=g, dtype=torch.float64), torch.randn(
        B, T, D, generator=g, dtype=torch.float64
    )


def _nll(anchor, positive, negatives):
    """-log exp(a.p) / (exp(a.p) + sum_n exp(a.n)), with plain floats."""
    pos = math.exp(float(anchor @ positive))
    return -math.log(pos / (pos + sum(math.exp(float(anchor @ n)) for n in negatives)))


def naive_instance(z1, z2):
    B, T, _ = z1.shape
    if B == 1:
        return 0.0
    total = 0.0
    for t in range(T):
        for i in range(B):
            for a, b in ((z1, z2), (z2, z1)):  # both directions
                negatives = [b[j, t] for j in range(B) if j != i] + [a[j, t] for j in range(B) if j != i]
                total += _nll(a[i, t], b[i, t], negatives)
    return total / (2 * B * T)


def naive_temporal(z1, z2, anchors=None):
    B, T, _ = z1.shape
    if T == 1:
        return 0.0
    steps = range(T) if anchors is None else [int(t) for t in anchors]
    total = 0.0
    for i in range(B):
        for t in steps:
            for a, b in ((z1, z2), (z2, z1)):
                negatives = [b[i, s] for s in range(T) if s != t] + [a[i, s] for s in range(T) if s != t]
                total += _nll(a[i, t], b[i, t], negatives)
    return total / (2 * B * len(steps))


def naive_halve(z):
    B, T, D = z.shape
    return torch.stack([torch.maximum(z[:, 2 * k], z[:, 2 * k + 1]) for k in range(T // 2)], dim=1)


def naive_hierarchical(z1, z2, alpha, temporal_unit):
    total, scale = 0.0, 0
    while z1.shape[1] > 1:
        total += alpha * naive_instance(z1, z2)
        if scale >= temporal_unit:
            total += (1 - alpha) * naive_temporal(z1, z2)
        z1, z2, scale = naive_halve(z1), naive_halve(z2), scale + 1
    total += alpha * naive_instance(z1, z2)  # the last scale (one step): no temporal term
    return total / (scale + 1)


@pytest.mark.parametrize("B,T", [(4, 6), (3, 1), (1, 5), (5, 7)])
def test_instance_and_temporal_terms_match_the_formulas(B, T):
    z1, z2 = _pair(B, T, 5, seed=B * 10 + T)
    torch.testing.assert_close(instance_contrastive(z1, z2).item(), naive_instance(z1, z2), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(temporal_contrastive(z1, z2).item(), naive_temporal(z1, z2), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "B,T,alpha,unit", [(4, 8, 0.5, 0), (3, 11, 0.3, 1), (2, 13, 1.0, 0), (4, 6, 0.0, 2), (1, 9, 0.5, 0), (3, 1, 0.5, 0)]
)
def test_hierarchical_matches_the_loop_over_scales(B, T, alpha, unit):
    z1, z2 = _pair(B, T, 4, seed=T)
    got = hierarchical_contrastive(z1, z2, alpha=alpha, temporal_unit=unit)
    assert got.dtype == torch.float64 and got.dim() == 0
    torch.testing.assert_close(got.item(), naive_hierarchical(z1, z2, alpha, unit), rtol=1e-10, atol=1e-12)


def test_temporal_term_over_anchor_steps_matches_the_formula():
    z1, z2 = _pair(3, 9, 4, seed=5)
    anchors = torch.tensor([0, 4, 8])
    got = temporal_contrastive(z1, z2, anchors).item()
    torch.testing.assert_close(got, naive_temporal(z1, z2, anchors), rtol=1e-10, atol=1e-12)
    assert abs(got - naive_temporal(z1, z2)) > 1e-6  # a subset, not the full mean
    # averaged over every subset of 3 of the 9 anchors, the estimate is the full term (unbiased)
    import itertools

    subsets = [torch.tensor(c) for c in itertools.combinations(range(9), 3)]
    mean = sum(temporal_contrastive(z1, z2, a).item() for a in subsets) / len(subsets)
    torch.testing.assert_close(mean, naive_temporal(z1, z2), rtol=1e-10, atol=1e-12)


def test_hierarchical_with_max_anchors_samples_the_temporal_anchors_per_scale():
    z1, z2 = _pair(2, 12, 4, seed=2)
    # max_anchors >= T at every scale: the exact loss
    torch.testing.assert_close(hierarchical_contrastive(z1, z2, max_anchors=12), hierarchical_contrastive(z1, z2))
    got = hierarchical_contrastive(z1, z2, max_anchors=4, generator=torch.Generator().manual_seed(7))
    g = torch.Generator().manual_seed(7)  # the same draws, scale by scale: 12 -> 6 steps sampled, 3 -> 1 not
    a12, a6 = sample_anchors(12, 4, g), sample_anchors(6, 4, g)
    assert sample_anchors(3, 4, g) is None and len(a12) == 4 and len(torch.unique(a12)) == 4
    h1, h2 = naive_halve(z1), naive_halve(z2)
    q1, q2 = naive_halve(h1), naive_halve(h2)
    expected = (
        0.5 * naive_instance(z1, z2)
        + 0.5 * naive_temporal(z1, z2, a12)
        + 0.5 * naive_instance(h1, h2)
        + 0.5 * naive_temporal(h1, h2, a6)
        + 0.5 * naive_instance(q1, q2)
        + 0.5 * naive_temporal(q1, q2)
        + 0.5 * naive_instance(naive_halve(q1), naive_halve(q2))
    ) / 4
    torch.testing.assert_close(got.item(), expected, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="max_anchors must be a positive integer or None, got 0"):
        hierarchical_contrastive(z1, z2, max_anchors=0)


def test_edge_cases():
    z1, z2 = _pair(1, 4, 3)
    assert instance_contrastive(z1, z2).item() == 0.0  # one series: no negative
    z1, z2 = _pair(4, 1, 3)
    assert temporal_contrastive(z1, z2).item() == 0.0  # one step: no negative
    # T = 1: one scale, the instance term alone
    torch.testing.assert_close(hierarchical_contrastive(z1, z2), 0.5 * instance_contrastive(z1, z2))
    # B = 1 and T = 1: nothing to contrast, a zero loss (not NaN)
    assert hierarchical_contrastive(*_pair(1, 1, 3)).item() == 0.0


def test_matching_views_score_lower_and_gradients_flow():
    torch.manual_seed(0)
    z = torch.randn(6, 16, 8) * 3
    matched = hierarchical_contrastive(z, z + 0.01 * torch.randn_like(z))
    shuffled = hierarchical_contrastive(z, z[torch.randperm(6)][:, torch.randperm(16)])
    assert matched < shuffled
    z1 = torch.randn(4, 10, 8, requires_grad=True)
    loss = hierarchical_contrastive(z1, torch.randn(4, 10, 8))
    loss.backward()
    assert loss.dtype == torch.float32 and torch.isfinite(z1.grad).all() and z1.grad.abs().sum() > 0


def test_float32_under_bf16_autocast():
    z1, z2 = (t.float() for t in _pair(4, 8, 6))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = hierarchical_contrastive(z1.bfloat16(), z2.bfloat16())
    assert got.dtype == torch.float32


def test_bad_arguments_are_reported():
    z1, z2 = _pair(2, 4, 3)
    with pytest.raises(ValueError, match=r"z1 must be a 3-D Tensor \(B, T, D\)"):
        hierarchical_contrastive(z1[0], z2[0])
    with pytest.raises(ValueError, match="z1 and z2 must have the same shape"):
        instance_contrastive(z1, z2[:, :3])
    with pytest.raises(ValueError, match=r"alpha must be a number in \[0, 1\]"):
        hierarchical_contrastive(z1, z2, alpha=1.5)
    with pytest.raises(ValueError, match="temporal_unit must be a non-negative integer"):
        hierarchical_contrastive(z1, z2, temporal_unit=-1)
