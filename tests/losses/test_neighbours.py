"""nearest_neighbour and nnclr_loss against naive loop references in float64 (values and grads)."""

import pytest
import torch

from tsssl.losses.neighbours import nearest_neighbour, nnclr_loss


def _cos(a, b):
    dot = sum(a[d] * b[d] for d in range(len(a)))
    return dot / (torch.sqrt(sum(a[d] ** 2 for d in range(len(a)))) * torch.sqrt(sum(b[d] ** 2 for d in range(len(b)))))


def naive_nearest_neighbour(z, support):
    out = []
    for i in range(z.shape[0]):
        best, best_k = None, None
        for k in range(support.shape[0]):
            c = _cos(z[i], support[k]).item()
            if best is None or c > best:  # strictly greater: the first on ties
                best, best_k = c, k
        out.append(support[best_k])
    return torch.stack(out)


def naive_l(nn, p, t):
    B = nn.shape[0]
    total = 0.0
    for i in range(B):
        denom = sum(torch.exp(_cos(nn[i], p[k]) / t) for k in range(B))
        total = total - torch.log(torch.exp(_cos(nn[i], p[i]) / t) / denom)
    return total / B


def naive_nnclr(p1, p2, nn1, nn2, t):
    return naive_l(nn1, p2, t) / 2 + naive_l(nn2, p1, t) / 2


def test_nearest_neighbour_matches_the_naive_lookup():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(6, 4, generator=g, dtype=torch.float64)
    support = torch.randn(9, 4, generator=g, dtype=torch.float64) * torch.rand(9, 1, generator=g, dtype=torch.float64)
    torch.testing.assert_close(nearest_neighbour(z, support), naive_nearest_neighbour(z, support), rtol=0, atol=0)


def test_nearest_neighbour_is_cosine_not_euclidean_and_takes_the_first_tie():
    support = torch.tensor([[10.0, 0.0], [0.25, 0.25], [0.0, 3.0], [0.0, 5.0]])
    z = torch.tensor([[1.0, 1.2], [0.0, 1.0]])
    got = nearest_neighbour(z, support)
    torch.testing.assert_close(got, naive_nearest_neighbour(z, support))
    assert got[1].tolist() == [0.0, 3.0]  # [0, 3] and [0, 5] tie at cosine 1: the first wins
    assert got[0].tolist() == [0.25, 0.25]  # the short vector at 45 degrees, not the long [10, 0] or [0, 3]


def test_nearest_neighbour_carries_no_gradient():
    z = torch.randn(3, 2, requires_grad=True)
    support = torch.randn(5, 2, requires_grad=True)
    out = nearest_neighbour(z * 2, support)
    assert not out.requires_grad


def test_nnclr_loss_matches_naive_values_and_gradients():
    g = torch.Generator().manual_seed(1)
    leaves = [torch.randn(5, 3, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(4)]
    fast = nnclr_loss(*leaves, temperature=0.3)
    ref = naive_nnclr(*leaves, 0.3)
    torch.testing.assert_close(fast, ref, rtol=1e-10, atol=1e-12)
    for gf, gr in zip(torch.autograd.grad(fast, leaves), torch.autograd.grad(ref, leaves)):
        torch.testing.assert_close(gf, gr, rtol=1e-9, atol=1e-12)


def test_nnclr_loss_is_low_when_each_neighbour_points_at_its_own_prediction():
    p = torch.eye(4)
    assert nnclr_loss(p, p, p, p, temperature=0.1).item() < 0.01
    assert nnclr_loss(p, p, p.roll(1, 0), p.roll(1, 0), temperature=0.1).item() > 5


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: nearest_neighbour(torch.randn(3), torch.randn(4, 3)), "z"),
        (lambda: nearest_neighbour(torch.randn(3, 2), torch.randn(0, 2)), "support"),
        (lambda: nearest_neighbour(torch.randn(3, 2), torch.randn(4, 3)), "feature size"),
        (lambda: nnclr_loss(torch.randn(4, 3), torch.randn(5, 3), torch.randn(4, 3), torch.randn(5, 3)), "p1 and p2"),
        (lambda: nnclr_loss(torch.randn(4, 3), torch.randn(4, 3), torch.randn(4, 2), torch.randn(4, 3)), "nn1"),
        (lambda: nnclr_loss(*(torch.randn(4, 3) for _ in range(4)), temperature=0), "temperature"),
    ],
)
def test_argument_errors_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
