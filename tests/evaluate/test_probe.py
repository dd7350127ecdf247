import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, precision_score, recall_score

from tsssl.data.windowset import WindowSet
from tsssl.encoders import CNNEncoder, LSTMEncoder
from tsssl.evaluate.probe import embed, fit_probe, probe_scores
from tsssl.methods import SupervisedBaseline


def test_embed_batches_equal_one_full_batch_forward():
    torch.manual_seed(0)
    enc = LSTMEncoder(3, hidden=16, layers=2, dropout=0.3)  # dropout: eval mode must be used
    X = np.random.default_rng(0).normal(size=(53, 20, 3)).astype(np.float32)
    enc.train()
    z_small = embed(enc, X, batch_size=7)
    z_full = embed(enc, torch.from_numpy(X), batch_size=4096)
    assert z_small.dtype == np.float32 and z_small.shape == (53, 16)
    np.testing.assert_allclose(z_small, z_full, rtol=1e-5, atol=1e-6)
    enc.eval()
    with torch.no_grad():
        np.testing.assert_allclose(z_full, enc(torch.from_numpy(X)).numpy(), rtol=1e-5, atol=1e-6)
    enc.train()
    assert enc.training  # mode restored
    assert all(p.grad is None for p in enc.parameters())


def test_embed_accepts_a_windowset_and_a_method():
    torch.manual_seed(0)
    enc = CNNEncoder(2, channels=8, layers=2)
    ws = WindowSet(
        X=np.random.default_rng(1).normal(size=(10, 20, 2)).astype(np.float32),
        y=np.zeros(10, np.int64),
        end_date=np.arange(10).astype("datetime64[D]"),
        ticker=np.array(["A"] * 10),
        feature_names=["a", "b"],
    )
    method = SupervisedBaseline(enc)
    np.testing.assert_array_equal(embed(method, ws), embed(enc, ws.X))
    assert embed(enc, ws.X[:0]).shape == (0, 8)
    with pytest.raises(ValueError, match="batch_size"):
        embed(enc, ws.X, batch_size=0)


def _clusters(n, seed, pos_rate=0.1, sep=4.0, dim=8):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < pos_rate).astype(int)
    Z = rng.normal(size=(n, dim)) * 2.0 + 50.0  # off-centre, unscaled: the scaler must cope
    Z[:, 0] += sep * y
    return Z.astype(np.float32), y


@pytest.mark.parametrize("kind", ["logreg", "mlp"])
def test_probe_on_separable_embeddings_is_precise(kind):
    Z, y = _clusters(1500, 0, sep=12.0)
    Zt, yt = _clusters(800, 1, sep=12.0)
    probe = fit_probe(Z, y, kind=kind, seed=0)
    s = probe_scores(probe, Zt)
    assert s.shape == (800,) and s.min() >= 0 and s.max() <= 1
    pred = (s >= 0.5).astype(int)
    assert precision_score(yt, pred) > 0.9 and recall_score(yt, pred) > 0.9
    again = probe_scores(fit_probe(Z, y, kind=kind, seed=0), Zt)
    np.testing.assert_array_equal(s, again)  # seeded


@pytest.mark.parametrize("kind", ["logreg", "mlp"])
def test_balanced_class_weight_flags_more_of_the_rare_class(kind):
    Z, y = _clusters(1500, 2, pos_rate=0.08, sep=1.5)
    bal = (probe_scores(fit_probe(Z, y, kind=kind, class_weight="balanced"), Z) >= 0.5).sum()
    plain = (probe_scores(fit_probe(Z, y, kind=kind, class_weight=None), Z) >= 0.5).sum()
    assert bal > 2 * max(plain, 1)


@pytest.mark.parametrize("kind", ["logreg", "mlp"])
@pytest.mark.parametrize("class_weight", ["balanced", None])
def test_probe_ranks_a_rare_noisy_class_better_than_chance(kind, class_weight):
    # 8% positives, overlapping classes: a probe that stopped at the all-negative net would
    # rank at random (average precision ~ the base rate)
    Z, y = _clusters(1500, 3, pos_rate=0.08, sep=1.5)
    Zt, yt = _clusters(1500, 4, pos_rate=0.08, sep=1.5)
    s = probe_scores(fit_probe(Z, y, kind=kind, class_weight=class_weight), Zt)
    assert average_precision_score(yt, s) > 1.8 * yt.mean()


def test_probe_errors():
    Z, y = _clusters(50, 0)
    with pytest.raises(ValueError, match="kind"):
        fit_probe(Z, y, kind="svm")
    with pytest.raises(ValueError, match="single class"):
        fit_probe(Z, np.zeros(50, int))
    with pytest.raises(ValueError, match="y must have shape"):
        fit_probe(Z, y[:10])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_embed_on_cuda_matches_cpu_and_moves_the_encoder_back():
    torch.manual_seed(0)
    enc = LSTMEncoder(3, hidden=16)
    X = np.random.default_rng(0).normal(size=(300, 20, 3)).astype(np.float32)
    z_cpu = embed(enc, X, batch_size=64)
    z_gpu = embed(enc, X, batch_size=64, device="cuda")
    assert next(enc.parameters()).device.type == "cpu"
    np.testing.assert_allclose(z_gpu, z_cpu, rtol=1e-3, atol=1e-4)


def test_embed_and_predict_proba_of_views_equal_those_of_the_dense_windows():
    from tsssl.data import build_windows
    from tsssl.data.synthetic import synthetic_market

    prices = synthetic_market(2, 100, seed=4)
    lazy = build_windows(prices, lazy=True)
    dense = build_windows(prices, lazy=False)
    torch.manual_seed(0)
    enc = LSTMEncoder(5, hidden=8)
    np.testing.assert_array_equal(embed(enc, lazy, batch_size=33), embed(enc, dense.X, batch_size=33))
    model = SupervisedBaseline(LSTMEncoder(5, hidden=8))
    np.testing.assert_array_equal(
        model.predict_proba(lazy.X, batch_size=50), model.predict_proba(dense.X, batch_size=50)
    )
