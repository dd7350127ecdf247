"""SimSiam: stop-gradient on the targets (no gradient reaches z through the target side); loss falls."""

import numpy as np
import torch

from tsssl import losses
from tsssl.data import build_windows, load_sample
from tsssl.encoders import LSTMEncoder
from tsssl.methods import SimSiam, StandardizedEncoder, channel_stats
from tsssl.train import Trainer


def scaled(encoder, X):
    """The encoder behind the per-channel standardisation the CLI uses."""
    return StandardizedEncoder(encoder, *channel_stats(X))


def test_gradient_flows_through_the_predictions_only():
    torch.manual_seed(0)

    def views(x):
        return (x, x.flip(1))

    method = SimSiam(LSTMEncoder(3, hidden=8), views=views)
    method.eval()
    x = torch.randn(6, 10, 3)
    loss = method.training_step((x,))
    z1, z2 = method.projector(method.encoder(torch.cat([x, x.flip(1)]))).chunk(2)
    p1, p2 = method.predictor(z1), method.predictor(z2)
    ref = 0.5 * (losses.negative_cosine(p1, z2.detach()) + losses.negative_cosine(p2, z1.detach()))
    assert torch.allclose(loss, ref, atol=1e-6)
    # d loss / d z, holding the predictor fixed, comes only through p = h(z), not from the target side
    (g_loss,) = torch.autograd.grad(
        0.5 * (losses.negative_cosine(p1, z2.detach()) + losses.negative_cosine(p2, z1.detach())), z1, retain_graph=True
    )
    (g_pred,) = torch.autograd.grad(0.5 * losses.negative_cosine(p1, z2.detach()), z1)
    assert torch.allclose(g_loss, g_pred, atol=1e-7)


def test_simsiam_lowers_its_loss():
    ws = build_windows(load_sample(), window=20, horizon=5).subset(np.arange(1024))
    torch.manual_seed(0)
    method = SimSiam(scaled(LSTMEncoder(ws.X.shape[2], hidden=16), ws.X))
    result = Trainer(max_steps=40, batch_size=128, lr=3e-3, seed=0, device="cpu", log_every=1, progress=False).fit(
        method, ws
    )
    ls = [h["loss"] for h in result.history]
    assert np.mean(ls[-8:]) < np.mean(ls[:8]) - 0.05, (ls[:8], ls[-8:])
