"""CPC: the positive of each k-step prediction is the same window's encoding k steps later,
the predictors have the shapes of the algorithm, the loss falls, the context finds a pattern."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score

from tsssl import losses
from tsssl.data import build_windows, chronological_split, load_sample, synthetic_market
from tsssl.encoders import CNNEncoder, LSTMEncoder
from tsssl.methods import CPC, CPCContextEncoder, StandardizedEncoder, channel_stats
from tsssl.methods.cpc import cpc_positive_mask
from tsssl.train import Trainer


def scaled(encoder, X):
    """The encoder behind the per-channel standardisation the CLI uses."""
    return StandardizedEncoder(encoder, *channel_stats(X))


def test_positive_mask_against_a_loop():
    B, K = 3, 4
    ts = torch.tensor([2, 3, 9])
    mask, steps = cpc_positive_mask(B, ts, K)
    expected_steps = sorted({int(t) + k for t in ts for k in range(1, K + 1)})
    assert steps.tolist() == expected_steps
    assert mask.shape == (B * len(ts) * K, B * len(steps)) and mask.dtype == torch.bool
    ref = torch.zeros_like(mask)
    row = 0
    for b in range(B):
        for t in ts.tolist():
            for k in range(1, K + 1):
                ref[row, b * len(steps) + expected_steps.index(t + k)] = True
                row += 1
    assert torch.equal(mask, ref)


def test_shapes_context_positions_and_loss_equals_info_nce_on_the_named_keys():
    torch.manual_seed(0)
    B, T, C, D, H, K = 5, 12, 3, 6, 7, 3
    method = CPC(LSTMEncoder(C, hidden=D), context_dim=H, n_predictions=K, n_context=2, min_context=3)
    assert isinstance(method.encoder, CPCContextEncoder) and method.encoder.out_dim == H
    x = torch.randn(B, T, C)
    z, c = method.encoder.steps(x)
    assert z.shape == (B, T, D) and c.shape == (B, T, H)
    assert method.predict(c).shape == (B, T, K, D)
    # W_k c_t, k = 1..K, are the K blocks of one linear map
    W = method.predictors.weight.view(K, D, H)
    bias = method.predictors.bias.view(K, D)
    assert torch.allclose(method.predict(c[:, 4])[:, 1], c[:, 4] @ W[1].T + bias[1], atol=1e-6)
    # the frozen representation is the context at the window's end
    assert torch.allclose(method.encoder(x), c[:, -1])
    for _ in range(20):
        ts = method.context_positions(T)
        assert len(ts) == 2 and (ts >= 2).all() and (ts + K < T).all()
    # the training loss is InfoNCE of zhat_{t+k} against the encodings at every target step
    torch.manual_seed(1)
    loss = method.training_step((x,))
    torch.manual_seed(1)
    ts = method.context_positions(T)
    mask, steps = cpc_positive_mask(B, ts, K)
    q = method.predict(c[:, ts]).reshape(-1, D)
    keys = z[:, steps].reshape(-1, D)
    assert torch.allclose(loss, losses.info_nce(q, keys, mask, temperature=method.temperature))


def test_too_short_window_and_non_causal_encoder_are_reported():
    method = CPC(LSTMEncoder(2, hidden=4), n_predictions=5)
    with pytest.raises(ValueError, match="too short"):
        method.training_step((torch.randn(2, 5, 2),))
    with pytest.warns(UserWarning, match="not causal"):
        CPC(LSTMEncoder(2, hidden=4, bidirectional=True))
    with pytest.warns(UserWarning, match="not causal"):
        CPC(CNNEncoder(2, channels=4, causal=False))


def test_cpc_lowers_its_loss_on_the_sample():
    ws = build_windows(load_sample(), window=20, horizon=5).subset(np.arange(1024))
    torch.manual_seed(0)
    method = CPC(scaled(LSTMEncoder(ws.X.shape[2], hidden=16), ws.X))
    result = Trainer(max_steps=40, batch_size=128, lr=3e-3, seed=0, device="cpu", log_every=1, progress=False).fit(
        method, ws
    )
    ls = [h["loss"] for h in result.history]
    assert np.mean(ls[-8:]) < np.mean(ls[:8]) - 0.05 * abs(np.mean(ls[:8])), (ls[:8], ls[-8:])


def test_cpc_context_finds_the_planted_pattern():
    prices = synthetic_market(n_tickers=6, n_days=700, seed=3, planted_pattern=0.05)
    split = chronological_split(build_windows(prices, window=20, horizon=5), test_frac=0.3)
    torch.manual_seed(0)
    method = CPC(scaled(LSTMEncoder(split.train.X.shape[2], hidden=32), split.train.X))
    Trainer(max_steps=60, batch_size=256, lr=3e-3, seed=0, device="cpu", progress=False).fit(method, split.train)
    method.eval()
    with torch.no_grad():
        z_train = method.encoder(torch.as_tensor(split.train.X)).numpy()
        z_test = method.encoder(torch.as_tensor(split.test.X)).numpy()
    probe = LogisticRegression(class_weight="balanced", max_iter=2000).fit(z_train, split.train.y)
    pr_auc = average_precision_score(split.test.y, probe.predict_proba(z_test)[:, 1])
    base_rate = split.test.y.mean()
    assert pr_auc > 3 * base_rate, (pr_auc, base_rate)


def _mask_form_loss(method, x, ts):
    """CPC's loss written out in the general mask form (cpc_positive_mask + masked info_nce)."""
    z, c = method.encoder.steps(x)
    B, _, D = z.shape
    mask, steps = cpc_positive_mask(B, ts, method.n_predictions)
    q = method.predict(c[:, ts]).reshape(-1, D)
    keys = z[:, steps].reshape(-1, D)
    return losses.info_nce(q, keys, mask, temperature=method.temperature)


# bf16 with the CNN step encoder: oneDNN has no bf16-autocast LSTM on CPUs without AVX-512
@pytest.mark.parametrize("encoder,precision", [("lstm", "fp32"), ("cnn", "fp32"), ("cnn", "bf16")])
def test_single_context_fast_path_equals_the_mask_form(monkeypatch, encoder, precision):
    """The default (n_context=1) takes the diagonal info_nce path; for every context position t
    it gives the same loss and the same gradients as the mask form, and builds no mask."""
    torch.manual_seed(0)
    B, T, C, D, H, K = 6, 14, 3, 5, 7, 3
    step = LSTMEncoder(C, hidden=D) if encoder == "lstm" else CNNEncoder(C, channels=D, layers=2)
    method = CPC(step, context_dim=H, n_predictions=K, min_context=3)
    assert method.n_context == 1  # the default: the fast path is CPC's default path
    x = torch.randn(B, T, C)
    params = [p for p in method.parameters() if p.requires_grad]
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else torch.autocast("cpu", enabled=False)

    def no_mask(*args, **kwargs):
        raise AssertionError("the single-context path must not build the (B K)^2 mask")

    for t in range(2, T - K):  # every admissible t: min_context - 1 .. T - 1 - K
        ts = torch.tensor([t])
        with ctx:
            expected = _mask_form_loss(method, x, ts)
        g_expected = torch.autograd.grad(expected, params)
        with monkeypatch.context() as m:
            m.setattr(method, "context_positions", lambda T_, device=None, ts=ts: ts)
            m.setattr("tsssl.methods.cpc.cpc_positive_mask", no_mask)
            with ctx:
                loss = method.training_step((x,))
        g = torch.autograd.grad(loss, params)
        assert loss.dtype == torch.float32
        # same terms, summed by cross_entropy instead of a masked row sum: equal to round-off
        torch.testing.assert_close(loss, expected, rtol=1e-6, atol=1e-6)
        for a, b in zip(g, g_expected):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_single_context_positions_cover_the_admissible_range():
    method = CPC(LSTMEncoder(2, hidden=4), n_predictions=4, min_context=4)
    torch.manual_seed(0)
    draws = torch.cat([method.context_positions(20) for _ in range(400)])
    assert draws.shape == (400,)
    # t from min_context - 1 = 3 to T - 1 - K = 15, each one drawn
    assert set(draws.tolist()) == set(range(3, 16))
