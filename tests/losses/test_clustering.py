"""The clustering losses (sinkhorn, swapped_prediction, k-means, pseudo_label_cross_entropy)
against naive loop-by-loop references in float64, and their marginals / invariants."""

import math

import pytest
import torch

from tsssl.losses.clustering import (
    kmeans,
    kmeans_assign,
    kmeans_plusplus,
    pseudo_label_cross_entropy,
    reseed_empty,
    sinkhorn,
    swapped_prediction,
)


def _randn(*shape, seed=0, grad=False):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=grad)


def _blobs(n_per=20, seed=0):
    """Four well-separated 2-D blobs, points ordered blob by blob."""
    centers = torch.tensor([[6.0, 0.0], [0.0, 6.0], [-6.0, 0.0], [0.0, -6.0]], dtype=torch.float64)
    noise = 0.4 * _randn(4, n_per, 2, seed=seed)
    return (centers[:, None] + noise).reshape(-1, 2)


# --------------------------------------------------------------------------- sinkhorn
def naive_sinkhorn(scores, epsilon, n_iters):
    """SwAV's distributed_sinkhorn written out with one loop per row and per column."""
    B, K = scores.shape
    Q = [[math.exp(float(scores[b, k]) / epsilon) for b in range(B)] for k in range(K)]  # K x B
    total = sum(Q[k][b] for k in range(K) for b in range(B))
    Q = [[Q[k][b] / total for b in range(B)] for k in range(K)]
    for _ in range(n_iters):
        for k in range(K):  # rows: each prototype's mass 1/K
            r = sum(Q[k][b] for b in range(B))
            for b in range(B):
                Q[k][b] = Q[k][b] / r / K
        for b in range(B):  # columns: each sample's mass 1/B
            c = sum(Q[k][b] for k in range(K))
            for k in range(K):
                Q[k][b] = Q[k][b] / c / B
    return torch.tensor([[Q[k][b] * B for k in range(K)] for b in range(B)], dtype=torch.float64)


@pytest.mark.parametrize("n_iters, epsilon", [(3, 0.05), (1, 0.3), (7, 0.1)])
def test_sinkhorn_matches_the_naive_loop(n_iters, epsilon):
    scores = torch.nn.functional.normalize(_randn(9, 5, seed=n_iters), dim=1)  # cosines, as SwAV's
    fast = sinkhorn(scores, epsilon=epsilon, n_iters=n_iters)
    torch.testing.assert_close(fast, naive_sinkhorn(scores, epsilon, n_iters), rtol=1e-10, atol=1e-12)


def test_sinkhorn_marginals_codes_sum_to_one_and_prototypes_share_equally():
    B, K = 32, 4
    scores = torch.nn.functional.normalize(_randn(B, K, seed=1), dim=1)
    q = sinkhorn(scores, epsilon=0.1, n_iters=3)
    assert q.shape == (B, K) and torch.all(q >= 0)
    # every sample's code is a distribution (mass 1/B before the final * B)
    torch.testing.assert_close(q.sum(dim=1), torch.ones(B, dtype=torch.float64))
    # the equal partition: every prototype gets B/K samples' worth, and 3 iterations get close
    softmax = sinkhorn(scores, epsilon=0.1, n_iters=0)
    torch.testing.assert_close(softmax, torch.softmax(scores / 0.1, dim=1))
    gaps = [(sinkhorn(scores, 0.1, n).sum(dim=0) - B / K).abs().max().item() for n in (0, 1, 3, 10)]
    assert gaps == sorted(gaps, reverse=True) and gaps[2] < 0.6 * gaps[0] and gaps[3] < 0.15 * gaps[0], gaps
    converged = sinkhorn(scores, epsilon=0.1, n_iters=300)
    torch.testing.assert_close(converged.sum(dim=0), torch.full((K,), B / K, dtype=torch.float64))
    torch.testing.assert_close(converged.sum(dim=1), torch.ones(B, dtype=torch.float64))


def test_sinkhorn_is_float32_without_gradient_and_stable_far_from_the_maximum():
    scores = torch.randn(8, 3, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        q = sinkhorn(scores.bfloat16())
    assert q.dtype == torch.float32 and q.grad_fn is None and not q.requires_grad
    # scores 100 apart at epsilon 0.05: exp underflows to 0 / 0 in the paper's form, not here
    wide = torch.tensor([[100.0, -100.0], [-100.0, 100.0], [100.0, 100.0]])
    q = sinkhorn(wide, epsilon=0.05)
    assert torch.isfinite(q).all()
    torch.testing.assert_close(q.sum(dim=1), torch.ones(3))


# --------------------------------------------------------------------------- swapped prediction
def naive_swapped_prediction(scores, codes, t):
    V, B, K = scores.shape
    A = codes.shape[0]
    total = 0.0
    for a in range(A):
        for v in range(V):
            if v == a:
                continue
            for b in range(B):
                denom = sum(torch.exp(scores[v, b, k] / t) for k in range(K))
                total = total - sum(
                    codes[a, b, k] * torch.log(torch.exp(scores[v, b, k] / t) / denom) for k in range(K)
                )
    return total / (A * (V - 1) * B)


@pytest.mark.parametrize("V, A", [(2, 2), (4, 2), (3, 1)])
def test_swapped_prediction_matches_the_naive_loop_values_and_gradients(V, A):
    scores = _randn(V, 5, 3, seed=V + A, grad=True)
    codes = torch.softmax(_randn(A, 5, 3, seed=7), dim=2)
    fast = swapped_prediction(scores, codes, temperature=0.3)
    (g_fast,) = torch.autograd.grad(fast, scores)
    ref = naive_swapped_prediction(scores, codes, 0.3)
    (g_ref,) = torch.autograd.grad(ref, scores)
    assert fast.ndim == 0
    torch.testing.assert_close(fast, ref, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(g_fast, g_ref, rtol=1e-9, atol=1e-12)


def test_swapped_prediction_two_views_is_the_symmetric_swap_and_codes_are_targets():
    s1, s2 = _randn(6, 4, seed=1), _randn(6, 4, seed=2)
    q1, q2 = sinkhorn(s1), sinkhorn(s2)
    codes = torch.stack([q1, q2]).requires_grad_(True)
    loss = swapped_prediction(torch.stack([s1, s2]), codes, temperature=0.1)

    def ce(q, s):
        return -(q * torch.log_softmax(s / 0.1, dim=1)).sum(dim=1).mean()

    torch.testing.assert_close(loss, 0.5 * (ce(q1, s2) + ce(q2, s1)))
    assert not loss.requires_grad  # the codes are detached: nothing to differentiate here


# --------------------------------------------------------------------------- k-means
def naive_assign(x, c):
    out = []
    for i in range(x.shape[0]):
        d = [sum((float(x[i, j]) - float(c[m, j])) ** 2 for j in range(x.shape[1])) for m in range(c.shape[0])]
        out.append(min(range(len(d)), key=lambda m: d[m]))  # first minimum, as argmin
    return torch.tensor(out)


def naive_lloyd(x, init, n_iters):
    c = init.clone()
    for _ in range(n_iters):
        a = naive_assign(x, c)
        for m in range(c.shape[0]):
            members = [x[i] for i in range(x.shape[0]) if a[i] == m]
            if members:
                c[m] = sum(members) / len(members)
    return c, naive_assign(x, c)


def test_kmeans_assign_matches_a_per_point_loop():
    x, c = _randn(30, 3, seed=3), _randn(5, 3, seed=4)
    assert torch.equal(kmeans_assign(x, c), naive_assign(x, c))
    assert torch.equal(kmeans_assign(x.float(), c.float()), naive_assign(x, c))


def test_kmeans_lloyd_iterations_match_the_naive_loop():
    x = _randn(40, 3, seed=5)
    init = x[[0, 10, 20, 30]].clone()
    c, a = kmeans(x, 4, n_iters=4, init=init)
    c_ref, a_ref = naive_lloyd(x, init, 4)
    torch.testing.assert_close(c, c_ref)
    assert torch.equal(a, a_ref) and torch.equal(a, kmeans_assign(x, c))


def test_kmeans_is_seeded_and_finds_separated_blobs():
    x = _blobs()
    for init in ("kmeans++", "random"):
        c1, a1 = kmeans(x, 4, init=init, generator=torch.Generator().manual_seed(0))
        c2, a2 = kmeans(x, 4, init=init, generator=torch.Generator().manual_seed(0))
        assert torch.equal(c1, c2) and torch.equal(a1, a2)
    # k-means++ seeds one point per blob, and Lloyd then recovers the blobs exactly
    seeds = kmeans_plusplus(x, 4, generator=torch.Generator().manual_seed(1))
    assert sorted(kmeans_assign(seeds, x[::20]).tolist()) == [0, 1, 2, 3]
    _, a = kmeans(x, 4, generator=torch.Generator().manual_seed(1))
    assert all(len(set(a[i * 20 : (i + 1) * 20].tolist())) == 1 for i in range(4))
    assert len(set(a.tolist())) == 4


def test_empty_clusters_are_reseeded_from_perturbed_copies_of_non_empty_ones():
    c = torch.tensor([[1.0, 2.0, 3.0], [9.0, 9.0, 9.0], [-1.0, 0.5, 4.0], [7.0, 7.0, 7.0]], dtype=torch.float64)
    counts = torch.tensor([5, 0, 3, 0])
    out = reseed_empty(c, counts, eps=0.01, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out[[0, 2]], c[[0, 2]])  # non-empty centroids untouched
    for m in (1, 3):  # each empty one is a copy of centroid 0 or 2, every feature moved by exactly 1%
        ratio = [out[m] / c[d] for d in (0, 2)]
        assert any(torch.allclose((r - 1).abs(), torch.full((3,), 0.01, dtype=torch.float64)) for r in ratio)
    assert torch.equal(reseed_empty(c, torch.ones(4, dtype=torch.long)), c)
    # all centroids start on one point: Lloyd's first assignment leaves k - 1 clusters empty,
    # the reseeding splits them off, and k-means ends with every cluster used
    x = _blobs(seed=1)
    _, a = kmeans(x, 4, n_iters=15, init=x[:1].repeat(4, 1), generator=torch.Generator().manual_seed(0))
    assert torch.bincount(a, minlength=4).min() > 0
    # fewer points than clusters still gives k finite centroids
    c_small, a_small = kmeans(x[:3], 5, generator=torch.Generator().manual_seed(0))
    assert c_small.shape == (5, 2) and torch.isfinite(c_small).all() and len(set(a_small.tolist())) == 3


# --------------------------------------------------------------------------- DeepCluster's loss
def naive_pseudo_label_ce(logits, labels, sizes):
    num, den = 0.0, 0.0
    for i in range(logits.shape[0]):
        row = logits[i]
        ce = -torch.log(torch.exp(row[labels[i]]) / sum(torch.exp(row[k]) for k in range(len(row))))
        w = 1.0 if sizes is None else 1.0 / max(int(sizes[labels[i]]), 1)
        num, den = num + w * ce, den + w
    return num / den


@pytest.mark.parametrize("weighted", [False, True])
def test_pseudo_label_cross_entropy_matches_the_naive_loop(weighted):
    logits = _randn(7, 4, seed=8, grad=True)
    labels = torch.tensor([0, 0, 0, 0, 1, 2, 2])
    sizes = torch.tensor([40, 3, 10, 0]) if weighted else None
    fast = pseudo_label_cross_entropy(logits, labels, sizes)
    (g_fast,) = torch.autograd.grad(fast, logits)
    ref = naive_pseudo_label_ce(logits, labels, sizes)
    (g_ref,) = torch.autograd.grad(ref, logits)
    torch.testing.assert_close(fast, ref, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(g_fast, g_ref, rtol=1e-9, atol=1e-12)


def test_losses_are_float32_under_autocast():
    with torch.autocast("cpu", dtype=torch.bfloat16):
        s = torch.randn(2, 4, 3).bfloat16()
        assert swapped_prediction(s, torch.softmax(s.float(), 2)).dtype == torch.float32
        assert pseudo_label_cross_entropy(s[0], torch.tensor([0, 1, 2, 0])).dtype == torch.float32


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: sinkhorn(torch.randn(4)), "scores"),
        (lambda: sinkhorn(torch.randn(4, 3), epsilon=0), "epsilon"),
        (lambda: sinkhorn(torch.randn(4, 3), n_iters=-1), "n_iters"),
        (lambda: swapped_prediction(torch.randn(2, 4, 3), torch.randn(2, 4, 2)), "codes"),
        (lambda: swapped_prediction(torch.randn(2, 4, 3), torch.randn(3, 4, 3)), "codes"),
        (lambda: swapped_prediction(torch.randn(1, 4, 3), torch.randn(1, 4, 3)), "V >= 2"),
        (lambda: swapped_prediction(torch.randn(4, 3), torch.randn(4, 3)), "scores"),
        (lambda: swapped_prediction(torch.randn(2, 4, 3), torch.randn(2, 4, 3), temperature=0), "temperature"),
        (lambda: kmeans(torch.randn(10, 2), 0), "k must"),
        (lambda: kmeans(torch.randn(10, 2), 3, init="forgy"), "init"),
        (lambda: kmeans(torch.randn(10, 2), 3, init=torch.randn(2, 2)), "init"),
        (lambda: kmeans(torch.zeros(0, 2), 3), "x must"),
        (lambda: kmeans_assign(torch.randn(5, 2), torch.randn(3, 4)), "centroids"),
        (lambda: reseed_empty(torch.randn(3, 2), torch.zeros(3)), "non-empty"),
        (lambda: reseed_empty(torch.randn(3, 2), torch.zeros(2)), "counts"),
        (lambda: pseudo_label_cross_entropy(torch.randn(4, 3), torch.zeros(5, dtype=torch.long)), "labels"),
        (lambda: pseudo_label_cross_entropy(torch.randn(4, 3), torch.zeros(4)), "integer"),
        (
            lambda: pseudo_label_cross_entropy(torch.randn(4, 3), torch.zeros(4, dtype=torch.long), torch.ones(2)),
            "sizes",
        ),
    ],
)
def test_argument_errors_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
