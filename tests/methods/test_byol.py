"""BYOL: the target network takes no gradient, moves by EMA, and the loss falls."""

import numpy as np
import torch

from tsssl import losses
from tsssl.data import build_windows, load_sample
from tsssl.encoders import LSTMEncoder
from tsssl.methods import BYOL, StandardizedEncoder, channel_stats
from tsssl.train import Trainer


def scaled(encoder, X):
    """The encoder behind the per-channel standardisation the CLI uses."""
    return StandardizedEncoder(encoder, *channel_stats(X))


def test_target_has_no_gradient_and_loss_is_symmetric():
    torch.manual_seed(0)

    def views(x):
        return (x, x.flip(1))

    method = BYOL(LSTMEncoder(3, hidden=8), views=views)
    method.eval()
    x = torch.randn(6, 10, 3)
    loss = method.training_step((x,))
    loss.backward()
    for module in (method.target_encoder, method.target_projector):
        assert all(not p.requires_grad and p.grad is None for p in module.parameters())
    assert all(p.grad is not None for p in method.predictor.parameters())
    assert all(p.grad is not None for p in method.encoder.parameters())
    # reference: symmetric negative cosine of online predictions against the other view's target
    with torch.no_grad():
        p1 = method.predictor(method.projector(method.encoder(x)))
        p2 = method.predictor(method.projector(method.encoder(x.flip(1))))
        t1 = method.target_projector(method.target_encoder(x))
        t2 = method.target_projector(method.target_encoder(x.flip(1)))
        ref = 0.5 * (losses.negative_cosine(p1, t2) + losses.negative_cosine(p2, t1))
    assert torch.allclose(loss.detach(), ref, atol=1e-6)
    assert [(a, b) for a, b in method.momentum_pairs()] == [
        (method.encoder, method.target_encoder),
        (method.projector, method.target_projector),
    ]


def test_byol_lowers_its_loss_and_the_target_follows():
    ws = build_windows(load_sample(), window=20, horizon=5).subset(np.arange(1024))
    torch.manual_seed(0)
    method = BYOL(scaled(LSTMEncoder(ws.X.shape[2], hidden=16), ws.X))
    target_before = [p.detach().clone() for p in method.target_encoder.parameters()]
    result = Trainer(max_steps=40, batch_size=128, lr=3e-3, seed=0, device="cpu", log_every=1, progress=False).fit(
        method, ws
    )
    ls = [h["loss"] for h in result.history]
    assert np.mean(ls[-8:]) < np.mean(ls[:8]) - 0.05, (ls[:8], ls[-8:])
    moved = sum(float((a - b).abs().sum()) for a, b in zip(method.target_encoder.parameters(), target_before))
    assert moved > 0
    assert all(p.grad is None for p in method.target_encoder.parameters())
