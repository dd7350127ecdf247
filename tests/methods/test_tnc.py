"""TNC: the step is the paper's objective written out window by window, the draws stay inside the
series, training lowers the loss and the representation finds regimes better than the random
encoder on series that change regime (and not on stationary ones),
bad settings and too-short series are one-line errors, and it trains from the command line and
through TSSSLEncoder."""

import copy
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from tsssl import TSSSLEncoder
from tsssl.cli import main
from tsssl.encoders import CNNEncoder, LSTMEncoder
from tsssl.methods import build_method
from tsssl.methods.tnc import TNC
from tsssl.train import Trainer

sys.path.insert(0, str(Path(__file__).parent))
from _ar1 import ar1_trained_vs_random  # noqa: E402


def _naive_step(method, x, delta, anchor, near, far):
    """The loss with every window encoded and scored on its own, the equation in loops."""
    f, d, w = method.encoder, method.discriminator, method.w
    pos, unl = [], []
    for b in range(len(x)):
        z_t = f(x[b : b + 1, int(anchor[b]) : int(anchor[b]) + delta])
        for j in range(near.shape[1]):
            s = d(z_t, f(x[b : b + 1, int(near[b, j]) : int(near[b, j]) + delta]))
            pos.append(-torch.log(torch.sigmoid(s)))
        for j in range(far.shape[1]):
            s = d(z_t, f(x[b : b + 1, int(far[b, j]) : int(far[b, j]) + delta]))
            unl.append(-(1 - w) * torch.log(1 - torch.sigmoid(s)) - w * torch.log(torch.sigmoid(s)))
    return torch.cat(pos).mean() + torch.cat(unl).mean()


def test_step_is_the_objective_written_out_window_by_window():
    torch.manual_seed(0)
    B, T, C = 5, 30, 2
    method = TNC(LSTMEncoder(C, hidden=6), window=7, n_neighbours=3, w=0.2).double().eval()  # eval: no dropout
    x = torch.randn(B, T, C, dtype=torch.float64).cumsum(1) * 0.2
    torch.manual_seed(1)
    got = method.training_step((x,))
    torch.manual_seed(1)  # the same draws
    anchor, near, far = method.draw(x, 7)
    torch.testing.assert_close(got, _naive_step(method, x, 7, anchor, near, far), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize(("T", "window"), [(30, None), (12, 11), (400, 25)])
def test_draws_stay_inside_the_series(T, window):
    torch.manual_seed(0)
    method = TNC(LSTMEncoder(1, hidden=4), window=window, n_neighbours=5)
    x = torch.randn(16, T, 1)
    delta = method.window_length(T)
    assert delta == (window or max(2, T // 4))
    anchor, near, far = method.draw(x, delta)
    assert anchor.shape == (16,) and near.shape == far.shape == (16, 5)
    for s in (anchor, near, far):
        assert ((s >= 0) & (s <= T - delta)).all()


#: AR coefficient of each regime: smooth, oscillating, white noise
PHI = np.array([0.9, -0.9, 0.0])


def regimes(n: int, seed: int, T: int = 120, segment: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """(X (n, T, 1) float32 z-normalised per series, state (n, T)): each series passes through
    T / segment regimes drawn at random, an AR(1) process whose coefficient is the regime's."""
    rng = np.random.default_rng(seed)
    state = rng.integers(0, len(PHI), size=(n, T // segment)).repeat(segment, axis=1)
    phi, e = PHI[state], rng.normal(size=(n, T))
    x = np.zeros((n, T))
    for t in range(1, T):  # over time steps, all series at once
        x[:, t] = phi[:, t] * x[:, t - 1] + e[:, t]
    x = (x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True)
    return x[:, :, None].astype(np.float32), state


def regime_probe(encoder, delta: int = 12) -> float:
    """Test accuracy of a logistic regression of the regime on the frozen features of windows
    that lie inside one regime (windows every 10 steps of 400 new series; train / test apart)."""

    def windows(seed):
        X, state = regimes(400, seed)
        starts = np.arange(0, X.shape[1] - delta + 1, 10)
        W = np.stack([X[:, a : a + delta] for a in starts], 1).reshape(-1, delta, 1)
        label = state[:, starts].reshape(-1)
        pure = (state[:, starts] == state[:, starts + delta - 1]).reshape(-1)
        encoder.eval()
        with torch.no_grad():
            return encoder(torch.as_tensor(W[pure])).numpy(), label[pure]

    return LogisticRegression(max_iter=2000).fit(*windows(2)).score(*windows(3))


def _train_on_regimes(method, steps: int = 80):
    X = torch.as_tensor(regimes(512, 0)[0])
    return Trainer(max_steps=steps, batch_size=64, lr=1e-2, seed=0, device="cpu", log_every=1, progress=False).fit(
        method, (X,)
    )


def test_training_lowers_the_loss_on_series_that_change_regime():
    torch.manual_seed(0)
    ls = [h["loss"] for h in _train_on_regimes(TNC(CNNEncoder(1, channels=16), window=12)).history]
    # the floor is high: a far window is in the anchor's regime a third of the time
    assert np.all(np.isfinite(ls)) and np.mean(ls[-10:]) < np.mean(ls[:10]) - 0.04, (ls[:10], ls[-10:])


def test_representation_finds_the_regime_better_than_the_random_encoder():
    torch.manual_seed(0)
    method = TNC(CNNEncoder(1, channels=16), window=12)
    random = regime_probe(copy.deepcopy(method.encoder))
    _train_on_regimes(method)
    trained = regime_probe(method.encoder)
    assert trained > random + 0.03, (trained, random)


def test_on_stationary_series_there_is_nothing_to_find():
    # AR(1) series of one coefficient each: every window of a series is alike, so the
    # discriminator can only learn overlap; the probe of phi falls below the random encoder's
    # (module docstring, "What to expect")
    torch.manual_seed(0)
    trained, random = ar1_trained_vs_random(TNC(CNNEncoder(1, channels=16), n_neighbours=4))
    assert trained < random, (trained, random)


@pytest.mark.parametrize("encoder", ["lstm", "cnn", "transformer", "dilated"])
def test_every_encoder_takes_the_windows(encoder):
    torch.manual_seed(0)
    method = build_method("tnc", 3, encoder=encoder, n_neighbours=2)
    loss = method.training_step((torch.randn(6, 24, 3),))
    loss.backward()
    assert torch.isfinite(loss)


def test_bad_settings_and_short_series_are_reported():
    enc = LSTMEncoder(2, hidden=4)
    for kwargs, fragment in [
        ({"window": 0}, "window"),
        ({"n_neighbours": 0}, "n_neighbours"),
        ({"max_extent": 0}, "max_extent"),
        ({"w": 1.0}, r"w must be a number in \[0, 1\)"),
        ({"disc_hidden": -1}, "disc_hidden"),
    ]:
        with pytest.raises(ValueError, match=fragment):
            TNC(enc, **kwargs)
    with pytest.raises(ValueError, match="too short for windows of 10 steps"):
        TNC(enc, window=10).training_step((torch.randn(4, 10, 2),))
    rng = np.random.default_rng(0)
    for T in (1, 2):  # no two window starts fit: one line, before any training
        with pytest.raises(ValueError, match=f"series of {T} steps are too short"):
            TSSSLEncoder(method="tnc", max_steps=1).fit(rng.normal(size=(8, T, 1)).astype(np.float32))


def test_fits_through_tsssl_encoder_on_constant_series_too():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(size=(12, 30, 1)), np.ones((4, 30, 1))]).astype(np.float32)
    est = TSSSLEncoder(method="tnc", max_steps=3, encoder_kwargs={"hidden": 8, "out_dim": 16}).fit(X)
    Z = est.transform(X)
    assert Z.shape == (16, 16) and np.isfinite(Z).all()


def test_trains_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "x_tnc"
    argv = ["train", "--method", "tnc", "--sample", "--start", "2016-01-01", "--max-steps", "4"]
    assert main([*argv, "--batch-size", "64", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["method"] == "tnc" and np.isfinite(metrics["final_loss"])
    capsys.readouterr()
