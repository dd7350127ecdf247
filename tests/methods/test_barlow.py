"""Barlow Twins on windows: the loss of the projected views; it falls through the Trainer."""

import numpy as np
import torch

from tsssl import losses
from tsssl.data import build_windows, load_sample
from tsssl.encoders import LSTMEncoder
from tsssl.methods import BarlowTwins, StandardizedEncoder, channel_stats
from tsssl.train import Trainer


def scaled(encoder, X):
    """The encoder behind the per-channel standardisation the CLI uses."""
    return StandardizedEncoder(encoder, *channel_stats(X))


def test_step_is_barlow_twins_of_the_projected_views():
    torch.manual_seed(0)

    def views(x):
        return (x, x.flip(1))

    method = BarlowTwins(LSTMEncoder(3, hidden=8), views=views, proj_dim=16, lambd=0.01)
    method.eval()
    x = torch.randn(8, 10, 3)
    z1, z2 = method.projector(method.encoder(torch.cat([x, x.flip(1)]))).chunk(2)
    assert torch.allclose(method.training_step((x,)), losses.barlow_twins(z1, z2, lambd=0.01))


def test_barlow_lowers_its_loss():
    ws = build_windows(load_sample(), window=20, horizon=5).subset(np.arange(1024))
    torch.manual_seed(0)
    method = BarlowTwins(scaled(LSTMEncoder(ws.X.shape[2], hidden=16), ws.X), proj_dim=64)
    result = Trainer(max_steps=40, batch_size=128, lr=3e-3, seed=0, device="cpu", log_every=1, progress=False).fit(
        method, ws
    )
    ls = [h["loss"] for h in result.history]
    assert np.mean(ls[-8:]) < 0.9 * np.mean(ls[:8]), (ls[:8], ls[-8:])
