"""contrastive_pair, triplet_margin and lifted_structured against naive loops in float64."""

import pytest
import torch

from tsssl.losses import contrastive_pair, lifted_structured, triplet_margin


def _d(a, b):
    return torch.sqrt(sum((a[k] - b[k]) ** 2 for k in range(len(a))))


def naive_contrastive_pair(z1, z2, same, margin):
    B = z1.shape[0]
    total = 0.0
    for i in range(B):
        d = _d(z1[i], z2[i])
        total = total + (d**2 if same[i] else max(torch.zeros((), dtype=d.dtype), margin - d) ** 2)
    return total / B


def naive_triplet(a, p, n, margin):
    B = a.shape[0]
    return sum(torch.relu(_d(a[i], p[i]) - _d(a[i], n[i]) + margin) for i in range(B)) / B


def naive_lifted(x, labels, margin):
    B = x.shape[0]
    pairs = [(i, j) for i in range(B) for j in range(i + 1, B) if labels[i] == labels[j]]
    total = 0.0
    for i, j in pairs:
        s = sum(torch.exp(margin - _d(x[i], x[k])) for k in range(B) if labels[k] != labels[i])
        s = s + sum(torch.exp(margin - _d(x[j], x[m])) for m in range(B) if labels[m] != labels[j])
        J = torch.log(s) + _d(x[i], x[j])
        total = total + torch.relu(J) ** 2
    return total / (2 * len(pairs))


def _grads_match(fast, ref, leaves):
    g_fast = torch.autograd.grad(fast, leaves)
    g_ref = torch.autograd.grad(ref, leaves)
    torch.testing.assert_close(fast, ref, rtol=1e-10, atol=1e-12)
    for gf, gr in zip(g_fast, g_ref):
        torch.testing.assert_close(gf, gr, rtol=1e-9, atol=1e-12)


def _leaves(n, *shapes, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return [(scale * torch.randn(*s, generator=g, dtype=torch.float64)).requires_grad_() for s in shapes]


def test_contrastive_pair_matches_naive_with_both_hinge_sides():
    z1, z2 = _leaves(0, (6, 3), (6, 3), scale=0.6)
    same = [1, 0, 1, 0, 0, 1]
    # margin 2.0: some dissimilar pairs inside the margin, some outside
    d = (z1 - z2).norm(dim=1).detach()
    dissimilar = d[torch.tensor(same) == 0]
    assert (dissimilar < 2.0).any() and (dissimilar > 2.0).any()
    fast = contrastive_pair(z1, z2, torch.tensor(same, dtype=torch.bool), margin=2.0)
    _grads_match(fast, naive_contrastive_pair(z1, z2, same, 2.0), [z1, z2])


def test_contrastive_pair_accepts_float_indicator():
    z1, z2 = torch.randn(4, 2), torch.randn(4, 2)
    same = torch.tensor([1, 0, 0, 1])
    torch.testing.assert_close(contrastive_pair(z1, z2, same.float()), contrastive_pair(z1, z2, same.bool()))


def test_triplet_margin_matches_naive_and_torch():
    a, p, n = _leaves(0, (7, 3), (7, 3), (7, 3), seed=1)
    fast = triplet_margin(a, p, n, margin=0.5)
    torch.testing.assert_close(fast, torch.nn.functional.triplet_margin_loss(a, p, n, margin=0.5, eps=0.0))
    _grads_match(fast, naive_triplet(a, p, n, 0.5), [a, p, n])


def test_lifted_structured_matches_naive():
    (x,) = _leaves(0, (7, 3), seed=2, scale=0.5)
    labels = [0, 1, 0, 1, 2, 0, 3]
    fast = lifted_structured(x, torch.tensor(labels), margin=1.0)
    assert fast.item() > 0
    _grads_match(fast, naive_lifted(x, labels, 1.0), [x])


def test_lifted_structured_edge_batches_stay_finite():
    x = torch.randn(4, 3, requires_grad=True)
    none = lifted_structured(x, torch.arange(4))  # no positive pair
    one_class = lifted_structured(x, torch.zeros(4, dtype=torch.long))  # no negatives: J = D_ij
    (none + one_class).backward()
    assert none.item() == 0.0 and torch.isfinite(one_class) and torch.isfinite(x.grad).all()


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: contrastive_pair(torch.randn(4, 3), torch.randn(4, 2), torch.ones(4)), "z1 and z2"),
        (lambda: contrastive_pair(torch.randn(4, 3), torch.randn(4, 3), torch.ones(3)), "same"),
        (lambda: contrastive_pair(torch.randn(4, 3), torch.randn(4, 3), torch.ones(4), margin=-1), "margin"),
        (lambda: triplet_margin(torch.randn(4, 3), torch.randn(4, 3), torch.randn(5, 3)), "negative"),
        (lambda: triplet_margin(torch.randn(4), torch.randn(4), torch.randn(4)), "anchor"),
        (lambda: triplet_margin(torch.randn(4, 3), torch.randn(4, 3), torch.randn(4, 3), margin=-0.1), "margin"),
        (lambda: lifted_structured(torch.randn(4, 3), torch.arange(3)), "labels"),
        (lambda: lifted_structured(torch.randn(4, 3), torch.arange(4), margin=float("inf")), "margin"),
    ],
)
def test_argument_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
