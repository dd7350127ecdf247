"""SiamCL: the talk's Siamese network trains through the Trainer, and its representation
carries a planted pattern that a linear probe finds."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score

from tsssl import losses
from tsssl.data import build_windows, chronological_split, load_sample, synthetic_market
from tsssl.encoders import LSTMEncoder
from tsssl.methods import SiamCL, StandardizedEncoder, channel_stats
from tsssl.methods.base import split_batch
from tsssl.methods.siamcl import derangement
from tsssl.train import Trainer


def scaled(encoder, X):
    """The encoder behind the per-channel standardisation the CLI uses."""
    return StandardizedEncoder(encoder, *channel_stats(X))


def sample_slice(n=1024):
    ws = build_windows(load_sample(), window=20, horizon=5)
    return ws.subset(np.arange(n))


def fit_losses(method, data, steps, batch_size=128, lr=3e-3):
    result = Trainer(
        max_steps=steps, batch_size=batch_size, lr=lr, seed=0, device="cpu", log_every=1, progress=False
    ).fit(method, data)
    losses_ = [h["loss"] for h in result.history]
    assert len(losses_) == steps and np.all(np.isfinite(losses_))
    return losses_


@pytest.mark.parametrize("loss", ["nt_xent", "pair_margin"])
def test_siamcl_lowers_its_loss_on_the_sample(loss):
    ws = sample_slice()
    torch.manual_seed(0)
    method = SiamCL(scaled(LSTMEncoder(ws.X.shape[2], hidden=16), ws.X), loss=loss)
    ls = fit_losses(method, ws, steps=40)
    assert np.mean(ls[-8:]) < np.mean(ls[:8]) - 0.05 * abs(np.mean(ls[:8])), (ls[:8], ls[-8:])


def test_supervised_siamcl_uses_supcon_with_the_labels():
    torch.manual_seed(0)
    x = torch.randn(16, 20, 3)
    y = torch.tensor([0, 1] * 8)

    def views(v):
        return (v, v.flip(1))  # fixed views, so the reference sees the same inputs

    method = SiamCL(LSTMEncoder(3, hidden=8), views=views, supervised=True, temperature=0.3)
    method.eval()  # batch-norm in the head: use fixed statistics for the comparison
    z = method.project(torch.cat([x, x.flip(1)]))
    expected = losses.supcon(z, torch.cat([y, y]), temperature=0.3)
    assert torch.allclose(method.training_step((x, y)), expected)
    # without labels it falls back to the unsupervised NT-Xent
    z1, z2 = z.chunk(2)
    assert torch.allclose(method.training_step((x,)), losses.nt_xent(z1, z2, temperature=0.3))


def test_pair_margin_uses_positive_and_shuffled_negative_pairs():
    torch.manual_seed(0)
    for n in (2, 3, 17):
        perm = derangement(n)
        assert sorted(perm.tolist()) == list(range(n))
        assert not (perm == torch.arange(n)).any()
    with pytest.raises(ValueError, match="at least 2"):
        derangement(1)
    with pytest.raises(ValueError, match="pair_margin"):
        SiamCL(LSTMEncoder(3, hidden=8), loss="triplet")


def test_split_batch_accepts_x_only_and_x_y():
    x, y = torch.zeros(2, 3, 1), torch.zeros(2)
    assert split_batch(x)[1] is None and split_batch((x,))[1] is None and split_batch((x, y))[1] is y


def planted_split():
    prices = synthetic_market(n_tickers=6, n_days=700, seed=3, planted_pattern=0.05)
    return chronological_split(build_windows(prices, window=20, horizon=5), test_frac=0.3)


def probe_pr_auc(encoder, split):
    encoder.eval()
    with torch.no_grad():
        z_train = encoder(torch.as_tensor(split.train.X)).numpy()
        z_test = encoder(torch.as_tensor(split.test.X)).numpy()
    probe = LogisticRegression(class_weight="balanced", max_iter=2000).fit(z_train, split.train.y)
    return average_precision_score(split.test.y, probe.predict_proba(z_test)[:, 1])


def test_siamcl_representation_finds_the_planted_pattern():
    split = planted_split()
    torch.manual_seed(0)
    method = SiamCL(scaled(LSTMEncoder(split.train.X.shape[2], hidden=32), split.train.X))
    fit_losses(method, split.train, steps=60, batch_size=256)
    base_rate = split.test.y.mean()
    pr_auc = probe_pr_auc(method.encoder, split)
    assert pr_auc > 3 * base_rate, (pr_auc, base_rate)
