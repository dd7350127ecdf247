"""stepwise_info_nce (TS-TCC's temporal contrasting) against a naive loop in float64 and against
info_nce step by step."""

import pytest
import torch

from tsssl.losses import info_nce, stepwise_info_nce


def naive_stepwise(p, z, temperature, normalize):
    B, K, D = p.shape
    if normalize:
        p = p / p.norm(dim=-1, keepdim=True)
        z = z / z.norm(dim=-1, keepdim=True)
    total = 0.0
    for k in range(K):
        for i in range(B):
            s = [sum(p[i, k, d] * z[j, k, d] for d in range(D)) / temperature for j in range(B)]
            total = total - (s[i] - torch.log(sum(torch.exp(v) for v in s)))
    return total / (B * K)


def _leaves(*shapes, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=g, dtype=torch.float64).requires_grad_() for s in shapes]


@pytest.mark.parametrize(("temperature", "normalize"), [(1.0, False), (0.2, True)])
def test_matches_the_naive_loop_and_its_gradients(temperature, normalize):
    p, z = _leaves((5, 3, 4), (5, 3, 4))
    fast = stepwise_info_nce(p, z, temperature, normalize=normalize)
    ref = naive_stepwise(p, z, temperature, normalize)
    torch.testing.assert_close(fast, ref, rtol=1e-10, atol=1e-12)
    for gf, gr in zip(torch.autograd.grad(fast, [p, z]), torch.autograd.grad(ref, [p, z])):
        torch.testing.assert_close(gf, gr, rtol=1e-9, atol=1e-12)


def test_is_the_mean_over_steps_of_info_nce():
    p, z = (t.detach() for t in _leaves((6, 4, 5), (6, 4, 5), seed=1))
    per_step = [info_nce(p[:, k], z[:, k], temperature=0.5, gather=False) for k in range(4)]
    torch.testing.assert_close(stepwise_info_nce(p, z, 0.5, normalize=True), torch.stack(per_step).mean())


def test_bad_input_is_reported():
    with pytest.raises(ValueError, match="predictions must be a 3-D"):
        stepwise_info_nce(torch.randn(4, 3), torch.randn(4, 3))
    with pytest.raises(ValueError, match="same shape"):
        stepwise_info_nce(torch.randn(4, 2, 3), torch.randn(4, 3, 3))
    with pytest.raises(ValueError, match="temperature"):
        stepwise_info_nce(torch.randn(4, 2, 3), torch.randn(4, 2, 3), temperature=0)
