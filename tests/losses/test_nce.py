"""nce against a naive loop reference (logistic data-vs-noise) in float64."""

import math

import pytest
import torch

from tsssl.losses import nce


def _log_sigmoid(s):
    return torch.log(1 / (1 + torch.exp(-s)))


def naive_nce(data, noise):
    B = data.shape[0]
    total = -sum(_log_sigmoid(data[i]) for i in range(B))
    flat = noise.reshape(-1)
    total = total - sum(torch.log(1 - 1 / (1 + torch.exp(-flat[m]))) for m in range(flat.shape[0]))
    return total / B


@pytest.mark.parametrize("noise_shape", [(5, 3), (7,)])
def test_nce_matches_naive(noise_shape):
    g = torch.Generator().manual_seed(0)
    data = torch.randn(5, generator=g, dtype=torch.float64, requires_grad=True)
    noise = torch.randn(*noise_shape, generator=g, dtype=torch.float64, requires_grad=True)
    fast = nce(data, noise)
    g_fast = torch.autograd.grad(fast, [data, noise])
    ref = naive_nce(data, noise)
    g_ref = torch.autograd.grad(ref, [data, noise])
    torch.testing.assert_close(fast, ref)
    for a, b in zip(g_fast, g_ref):
        torch.testing.assert_close(a, b)


def test_nce_is_stable_for_extreme_scores():
    loss = nce(torch.tensor([200.0, -200.0]), torch.tensor([[-200.0], [200.0]]))
    assert math.isfinite(loss.item()) and loss.item() == pytest.approx(200.0, rel=1e-6)


@pytest.mark.parametrize(
    "data, noise, match",
    [
        (torch.randn(4, 1), torch.randn(4, 2), "scores_data"),
        (torch.randn(4), torch.randn(3, 2), "scores_noise"),
        (torch.randn(4), torch.randn(4, 2, 1), "scores_noise"),
    ],
)
def test_nce_argument_errors(data, noise, match):
    with pytest.raises(ValueError, match=match):
        nce(data, noise)
