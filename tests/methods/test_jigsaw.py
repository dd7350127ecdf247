"""Jigsaw: the permutation set (maximal Hamming distance, seeded), tiles and their shuffling
against naive loops, the tile network with a pretext-only trunk, and training on the digits that
learns to solve the puzzle (the untrained network stays at chance) and, with the set-up of
``tsssl train --modality image --method jigsaw`` (16 x 16 digits, the first conv block as the
representation, a two-block trunk), beats the random encoder's probes."""

import copy
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tsssl.augment.image import RandomResizedCrop
from tsssl.data.image import digits_split
from tsssl.encoders.image import ConvEncoder, ImageRowEncoder
from tsssl.experiments.image import image_probe_metrics
from tsssl.methods.jigsaw import Jigsaw, hamming_permutations, image_tiles, jittered_tiles
from tsssl.train import Trainer


def greedy_reference(n, k, seed):
    """Algorithm 1 of Noroozi & Favaro written out with loops (same random draws)."""
    rng = np.random.default_rng(seed)
    perms = list(itertools.permutations(range(n)))
    chosen = [int(rng.integers(len(perms)))]
    for _ in range(k - 1):
        d = [min(sum(a != b for a, b in zip(p, perms[c])) for c in chosen) for p in perms]
        best = [i for i, v in enumerate(d) if v == max(d)]
        chosen.append(best[int(rng.integers(len(best)))])
    return np.array([perms[c] for c in chosen])


@pytest.mark.parametrize("n,k", [(4, 10), (5, 12)])
def test_permutation_set_is_the_greedy_maximal_hamming_set(n, k):
    P = hamming_permutations(n, k, seed=7)
    assert P.shape == (k, n) and np.array_equal(P, greedy_reference(n, k, 7))
    assert len({tuple(p) for p in P}) == k and (np.sort(P, axis=1) == np.arange(n)).all()
    dist = (P[:, None, :] != P[None, :, :]).sum(-1)
    assert dist[0, 1] == n  # the second pick moves every tile
    assert np.array_equal(P, hamming_permutations(n, k, seed=7))
    assert not np.array_equal(P, hamming_permutations(n, k, seed=8))


def test_permutation_set_of_nine_tiles_is_far_apart():
    P = hamming_permutations(9, 30, seed=0)
    dist = (P[:, None, :] != P[None, :, :]).sum(-1)
    assert dist[~np.eye(30, dtype=bool)].min() >= 7  # random sets of 30 have pairs much closer
    with pytest.raises(ValueError, match="n_permutations"):
        hamming_permutations(3, 7)


def test_tiles_and_shuffling_match_loops():
    x = torch.arange(2 * 1 * 7 * 7, dtype=torch.float32).reshape(2, 1, 7, 7)
    tiles = image_tiles(x, 2)  # 3 x 3 tiles of the centre 6 x 6
    for b in range(2):
        for i, j in itertools.product(range(2), range(2)):
            assert torch.equal(tiles[b, 2 * i + j], x[b, :, 3 * i : 3 * i + 3, 3 * j : 3 * j + 3])
    small = jittered_tiles(tiles, 2, torch.Generator().manual_seed(0))
    for b, t in itertools.product(range(2), range(4)):  # each tile is a 2 x 2 block of its own cell
        cell, crop = tiles[b, t, 0], small[b, t, 0]
        assert any(torch.equal(cell[r : r + 2, c : c + 2], crop) for r in range(2) for c in range(2))
    torch.manual_seed(0)
    method = Jigsaw(ConvEncoder(1, (4,)), grid=2, n_permutations=6, tile_size=3, normalize_tiles=False)
    p = torch.tensor([3, 5])
    shuffled = method.shuffle(x, p)
    for b in range(2):
        for j in range(4):
            assert torch.equal(shuffled[b, j], tiles[b, method.permutations[p[b], j]])


def test_step_is_cross_entropy_over_the_permutation_set():
    torch.manual_seed(0)
    method = Jigsaw(ConvEncoder(1, (4, 8)), grid=2, n_permutations=5).eval()
    x = torch.rand(6, 1, 8, 8)
    torch.manual_seed(1)
    loss = method.training_step((x,))
    torch.manual_seed(1)
    p = torch.randint(5, (6,))
    shuffled = method.shuffle(x, p)  # the same draws: permutation indices, then tile offsets
    assert torch.allclose(loss, F.cross_entropy(method.logits(shuffled), p))


def test_jigsaw_on_digits_learns_the_puzzle():
    split = digits_split(test_frac=0.25, seed=0)
    torch.manual_seed(0)
    method = Jigsaw(ConvEncoder(1, (16, 32)), RandomResizedCrop(scale=(0.7, 1.0)), grid=2, n_permutations=24)
    initial = copy.deepcopy(method)
    result = Trainer(max_steps=80, batch_size=256, lr=3e-3, seed=0, device="cpu", log_every=10, progress=False).fit(
        method, torch.from_numpy(split.X_train)
    )
    losses = [h["loss"] for h in result.history]
    assert np.mean(losses[-2:]) < 0.7 * losses[0], losses
    x_test = torch.from_numpy(split.X_test)
    # the untrained network (the random-encoder baseline of the pretext task) is at chance, 1 / 24
    acc, acc0 = method.puzzle_accuracy(x_test), initial.puzzle_accuracy(x_test)
    assert acc > 0.3 and acc0 < 0.1, (acc, acc0)
    assert method.embed(torch.from_numpy(split.X_test[:5])).shape == (5, 32)  # the tile encoder on whole digits


def test_trunk_takes_the_encoder_feature_map_and_feeds_the_head():
    torch.manual_seed(0)
    encoder, trunk = ConvEncoder(1, (4,), pool=2), ConvEncoder(4, (8, 6))
    method = Jigsaw(encoder, grid=2, n_permutations=5, tile_size=6, trunk=trunk).eval()
    assert method.tile_dim == 6 and method.head[0].in_features == 4 * 6
    tiles = torch.rand(7, 1, 6, 6)
    assert torch.allclose(method.tile_features(tiles), trunk(encoder.features(tiles)))
    x = torch.rand(3, 1, 16, 16)
    p = torch.tensor([0, 2, 4])
    shuffled = method.shuffle(x, p, torch.Generator().manual_seed(0))
    expected = method.head(trunk(encoder.features(shuffled.flatten(0, 1))).reshape(3, 24))
    assert torch.allclose(method.logits(shuffled), expected)
    assert method.embed(x).shape == (3, 16)  # the representation is the encoder alone: 4 maps x 2 x 2
    method.train()
    method.training_step((x,)).backward()
    assert all(t.grad is not None for t in trunk.parameters())  # the puzzle trains the trunk too


def test_trunk_needs_a_feature_map_and_an_out_dim():
    with pytest.raises(ValueError, match="feature_map"):
        Jigsaw(ImageRowEncoder(), trunk=ConvEncoder(4, (8,)))
    with pytest.raises(ValueError, match="out_dim"):
        Jigsaw(ConvEncoder(1, (4,)), trunk=torch.nn.Conv2d(4, 8, 3))


def test_jigsaw_features_beat_the_random_encoder():
    split = digits_split(test_frac=0.25, seed=0, size=16)
    torch.manual_seed(0)
    encoder = ConvEncoder(1, (32,), pool=2)
    initial = copy.deepcopy(encoder)
    method = Jigsaw(
        encoder,
        RandomResizedCrop(scale=(0.7, 1.0)),
        grid=2,
        n_permutations=24,
        tile_size=6,
        trunk=ConvEncoder(32, (64, 128)),
    )
    Trainer(
        max_steps=300, batch_size=128, lr=3e-3, weight_decay=1e-4, seed=0, device="cpu", log_every=50, progress=False
    ).fit(method, torch.from_numpy(split.X_train))
    # the probes of `tsssl train`: both encoders with BatchNorm statistics of whole training digits
    probes = image_probe_metrics(method.encoder, initial, split, seed=0)
    got, random = probes["trained"], probes["random_encoder"]
    assert got["linear_probe"] > random["linear_probe"], (got, random)
    assert got["knn"] > random["knn"] + 0.01, (got, random)
    assert got["linear_probe_5_per_class"] > random["linear_probe_5_per_class"] + 0.01, (got, random)
