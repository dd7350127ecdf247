"""Autoregressive self-prediction: the predictions never see the days they predict (every encoder
as the CLI builds it), the loss is next_step_prediction on the standardised inputs, it falls on
the sample, the representation beats the random encoder on the planted motif, and it trains from
the command line and through TSSSLEncoder."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import tsssl
from tsssl.cli import main
from tsssl.data import build_windows, load_sample
from tsssl.encoders import CNNEncoder, LSTMEncoder
from tsssl.losses.pretext import next_step_prediction
from tsssl.methods import StandardizedEncoder, build_method, channel_stats
from tsssl.methods.autoregressive import Autoregressive, standardized_inputs
from tsssl.train import Trainer

sys.path.insert(0, str(Path(__file__).parent))
from _planted import planted_split, trained_vs_random  # noqa: E402


@pytest.mark.parametrize("encoder", ["lstm", "cnn", "transformer"])
def test_predictions_never_see_the_days_they_predict(encoder):
    torch.manual_seed(0)
    method = build_method("autoregressive", 4, encoder=encoder, encoder_kwargs={}, horizon=2)
    method.eval()  # no dropout: the two passes must be comparable
    x = torch.randn(3, 20, 4)
    pred, _ = method.predict(x)
    assert pred.shape == (3, 20, 2, 4)
    for t in (0, 7, 18):
        changed = x.clone()
        changed[:, t + 1 :] = torch.randn_like(changed[:, t + 1 :]) * 5  # a different future
        pred2, _ = method.predict(changed)
        torch.testing.assert_close(pred2[:, : t + 1], pred[:, : t + 1], rtol=1e-5, atol=1e-5)
        assert not torch.allclose(pred2[:, t + 1 :], pred[:, t + 1 :])


@pytest.mark.parametrize("gaussian", [False, True])
def test_loss_is_next_step_prediction_on_the_standardised_inputs(gaussian):
    torch.manual_seed(0)
    B, T, C, K = 4, 12, 3, 2
    mean, std = np.array([0.1, -2.0, 5.0]), np.array([0.5, 2.0, 10.0])
    encoder = StandardizedEncoder(LSTMEncoder(C, hidden=8), mean, std)
    method = Autoregressive(encoder, horizon=K, gaussian=gaussian, context_from=2)
    x = torch.randn(B, T, C) * torch.tensor(std, dtype=torch.float32) + torch.tensor(mean, dtype=torch.float32)
    u = standardized_inputs(encoder, x)
    torch.testing.assert_close(u, (x - torch.tensor(mean).float()) / torch.tensor(std).float())
    # the head read as the algorithm box: pred[:, t, k - 1] (and its log-variance) from h_t
    h = encoder(x, return_sequence=True)
    out = method.head(h).view(B, T, K, 2 if gaussian else 1, C)
    expected = next_step_prediction(out[:, :, :, 0], u, out[:, :, :, 1] if gaussian else None, context_from=2)
    torch.testing.assert_close(method.training_step((x,)), expected)
    # without statistics in the encoder, the raw inputs are the targets
    assert standardized_inputs(LSTMEncoder(C, hidden=8), x) is x


def test_lowers_its_loss_on_the_sample():
    """Measured on all 1,024 windows before and after 40 steps: the per-batch losses swing by
    +-25% with the batch's heavy-tailed returns, more than the fall."""
    ws = build_windows(load_sample(), window=20, horizon=5).subset(np.arange(1024))
    torch.manual_seed(0)
    method = Autoregressive(StandardizedEncoder(LSTMEncoder(ws.X.shape[2], hidden=16), *channel_stats(ws.X)))
    X = torch.as_tensor(ws.X)
    with torch.no_grad():
        before = method.training_step((X,)).item()
    result = Trainer(max_steps=40, batch_size=128, lr=3e-3, seed=0, device="cpu", log_every=1, progress=False).fit(
        method, ws
    )
    with torch.no_grad():
        after = method.training_step((X,)).item()
    assert np.all(np.isfinite([h["loss"] for h in result.history]))
    assert after < 0.97 * before, (before, after)


def test_non_causal_encoders_and_bad_settings_are_reported():
    with pytest.warns(UserWarning, match="not causal"):
        Autoregressive(LSTMEncoder(2, hidden=4, bidirectional=True))
    with pytest.warns(UserWarning, match="not causal"):
        Autoregressive(CNNEncoder(2, channels=4, causal=False))
    with pytest.raises(ValueError, match="horizon"):
        Autoregressive(LSTMEncoder(2, hidden=4), horizon=0)
    with pytest.raises(ValueError, match="nothing to predict"):
        Autoregressive(LSTMEncoder(2, hidden=4), context_from=5).training_step((torch.randn(2, 6, 2),))


def test_representation_beats_the_random_encoder_on_the_planted_motif():
    trained, random, base_rate = trained_vs_random("autoregressive", planted_split(), steps=60)
    assert trained > random + 0.02 and trained > 3 * base_rate, (trained, random, base_rate)


def test_trains_from_the_command_line_and_through_tsssl_encoder(tmp_path, capsys):
    out = tmp_path / "x_autoregressive"
    argv = ["train", "--method", "autoregressive", "--sample", "--start", "2016-01-01", "--max-steps", "4"]
    assert main([*argv, "--batch-size", "128", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["method"] == "autoregressive" and np.isfinite(metrics["final_loss"])
    capsys.readouterr()

    X = np.random.default_rng(0).normal(size=(64, 20, 5)).astype(np.float32)
    enc = tsssl.TSSSLEncoder(method="autoregressive", max_steps=5, batch_size=32, progress=False).fit(X)
    assert enc.n_steps_ == 5 and enc.transform(X).shape[0] == 64
