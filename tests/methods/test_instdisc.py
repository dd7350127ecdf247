"""InstDisc: the Trainer feeds each row's sample index (and sizes the bank), the step is the
paper's (non-parametric softmax or NCE with Z fixed from the first batch, momentum update of the
batch's bank entries), a resumed run equals the uninterrupted one, training lowers the loss, the
representation beats a random encoder on the planted motif, and it trains from the command line
and through TSSSLEncoder."""

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import tsssl
from tsssl.cli import main
from tsssl.data import build_windows, load_sample
from tsssl.encoders import LSTMEncoder
from tsssl.methods import StandardizedEncoder, channel_stats
from tsssl.methods.base import Method
from tsssl.methods.instdisc import InstDisc
from tsssl.train import Trainer
from tsssl.train.data import epoch_order, make_batches

sys.path.insert(0, str(Path(__file__).parent))
from _planted import planted_split, trained_vs_random  # noqa: E402

CPU = torch.device("cpu")


# -- the sample index --------------------------------------------------------------------------
def test_batches_end_with_the_sample_index_cut_by_the_epoch_order():
    x, y = torch.arange(20.0).view(10, 2), torch.arange(10) * 10
    batches = list(make_batches((x, y), 3, CPU, seed=1, sample_index=True).epoch(4))
    order = epoch_order(10, 1, 4)
    for k, (bx, by, idx) in enumerate(batches):
        assert idx.dtype == torch.int64 and torch.equal(idx, order[3 * k : 3 * k + 3])
        assert torch.equal(bx, x[idx]) and torch.equal(by, y[idx])
    resumed = list(make_batches((x, y), 3, CPU, seed=1, sample_index=True).epoch(4, start=2))
    assert all(torch.equal(a, b) for a, b in zip(resumed[0], batches[2]))
    dataset = list(make_batches(torch.utils.data.TensorDataset(x, y), 3, CPU, seed=1, sample_index=True).epoch(4))
    assert all(torch.equal(a, b) for u, v in zip(dataset, batches) for a, b in zip(u, v))
    assert len(next(iter(make_batches((x, y), 3, CPU, seed=1).epoch(4)))) == 2  # no index unless asked


class IndexRecorder(Method):
    """Records the index column and the bank size the Trainer gives a needs_sample_index method."""

    needs_sample_index = True

    def __init__(self, x):
        super().__init__()
        self.encoder, self.x, self.seen, self.n = nn.Linear(2, 1), x, [], None

    def set_num_samples(self, n):
        self.n = n

    def training_step(self, batch):
        assert len(batch) == 2 and torch.equal(batch[0], self.x[batch[-1]])  # (X,) data -> (X, idx)
        self.seen.append(batch[-1])
        return self.encoder(batch[0]).pow(2).mean()


def test_the_trainer_feeds_the_index_and_sizes_the_method():
    x = torch.randn(10, 2)
    method = IndexRecorder(x)
    Trainer(epochs=2, batch_size=5, seed=0, device="cpu", progress=False).fit(method, (x,))
    assert method.n == 10 and len(method.seen) == 4
    for epoch in (0, 1):  # every sample once per epoch
        assert sorted(torch.cat(method.seen[2 * epoch : 2 * epoch + 2]).tolist()) == list(range(10))


# -- the step ----------------------------------------------------------------------------------
def naive_nce(f, bank, idx, noise_rows, Z, t):
    """The paper's eq. 6-7 row by row: P = exp(v . f / t) / Z, h = P / (P + m / n)."""
    n, m, total = len(bank), len(noise_rows), 0.0
    for i in range(len(f)):
        P = math.exp(float(bank[idx[i]] @ f[i]) / t) / Z
        total -= math.log(P / (P + m / n))
        for j in noise_rows:
            Pj = math.exp(float(bank[j] @ f[i]) / t) / Z
            total -= math.log(1 - Pj / (Pj + m / n))
    return total / len(f)


def small_method(**kw):
    torch.manual_seed(0)
    return InstDisc(LSTMEncoder(3, hidden=8), dim=4, n_samples=12, **kw)


def test_nce_step_estimates_z_once_and_moves_the_batch_entries():
    method = small_method(loss="nce", noise=5, temperature=0.5, momentum=0.5)
    x, idx = torch.randn(4, 10, 3), torch.tensor([3, 0, 7, 11])
    bank = method.memory.bank.clone()
    with torch.no_grad():
        f = F.normalize(method.head(method.encoder(x)), dim=1)
    torch.manual_seed(5)
    loss = method.training_step((x, torch.zeros(4), idx))  # (X, y, idx): the WindowSet form
    torch.manual_seed(5)
    noise = torch.randint(12, (5,)).tolist()  # the same uniform draw
    Z = 12 * np.mean([math.exp(float(bank[j] @ f[i]) / 0.5) for i in range(4) for j in noise])
    assert loss.item() == pytest.approx(naive_nce(f, bank, idx, noise, Z, 0.5), rel=1e-5)
    assert method.memory.log_z.item() == pytest.approx(math.log(Z), rel=1e-6)
    torch.testing.assert_close(method.memory.bank[idx], F.normalize(0.5 * bank[idx] + 0.5 * f, dim=1))
    others = [i for i in range(12) if i not in idx.tolist()]
    assert torch.equal(method.memory.bank[others], bank[others])
    # Z stays what the first batch gave
    method.training_step((x, idx))
    assert method.memory.log_z.item() == pytest.approx(math.log(Z), rel=1e-6)


def test_softmax_step_is_the_cross_entropy_over_the_whole_bank():
    for loss in ("softmax", "auto"):  # a bank of 12 is small: "auto" takes the exact softmax
        method = small_method(loss=loss, temperature=0.3)
        x, idx = torch.randn(4, 10, 3), torch.tensor([5, 2, 9, 1])
        bank = method.memory.bank.clone()
        with torch.no_grad():
            f = F.normalize(method.head(method.encoder(x)), dim=1)
        expected = np.mean(
            [-math.log(math.exp(float(bank[idx[i]] @ f[i]) / 0.3) / sum(math.exp(float(v @ f[i]) / 0.3) for v in bank))
             for i in range(4)]
        )  # fmt: skip
        assert method.training_step((x, idx)).item() == pytest.approx(expected, rel=1e-5)


def test_errors_name_what_is_missing():
    method = small_method()
    with pytest.raises(ValueError, match="sample's index"):
        method.training_step((torch.randn(4, 10, 3),))
    with pytest.raises(ValueError, match="integer sample index"):
        method.training_step((torch.randn(4, 10, 3), torch.zeros(4)))
    with pytest.raises(ValueError, match="n_samples or train with tsssl.Trainer"):
        InstDisc(LSTMEncoder(3, hidden=8)).training_step((torch.randn(4, 10, 3), torch.arange(4)))
    with pytest.raises(ValueError, match="holds 12 samples"):
        method.set_num_samples(13)
    with pytest.raises(ValueError, match="accepted: auto, softmax, nce"):
        InstDisc(LSTMEncoder(3, hidden=8), loss="full")


# -- training ----------------------------------------------------------------------------------
def sample_slice(n=1024):
    return build_windows(load_sample(), window=20, horizon=5).subset(np.arange(n))


def scaled_method(ws, **kw):
    torch.manual_seed(0)
    return InstDisc(StandardizedEncoder(LSTMEncoder(ws.X.shape[2], hidden=16), *channel_stats(ws.X)), **kw)


def test_training_lowers_the_loss():
    # epoch 1 compares each window with a random initial entry, so compare epoch 2 with the last
    ws = sample_slice()
    result = Trainer(max_steps=40, batch_size=128, lr=3e-3, seed=0, device="cpu", log_every=1, progress=False).fit(
        scaled_method(ws), ws
    )
    ls = [h["loss"] for h in result.history]
    assert len(ls) == 40 and np.all(np.isfinite(ls))
    assert np.mean(ls[-6:]) < 0.8 * np.mean(ls[8:14]), (ls[8:14], ls[-6:])


class Stop(Exception):
    pass


class StopAt:
    def __init__(self, step):
        self.step = step

    def on_checkpoint(self, path, step):
        if step == self.step:
            raise Stop


def test_a_resumed_run_equals_the_uninterrupted_one(tmp_path):
    ws = sample_slice(256)
    kw = dict(max_steps=8, batch_size=64, seed=3, device="cpu", log_every=1, progress=False)
    straight = scaled_method(ws, loss="nce", noise=64)
    full = Trainer(**kw).fit(straight, ws)
    with pytest.raises(Stop):
        Trainer(out_dir=tmp_path, checkpoint_every=5, callbacks=[StopAt(5)], **kw).fit(
            scaled_method(ws, loss="nce", noise=64), ws
        )
    torch.manual_seed(1)  # another bank and other weights: all must come from the checkpoint
    other = InstDisc(StandardizedEncoder(LSTMEncoder(5, hidden=16), *channel_stats(ws.X)), loss="nce", noise=64)
    resumed = Trainer(out_dir=tmp_path, checkpoint_every=5, **kw).fit(other, ws, resume=True)
    np.testing.assert_allclose([h["loss"] for h in resumed.history], [h["loss"] for h in full.history], rtol=1e-6)
    torch.testing.assert_close(other.memory.bank, straight.memory.bank)
    torch.testing.assert_close(other.memory.log_z, straight.memory.log_z)


def test_representation_beats_the_random_encoder_on_the_planted_motif():
    trained, random, base_rate = trained_vs_random("instdisc", planted_split(), steps=60)
    assert trained > random + 0.02 and trained > 3 * base_rate, (trained, random, base_rate)


def test_trains_from_the_command_line_and_through_tsssl_encoder(tmp_path, capsys):
    out = tmp_path / "x_instdisc"
    argv = ["train", "--method", "instdisc", "--sample", "--start", "2016-01-01", "--max-steps", "4"]
    assert main([*argv, "--batch-size", "128", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["method"] == "instdisc" and np.isfinite(metrics["final_loss"])
    state = torch.load(out / "checkpoint.pt", weights_only=False)["method"]
    assert state["memory.bank"].shape == (metrics["n_train"], 128)  # one entry per training window
    capsys.readouterr()

    X = np.random.default_rng(0).normal(size=(64, 20, 5)).astype(np.float32)
    enc = tsssl.TSSSLEncoder(method="instdisc", max_steps=5, batch_size=32, progress=False).fit(X)
    assert enc.n_steps_ == 5 and enc.transform(X).shape[0] == 64
