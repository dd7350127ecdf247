"""TCN on windows: anchors and positives are sub-windows a few days apart in the same window, the
loss is NT-Xent over the batch (or the in-window triplet), the loss falls on the sample, the
representation beats the random encoder on the planted motif, and it trains from the command
line and through TSSSLEncoder."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import tsssl
from tsssl.augment.segments import time_contrastive_starts
from tsssl.cli import main
from tsssl.data import build_windows, load_sample
from tsssl.encoders import LSTMEncoder
from tsssl.losses import nt_xent, triplet_margin
from tsssl.methods import StandardizedEncoder, build_method, channel_stats
from tsssl.methods.tcn import TCN
from tsssl.train import Trainer

sys.path.insert(0, str(Path(__file__).parent))
from _planted import planted_split, trained_vs_random  # noqa: E402


@pytest.mark.parametrize("loss", ["info_nce", "triplet", "both"])
def test_step_is_the_algorithm_written_out_window_by_window(loss):
    torch.manual_seed(0)
    B, T, C = 6, 20, 3
    method = TCN(LSTMEncoder(C, hidden=8), loss=loss, length=10, max_shift=2, far_shift=7, proj_dim=8)
    method.eval()  # batch-norm in the head on fixed statistics, so windows can be embedded one by one
    x = torch.randn(B, T, C)
    torch.manual_seed(1)
    got = method.training_step((x,))
    torch.manual_seed(1)  # the same draws of starts
    a, p, n = time_contrastive_starts(B, T, 10, 2, None if loss == "info_nce" else 7)

    def z(b, s):
        return method.projector(method.encoder(x[b : b + 1, int(s) : int(s) + 10]))[0]

    za = torch.stack([z(b, a[b]) for b in range(B)])
    zp = torch.stack([z(b, p[b]) for b in range(B)])
    assert ((p - a).abs() <= 2).all() and ((p - a).abs() >= 1).all()
    contrast = nt_xent(za, zp, temperature=method.temperature)  # negatives: the other windows' sub-windows
    if loss == "info_nce":
        expected = contrast
    else:
        zn = torch.stack([z(b, n[b]) for b in range(B)])
        assert ((n - a).abs() >= 7).all()
        expected = triplet_margin(*(F.normalize(v, dim=-1) for v in (za, zp, zn)), margin=method.margin)
        expected = expected + contrast if loss == "both" else expected
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_lowers_its_loss_on_the_sample():
    ws = build_windows(load_sample(), window=20, horizon=5).subset(np.arange(1024))
    torch.manual_seed(0)
    method = TCN(StandardizedEncoder(LSTMEncoder(ws.X.shape[2], hidden=16), *channel_stats(ws.X)))
    result = Trainer(max_steps=40, batch_size=128, lr=3e-3, seed=0, device="cpu", log_every=1, progress=False).fit(
        method, ws
    )
    ls = [h["loss"] for h in result.history]
    assert np.all(np.isfinite(ls)) and np.mean(ls[-8:]) < 0.9 * np.mean(ls[:8]), (ls[:8], ls[-8:])


@pytest.mark.parametrize("encoder", ["lstm", "cnn", "transformer"])
def test_every_encoder_takes_the_sub_windows(encoder):
    torch.manual_seed(0)
    method = build_method("tcn", 5, encoder=encoder, encoder_kwargs={}, loss="both")
    loss = method.training_step((torch.randn(8, 20, 5),))
    loss.backward()
    assert torch.isfinite(loss)


def test_bad_settings_are_reported():
    with pytest.raises(ValueError, match="unknown loss"):
        TCN(LSTMEncoder(2, hidden=4), loss="npairs")
    with pytest.raises(ValueError, match="max_shift"):
        TCN(LSTMEncoder(2, hidden=4), max_shift=0)
    with pytest.raises(ValueError, match="too short"):
        TCN(LSTMEncoder(2, hidden=4), loss="triplet").training_step((torch.randn(4, 15, 2),))
    with pytest.raises(ValueError, match="too short"):
        TCN(LSTMEncoder(2, hidden=4), length=12).training_step((torch.randn(4, 12, 2),))


def test_representation_beats_the_random_encoder_on_the_planted_motif():
    trained, random, base_rate = trained_vs_random("tcn", planted_split(), steps=60)
    assert trained > random + 0.02 and trained > 3 * base_rate, (trained, random, base_rate)


def test_trains_from_the_command_line_and_through_tsssl_encoder(tmp_path, capsys):
    out = tmp_path / "x_tcn"
    argv = ["train", "--method", "tcn", "--sample", "--start", "2016-01-01", "--max-steps", "4"]
    assert main([*argv, "--batch-size", "128", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["method"] == "tcn" and np.isfinite(metrics["final_loss"])
    capsys.readouterr()

    X = np.random.default_rng(0).normal(size=(64, 20, 5)).astype(np.float32)
    enc = tsssl.TSSSLEncoder(method="tcn", max_steps=5, batch_size=32, progress=False).fit(X)
    assert enc.n_steps_ == 5 and enc.transform(X).shape[0] == 64
