"""tnc_loss (TNC) against its equation written out term by term in float64: value, gradients, the
positive-unlabelled weight, limits, autocast and the argument checks."""

import math

import pytest
import torch

from tsssl.losses import tnc_loss


def naive_tnc(near, far, w):
    """mean -log D(near) + mean [-(1 - w) log(1 - D(far)) - w log D(far)], D = 1 / (1 + e^-s)."""

    def d(s):
        return 1 / (1 + torch.exp(-s))

    pos = sum(-torch.log(d(s)) for row in near for s in row) / near.numel()
    unl = sum(-(1 - w) * torch.log(1 - d(s)) - w * torch.log(d(s)) for row in far for s in row) / far.numel()
    return pos + unl


def _leaves(*shapes, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [(2 * torch.randn(*s, generator=g, dtype=torch.float64)).requires_grad_() for s in shapes]


@pytest.mark.parametrize(("w", "m_far"), [(0.05, 4), (0.0, 2), (0.5, 5)])
def test_matches_the_equation_and_its_gradients(w, m_far):
    near, far = _leaves((6, 4), (6, m_far))
    got, ref = tnc_loss(near, far, w), naive_tnc(near, far, w)
    torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-12)
    for gg, gr in zip(torch.autograd.grad(got, [near, far]), torch.autograd.grad(ref, [near, far])):
        torch.testing.assert_close(gg, gr, rtol=1e-9, atol=1e-12)


def test_the_weight_moves_the_far_windows_towards_positives():
    near, far = torch.zeros(3, 2), torch.zeros(3, 2)
    assert tnc_loss(near, far, 0.3).item() == pytest.approx(2 * math.log(2))  # every D = 1/2
    far = torch.full((3, 2), 4.0)  # far windows scored as neighbours
    assert tnc_loss(near, far, 0.5) < tnc_loss(near, far, 0.05) < tnc_loss(near, far, 0.0)


def test_extreme_logits_stay_finite_and_reach_the_limits():
    near, far = torch.full((2, 3), 200.0), torch.full((2, 3), -200.0)
    assert tnc_loss(near, far, 0.0).item() == pytest.approx(0.0, abs=1e-30)
    assert tnc_loss(near, far, 0.1).item() == pytest.approx(0.1 * 200.0, rel=1e-6)  # w log D(-200)
    assert torch.isfinite(tnc_loss(-near, -far, 0.05))


def test_computes_in_float32_under_bf16_autocast():
    near, far = torch.randn(4, 3).bfloat16(), torch.randn(4, 3).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = tnc_loss(near, far)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, tnc_loss(near.float(), far.float()))


@pytest.mark.parametrize(
    ("near", "far", "w", "fragment"),
    [
        (torch.zeros(4), torch.zeros(4, 2), 0.1, "near_logits must be a 2-D Tensor"),
        (torch.zeros(4, 2), torch.zeros(3, 2), 0.1, "one row per anchor"),
        (torch.zeros(0, 2), torch.zeros(0, 2), 0.1, "near_logits"),
        (torch.zeros(4, 2), torch.zeros(4, 2), 1.0, "w must be a number in [0, 1)"),
        (torch.zeros(4, 2), torch.zeros(4, 2), True, "w must be a number in [0, 1)"),
    ],
)
def test_bad_arguments_are_named(near, far, w, fragment):
    with pytest.raises(ValueError, match=fragment.replace("[", r"\[").replace(")", r"\)").replace("(", r"\(")):
        tnc_loss(near, far, w)
