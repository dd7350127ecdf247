"""Masked reconstruction: the span mask against a loop-built Markov chain and its statistics, the
masked MSE against a naive loop (values and gradients), the step hides the masked entries and
scores only them, training lowers the loss, the representation beats a random encoder on the
planted motif, and it trains from the command line and through TSSSLEncoder."""

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
from tsssl.methods import StandardizedEncoder, channel_stats
from tsssl.methods.masked import MaskedReconstruction, geometric_lengths, masked_mse, span_mask, spans_to_mask
from tsssl.train import Trainer

sys.path.insert(0, str(Path(__file__).parent))
from _planted import planted_split, trained_vs_random  # noqa: E402


def naive_spans_to_mask(lengths, start_masked, steps):
    """Walk the segments one step at a time, flipping the state at each segment's end."""
    rows = []
    for r in range(len(lengths)):
        state, seg, left, row = bool(start_masked[r]), 0, int(lengths[r][0]), []
        for _ in range(steps):
            if left == 0:
                seg, state = seg + 1, not state
                left = int(lengths[r][seg])
            row.append(state)
            left -= 1
        rows.append(row)
    return torch.tensor(rows)


def naive_masked_mse(pred, target, mask):
    total, count = 0.0, 0
    for idx in np.ndindex(*pred.shape):
        if mask[idx]:
            total = total + (pred[idx] - target[idx]) ** 2
            count += 1
    return total / count


def test_spans_to_mask_matches_a_loop():
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(1, 5, (7, 12), generator=g)
    start = torch.rand(7, generator=g) < 0.5
    assert torch.equal(spans_to_mask(lengths, start, 12), naive_spans_to_mask(lengths, start, 12))
    # a first segment longer than the window: the whole row keeps the first state
    long = torch.tensor([[30, 1], [30, 1]])
    assert spans_to_mask(long, torch.tensor([True, False]), 5).tolist() == [[True] * 5, [False] * 5]


def test_geometric_lengths_have_mean_one_over_p():
    g = torch.Generator().manual_seed(1)
    draws = geometric_lengths(0.25, (200_000,), g, "cpu")
    assert draws.min() == 1 and abs(draws.float().mean() - 4.0) < 0.05
    assert (geometric_lengths(1.0, (5,), g, "cpu") == 1).all()


@pytest.mark.parametrize("ratio, mean_span", [(0.15, 3.0), (0.4, 2.0)])
def test_span_mask_hides_ratio_of_entries_in_spans_of_mean_length(ratio, mean_span):
    g = torch.Generator().manual_seed(2)
    mask = span_mask((400, 500, 2), ratio, mean_span, generator=g)
    assert mask.shape == (400, 500, 2) and mask.dtype == torch.bool
    assert abs(mask.float().mean().item() - ratio) < 0.01
    # mean length of the hidden runs that start and end inside the window
    seq = mask.transpose(1, 2).reshape(-1, 500).int()
    starts = ((seq[:, 1:] == 1) & (seq[:, :-1] == 0)).sum().item()
    ends = ((seq[:, 1:] == 0) & (seq[:, :-1] == 1)).sum().item()
    runs = (starts + ends) / 2
    inner_hidden = seq[:, 1:-1].sum().item()
    assert abs(inner_hidden / runs - mean_span) < 0.1 * mean_span


def test_span_mask_modes():
    g = torch.Generator().manual_seed(3)
    step = span_mask((50, 20, 4), 0.3, 3.0, "step", generator=g)
    assert (step == step[:, :, :1]).all()  # one mask per window, shared by its channels
    channel = span_mask((50, 20, 4), 0.3, 3.0, "channel", generator=g)
    assert not (channel == channel[:, :, :1]).all()  # each channel its own spans
    with pytest.raises(ValueError, match="accepted: channel, step"):
        span_mask((2, 5, 1), 0.3, 3.0, "day")
    with pytest.raises(ValueError, match=r"ratio <= 0\.667"):
        span_mask((2, 5, 1), 0.8, 2.0)
    with pytest.raises(ValueError, match="ratio"):
        span_mask((2, 5, 1), 0.0)
    with pytest.raises(ValueError, match="mean_span"):
        span_mask((2, 5, 1), 0.2, 0.5)


def test_masked_mse_matches_naive_values_and_gradients():
    g = torch.Generator().manual_seed(4)
    pred = torch.randn(3, 5, 2, generator=g, dtype=torch.float64, requires_grad=True)
    target = torch.randn(3, 5, 2, generator=g, dtype=torch.float64)
    mask = torch.rand(3, 5, 2, generator=g) < 0.4
    fast, ref = masked_mse(pred, target, mask), naive_masked_mse(pred, target, mask)
    torch.testing.assert_close(fast, ref)
    torch.testing.assert_close(torch.autograd.grad(fast, pred)[0], torch.autograd.grad(ref, pred)[0])
    # nothing hidden: 0, zero gradient
    none = masked_mse(pred, target, torch.zeros_like(mask))
    assert none.item() == 0.0 and (torch.autograd.grad(none, pred)[0] == 0).all()
    with pytest.raises(ValueError, match="mask must be a bool"):
        masked_mse(pred, target, mask.float())
    with pytest.raises(ValueError, match="target must be a Tensor of pred's shape"):
        masked_mse(pred, target[:, :4], mask)


class SpyEncoder(torch.nn.Module):
    """Records what the encoder is given; per-step outputs are a linear map of the inputs."""

    def __init__(self, encoder):
        super().__init__()
        self.inner, self.out_dim, self.in_channels, self.seen = encoder, encoder.out_dim, encoder.in_channels, []

    def forward(self, x, return_sequence=False):
        self.seen.append(x.detach().clone())
        return self.inner(x, return_sequence=return_sequence)


def test_step_hides_the_masked_entries_and_scores_only_them():
    torch.manual_seed(0)
    x = torch.randn(6, 10, 3) * 2 + 1
    mean, std = x.reshape(-1, 3).mean(0), x.reshape(-1, 3).std(0)
    spy = SpyEncoder(LSTMEncoder(3, hidden=8))
    method = MaskedReconstruction(StandardizedEncoder(spy, mean, std), ratio=0.3)
    torch.manual_seed(5)
    loss = method.training_step((x,))
    torch.manual_seed(5)
    mask = span_mask((6, 10, 3), 0.3, 3.0)
    assert 0 < mask.sum() < mask.numel()
    seen = spy.seen[-1]  # the standardised input the inner encoder received
    assert torch.allclose(seen[mask], torch.zeros(()), atol=1e-6)  # hidden -> the mean -> 0
    assert torch.allclose(seen[~mask], ((x - mean) / std)[~mask], atol=1e-6)  # visible as they are
    pred = method.head(spy.inner(seen, return_sequence=True))
    expected = naive_masked_mse(pred, (x - mean) / std, mask)
    torch.testing.assert_close(loss, expected)
    assert method.encoder(x).shape == (6, 8)  # the representation: the pooled output, unmasked


def test_training_lowers_the_loss():
    ws = build_windows(load_sample(), window=20, horizon=5).subset(np.arange(1024))
    torch.manual_seed(0)
    method = MaskedReconstruction(StandardizedEncoder(LSTMEncoder(ws.X.shape[2], hidden=16), *channel_stats(ws.X)))
    result = Trainer(max_steps=30, batch_size=128, lr=1e-2, seed=0, device="cpu", log_every=1, progress=False).fit(
        method, ws
    )
    ls = [h["loss"] for h in result.history]
    assert len(ls) == 30 and np.all(np.isfinite(ls))
    assert np.mean(ls[-6:]) < 0.8 * np.mean(ls[:6]), (ls[:6], ls[-6:])


def test_representation_beats_the_random_encoder_on_the_planted_motif():
    trained, random, base_rate = trained_vs_random("masked", planted_split(), steps=60)
    assert trained > random + 0.02 and trained > 3 * base_rate, (trained, random, base_rate)


def test_trains_from_the_command_line_and_through_tsssl_encoder(tmp_path, capsys):
    out = tmp_path / "x_masked"
    argv = ["train", "--method", "masked", "--sample", "--start", "2016-01-01", "--max-steps", "4"]
    assert main([*argv, "--batch-size", "128", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["method"] == "masked" and np.isfinite(metrics["final_loss"])
    capsys.readouterr()

    X = np.random.default_rng(0).normal(size=(64, 20, 5)).astype(np.float32)
    enc = tsssl.TSSSLEncoder(method="masked", max_steps=5, batch_size=32, progress=False).fit(X)
    assert enc.n_steps_ == 5 and enc.transform(X).shape == (64, enc.out_dim_)


def test_settings_are_checked_when_built():
    with pytest.raises(ValueError, match="in_channels"):
        MaskedReconstruction(torch.nn.Linear(3, 4))
    with pytest.raises(ValueError, match="accepted: channel, step"):
        MaskedReconstruction(LSTMEncoder(3, hidden=4), mask_mode="time")
