"""The batched cutting / shuffling / reversing / sub-window ops of the time pretext tasks, each
against a loop written out sample by sample."""

import itertools
import math

import pytest
import torch

from tsssl.augment.segments import (
    cut_segments,
    permutation_table,
    permute_rows,
    random_permutations,
    reverse_time,
    sample_where,
    take_subwindows,
    time_contrastive_starts,
)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def batch(B=6, T=20, C=3):
    return torch.randn(B, T, C, generator=gen(7))


def test_take_subwindows_matches_a_loop():
    x = batch()
    starts = torch.tensor([0, 3, 8, 1, 5, 8])
    out = take_subwindows(x, starts, 12)
    ref = torch.stack([x[b, int(s) : int(s) + 12] for b, s in enumerate(starts)])
    assert torch.equal(out, ref)
    assert torch.equal(take_subwindows(x, torch.zeros(6, dtype=torch.long), 20), x)
    with pytest.raises(ValueError, match="length"):
        take_subwindows(x, starts, 21)
    with pytest.raises(ValueError, match="starts"):
        take_subwindows(x, starts.float(), 12)


def test_take_subwindows_from_chosen_rows_matches_a_loop():
    x = batch()
    rows, starts = torch.tensor([5, 0, 5, 2, 2, 2, 1, 4, 3]), torch.tensor([0, 8, 3, 1, 1, 7, 4, 2, 6])
    out = take_subwindows(x, starts, 12, rows=rows)
    assert torch.equal(out, torch.stack([x[int(r), int(s) : int(s) + 12] for r, s in zip(rows, starts)]))
    with pytest.raises(ValueError, match=r"starts must be an integer Tensor of shape \(N,\) like rows: \(9,\)"):
        take_subwindows(x, starts[:6], 12, rows=rows)
    with pytest.raises(ValueError, match="rows must be a 1-D integer Tensor"):
        take_subwindows(x, starts, 12, rows=rows.float())


def test_cut_segments_matches_a_loop_and_right_aligns_by_default():
    x = batch(T=20)
    starts = torch.tensor([0, 1, 2, 2, 1, 0])
    out = cut_segments(x, 3, starts)  # L = 6, spare 2 days
    assert out.shape == (6, 3, 6, 3)
    for b in range(6):
        for j in range(3):
            s = int(starts[b]) + 6 * j
            assert torch.equal(out[b, j], x[b, s : s + 6])
    right = cut_segments(x, 3)
    assert torch.equal(right[:, -1, -1], x[:, -1]) and torch.equal(right.flatten(1, 2), x[:, 2:])
    with pytest.raises(ValueError, match="n_segments"):
        cut_segments(x, 1)


def test_permutation_table_and_random_permutations():
    for n in (2, 3, 4):
        table = permutation_table(n)
        assert table.shape == (math.factorial(n) - 1, n)
        assert {tuple(r) for r in table.tolist()} == set(itertools.permutations(range(n))) - {tuple(range(n))}
        assert permutation_table(n, exclude_identity=False)[0].tolist() == list(range(n))
    perms = random_permutations(3000, 3, generator=gen(0))
    assert perms.shape == (3000, 3) and perms.dtype == torch.long
    rows = [tuple(r) for r in perms.tolist()]
    assert (0, 1, 2) not in rows  # never the identity
    counts = [rows.count(p) for p in set(itertools.permutations(range(3))) - {(0, 1, 2)}]
    assert min(counts) > 500 and max(counts) < 700  # the 5 non-identity permutations, about 600 each
    assert torch.equal(random_permutations(8, 4, generator=gen(3)), random_permutations(8, 4, generator=gen(3)))
    assert (0, 1, 2) in {tuple(r) for r in random_permutations(200, 3, exclude_identity=False).tolist()}
    with pytest.raises(ValueError, match=r"n must be an integer in \[2, 7\]"):
        permutation_table(8)


def test_permute_rows_matches_a_loop():
    seq = torch.randn(5, 4, 3, 2, generator=gen(1))
    perm = random_permutations(5, 4, generator=gen(2))
    out = permute_rows(seq, perm)
    for b in range(5):
        for j in range(4):
            assert torch.equal(out[b, j], seq[b, int(perm[b, j])])
    with pytest.raises(ValueError, match="perm"):
        permute_rows(seq, perm[:, :3])


def test_reverse_time_flips_only_the_chosen_windows():
    x = batch()
    flip = torch.tensor([True, False, True, False, False, True])
    out = reverse_time(x, flip)
    for b in range(6):
        ref = torch.stack([x[b, 19 - t] for t in range(20)]) if flip[b] else x[b]
        assert torch.equal(out[b], ref)
    with pytest.raises(ValueError, match="bool"):
        reverse_time(x, flip.long())


def test_sample_where_draws_uniformly_among_the_allowed_columns():
    allowed = torch.tensor([[True, False, True, False], [False, False, False, True], [True, True, True, True]])
    draws = torch.stack([sample_where(allowed, gen(s)) for s in range(600)])  # (600, 3)
    for row in range(3):
        cols = draws[:, row].tolist()
        ok = torch.nonzero(allowed[row]).flatten().tolist()
        assert set(cols) == set(ok)
        assert all(abs(cols.count(c) / 600 - 1 / len(ok)) < 0.08 for c in ok)


@pytest.mark.parametrize("far_shift", [None, 6])
def test_time_contrastive_starts_respect_the_shifts(far_shift):
    T, L, m = 20, 12, 2
    a, p, n = time_contrastive_starts(4000, T, L, m, far_shift, generator=gen(0))
    S = T - L + 1
    for s in (a, p):
        assert s.shape == (4000,) and int(s.min()) >= 0 and int(s.max()) <= S - 1
    d = (p - a).abs()
    assert int(d.min()) >= 1 and int(d.max()) <= m  # near, never the anchor itself
    assert set((p - a).tolist()) == {-2, -1, 1, 2}
    if far_shift is None:
        assert n is None and set(a.tolist()) == set(range(S))
    else:
        assert int((n - a).abs().min()) >= far_shift
        # only anchors with a far partner: starts <= S - 1 - far_shift or >= far_shift
        assert set(a.tolist()) == {s for s in range(S) if s >= far_shift or s <= S - 1 - far_shift}
    with pytest.raises(ValueError, match="far_shift"):
        time_contrastive_starts(2, T, L, m, far_shift=9)
    with pytest.raises(ValueError, match="length"):
        time_contrastive_starts(2, T, 20, m)
