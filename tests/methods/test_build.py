"""build_method: every name builds, with its encoder by name or as a module; clear errors."""

import numpy as np
import pytest
import torch

from tsssl.encoders import CNNEncoder, LSTMEncoder
from tsssl.methods import METHODS, Method, StandardizedEncoder, build_method, channel_stats
from tsssl.methods.cpc import CPCContextEncoder


@pytest.mark.parametrize("name", list(METHODS))
@pytest.mark.parametrize("encoder", ["lstm", "cnn"])
def test_every_method_builds_and_steps(name, encoder):
    torch.manual_seed(0)
    method = build_method(name, in_channels=4, encoder=encoder, encoder_kwargs={"layers": 1})
    assert isinstance(method, METHODS[name]) and isinstance(method, Method)
    x, y = torch.randn(8, 20, 4), torch.tensor([0, 1] * 4)
    batch = (x, y)
    if getattr(method, "needs_sample_index", False):  # the Trainer's sample index (tsssl/train/data.py)
        method.set_num_samples(len(x))
        batch = (x, y, torch.arange(len(x)))
    loss = method.training_step(batch)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    assert method.embed(x).shape == (8, method.encoder.out_dim)


def test_encoder_module_and_kwargs():
    enc = CNNEncoder(4, channels=8, layers=1)
    method = build_method("simclr", 4, encoder=enc, temperature=0.3)
    assert method.encoder is enc and method.temperature == 0.3
    cpc = build_method("cpc", 4, encoder_kwargs={"hidden": 12}, n_predictions=2)
    assert isinstance(cpc.encoder, CPCContextEncoder)
    assert isinstance(cpc.encoder.step_encoder, LSTMEncoder) and cpc.encoder.step_encoder.out_dim == 12


def test_errors_name_what_is_accepted():
    with pytest.raises(ValueError, match="unknown method 'simclrr'; accepted: siamcl, cpc"):
        build_method("simclrr", 4)
    with pytest.raises(ValueError, match="does not take 'temprature'; accepted: views"):
        build_method("simclr", 4, temprature=0.1)
    with pytest.raises(ValueError, match="hiden"):
        build_method("siamcl", 4, encoder_kwargs={"hiden": 3})
    with pytest.raises(ValueError, match="encoder"):
        build_method("siamcl", 4, encoder="gru")
    with pytest.raises(ValueError, match="name, not to a module"):
        build_method("siamcl", 4, encoder=LSTMEncoder(4), encoder_kwargs={"hidden": 3})


def test_standardized_encoder_scales_inputs_and_carries_its_statistics():
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(50, 6, 3)) * [0.01, 1.0, 5.0] + [0.0, 2.0, -1.0]).astype(np.float32)
    mean, std = channel_stats(X)
    assert np.allclose(mean, X.reshape(-1, 3).mean(0), atol=1e-6) and np.allclose(
        std, X.reshape(-1, 3).std(0), atol=1e-6
    )
    torch.manual_seed(0)
    method = build_method("cpc", 3, encoder_kwargs={"hidden": 4}, standardize=(mean, std))
    wrapped = method.encoder.step_encoder
    assert isinstance(wrapped, StandardizedEncoder) and wrapped.out_dim == 4
    x = torch.as_tensor(X[:4])
    expected = wrapped.encoder(
        (x - torch.as_tensor(mean, dtype=torch.float32)) / torch.as_tensor(std, dtype=torch.float32),
        return_sequence=True,
    )
    assert torch.allclose(wrapped(x, return_sequence=True), expected, atol=1e-6)
    state = method.state_dict()
    assert any(k.endswith("step_encoder.mean") for k in state) and any(k.endswith("step_encoder.std") for k in state)
    # a constant channel is centred, not divided by zero
    flat = StandardizedEncoder(LSTMEncoder(2, hidden=3), [1.0, 0.0], [0.0, 2.0])
    assert torch.isfinite(flat(torch.ones(2, 4, 2))).all()
    with pytest.raises(ValueError, match="in_channels=3"):
        build_method("siamcl", 3, standardize=([0.0, 0.0], [1.0, 1.0]))


@pytest.mark.parametrize("encoder", ["cnn", "transformer"])
def test_cpc_gets_a_causal_step_encoder_by_default(encoder, recwarn):
    # a non-causal z_t would see the very steps the context is asked to predict
    cpc = build_method("cpc", 4, encoder=encoder, standardize=([0.0] * 4, [1.0] * 4))
    assert cpc.encoder.step_encoder.causal is True
    assert not [w for w in recwarn if "not causal" in str(w.message)]
    cpc.eval()  # no dropout: the two passes differ only by the input
    x = torch.randn(2, 20, 4)
    x2 = x.clone()
    x2[:, 12:] += 1.0  # a change after step 11 leaves the steps up to 11 unchanged
    z, z2 = cpc.encoder.step_encoder(x, return_sequence=True), cpc.encoder.step_encoder(x2, return_sequence=True)
    assert torch.allclose(z[:, :12], z2[:, :12], atol=1e-6) and not torch.allclose(z[:, 12:], z2[:, 12:])
    with pytest.warns(UserWarning, match="not causal"):  # asked for explicitly: allowed, with a warning
        build_method("cpc", 4, encoder=encoder, encoder_kwargs={"causal": False})


def test_channel_stats_of_views_equal_those_of_the_dense_windows():
    from tsssl.data import build_windows
    from tsssl.data.synthetic import synthetic_market
    from tsssl.methods.build import _blockwise_stats

    prices = synthetic_market(3, 120, seed=2)
    lazy = build_windows(prices, features="ohlcv+padic", lazy=True)
    dense = build_windows(prices, features="ohlcv+padic", lazy=False).X
    for got in (channel_stats(lazy.X), _blockwise_stats(lazy.X, block=7)):  # several uneven blocks
        for g, want in zip(got, channel_stats(dense)):
            np.testing.assert_allclose(g, want, rtol=1e-9, atol=1e-12)
