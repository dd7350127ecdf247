"""SimCLR on windows: NT-Xent of the two projected views; the loss falls."""

import numpy as np
import torch

from tsssl import losses
from tsssl.data import build_windows, load_sample
from tsssl.encoders import CNNEncoder, LSTMEncoder
from tsssl.methods import SimCLR, StandardizedEncoder, channel_stats
from tsssl.train import Trainer


def scaled(encoder, X):
    """The encoder behind the per-channel standardisation the CLI uses."""
    return StandardizedEncoder(encoder, *channel_stats(X))


def test_step_is_nt_xent_of_the_projected_views():
    torch.manual_seed(0)

    def views(x):
        return (x, x.flip(1))

    method = SimCLR(LSTMEncoder(3, hidden=8), views=views, temperature=0.4)
    method.eval()
    x = torch.randn(6, 10, 3)
    z = method.projector(method.encoder(torch.cat([x, x.flip(1)])))
    z1, z2 = z.chunk(2)
    assert torch.allclose(method.training_step((x,)), losses.nt_xent(z1, z2, temperature=0.4))


def test_simclr_lowers_its_loss_with_a_cnn_encoder():
    ws = build_windows(load_sample(), window=20, horizon=5).subset(np.arange(1024))
    torch.manual_seed(0)
    method = SimCLR(scaled(CNNEncoder(ws.X.shape[2], channels=16, layers=2), ws.X))
    result = Trainer(max_steps=40, batch_size=128, lr=3e-3, seed=0, device="cpu", log_every=1, progress=False).fit(
        method, ws
    )
    ls = [h["loss"] for h in result.history]
    assert np.mean(ls[-8:]) < np.mean(ls[:8]) - 0.05 * np.mean(ls[:8]), (ls[:8], ls[-8:])
