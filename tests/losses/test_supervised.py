"""supcon and soft_nearest_neighbors against naive loop references in float64."""

import pytest
import torch

from tsssl.losses import nt_xent, soft_nearest_neighbors, supcon


def _cos(a, b):
    D = len(a)
    return sum(a[d] * b[d] for d in range(D)) / (
        torch.sqrt(sum(a[d] ** 2 for d in range(D))) * torch.sqrt(sum(b[d] ** 2 for d in range(D)))
    )


def _sq(a, b):
    return sum((a[d] - b[d]) ** 2 for d in range(len(a)))


def naive_supcon(x, labels, t):
    B = x.shape[0]
    total, anchors = 0.0, 0
    for i in range(B):
        positives = [p for p in range(B) if p != i and labels[p] == labels[i]]
        if not positives:
            continue
        denom = sum(torch.exp(_cos(x[i], x[a]) / t) for a in range(B) if a != i)
        total = total - sum(torch.log(torch.exp(_cos(x[i], x[p]) / t) / denom) for p in positives) / len(positives)
        anchors += 1
    return total / anchors


def naive_snn(x, labels, t):
    B = x.shape[0]
    total, anchors = 0.0, 0
    for i in range(B):
        same = [j for j in range(B) if j != i and labels[j] == labels[i]]
        if not same:
            continue
        num = sum(torch.exp(-_sq(x[i], x[j]) / t) for j in same)
        den = sum(torch.exp(-_sq(x[i], x[k]) / t) for k in range(B) if k != i)
        total = total - torch.log(num / den)
        anchors += 1
    return total / anchors


# label 3 appears once: that anchor has no positive and is ignored
LABELS = [0, 1, 0, 2, 1, 1, 2, 3]


def _check(fast_fn, naive_fn, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    x = (scale * torch.randn(len(LABELS), 3, generator=g, dtype=torch.float64)).requires_grad_()
    fast = fast_fn(x, torch.tensor(LABELS))
    (g_fast,) = torch.autograd.grad(fast, x)
    ref = naive_fn(x, LABELS)
    (g_ref,) = torch.autograd.grad(ref, x)
    torch.testing.assert_close(fast, ref, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(g_fast, g_ref, rtol=1e-9, atol=1e-12)


def test_supcon_matches_naive():
    _check(lambda x, y: supcon(x, y, temperature=0.3), lambda x, y: naive_supcon(x, y, 0.3))


def test_soft_nearest_neighbors_matches_naive():
    _check(
        lambda x, y: soft_nearest_neighbors(x, y, temperature=0.8), lambda x, y: naive_snn(x, y, 0.8), seed=1, scale=0.7
    )


def test_supcon_with_distinct_labels_is_nt_xent():
    g = torch.Generator().manual_seed(2)
    z1, z2 = torch.randn(5, 4, generator=g, dtype=torch.float64), torch.randn(5, 4, generator=g, dtype=torch.float64)
    y = torch.arange(5)
    torch.testing.assert_close(
        supcon(torch.cat([z1, z2]), torch.cat([y, y]), temperature=0.5), nt_xent(z1, z2, temperature=0.5)
    )


def test_supcon_accepts_views_as_a_middle_dimension():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(4, 2, 3, generator=g, dtype=torch.float64)  # (B, V, D)
    y = torch.tensor([0, 1, 0, 2])
    flat = supcon(x.reshape(8, 3), y.repeat_interleave(2))
    torch.testing.assert_close(supcon(x, y), flat)


@pytest.mark.parametrize("fn", [supcon, soft_nearest_neighbors])
def test_no_positive_anywhere_gives_zero_with_zero_gradient(fn):
    x = torch.randn(4, 3, requires_grad=True)
    loss = fn(x, torch.arange(4))
    loss.backward()
    assert loss.item() == 0.0 and torch.all(x.grad == 0)


def test_soft_nearest_neighbors_is_low_for_separated_classes():
    g = torch.Generator().manual_seed(4)
    y = torch.tensor([0, 0, 0, 1, 1, 1])
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    x = centres[y] + 0.1 * torch.randn(6, 2, generator=g)
    mixed = torch.randn(6, 2, generator=g)
    assert soft_nearest_neighbors(x, y).item() < 1e-3 < soft_nearest_neighbors(mixed, y).item()


@pytest.mark.parametrize("fn", [supcon, soft_nearest_neighbors])
@pytest.mark.parametrize(
    "x, y, kw, match",
    [
        (torch.randn(4, 3), torch.arange(5), {}, "labels"),
        (torch.randn(4, 3), torch.zeros(4, 1), {}, "labels"),
        (torch.randn(4), torch.arange(4), {}, "embeddings"),
        (torch.randn(4, 3), torch.arange(4), {"temperature": 0.0}, "temperature"),
        (torch.randn(4, 3), torch.arange(4), {"temperature": -0.5}, "temperature"),
    ],
)
def test_argument_errors(fn, x, y, kw, match):
    with pytest.raises(ValueError, match=match):
        fn(x, y, **kw)
