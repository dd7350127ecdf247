"""Colorization's soft-encoded, rebalanced cross-entropy against naive per-pixel loops."""

import math

import pytest
import torch

from tsssl.losses.colour import colour_loss, rebalanced_cross_entropy, soft_encode


def naive_soft_encode(ab, centres, k, sigma):
    B, _, H, W = ab.shape
    out = torch.zeros(B, len(centres), H, W)
    for b in range(B):
        for i in range(H):
            for j in range(W):
                d2 = [float(((ab[b, :, i, j] - c) ** 2).sum()) for c in centres]
                near = sorted(range(len(centres)), key=lambda q: d2[q])[:k]
                w = [math.exp(-d2[q] / (2 * sigma**2)) for q in near]
                for q, wq in zip(near, w):
                    out[b, q, i, j] = wq / sum(w)
    return out


def test_soft_encode_matches_a_loop_and_names_the_nearest_bin():
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[a, b] for a in range(-20, 30, 10) for b in range(-20, 30, 10)], dtype=torch.float32)
    ab = torch.rand(2, 2, 3, 3, generator=g) * 40 - 20
    Z, nearest = soft_encode(ab, centres, k=5, sigma=5.0)
    assert torch.allclose(Z, naive_soft_encode(ab, centres, 5, 5.0), atol=1e-5)
    assert torch.allclose(Z.sum(1), torch.ones(2, 3, 3))
    assert torch.equal(nearest, torch.cdist(ab.permute(0, 2, 3, 1).reshape(-1, 2), centres).argmin(1).view(2, 3, 3))
    with pytest.raises(ValueError, match="k must be in 1..25"):
        soft_encode(ab, centres, k=26)


def test_rebalanced_cross_entropy_matches_a_loop():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 4, 2, 3, generator=g)
    targets = torch.softmax(torch.randn(2, 4, 2, 3, generator=g), 1)
    w = torch.rand(2, 2, 3, generator=g) + 0.5
    total = 0.0
    for b in range(2):
        for i in range(2):
            for j in range(3):
                logp = torch.log_softmax(logits[b, :, i, j], 0)
                total += float(w[b, i, j]) * -float((targets[b, :, i, j] * logp).sum())
    assert math.isclose(float(rebalanced_cross_entropy(logits, targets, w)), total / 12, rel_tol=1e-5)
    with pytest.raises(ValueError, match="pixel_weights must be"):
        rebalanced_cross_entropy(logits, targets, w[:, :1])


def test_colour_loss_pools_ab_to_the_prediction_grid_and_weights_the_nearest_bin():
    centres = torch.tensor([[0.0, 0.0], [50.0, 0.0]])
    ab = torch.zeros(1, 2, 4, 4)
    ab[:, 0, :, 2:] = 50.0  # left half grey, right half bin 1
    logits = torch.zeros(1, 2, 1, 2)  # one row of two cells: uniform predictions
    weights = torch.tensor([1.0, 3.0])
    # each cell's targets are one-hot (the other bin is 50 units away): CE = log 2, weights 1 and 3
    got = colour_loss(logits, ab, centres, weights, k=1)
    assert math.isclose(float(got), math.log(2) * (1 + 3) / 2, rel_tol=1e-6)
    assert math.isclose(float(colour_loss(logits, ab, centres, None, k=1)), math.log(2), rel_tol=1e-6)
