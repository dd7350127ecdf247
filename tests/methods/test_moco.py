"""MoCo v2: the queue fills with normalised keys after the loss, the key encoder takes no
gradient and moves only by the Trainer's EMA, the loss falls once the queue is full."""

import numpy as np
import torch

from tsssl import losses
from tsssl.data import build_windows, load_sample
from tsssl.encoders import LSTMEncoder
from tsssl.methods import MoCo, StandardizedEncoder, channel_stats
from tsssl.methods.moco import moco_positive_mask
from tsssl.train import Trainer


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
