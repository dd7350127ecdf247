"""NNCLR: the step is the paper's pseudo-code (neighbours from the support set, symmetric loss,
then the support set updated), training lowers the loss, the representation beats a random
encoder on the planted motif, and it trains from the command line and through TSSSLEncoder."""

import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import tsssl
from tsssl.cli import main
from tsssl.data import build_windows, load_sample
from tsssl.encoders import LSTMEncoder
from tsssl.losses.neighbours import nnclr_loss
from tsssl.methods import StandardizedEncoder, channel_stats
from tsssl.methods.nnclr import NNCLR
from tsssl.train import Trainer

sys.path.insert(0, str(Path(__file__).parent))
from _planted import planted_split, trained_vs_random  # noqa: E402


def fixed_views(x):
    return (x, x.flip(1))  # deterministic, so the reference sees the same inputs


def naive_neighbours(z, support):
    """Row by row: the support row of highest cosine similarity."""
    out = []
    for i in range(len(z)):
        sims = [F.cosine_similarity(z[i], support[k], dim=0).item() for k in range(len(support))]
        out.append(support[int(np.argmax(sims))])
    return torch.stack(out)


def test_step_follows_the_papers_pseudo_code():
    torch.manual_seed(0)
    method = NNCLR(LSTMEncoder(3, hidden=8), views=fixed_views, queue_size=6, proj_dim=4, temperature=0.2)
    method.eval()  # fixed batch-norm statistics: the reference recomputes the same z, p
    x = torch.randn(4, 12, 3)
    with torch.no_grad():
        z1, z2 = method.project(torch.cat(fixed_views(x))).chunk(2)
        p1, p2 = method.predictor(torch.cat([z1, z2])).chunk(2)
    z1n, z2n = F.normalize(z1, dim=1), F.normalize(z2, dim=1)

    # first step: the support set is still empty, so the batch's own z1 stands in for it
    loss = method.training_step((x,))
    expected = nnclr_loss(p1, p2, naive_neighbours(z1n, z1n), naive_neighbours(z2n, z1n), temperature=0.2)
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(method.support.keys(), z1n)  # view 1's normalised projections enqueued

    # later steps: neighbours come only from the support set (filled, then wrapped around)
    support = F.normalize(torch.randn(6, 4), dim=1)
    method.support.enqueue(support)
    loss = method.training_step((x,))
    expected = nnclr_loss(p1, p2, naive_neighbours(z1n, support), naive_neighbours(z2n, support), temperature=0.2)
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(method.support.keys(), torch.cat([support[4:], z1n]))


def test_gradient_flows_through_the_predictions_not_the_lookup():
    torch.manual_seed(0)
    method = NNCLR(LSTMEncoder(3, hidden=8), views=fixed_views, queue_size=8, proj_dim=4)
    method.support.enqueue(torch.randn(8, 4))
    method.training_step((torch.randn(4, 12, 3),)).backward()
    grads = [p.grad for p in method.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert not method.support.queue.requires_grad


def sample_slice(n=1024):
    return build_windows(load_sample(), window=20, horizon=5).subset(np.arange(n))


def test_training_lowers_the_loss():
    ws = sample_slice()
    torch.manual_seed(0)
    method = NNCLR(StandardizedEncoder(LSTMEncoder(ws.X.shape[2], hidden=16), *channel_stats(ws.X)), queue_size=512)
    result = Trainer(max_steps=30, batch_size=128, lr=3e-3, seed=0, device="cpu", log_every=1, progress=False).fit(
        method, ws
    )
    ls = [h["loss"] for h in result.history]
    assert len(ls) == 30 and np.all(np.isfinite(ls))
    assert np.mean(ls[-6:]) < np.mean(ls[:6]) - 0.1 * np.mean(ls[:6]), (ls[:6], ls[-6:])
    assert len(method.support) == 512  # full after 30 steps of 128


def test_representation_beats_the_random_encoder_on_the_planted_motif():
    trained, random, base_rate = trained_vs_random("nnclr", planted_split(), steps=60)
    assert trained > random + 0.02 and trained > 3 * base_rate, (trained, random, base_rate)


def test_trains_from_the_command_line_and_through_tsssl_encoder(tmp_path, capsys):
    out = tmp_path / "x_nnclr"
    argv = ["train", "--method", "nnclr", "--sample", "--start", "2016-01-01", "--max-steps", "4"]
    assert main([*argv, "--batch-size", "128", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["method"] == "nnclr" and np.isfinite(metrics["final_loss"])
    assert "support.queue" in torch.load(out / "checkpoint.pt", weights_only=False)["method"]
    capsys.readouterr()

    X = np.random.default_rng(0).normal(size=(64, 20, 5)).astype(np.float32)
    enc = tsssl.TSSSLEncoder(method="nnclr", max_steps=5, batch_size=32, progress=False).fit(X)
    assert enc.n_steps_ == 5 and enc.transform(X).shape[0] == 64
