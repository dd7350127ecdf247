"""SiamCL: the talk's Siamese network trains through the Trainer, and its representation
carries a planted pattern that a linear probe finds; every pair loss of the library forms its
pairs from the two views as the module docstring says and trains; the hard-negative options
(tau_plus, beta) of SiamCL and SimCLR reach the loss."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score

from tsssl import losses
from tsssl.data import build_windows, chronological_split, load_sample, synthetic_market
from tsssl.encoders import LSTMEncoder
from tsssl.methods import SiamCL, StandardizedEncoder, channel_stats
from tsssl.methods.base import split_batch
from tsssl.methods.siamcl import LOSSES, derangement
from tsssl.methods.simclr import SimCLR
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
    with pytest.raises(ValueError, match="pair_margin") as err:
        SiamCL(LSTMEncoder(3, hidden=8), loss="triplet")
    # one line, naming every accepted loss
    assert "\n" not in str(err.value) and all(name in str(err.value) for name in LOSSES)


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


def sample_slice_small():
    return build_windows(load_sample(), window=20, horizon=5).subset(np.arange(512))


@pytest.mark.parametrize("loss", [name for name in LOSSES if name not in ("nt_xent", "pair_margin")])
def test_every_other_pair_loss_trains(loss):  # nt_xent and pair_margin: test_siamcl_lowers_its_loss_on_the_sample
    ws = sample_slice_small()
    torch.manual_seed(0)
    method = SiamCL(scaled(LSTMEncoder(ws.X.shape[2], hidden=16), ws.X), loss=loss)
    ls = fit_losses(method, ws, steps=30, batch_size=64, lr=1e-2)
    assert np.mean(ls[-6:]) < np.mean(ls[:6]) - 0.04 * abs(np.mean(ls[:6])), (ls[:6], ls[-6:])


def documented_pairs(loss, z1, z2, perm, temperature=0.2, margin=1.0, l2_reg=0.002):
    """The pairs / triplets of the SiamCL docstring's table, written out loss by loss."""
    ids = torch.arange(len(z1))
    u1, u2 = F.normalize(z1, dim=-1), F.normalize(z2, dim=-1)
    ones, zeros = torch.ones(len(z1)), torch.zeros(len(z1))
    if loss == "nt_xent":
        return losses.nt_xent(z1, z2, temperature=temperature)
    if loss == "info_nce":
        return (losses.info_nce(z1, z2, temperature=temperature) + losses.info_nce(z2, z1, temperature=temperature)) / 2
    if loss == "supcon":
        return losses.supcon(torch.cat([z1, z2]), torch.cat([ids, ids]), temperature=temperature)
    if loss in ("pair_margin", "contrastive_pair"):
        pairs_a, pairs_b = torch.cat([u1, u1]), torch.cat([u2, u2[perm]])
        return losses.contrastive_pair(pairs_a, pairs_b, torch.cat([ones, zeros]), margin=margin)
    if loss == "triplet_margin":
        return losses.triplet_margin(u1, u2, u2[perm], margin=margin)
    if loss == "n_pair":
        return losses.n_pair(z1, z2, l2_reg=l2_reg)
    if loss == "lifted_structured":
        return losses.lifted_structured(torch.cat([u1, u2]), torch.cat([ids, ids]), margin=margin)
    assert loss == "soft_nearest_neighbors"
    return losses.soft_nearest_neighbors(torch.cat([u1, u2]), torch.cat([ids, ids]), temperature=temperature)


@pytest.mark.parametrize("loss", LOSSES)
def test_each_loss_forms_the_documented_pairs(loss):
    torch.manual_seed(0)
    x = torch.randn(8, 12, 3)

    def views(v):
        return (v, v.flip(1))

    method = SiamCL(LSTMEncoder(3, hidden=8), views=views, loss=loss)
    method.eval()  # fixed batch-norm statistics: the reference recomputes the same projections
    torch.manual_seed(1)
    got = method.training_step((x,))
    z1, z2 = method.project(torch.cat([x, x.flip(1)])).chunk(2)
    torch.manual_seed(1)
    perm = derangement(8)  # the same draw as inside the step
    torch.testing.assert_close(got, documented_pairs(loss, z1, z2, perm))


def test_supervised_label_aware_losses_take_the_labels():
    torch.manual_seed(0)
    x, y = torch.randn(8, 12, 3), torch.tensor([0, 1] * 4)

    def views(v):
        return (v, v.flip(1))

    method = SiamCL(LSTMEncoder(3, hidden=8), views=views, loss="soft_nearest_neighbors", supervised=True)
    method.eval()
    z = F.normalize(method.project(torch.cat([x, x.flip(1)])), dim=-1)
    expected = losses.soft_nearest_neighbors(z, torch.cat([y, y]), temperature=0.2)
    torch.testing.assert_close(method.training_step((x, y)), expected)


@pytest.mark.parametrize("cls, loss", [(SimCLR, None), (SiamCL, "nt_xent"), (SiamCL, "info_nce")])
def test_hard_negative_options_reach_the_loss(cls, loss):
    torch.manual_seed(0)
    x = torch.randn(8, 12, 3)

    def views(v):
        return (v, v.flip(1))

    kwargs = {} if loss is None else {"loss": loss}
    method = cls(LSTMEncoder(3, hidden=8), views=views, tau_plus=0.1, beta=1.0, temperature=0.3, **kwargs)
    method.eval()
    z1, z2 = method.project(torch.cat([x, x.flip(1)])).chunk(2)
    kw = {"temperature": 0.3, "tau_plus": 0.1, "beta": 1.0}
    if loss == "info_nce":
        expected = (losses.info_nce(z1, z2, **kw) + losses.info_nce(z2, z1, **kw)) / 2
    else:
        expected = losses.nt_xent(z1, z2, **kw)
    torch.testing.assert_close(method.training_step((x,)), expected)
    assert not torch.allclose(expected, losses.nt_xent(z1, z2, temperature=0.3))  # the options change it


def test_hard_negative_options_only_with_the_softmax_losses():
    with pytest.raises(ValueError, match="tau_plus / beta apply to loss nt_xent or info_nce, not 'triplet_margin'"):
        SiamCL(LSTMEncoder(3, hidden=8), loss="triplet_margin", tau_plus=0.1)
    with pytest.raises(ValueError, match="tau_plus"):
        SimCLR(LSTMEncoder(3, hidden=8), tau_plus=1.5)
