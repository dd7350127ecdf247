"""info_nce, nt_xent and n_pair against naive loop references in float64 (values and grads),
with and without the hard-negative options (debiased tau_plus, hardness beta, extra negatives)."""

import math
import re

import pytest
import torch

from tsssl.losses import info_nce, n_pair, nt_xent
from tsssl.losses.info_nce import hard_negative_log_partition


def _cos(a, b):
    return sum(a[d] * b[d] for d in range(len(a))) / (
        torch.sqrt(sum(a[d] ** 2 for d in range(len(a)))) * torch.sqrt(sum(b[d] ** 2 for d in range(len(b))))
    )


def _dot(a, b):
    return sum(a[d] * b[d] for d in range(len(a)))


def naive_info_nce(query, keys, mask, t, normalize=True):
    B, K = query.shape[0], keys.shape[0]
    sim = _cos if normalize else _dot
    total, rows = 0.0, 0
    for i in range(B):
        s = [sim(query[i], keys[k]) / t for k in range(K)]
        denom = sum(torch.exp(s[k]) for k in range(K))
        pos = [k for k in range(K) if mask[i][k]]
        if not pos:
            continue
        total = total + sum(-torch.log(torch.exp(s[p]) / denom) for p in pos) / len(pos)
        rows += 1
    return total / rows


def naive_nt_xent(z1, z2, t):
    N = z1.shape[0]
    views = [z1[i] for i in range(N)] + [z2[i] for i in range(N)]
    total = 0.0
    for a in range(2 * N):
        partner = a + N if a < N else a - N
        denom = sum(torch.exp(_cos(views[a], views[k]) / t) for k in range(2 * N) if k != a)
        total = total - torch.log(torch.exp(_cos(views[a], views[partner]) / t) / denom)
    return total / (2 * N)


def naive_n_pair(a, p, l2_reg):
    N = a.shape[0]
    total = 0.0
    for i in range(N):
        inner = sum(torch.exp(_dot(a[i], p[j]) - _dot(a[i], p[i])) for j in range(N) if j != i)
        total = total + torch.log(1 + inner) + l2_reg * (_dot(a[i], a[i]) + _dot(p[i], p[i]))
    return total / N


def _leaves(*shapes, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=g, dtype=torch.float64, requires_grad=True) for s in shapes]


def _compare(fast_fn, naive_fn, leaves):
    fast = fast_fn(*leaves)
    g_fast = torch.autograd.grad(fast, leaves)
    ref = naive_fn(*leaves)
    g_ref = torch.autograd.grad(ref, leaves)
    assert fast.ndim == 0
    torch.testing.assert_close(fast, ref, rtol=1e-10, atol=1e-12)
    for gf, gr in zip(g_fast, g_ref):
        torch.testing.assert_close(gf, gr, rtol=1e-9, atol=1e-12)


def test_info_nce_diagonal_matches_naive_cosine():
    leaves = _leaves((5, 3), (5, 3))
    eye = torch.eye(5, dtype=torch.bool)
    _compare(lambda q, k: info_nce(q, k, temperature=0.3), lambda q, k: naive_info_nce(q, k, eye, 0.3), leaves)


def test_info_nce_dot_product_mode_matches_naive():
    leaves = _leaves((4, 3), (4, 3), seed=1)
    eye = torch.eye(4, dtype=torch.bool)
    _compare(
        lambda q, k: info_nce(q, k, temperature=0.7, normalize=False),
        lambda q, k: naive_info_nce(q, k, eye, 0.7, normalize=False),
        leaves,
    )


def test_info_nce_several_positives_and_a_row_without_any():
    # 4 queries, 7 keys (e.g. MoCo's [positive keys; queue] or CPC's future steps)
    mask = torch.tensor(
        [
            [1, 0, 0, 1, 0, 0, 0],
            [0, 1, 0, 0, 0, 1, 1],
            [0, 0, 0, 0, 0, 0, 0],  # no positive: ignored
            [0, 0, 1, 0, 0, 0, 0],
        ],
        dtype=torch.bool,
    )
    leaves = _leaves((4, 3), (7, 3), seed=2)
    _compare(
        lambda q, k: info_nce(q, k, mask, temperature=0.2),
        lambda q, k: naive_info_nce(q, k, mask.tolist(), 0.2),
        leaves,
    )


def test_info_nce_all_false_mask_is_zero_with_zero_gradient():
    q, k = _leaves((3, 2), (4, 2))
    loss = info_nce(q, k, torch.zeros(3, 4, dtype=torch.bool))
    loss.backward()
    assert loss.item() == 0.0 and torch.all(q.grad == 0)


def test_info_nce_moco_mask_equals_one_positive_cross_entropy():
    # MoCo's form: column i of [k; queue] is query i's positive -> plain softmax cross-entropy
    q, k, queue = (torch.randn(3, 4, dtype=torch.float64) for _ in range(3))
    keys = torch.cat([k, queue])
    mask = torch.zeros(3, 6, dtype=torch.bool)
    mask[:, :3] = torch.eye(3, dtype=torch.bool)
    logits = torch.nn.functional.normalize(q, dim=1) @ torch.nn.functional.normalize(keys, dim=1).T / 0.07
    expected = torch.nn.functional.cross_entropy(logits, torch.arange(3))
    torch.testing.assert_close(info_nce(q, keys, mask, temperature=0.07), expected)


def test_info_nce_learnable_tensor_temperature_gets_a_gradient():
    q, k = _leaves((4, 3), (4, 3), seed=3)
    log_t = torch.tensor(math.log(0.5), dtype=torch.float64, requires_grad=True)
    loss = info_nce(q, k, temperature=log_t.exp())
    loss.backward()
    assert log_t.grad is not None and torch.isfinite(log_t.grad)
    torch.testing.assert_close(loss, info_nce(q, k, temperature=0.5))


def test_nt_xent_matches_naive_symmetric_2n_form():
    leaves = _leaves((4, 3), (4, 3), seed=4)
    _compare(lambda a, b: nt_xent(a, b, temperature=0.5), lambda a, b: naive_nt_xent(a, b, 0.5), leaves)


def test_nt_xent_identical_views_far_apart_gives_small_loss():
    # two views equal, samples orthogonal -> positive similarity 1, negatives 0
    z = torch.eye(4)
    low = nt_xent(z, z, temperature=0.1)
    high = nt_xent(z, z.roll(1, dims=0), temperature=0.1)
    assert low.item() < 0.01 < high.item()


@pytest.mark.parametrize("l2_reg", [0.0, 0.002])
def test_n_pair_matches_naive(l2_reg):
    leaves = _leaves((5, 3), (5, 3), seed=5)
    _compare(lambda a, p: n_pair(a, p, l2_reg=l2_reg), lambda a, p: naive_n_pair(a, p, l2_reg), leaves)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: info_nce(torch.randn(4), torch.randn(4, 3)), "query"),
        (lambda: info_nce(torch.randn(4, 3), torch.randn(4, 2)), "feature size"),
        (lambda: info_nce(torch.randn(4, 3), torch.randn(5, 3)), "positive_mask"),
        (lambda: info_nce(torch.randn(4, 3), torch.randn(5, 3), torch.ones(4, 4, dtype=torch.bool)), "positive_mask"),
        (lambda: info_nce(torch.randn(4, 3), torch.randn(5, 3), torch.ones(4, 5)), "bool"),
        (lambda: info_nce(torch.randn(4, 3), torch.randn(4, 3), temperature=0.0), "temperature"),
        (lambda: info_nce(torch.randn(4, 3), torch.randn(4, 3), temperature=-1), "temperature"),
        (lambda: info_nce(torch.randn(4, 3), torch.randn(4, 3), temperature=float("nan")), "temperature"),
        (lambda: nt_xent(torch.randn(4, 3), torch.randn(5, 3)), "z1 and z2"),
        (lambda: nt_xent(torch.randn(4, 3, 2), torch.randn(4, 3, 2)), "z1"),
        (lambda: nt_xent(torch.randn(4, 3), torch.randn(4, 3), temperature=0), "temperature"),
        (lambda: n_pair(torch.randn(4, 3), torch.randn(4, 2)), "anchor and positive"),
        (lambda: n_pair(torch.randn(4, 3), torch.randn(4, 3), l2_reg=-1.0), "l2_reg"),
    ],
)
def test_argument_errors_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# -- hard negatives: debiased (Chuang et al. 2020) and hardness-weighted (Robinson et al. 2021) --


def naive_hard_row(s, positives, negatives, t, tau_plus, beta):
    """One query's loss, written out as in the papers: s are its similarities over t (a list)."""
    n = len(negatives)
    imp = [torch.exp(beta * s[j]) for j in negatives]  # importance weights exp(beta s_j)
    reweighted = sum(imp[i] * torch.exp(s[j]) for i, j in enumerate(negatives)) / (sum(imp) / n)
    pos_mean = sum(torch.exp(s[p]) for p in positives) / len(positives)
    ng = (reweighted - tau_plus * n * pos_mean) / (1 - tau_plus)
    ng = torch.clamp(ng, min=n * math.exp(-1 / t))
    return sum(-torch.log(torch.exp(s[p]) / (torch.exp(s[p]) + ng)) for p in positives) / len(positives)


def naive_hard_info_nce(query, keys, mask, t, tau_plus, beta, extra=None, normalize=True):
    sim = _cos if normalize else _dot
    B, K = query.shape[0], keys.shape[0]
    total, rows = 0.0, 0
    for i in range(B):
        cols = [keys[k] for k in range(K)] + ([] if extra is None else [extra[i, j] for j in range(extra.shape[1])])
        s = [sim(query[i], c) / t for c in cols]
        positives = [k for k in range(K) if mask[i][k]]
        if not positives:
            continue
        negatives = [k for k in range(len(cols)) if k >= K or not mask[i][k]]
        total = total + naive_hard_row(s, positives, negatives, t, tau_plus, beta)
        rows += 1
    return total / rows


def naive_hard_nt_xent(z1, z2, t, tau_plus, beta):
    N = z1.shape[0]
    views = [z1[i] for i in range(N)] + [z2[i] for i in range(N)]
    total = 0.0
    for a in range(2 * N):
        partner = a + N if a < N else a - N
        s = [_cos(views[a], views[k]) / t for k in range(2 * N)]
        negatives = [k for k in range(2 * N) if k not in (a, partner)]
        total = total + naive_hard_row(s, [partner], negatives, t, tau_plus, beta)
    return total / (2 * N)


HARD = [(0.1, 0.0), (0.0, 1.0), (0.1, 1.0), (0.3, 0.5)]


@pytest.mark.parametrize("tau_plus, beta", HARD)
def test_hard_info_nce_diagonal_matches_naive(tau_plus, beta):
    leaves = _leaves((5, 3), (5, 3), seed=6)
    eye = torch.eye(5, dtype=torch.bool).tolist()
    _compare(
        lambda q, k: info_nce(q, k, temperature=0.5, tau_plus=tau_plus, beta=beta),
        lambda q, k: naive_hard_info_nce(q, k, eye, 0.5, tau_plus, beta),
        leaves,
    )


@pytest.mark.parametrize("tau_plus, beta", HARD)
def test_hard_info_nce_mask_form_with_extra_negatives_matches_naive(tau_plus, beta):
    mask = torch.tensor(
        [[1, 0, 0, 1, 0, 0], [0, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], [0, 0, 1, 0, 0, 1]], dtype=torch.bool
    )  # two positives in rows 0 and 3; row 2 has none and is ignored
    leaves = _leaves((4, 3), (6, 3), (4, 2, 3), seed=7)
    _compare(
        lambda q, k, e: info_nce(q, k, mask, temperature=0.4, tau_plus=tau_plus, beta=beta, extra_negatives=e),
        lambda q, k, e: naive_hard_info_nce(q, k, mask.tolist(), 0.4, tau_plus, beta, extra=e),
        leaves,
    )


def test_hard_info_nce_dot_products_match_naive():
    leaves = _leaves((4, 3), (4, 3), seed=8)
    eye = torch.eye(4, dtype=torch.bool).tolist()
    _compare(
        lambda q, k: info_nce(q, k, temperature=2.0, normalize=False, tau_plus=0.2, beta=0.5),
        lambda q, k: naive_hard_info_nce(q, k, eye, 2.0, 0.2, 0.5, normalize=False),
        leaves,
    )


@pytest.mark.parametrize("tau_plus, beta", HARD)
def test_hard_nt_xent_matches_naive(tau_plus, beta):
    leaves = _leaves((4, 3), (4, 3), seed=9)
    _compare(
        lambda a, b: nt_xent(a, b, temperature=0.5, tau_plus=tau_plus, beta=beta),
        lambda a, b: naive_hard_nt_xent(a, b, 0.5, tau_plus, beta),
        leaves,
    )


def test_debiased_floor_is_reached_and_matches_naive():
    # views nearly equal, tau_plus large: R - tau_plus n e^{s_p} < 0 for every query, so Ng sits
    # on the floor n exp(-1/t) (zero gradient through the negatives there)
    g = torch.Generator().manual_seed(10)
    z1 = torch.randn(4, 3, generator=g, dtype=torch.float64)
    z2 = (z1 + 1e-3 * torch.randn(4, 3, generator=g, dtype=torch.float64)).requires_grad_(True)
    z1.requires_grad_(True)
    s = torch.nn.functional.normalize(z1, dim=1) @ torch.nn.functional.normalize(z2, dim=1).T / 0.5
    n = 3
    r = s.exp().sum(1) - s.diagonal().exp()
    assert ((r - 0.9 * n * s.diagonal().exp()) < n * math.exp(-1 / 0.5)).all()  # the floor is active
    _compare(
        lambda a, b: info_nce(a, b, temperature=0.5, tau_plus=0.9),
        lambda a, b: naive_hard_info_nce(a, b, torch.eye(4, dtype=torch.bool).tolist(), 0.5, 0.9, 0.0),
        [z1, z2],
    )


def test_hard_negatives_off_is_the_plain_loss_bit_for_bit():
    q, k = torch.randn(6, 4), torch.randn(6, 4)
    mask = torch.rand(6, 6) < 0.3
    assert torch.equal(info_nce(q, k, temperature=0.2, tau_plus=0.0, beta=0.0), info_nce(q, k, temperature=0.2))
    assert torch.equal(info_nce(q, k, mask, 0.2, tau_plus=0.0, beta=0.0), info_nce(q, k, mask, 0.2))
    assert torch.equal(nt_xent(q, k, 0.5, tau_plus=0.0, beta=0.0), nt_xent(q, k, 0.5))


def test_extra_negatives_without_hard_options_match_naive():
    leaves = _leaves((4, 3), (4, 3), (4, 3, 3), seed=11)
    eye = torch.eye(4, dtype=torch.bool).tolist()
    _compare(
        lambda q, k, e: info_nce(q, k, temperature=0.3, extra_negatives=e),
        lambda q, k, e: naive_hard_info_nce(q, k, eye, 0.3, 0.0, 0.0, extra=e),
        leaves,
    )


def test_log_partition_limits():
    logits = torch.tensor([[2.0, 0.5, -1.0, 1.5], [0.3, 0.2, 0.1, 0.0]], dtype=torch.float64)
    pos = torch.tensor([[True, False, False, False], [False, True, False, False]])
    neg = ~pos
    # off: the log of the plain sum over the negatives
    plain = torch.logsumexp(logits.masked_fill(pos, float("-inf")), dim=1)
    torch.testing.assert_close(hard_negative_log_partition(logits, pos, neg, 1.0, 0.0, 0.0), plain)
    # large beta: the weights concentrate on the hardest negative, Ng -> n * exp(max s_neg)
    hardest = logits.masked_fill(pos, float("-inf")).amax(dim=1) + math.log(3)
    torch.testing.assert_close(hard_negative_log_partition(logits, pos, neg, 1.0, 0.0, 200.0), hardest)
    # no negatives in a row: log Ng = -inf, and the loss of that row is 0
    none = torch.zeros_like(neg)
    assert torch.isneginf(hard_negative_log_partition(logits, pos, none, 1.0, 0.1, 1.0)).all()


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: info_nce(torch.randn(4, 3), torch.randn(4, 3), tau_plus=1.0), "tau_plus"),
        (lambda: info_nce(torch.randn(4, 3), torch.randn(4, 3), tau_plus=-0.1), "tau_plus"),
        (lambda: nt_xent(torch.randn(4, 3), torch.randn(4, 3), tau_plus=True), "tau_plus"),
        (lambda: nt_xent(torch.randn(4, 3), torch.randn(4, 3), beta=-1.0), "beta"),
        (lambda: info_nce(torch.randn(4, 3), torch.randn(4, 3), extra_negatives=torch.randn(4, 3)), "extra_negatives"),
        (lambda: info_nce(torch.randn(4, 3), torch.randn(4, 3), extra_negatives=torch.randn(3, 2, 3)), "(4, S, 3)"),
    ],
)
def test_hard_negative_argument_errors(call, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        call()
