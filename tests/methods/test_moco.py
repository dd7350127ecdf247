"""MoCo v2: the queue fills with normalised keys after the loss, the key encoder takes no
gradient and moves only by the Trainer's EMA, the loss falls once the queue is full; MoCHi's
hard set and mixing against loops, its step is InfoNCE with the synthetic negatives, it trains
and beats a random encoder on the planted motif; off, MoCo is unchanged bit for bit."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tsssl import losses
from tsssl.data import build_windows, load_sample
from tsssl.encoders import LSTMEncoder
from tsssl.methods import MoCo, StandardizedEncoder, channel_stats
from tsssl.methods.moco import hardest_negatives, mix_hard_negatives, mochi_negatives, moco_positive_mask
from tsssl.train import Trainer

sys.path.insert(0, str(Path(__file__).parent))
from _planted import planted_split, trained_vs_random  # noqa: E402


def scaled(encoder, X):
    """The encoder behind the per-channel standardisation the CLI uses."""
    return StandardizedEncoder(encoder, *channel_stats(X))


def sample_slice(n=1024):
    return build_windows(load_sample(), window=20, horizon=5).subset(np.arange(n))


def test_positive_mask_marks_the_own_key_only():
    mask = moco_positive_mask(3, 7)
    assert mask.shape == (3, 7) and mask.sum() == 3
    assert mask[:, :3].equal(torch.eye(3, dtype=torch.bool)) and not mask[:, 3:].any()


def test_queue_fills_after_the_loss_and_the_loss_uses_it():
    torch.manual_seed(0)

    def views(x):
        return (x, x.flip(1))

    method = MoCo(LSTMEncoder(3, hidden=8), views=views, queue_size=10, proj_dim=4)
    method.eval()  # fixed batch-norm statistics: the reference below recomputes the same q, k
    x1, x2 = torch.randn(4, 12, 3), torch.randn(4, 12, 3)
    loss1 = method.training_step((x1,))
    assert len(method.queue) == 4
    k1 = torch.nn.functional.normalize(method.key_projector(method.key_encoder(x1.flip(1))), dim=-1)
    assert torch.allclose(method.queue.keys(), k1, atol=1e-6)
    # first step: the only keys are the batch's own (queue empty when the loss was computed)
    q1 = method.projector(method.encoder(x1))
    assert torch.allclose(loss1, losses.info_nce(q1, k1, moco_positive_mask(4, 4), temperature=0.2), atol=1e-6)
    # second step: negatives include the queued keys of step one
    loss2 = method.training_step((x2,))
    q2 = method.projector(method.encoder(x2))
    k2 = method.key_projector(method.key_encoder(x2.flip(1)))
    keys = torch.cat([k2, k1])
    assert torch.allclose(loss2, losses.info_nce(q2, keys, moco_positive_mask(4, 8), temperature=0.2), atol=1e-6)
    method.training_step((torch.randn(4, 12, 3),))
    assert len(method.queue) == 10  # full: the oldest keys were overwritten


def test_key_encoder_moves_by_ema_only():
    ws = sample_slice(256)
    torch.manual_seed(0)
    method = MoCo(scaled(LSTMEncoder(ws.X.shape[2], hidden=8), ws.X), queue_size=64, momentum=0.9)
    assert all(not p.requires_grad for p in method.key_encoder.parameters())
    online = [p.detach().clone() for p in method.encoder.parameters()]
    key_before = [p.detach().clone() for p in method.key_encoder.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(online, key_before))  # starts as a copy
    Trainer(max_steps=1, batch_size=64, lr=1e-2, seed=0, device="cpu", progress=False).fit(method, ws)
    online_after = [p.detach() for p in method.encoder.parameters()]
    key_after = [p.detach() for p in method.key_encoder.parameters()]
    assert all(p.grad is None for p in method.key_encoder.parameters())
    # key <- m key + (1 - m) online: every element moved the same fraction towards the online value
    moved = torch.cat([(ka - kb).flatten() for ka, kb in zip(key_after, key_before)])
    gap = torch.cat([(o - kb).flatten() for o, kb in zip(online_after, key_before)])
    assert gap.abs().max() > 0, "the optimiser step should have moved the online encoder"
    sel = gap.abs() > 1e-4
    frac = moved[sel] / gap[sel]
    assert 0 < frac.mean() < 0.5 and torch.allclose(frac, frac.mean().expand_as(frac), atol=1e-3)
    assert len(method.queue) == 64


def test_moco_lowers_its_loss_once_the_queue_is_full():
    ws = sample_slice()
    torch.manual_seed(0)
    method = MoCo(scaled(LSTMEncoder(ws.X.shape[2], hidden=16), ws.X), queue_size=512)
    result = Trainer(max_steps=80, batch_size=128, lr=1e-2, seed=0, device="cpu", log_every=1, progress=False).fit(
        method, ws
    )
    ls = [h["loss"] for h in result.history]
    full = ls[4:]  # the queue holds 512 keys from step 5 on: the number of negatives is fixed
    assert np.mean(full[-8:]) < 0.96 * np.mean(full[:8]), (full[:8], full[-8:])


# -- MoCHi (Kalantidis et al. 2020) and the hard-negative options of the loss --

MOCHI = {"mochi_n": 64, "mochi_s1": 32, "mochi_s2": 16}


def naive_hardest(q, keys, mask, n):
    """Row by row: the negatives sorted by cosine similarity to the query, the n first."""
    out = []
    for i in range(len(q)):
        sims = [(F.cosine_similarity(q[i], keys[k], dim=0).item(), k) for k in range(len(keys)) if not mask[i, k]]
        out.append([k for _, k in sorted(sims, reverse=True)[:n]])
    return out


def naive_mix(q, keys, hard, pairs, alpha, partners, beta):
    """Query by query, synthetic point by point, as the paper writes them."""
    rows = []
    for b in range(len(q)):
        qn, h = F.normalize(q[b], dim=0), F.normalize(keys[hard[b]], dim=1)
        row = []
        for s in range(pairs.shape[1]):
            i, j, a = pairs[b, s, 0], pairs[b, s, 1], alpha[b, s]
            row.append(F.normalize(a * h[i] + (1 - a) * h[j], dim=0))
        for s in range(partners.shape[1]):
            j, be = partners[b, s], beta[b, s]
            row.append(F.normalize(be * qn + (1 - be) * h[j], dim=0))
        rows.append(torch.stack(row))
    return torch.stack(rows)


def test_hardest_negatives_match_a_sort():
    g = torch.Generator().manual_seed(0)
    q, keys = torch.randn(5, 4, generator=g), torch.randn(12, 4, generator=g)
    mask = moco_positive_mask(5, 12)
    got = hardest_negatives(q, keys, mask, 6)
    assert got.tolist() == naive_hardest(q, keys, mask, 6)
    assert not mask.gather(1, got).any()  # never a positive


def test_mix_hard_negatives_match_a_loop():
    g = torch.Generator().manual_seed(1)
    B, K, N, D, S1, S2 = 3, 9, 5, 4, 4, 2
    q, keys = torch.randn(B, D, generator=g), torch.randn(K, D, generator=g)
    hard = torch.stack([torch.randperm(K, generator=g)[:N] for _ in range(B)])  # (B, N) rows of keys
    pairs, partners = torch.randint(0, N, (B, S1, 2), generator=g), torch.randint(0, N, (B, S2), generator=g)
    alpha, beta = torch.rand(B, S1, generator=g), 0.5 * torch.rand(B, S2, generator=g)
    got = mix_hard_negatives(q.requires_grad_(True), keys, hard, pairs, alpha, partners, beta)
    torch.testing.assert_close(got, naive_mix(q.detach(), keys, hard, pairs, alpha, partners, beta))
    assert not got.requires_grad  # no gradient through the synthetic points (the paper's choice)
    torch.testing.assert_close(got.norm(dim=-1), torch.ones(B, S1 + S2))


def fixed_views(x):
    return (x, x.flip(1))


def test_mochi_step_is_info_nce_with_the_synthetic_negatives():
    torch.manual_seed(0)
    method = MoCo(LSTMEncoder(3, hidden=8), views=fixed_views, queue_size=16, proj_dim=4, mochi_n=5, mochi_s1=3,
                  mochi_s2=2, tau_plus=0.1, beta=0.5)  # fmt: skip
    method.eval()
    for step in range(3):  # queue empty (hard set from the batch's other keys), then filling
        x = torch.randn(4, 12, 3)
        queued = method.queue.keys().clone()
        torch.manual_seed(step)
        loss = method.training_step((x,))
        q = method.projector(method.encoder(x))
        k = F.normalize(method.key_projector(method.key_encoder(x.flip(1))), dim=-1)
        keys = torch.cat([k, queued])
        mask = moco_positive_mask(4, len(keys))
        torch.manual_seed(step)
        extra = mochi_negatives(q, keys, mask, 5, 3, 2)
        assert extra.shape == (4, 5, 4)
        expected = losses.info_nce(q, keys, mask, 0.2, tau_plus=0.1, beta=0.5, extra_negatives=extra)
        torch.testing.assert_close(loss, expected)


def test_defaults_are_plain_moco_bit_for_bit():
    torch.manual_seed(0)
    method = MoCo(LSTMEncoder(3, hidden=8), views=fixed_views, queue_size=10, proj_dim=4)
    method.eval()
    x = torch.randn(4, 12, 3)
    rng = torch.get_rng_state()
    loss = method.training_step((x,))
    assert torch.equal(torch.get_rng_state(), rng)  # MoCHi off draws no random numbers
    q = method.projector(method.encoder(x))
    k = F.normalize(method.key_projector(method.key_encoder(x.flip(1))).float(), dim=-1)
    assert torch.equal(loss, losses.info_nce(q, k, moco_positive_mask(4, 4), 0.2))


def test_moco_with_mochi_lowers_its_loss():
    ws = sample_slice()
    torch.manual_seed(0)
    method = MoCo(scaled(LSTMEncoder(ws.X.shape[2], hidden=16), ws.X), queue_size=512, **MOCHI)
    result = Trainer(max_steps=60, batch_size=128, lr=1e-2, seed=0, device="cpu", log_every=1, progress=False).fit(
        method, ws
    )
    full = [h["loss"] for h in result.history][4:]
    assert np.all(np.isfinite(full)) and np.mean(full[-8:]) < 0.96 * np.mean(full[:8]), (full[:8], full[-8:])


def test_moco_with_mochi_beats_the_random_encoder_on_the_planted_motif():
    trained, random, base_rate = trained_vs_random("moco", planted_split(), steps=60, **MOCHI)
    assert trained > random + 0.02 and trained > 3 * base_rate, (trained, random, base_rate)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mochi_n": 8}, "mochi_s1 \\+ mochi_s2 > 0 together"),
        ({"mochi_s1": 4}, "mochi_n > 0"),
        ({"mochi_n": -1, "mochi_s1": 1}, "mochi_n must be an integer >= 0"),
        ({"mochi_n": 4, "mochi_s2": 2.5}, "mochi_s2 must be an integer"),
        ({"tau_plus": 1.0}, "tau_plus"),
        ({"beta": -0.5}, "beta"),
    ],
)
def test_bad_hard_negative_settings_are_one_line_errors(kwargs, match):
    with pytest.raises(ValueError, match=match) as err:
        MoCo(LSTMEncoder(3, hidden=4), **kwargs)
    assert "\n" not in str(err.value)
