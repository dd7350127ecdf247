"""The LSTM baseline: weighted cross-entropy, balanced weights from the labels, probabilities,
and it learns the label on the sample."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tsssl.data import build_windows, load_sample
from tsssl.encoders import LSTMEncoder
from tsssl.methods import StandardizedEncoder, SupervisedBaseline, channel_stats
from tsssl.methods.supervised import balanced_class_weight
from tsssl.train import Trainer


def scaled(encoder, X):
    """The encoder behind the per-channel standardisation the CLI uses."""
    return StandardizedEncoder(encoder, *channel_stats(X))


def test_balanced_weights_match_the_formula():
    y = np.array([0] * 9 + [1] * 3)
    w = balanced_class_weight(y, 2)
    assert torch.allclose(w, torch.tensor([12 / (2 * 9), 12 / (2 * 3)]))
    with pytest.raises(ValueError, match=r"class\(es\) \[1\] absent"):
        balanced_class_weight(np.zeros(5, dtype=int), 2)


def test_loss_is_weighted_cross_entropy_and_needs_labels():
    torch.manual_seed(0)
    y_train = np.array([0, 0, 0, 1])
    method = SupervisedBaseline(LSTMEncoder(3, hidden=8), class_weight="balanced", labels=y_train)
    assert method.encoder.__class__ is LSTMEncoder
    x, y = torch.randn(5, 7, 3), torch.tensor([0, 1, 1, 0, 0])
    logits = method.head(method.encoder(x))
    ref = F.cross_entropy(logits, y, weight=torch.tensor([4 / 6, 4 / 2]))
    assert torch.allclose(method.training_step((x, y)), ref)
    with pytest.raises(ValueError, match="labelled batches"):
        method.training_step((x,))
    with pytest.raises(ValueError, match="pass labels=y_train"):
        SupervisedBaseline(LSTMEncoder(3, hidden=8), class_weight="balanced")
    assert "class_weight" in method.state_dict()  # saved with the checkpoint


def test_predict_proba_rows_sum_to_one_and_keep_train_mode():
    method = SupervisedBaseline(LSTMEncoder(3, hidden=8))
    proba = method.predict_proba(np.random.default_rng(0).normal(size=(9, 7, 3)).astype(np.float32), batch_size=4)
    assert proba.shape == (9, 2) and np.allclose(proba.sum(1), 1, atol=1e-6)
    assert method.training


def test_lstm_baseline_lowers_its_loss_on_the_sample():
    ws = build_windows(load_sample(), window=20, horizon=5).subset(np.arange(1024))
    torch.manual_seed(0)
    method = SupervisedBaseline(
        scaled(LSTMEncoder(ws.X.shape[2], hidden=16), ws.X), class_weight="balanced", labels=ws.y
    )
    result = Trainer(max_steps=40, batch_size=128, lr=1e-2, seed=0, device="cpu", log_every=1, progress=False).fit(
        method, ws
    )
    ls = [h["loss"] for h in result.history]
    assert np.mean(ls[-8:]) < np.mean(ls[:8]) - 0.02, (ls[:8], ls[-8:])
