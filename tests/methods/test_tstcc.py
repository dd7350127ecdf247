"""TS-TCC: the weak / strong views, the step as the algorithm written out series by series
(cross-view temporal contrasting + contextual contrasting), the loss falls, the representation
beats the random encoder on AR(1) series, and it trains from the command line."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tsssl.cli import main
from tsssl.data import build_windows, load_sample
from tsssl.encoders import CNNEncoder, LSTMEncoder
from tsssl.losses import nt_xent
from tsssl.methods import StandardizedEncoder, build_method, channel_stats
from tsssl.methods.tstcc import TSTCC, strong_view, weak_view
from tsssl.train import Trainer

sys.path.insert(0, str(Path(__file__).parent))
from _ar1 import ar1_trained_vs_random  # noqa: E402


def test_views_jitter_scale_and_permute():
    torch.manual_seed(0)
    x = torch.randn(6, 20, 3)
    assert torch.equal(weak_view(x, 0.0, 0.0), x)
    w = weak_view(x, 0.1, 0.2)
    assert w.shape == x.shape and not torch.equal(w, x)
    s = strong_view(x, max_segments=5, jitter_sigma=0.0)  # no noise: a reordering of each series' days
    torch.testing.assert_close(s.sort(dim=1).values, x.sort(dim=1).values)
    assert not torch.equal(s, x)


def _naive_tc(pred, z):
    """-1/(B K) sum_k sum_i log softmax_j(pred[i, k] . z[j, k])[i], loop by loop."""
    B, K, _ = pred.shape
    total = 0.0
    for k in range(K):
        for i in range(B):
            scores = torch.stack([pred[i, k] @ z[j, k] for j in range(B)])
            total = total - (scores[i] - torch.logsumexp(scores, dim=0))
    return total / (B * K)


@pytest.mark.parametrize("context", ["gru", "transformer"])
def test_step_is_the_algorithm_written_out_series_by_series(context):
    torch.manual_seed(0)
    B, T, C = 6, 20, 3
    method = TSTCC(LSTMEncoder(C, hidden=8), context=context, context_dim=8, context_heads=2, n_predictions=3)
    method = method.double().eval()  # fixed batch-norm statistics and no dropout: series one by one
    x = torch.randn(B, T, C, dtype=torch.float64)
    torch.manual_seed(1)
    got = method.training_step((x,))
    torch.manual_seed(1)  # the same draws: the time step, then the two views
    t = method.context_position(T)
    x_w, x_s = method.augment(x)
    f, g = method.encoder, method.context
    z_w = torch.cat([f(x_w[b : b + 1], return_sequence=True) for b in range(B)])
    z_s = torch.cat([f(x_s[b : b + 1], return_sequence=True) for b in range(B)])
    c_w = torch.cat([g(z_w[b : b + 1, : t + 1]) for b in range(B)])
    c_s = torch.cat([g(z_s[b : b + 1, : t + 1]) for b in range(B)])
    K, D = 3, 8
    pred_w = torch.stack([method.predictors(c_w[b]).reshape(K, D) for b in range(B)])
    pred_s = torch.stack([method.predictors(c_s[b]).reshape(K, D) for b in range(B)])
    # each view's context predicts the OTHER view's steps t+1..t+K
    l_tc = _naive_tc(pred_w, z_s[:, t + 1 : t + 1 + K]) + _naive_tc(pred_s, z_w[:, t + 1 : t + 1 + K])
    l_cc = nt_xent(method.projector(c_w), method.projector(c_s), temperature=0.2)
    torch.testing.assert_close(got, 1.0 * l_tc + 0.7 * l_cc, rtol=1e-9, atol=1e-10)


def test_lowers_its_loss_on_the_sample():
    ws = build_windows(load_sample(), window=20, horizon=5).subset(np.arange(1024))
    torch.manual_seed(0)
    method = TSTCC(StandardizedEncoder(LSTMEncoder(ws.X.shape[2], hidden=16), *channel_stats(ws.X)))
    result = Trainer(max_steps=40, batch_size=128, lr=3e-3, seed=0, device="cpu", log_every=1, progress=False).fit(
        method, ws
    )
    ls = [h["loss"] for h in result.history]
    # every score equal: each InfoNCE term is log B, the NT-Xent log(2B - 1)
    chance = 2 * np.log(128) + 0.7 * np.log(255)
    first, last = np.mean(ls[:8]), np.mean(ls[-8:])
    assert np.all(np.isfinite(ls)) and last < first - 0.2 and last < chance - 0.2, (chance, ls[:8], ls[-8:])


@pytest.mark.parametrize("encoder", ["lstm", "cnn", "transformer"])
def test_every_encoder_gives_its_per_step_features(encoder):
    torch.manual_seed(0)
    method = build_method("tstcc", 5, encoder=encoder)
    loss = method.training_step((torch.randn(8, 20, 5),))
    loss.backward()
    assert torch.isfinite(loss)


def test_bad_settings_are_reported():
    with pytest.raises(ValueError, match="unknown context"):
        TSTCC(LSTMEncoder(2, hidden=4), context="lstm")
    with pytest.raises(ValueError, match="n_predictions"):
        TSTCC(LSTMEncoder(2, hidden=4), n_predictions=0)
    with pytest.raises(ValueError, match="max_segments"):
        TSTCC(LSTMEncoder(2, hidden=4), max_segments=1)
    with pytest.raises(ValueError, match="too short"):
        TSTCC(LSTMEncoder(2, hidden=4), n_predictions=4).training_step((torch.randn(4, 4, 2),))


def test_representation_beats_the_random_encoder_on_ar1_series():
    torch.manual_seed(0)
    trained, random = ar1_trained_vs_random(TSTCC(CNNEncoder(1, channels=16)))
    assert trained > random + 0.03 and trained > 0.7, (trained, random)


def test_trains_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "x_tstcc"
    argv = ["train", "--method", "tstcc", "--sample", "--start", "2016-01-01", "--max-steps", "4"]
    assert main([*argv, "--batch-size", "64", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["method"] == "tstcc" and np.isfinite(metrics["final_loss"])
    capsys.readouterr()
