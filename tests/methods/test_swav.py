"""SwAV: prototypes, Sinkhorn codes and swapped prediction in the step, the queue, multi-crop,
training through the Trainer, the planted-motif task, and the command line / sklearn front ends."""

import json
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
from tsssl.losses.clustering import sinkhorn, swapped_prediction
from tsssl.methods import StandardizedEncoder, build_method, channel_stats
from tsssl.methods.swav import SwAV, random_subwindows
from tsssl.train import Trainer

sys.path.insert(0, str(Path(__file__).parent))
from _planted import planted_split, trained_vs_random  # noqa: E402


def fixed_views(x):
    return x, x.flip(1)  # deterministic views, so a reference can recompute the step


class LengthSpy(nn.Module):
    """An LSTM encoder that records the window lengths it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.inner, self.lengths = LSTMEncoder(3, hidden=8), []
        self.out_dim = self.inner.out_dim

    def forward(self, x):
        self.lengths.append(x.shape[1])
        return self.inner(x)


def test_training_step_is_swapped_prediction_of_sinkhorn_codes_on_unit_prototypes():
    torch.manual_seed(0)
    x = torch.randn(16, 10, 3)
    m = SwAV(LSTMEncoder(3, hidden=8), views=fixed_views, n_prototypes=6, proj_dim=8, temperature=0.2)
    with torch.no_grad():
        m.prototypes.weight.mul_(5.0)  # off the sphere: the step must renormalise first
    loss = m.training_step((x,))
    w = m.prototypes.weight
    torch.testing.assert_close(w.norm(dim=1), torch.ones(6))
    z = F.normalize(m.project(torch.cat([x, x.flip(1)])), dim=1).unflatten(0, (2, -1))
    scores = z @ w.T
    codes = torch.stack([sinkhorn(scores[i], epsilon=0.05, n_iters=3) for i in range(2)])
    torch.testing.assert_close(loss, swapped_prediction(scores, codes, temperature=0.2))
    loss.backward()
    assert w.grad is not None and all(p.grad is not None for p in m.encoder.parameters())


def test_queue_joins_the_sinkhorn_step_once_started():
    torch.manual_seed(0)
    m = SwAV(LSTMEncoder(3, hidden=8), views=fixed_views, n_prototypes=4, proj_dim=8, queue_size=20, queue_start=1)
    m.training_step((torch.randn(8, 10, 3),))  # step 0: the queue fills but is not used yet
    assert [len(q) for q in m.queues] == [8, 8]
    queued = [q.keys().clone() for q in m.queues]
    x = torch.randn(8, 10, 3)
    loss = m.training_step((x,))
    w = m.prototypes.weight
    z = F.normalize(m.project(torch.cat([x, x.flip(1)])), dim=1).unflatten(0, (2, -1))
    scores = z @ w.T
    codes = torch.stack([sinkhorn(torch.cat([queued[i] @ w.T, scores[i]]))[-8:] for i in range(2)])
    torch.testing.assert_close(loss, swapped_prediction(scores, codes))
    assert [len(q) for q in m.queues] == [16, 16]


def test_random_subwindows_are_contiguous_slices_of_each_window():
    x = torch.arange(3 * 12 * 2, dtype=torch.float32).reshape(3, 12, 2)
    crops = random_subwindows(x, 5, 4, generator=torch.Generator().manual_seed(0))
    assert crops.shape == (12, 5, 2)
    for j in range(4):
        for b in range(3):
            crop = crops[j * 3 + b]  # crop-major rows
            start = int((crop[0, 0] - x[b, 0, 0]) // 2)
            assert 0 <= start <= 7 and torch.equal(crop, x[b, start : start + 5])
    with pytest.raises(ValueError, match="length"):
        random_subwindows(x, 13, 1)


def test_multi_crop_encodes_short_crops_at_their_own_length():
    torch.manual_seed(0)
    spy = LengthSpy()
    m = SwAV(spy, n_prototypes=4, proj_dim=8, n_small_crops=2, small_crop_ratio=0.5)
    loss = m.training_step((torch.randn(8, 20, 3),))
    assert spy.lengths == [20, 10] and torch.isfinite(loss)
    loss.backward()
    # the short crops are predicted from (they carry gradient) but never give codes
    z_all, z_full = m.embed_views(torch.randn(8, 20, 3))
    assert z_all.shape == (4, 8, 8) and z_full.shape == (2, 8, 8)


def test_prototypes_are_frozen_for_the_first_steps():
    torch.manual_seed(0)
    m = SwAV(LSTMEncoder(3, hidden=8), n_prototypes=4, proj_dim=8, freeze_prototypes_steps=1)
    m.training_step((torch.randn(8, 10, 3),)).backward()
    assert m.prototypes.weight.grad is None
    m.training_step((torch.randn(8, 10, 3),)).backward()
    assert m.prototypes.weight.grad is not None


def test_loss_and_codes_are_float32_under_autocast():
    m = SwAV(LSTMEncoder(3, hidden=8), n_prototypes=4, proj_dim=8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = m.training_step((torch.randn(8, 10, 3),))
        codes = m.codes(torch.randn(8, 8).bfloat16(), 0, use_queue=False)
    assert loss.dtype == torch.float32 and codes.dtype == torch.float32


def test_swav_lowers_its_loss_on_the_sample():
    ws = build_windows(load_sample(), window=20, horizon=5).subset(np.arange(1024))
    torch.manual_seed(0)
    m = SwAV(StandardizedEncoder(LSTMEncoder(ws.X.shape[2], hidden=16), *channel_stats(ws.X)), n_prototypes=16)
    result = Trainer(max_steps=40, batch_size=128, lr=3e-3, seed=0, device="cpu", log_every=1, progress=False).fit(
        m, ws
    )
    ls = [h["loss"] for h in result.history]
    assert len(ls) == 40 and np.all(np.isfinite(ls))
    assert np.mean(ls[-8:]) < np.mean(ls[:8]) - 0.05 * np.mean(ls[:8]), (ls[:8], ls[-8:])


def test_swav_beats_the_random_encoder_on_the_planted_motif():
    trained, random, base_rate = trained_vs_random("swav", planted_split(), steps=60)
    assert trained > random + 0.01 and trained > 3 * base_rate, (trained, random, base_rate)


def test_trains_from_the_command_line_and_through_tssslencoder(tmp_path, capsys):
    out = tmp_path / "swav"
    argv = ["train", "--method", "swav", "--sample", "--start", "2016-01-01", "--max-steps", "3"]
    assert main([*argv, "--batch-size", "128", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["method"] == "swav" and np.isfinite(metrics["final_loss"])
    assert "precision" in capsys.readouterr().out
    X = np.random.default_rng(0).normal(size=(64, 10, 3)).astype(np.float32)
    est = tsssl.TSSSLEncoder(method="swav", max_steps=5, batch_size=32, encoder_kwargs={"hidden": 8}).fit(X)
    assert est.transform(X).shape == (64, 8)


def test_built_by_name_with_the_registry_label():
    assert tsssl.registry.label("swav") == "SwAV"
    m = build_method("swav", in_channels=3, encoder="lstm", encoder_kwargs={"hidden": 8}, n_prototypes=7)
    assert isinstance(m, SwAV) and m.prototypes.weight.shape == (7, 64) and m.prototypes.bias is None


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"queue_size": -1}, "queue_size"),
        ({"n_small_crops": 1.5}, "n_small_crops"),
        ({"small_crop_ratio": 0.0}, "small_crop_ratio"),
    ],
)
def test_bad_settings_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SwAV(LSTMEncoder(3, hidden=8), **kwargs)
