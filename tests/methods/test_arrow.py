"""Arrow of time on windows: the step is the algorithm box written out window by window, it
learns the direction of time of the sample's windows, it runs with every encoder, from the
command line and through TSSSLEncoder; on the planted motif its gain over the random encoder is
below the bar (recorded as a strict xfail)."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import tsssl
from tsssl.cli import main
from tsssl.data import build_windows, load_sample
from tsssl.encoders import LSTMEncoder
from tsssl.losses.pretext import binary_pretext
from tsssl.methods import StandardizedEncoder, build_method, channel_stats
from tsssl.methods.arrow import ArrowOfTime
from tsssl.train import Trainer

sys.path.insert(0, str(Path(__file__).parent))
from _planted import planted_split, trained_vs_random  # noqa: E402


@pytest.mark.parametrize("length", [None, 12])
def test_step_is_the_algorithm_written_out_window_by_window(length):
    torch.manual_seed(0)
    B, T, C = 4, 20, 3
    method = ArrowOfTime(LSTMEncoder(C, hidden=8), length=length, hidden=16)
    x = torch.randn(B, T, C)
    torch.manual_seed(1)
    loss = method.training_step((x,))
    torch.manual_seed(1)  # the same draw of sub-window starts
    starts = torch.randint(0, T - length + 1, (B,)) if length else torch.zeros(B, dtype=torch.long)
    L = length or T
    forward, backward = [], []
    for b in range(B):  # naive: each clip, played forward, then day by day from its end
        clip = x[b, int(starts[b]) : int(starts[b]) + L]
        reversed_clip = torch.stack([clip[L - 1 - i] for i in range(L)])
        forward.append(method.head(method.encoder(clip[None]))[0, 0])
        backward.append(method.head(method.encoder(reversed_clip[None]))[0, 0])
    expected = binary_pretext(torch.stack(forward + backward), torch.tensor([1] * B + [0] * B))
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)


def test_lowers_its_loss_on_the_sample():
    """Real windows carry a direction of time (mostly in the daily range: the log_high_close and
    log_low_close channels together), so the loss leaves log 2 within 80 steps."""
    ws = build_windows(load_sample(), window=20, horizon=5).subset(np.arange(1024))
    torch.manual_seed(0)
    method = ArrowOfTime(StandardizedEncoder(LSTMEncoder(ws.X.shape[2], hidden=16), *channel_stats(ws.X)))
    result = Trainer(max_steps=80, batch_size=128, lr=3e-3, seed=0, device="cpu", log_every=1, progress=False).fit(
        method, ws
    )
    ls = [h["loss"] for h in result.history]
    assert np.all(np.isfinite(ls)) and abs(np.mean(ls[:4]) - np.log(2)) < 0.01  # starts at chance
    assert np.mean(ls[-8:]) < np.mean(ls[:8]) - 0.05, (ls[:8], ls[-8:])


@pytest.mark.parametrize("encoder", ["lstm", "cnn", "transformer"])
def test_every_encoder_takes_whole_windows_and_sub_windows(encoder):
    torch.manual_seed(0)
    for length in (None, 10):
        method = build_method("arrow", 5, encoder=encoder, encoder_kwargs={}, length=length)
        loss = method.training_step((torch.randn(8, 20, 5),))
        loss.backward()
        assert torch.isfinite(loss)


def test_bad_settings_are_reported():
    with pytest.raises(ValueError, match="length"):
        ArrowOfTime(LSTMEncoder(2, hidden=4), length=1)
    with pytest.raises(ValueError, match="longer than the window"):
        ArrowOfTime(LSTMEncoder(2, hidden=4), length=30).training_step((torch.randn(2, 20, 2),))


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="the arrow of time barely trains in 60 steps on the planted market (loss stays at log 2); "
    "its encoder is a little above the random one (0.236 vs 0.222 at seed 0), short of the +0.02 bar",
)
def test_representation_beats_the_random_encoder_on_the_planted_motif():
    trained, random, base_rate = trained_vs_random("arrow", planted_split(), steps=60)
    assert trained > random + 0.02 and trained > 3 * base_rate, (trained, random, base_rate)


def test_trains_from_the_command_line_and_through_tsssl_encoder(tmp_path, capsys):
    out = tmp_path / "x_arrow"
    argv = ["train", "--method", "arrow", "--sample", "--start", "2016-01-01", "--max-steps", "4"]
    assert main([*argv, "--batch-size", "128", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["method"] == "arrow" and np.isfinite(metrics["final_loss"])
    capsys.readouterr()

    X = np.random.default_rng(0).normal(size=(64, 20, 5)).astype(np.float32)
    enc = tsssl.TSSSLEncoder(method="arrow", max_steps=5, batch_size=32, progress=False).fit(X)
    assert enc.n_steps_ == 5 and enc.transform(X).shape[0] == 64
