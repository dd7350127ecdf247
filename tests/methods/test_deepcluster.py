"""DeepCluster: the refresh (k-means on the memory), the pseudo-labelled loss, training through
the Trainer, the planted-motif task, and the command line / sklearn front ends."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import tsssl
from tsssl.cli import main
from tsssl.data import build_windows, load_sample
from tsssl.encoders import LSTMEncoder
from tsssl.losses.clustering import kmeans_assign, pseudo_label_cross_entropy
from tsssl.methods import StandardizedEncoder, build_method, channel_stats
from tsssl.methods.deepcluster import DeepCluster
from tsssl.train import Trainer

sys.path.insert(0, str(Path(__file__).parent))
from _planted import planted_split, trained_vs_random  # noqa: E402


def same_views(x):
    return x, x  # no augmentation: a reference can recompute the step


def blob_memory(method, n_per=50, seed=0):
    """Fill the memory with 4 tight, well-separated blobs on the unit sphere (dims 0..3)."""
    g = torch.Generator().manual_seed(seed)
    d = method.memory.dim
    centers = torch.eye(4, d)
    points = F.normalize((centers[:, None] + 0.02 * torch.randn(4, n_per, d, generator=g)).reshape(-1, d), dim=1)
    method.memory.enqueue(points[torch.randperm(len(points), generator=g)])
    return points, centers


def test_refresh_clusters_the_memory_seeded_and_warm_started():
    torch.manual_seed(0)
    m = DeepCluster(LSTMEncoder(3, hidden=8), n_clusters=4, kmeans_iters=10, memory_size=256, proj_dim=8)
    _, centers = blob_memory(m)
    assign = m.refresh()
    keys = m.memory.keys()
    assert torch.equal(assign, kmeans_assign(keys, m.centroids))
    assert m.cluster_sizes.tolist() == [50.0] * 4  # one cluster per blob
    assert torch.allclose(F.normalize(m.centroids, dim=1) @ centers.T @ torch.ones(4), torch.ones(4), atol=0.01)
    # the same seed and refresh count give the same clustering
    twin = DeepCluster(LSTMEncoder(3, hidden=8), n_clusters=4, kmeans_iters=10, memory_size=256, proj_dim=8)
    twin.memory.load_state_dict(m.memory.state_dict())
    assert torch.equal(twin.refresh(), assign) and torch.equal(twin.centroids, m.centroids)
    # warm start: the next refresh continues from these centroids, so ids and classifier carry over
    head = m.classifier.weight.detach().clone()
    assert torch.equal(m.refresh(), assign) and torch.equal(m.classifier.weight, head)
    assert int(m.n_refreshes) == 2
    # cold (the paper): new k-means++ seeds and a freshly initialised classifier at every refresh
    cold = DeepCluster(LSTMEncoder(3, hidden=8), n_clusters=4, memory_size=256, proj_dim=8, warm_start=False)
    blob_memory(cold)
    cold.refresh()
    head = cold.classifier.weight.detach().clone()
    cold.refresh()
    assert not torch.equal(cold.classifier.weight, head)


def test_training_step_is_weighted_cross_entropy_on_nearest_centroid_labels():
    torch.manual_seed(0)
    x = torch.randn(24, 10, 3)
    m = DeepCluster(LSTMEncoder(3, hidden=8), views=same_views, n_clusters=5, proj_dim=8, refresh_every=3)
    loss = m.training_step((x,))  # step 0: the memory holds this batch, k-means runs on it
    assert int(m.step) == 1 and int(m.n_refreshes) == 1 and len(m.memory) == 24
    z = m.project(torch.cat([x, x])).chunk(2)[0]  # train mode: the same batch statistics
    labels = kmeans_assign(F.normalize(z, dim=1), m.centroids)
    assert torch.equal(m.cluster_sizes, torch.bincount(labels, minlength=5).float())
    expected = pseudo_label_cross_entropy(m.classifier(z), labels, m.cluster_sizes)
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert all(p.grad is not None for p in m.encoder.parameters())
    # refresh_every=3: no k-means at steps 1 and 2, again at step 3
    refreshes = []
    for _ in range(3):
        m.training_step((x,))
        refreshes.append(int(m.n_refreshes))
    assert refreshes == [1, 1, 2] and len(m.memory) == 96


def test_fewer_windows_than_clusters_still_gives_a_finite_loss():
    torch.manual_seed(0)
    m = DeepCluster(LSTMEncoder(3, hidden=8), n_clusters=64, proj_dim=8)
    loss = m.training_step((torch.randn(6, 10, 3),))  # 6 points, 64 clusters: 58 reseeded copies
    assert torch.isfinite(loss) and m.cluster_sizes.sum() == 6


def test_deepcluster_lowers_its_loss_on_the_sample():
    ws = build_windows(load_sample(), window=20, horizon=5).subset(np.arange(1024))
    torch.manual_seed(0)
    # one clustering at step 0 and none after: the loss is then one fixed classification task
    enc = StandardizedEncoder(LSTMEncoder(ws.X.shape[2], hidden=16), *channel_stats(ws.X))
    m = DeepCluster(enc, n_clusters=16, refresh_every=1000)
    result = Trainer(max_steps=40, batch_size=128, lr=3e-3, seed=0, device="cpu", log_every=1, progress=False).fit(
        m, ws
    )
    ls = [h["loss"] for h in result.history]
    assert len(ls) == 40 and np.all(np.isfinite(ls))
    assert np.mean(ls[-8:]) < np.mean(ls[:8]) - 0.1 * np.mean(ls[:8]), (ls[:8], ls[-8:])


def test_deepcluster_beats_the_random_encoder_on_the_planted_motif():
    trained, random, base_rate = trained_vs_random("deepcluster", planted_split(), steps=60)
    assert trained > random + 0.01 and trained > 3 * base_rate, (trained, random, base_rate)


def test_state_dict_carries_the_clustering_state():
    m = DeepCluster(LSTMEncoder(3, hidden=8), n_clusters=4, proj_dim=8)
    m.training_step((torch.randn(16, 10, 3),))
    state = m.state_dict()
    for key in ("centroids", "cluster_sizes", "step", "n_refreshes", "memory.queue"):
        assert key in state
    twin = DeepCluster(LSTMEncoder(3, hidden=8), n_clusters=4, proj_dim=8)
    twin.load_state_dict(state)
    assert torch.equal(twin.centroids, m.centroids) and int(twin.step) == 1 and len(twin.memory) == 16


def test_trains_from_the_command_line_and_through_tssslencoder(tmp_path, capsys):
    out = tmp_path / "dc"
    argv = ["train", "--method", "deepcluster", "--sample", "--start", "2016-01-01", "--max-steps", "3"]
    assert main([*argv, "--batch-size", "128", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["method"] == "deepcluster" and np.isfinite(metrics["final_loss"])
    assert "precision" in capsys.readouterr().out
    X = np.random.default_rng(0).normal(size=(64, 10, 3)).astype(np.float32)
    est = tsssl.TSSSLEncoder(method="deepcluster", max_steps=5, batch_size=32, encoder_kwargs={"hidden": 8}).fit(X)
    assert est.transform(X).shape == (64, 8)


def test_built_by_name_with_the_registry_label():
    assert tsssl.registry.label("deepcluster") == "DeepCluster"
    m = build_method("deepcluster", in_channels=3, encoder="lstm", encoder_kwargs={"hidden": 8}, n_clusters=7)
    assert isinstance(m, DeepCluster) and m.classifier.out_features == 7


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_clusters": 0}, "n_clusters"),
        ({"refresh_every": 0}, "refresh_every"),
        ({"kmeans_init": "forgy"}, "kmeans_init"),
        ({"balance": "resample"}, "balance"),
    ],
)
def test_bad_settings_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DeepCluster(LSTMEncoder(3, hidden=8), **kwargs)
