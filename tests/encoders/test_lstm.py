"""LSTMEncoder: shapes, pooling semantics, gradients, determinism, argument checks."""

from __future__ import annotations

import pytest
import torch

from tsssl.encoders import LSTMEncoder


def x_batch(B=6, T=12, C=4, seed=0):
    return torch.randn(B, T, C, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("pooling", ["last", "mean"])
@pytest.mark.parametrize("layers", [1, 2])
def test_shapes(bidirectional, pooling, layers):
    torch.manual_seed(0)
    enc = LSTMEncoder(4, hidden=8, layers=layers, bidirectional=bidirectional, pooling=pooling, dropout=0.1)
    D = 16 if bidirectional else 8
    assert enc.out_dim == D
    x = x_batch()
    assert enc(x).shape == (6, D)
    assert enc(x, return_sequence=True).shape == (6, 12, D)


@pytest.mark.parametrize("layers", [1, 2])
def test_last_is_last_step_output_and_mean_is_step_average(layers):
    torch.manual_seed(0)
    x = x_batch()
    enc = LSTMEncoder(4, hidden=8, layers=layers).eval()
    seq = enc(x, return_sequence=True)
    torch.testing.assert_close(enc(x), seq[:, -1])
    enc.pooling = "mean"
    torch.testing.assert_close(enc(x), seq.mean(dim=1))


def test_bidirectional_last_concatenates_both_directions_final_states():
    torch.manual_seed(0)
    x = x_batch()
    enc = LSTMEncoder(4, hidden=8, layers=2, bidirectional=True).eval()
    seq = enc(x, return_sequence=True)
    # forward direction ends at step T-1, backward direction at step 0
    torch.testing.assert_close(enc(x), torch.cat([seq[:, -1, :8], seq[:, 0, 8:]], dim=-1))


def test_unidirectional_sequence_is_causal():
    torch.manual_seed(0)
    enc = LSTMEncoder(4, hidden=8, layers=2).eval()
    x = x_batch()
    x2 = x.clone()
    t = 5
    x2[:, t + 1 :] = torch.randn_like(x2[:, t + 1 :])
    a, b = enc(x, return_sequence=True), enc(x2, return_sequence=True)
    torch.testing.assert_close(a[:, : t + 1], b[:, : t + 1])
    assert not torch.allclose(a[:, t + 1 :], b[:, t + 1 :])


@pytest.mark.parametrize("kw", [dict(), dict(bidirectional=True, layers=2, pooling="mean")])
def test_gradients_reach_every_parameter(kw):
    torch.manual_seed(0)
    enc = LSTMEncoder(4, hidden=8, **kw)
    enc(x_batch()).pow(2).sum().backward()
    for name, p in enc.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_eval_deterministic_train_dropout_random():
    torch.manual_seed(0)
    enc = LSTMEncoder(4, hidden=8, layers=2, dropout=0.5)
    x = x_batch()
    enc.eval()
    assert torch.equal(enc(x), enc(x))
    enc.train()
    assert not torch.equal(enc(x), enc(x))


def test_bad_arguments():
    with pytest.raises(ValueError, match="pooling.*'last', 'mean'"):
        LSTMEncoder(4, pooling="max")
    with pytest.raises(ValueError, match="hidden"):
        LSTMEncoder(4, hidden=0)
    enc = LSTMEncoder(4, hidden=8)
    with pytest.raises(ValueError, match=r"\(B, T, C\)"):
        enc(torch.randn(12, 4))
    with pytest.raises(ValueError, match="3 channels.*in_channels=4"):
        enc(torch.randn(2, 12, 3))
