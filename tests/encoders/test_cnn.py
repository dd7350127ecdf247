"""CNNEncoder: shapes, causality, receptive field, gradients, determinism, argument checks."""

from __future__ import annotations

import pytest
import torch

from tsssl.encoders import CNNEncoder


def x_batch(B=6, T=20, C=4, seed=0):
    return torch.randn(B, T, C, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("pooling", ["mean", "max", "last"])
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("kernel_size", [2, 3])
def test_shapes_and_pooling(pooling, causal, kernel_size):
    torch.manual_seed(0)
    enc = CNNEncoder(4, channels=8, layers=2, kernel_size=kernel_size, pooling=pooling, causal=causal).eval()
    x = x_batch()
    seq = enc(x, return_sequence=True)
    assert seq.shape == (6, 20, 8) and enc.out_dim == 8
    pooled = enc(x)
    assert pooled.shape == (6, 8)
    expected = {"mean": seq.mean(1), "max": seq.amax(1), "last": seq[:, -1]}[pooling]
    torch.testing.assert_close(pooled, expected)


@pytest.mark.parametrize("t", [0, 7, 18])
def test_causal_features_ignore_the_future(t):
    torch.manual_seed(0)
    enc = CNNEncoder(4, channels=8, layers=3, causal=True).train()  # train mode: no batch statistics leak the future
    x = x_batch()
    x2 = x.clone()
    x2[:, t + 1 :] = torch.randn_like(x2[:, t + 1 :]) * 5
    a, b = enc(x, return_sequence=True), enc(x2, return_sequence=True)
    torch.testing.assert_close(a[:, : t + 1], b[:, : t + 1])
    assert not torch.allclose(a[:, t + 1 :], b[:, t + 1 :])


def test_non_causal_features_see_the_future():
    torch.manual_seed(0)
    enc = CNNEncoder(4, channels=8, layers=2, causal=False).eval()
    x = x_batch()
    x2 = x.clone()
    x2[:, 10:] += 1.0
    a, b = enc(x, return_sequence=True), enc(x2, return_sequence=True)
    assert not torch.allclose(a[:, 9], b[:, 9])


def test_receptive_field_matches_the_dilations():
    torch.manual_seed(0)
    enc = CNNEncoder(2, channels=4, layers=3, kernel_size=3, dilation_base=2).eval()
    assert enc.receptive_field == 1 + 2 * 2 * (1 + 2 + 4)  # 29
    x = torch.randn(1, 40, 2, requires_grad=True)
    # a weighted sum: the plain sum of a LayerNorm output over its channels is the constant sum
    # of its biases, whose gradient is zero up to round-off
    w = torch.randn(enc.out_dim)
    (enc(x, return_sequence=True)[0, -1] * w).sum().backward()
    seen = (x.grad[0].abs().sum(1) > 0).nonzero().flatten()
    assert seen.min().item() == 40 - enc.receptive_field and seen.max().item() == 39


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    enc = CNNEncoder(4, channels=8, layers=3)
    enc(x_batch()).pow(2).sum().backward()
    for name, p in enc.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_eval_deterministic_train_dropout_random():
    torch.manual_seed(0)
    enc = CNNEncoder(4, channels=8, layers=2, dropout=0.5)
    x = x_batch()
    enc.eval()
    assert torch.equal(enc(x), enc(x))
    enc.train()
    assert not torch.equal(enc(x), enc(x))


def test_bad_arguments():
    with pytest.raises(ValueError, match="pooling.*'mean', 'max', 'last'"):
        CNNEncoder(4, pooling="cls")
    with pytest.raises(ValueError, match="kernel_size"):
        CNNEncoder(4, kernel_size=0)
    enc = CNNEncoder(4, channels=8)
    with pytest.raises(ValueError, match=r"\(B, T, C\)"):
        enc(torch.randn(2, 3, 20, 4))
    with pytest.raises(ValueError, match="5 channels.*in_channels=4"):
        enc(torch.randn(2, 20, 5))
