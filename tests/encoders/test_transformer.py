"""TransformerEncoder: shapes, causal mask, positions, gradients, determinism, argument checks."""

from __future__ import annotations

import pytest
import torch

from tsssl.encoders import TransformerEncoder
from tsssl.encoders.transformer import sinusoidal_positions


def x_batch(B=4, T=16, C=3, seed=0):
    return torch.randn(B, T, C, generator=torch.Generator().manual_seed(seed))


def small(**kw):
    torch.manual_seed(0)
    args = dict(d_model=16, heads=2, layers=2, dim_feedforward=32)
    args.update(kw)
    return TransformerEncoder(3, **args)


@pytest.mark.parametrize("pooling", ["mean", "last", "cls"])
@pytest.mark.parametrize("causal", [False, True])
def test_shapes(pooling, causal):
    enc = small(pooling=pooling, causal=causal).eval()
    x = x_batch()
    assert enc.out_dim == 16
    assert enc(x).shape == (4, 16)
    seq = enc(x, return_sequence=True)
    assert seq.shape == (4, 16, 16)
    if pooling == "mean":
        torch.testing.assert_close(enc(x), seq.mean(1))
    if pooling == "last":
        torch.testing.assert_close(enc(x), seq[:, -1])


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_causal_features_ignore_the_future(pooling):
    enc = small(causal=True, pooling=pooling).eval()
    x = x_batch()
    t = 6
    x2 = x.clone()
    x2[:, t + 1 :] = torch.randn_like(x2[:, t + 1 :]) * 3
    with torch.no_grad():
        a, b = enc(x, return_sequence=True), enc(x2, return_sequence=True)
    torch.testing.assert_close(a[:, : t + 1], b[:, : t + 1])
    assert not torch.allclose(a[:, t + 1 :], b[:, t + 1 :])
    # the pooled cls token / mean still sees the whole window
    assert not torch.allclose(enc(x), enc(x2))


def test_non_causal_sees_the_future_and_positions_matter():
    enc = small().eval()
    x = x_batch()
    x2 = x.clone()
    x2[:, -1] += 1.0
    assert not torch.allclose(enc(x, return_sequence=True)[:, 0], enc(x2, return_sequence=True)[:, 0])
    # without positional encoding, mean pooling would be invariant to reordering the steps
    perm = torch.randperm(16, generator=torch.Generator().manual_seed(1))
    assert not torch.allclose(enc(x), enc(x[:, perm]), atol=1e-4)


def test_sinusoidal_positions_reference():
    pe = sinusoidal_positions(10, 6)
    for pos in range(10):  # the formula written out
        for i in range(3):
            angle = pos / 10000 ** (2 * i / 6)
            assert abs(pe[pos, 2 * i].item() - torch.sin(torch.tensor(angle)).item()) < 1e-5
            assert abs(pe[pos, 2 * i + 1].item() - torch.cos(torch.tensor(angle)).item()) < 1e-5
    assert sinusoidal_positions(4, 5).shape == (4, 5)  # odd width


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_gradients_reach_every_parameter(pooling):
    enc = small(pooling=pooling, causal=True)
    enc(x_batch()).pow(2).sum().backward()
    for name, p in enc.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_eval_deterministic_train_dropout_random():
    enc = small(dropout=0.3)
    x = x_batch()
    enc.eval()
    assert torch.equal(enc(x), enc(x))
    enc.train()
    assert not torch.equal(enc(x), enc(x))


def test_bf16_autocast_runs():
    enc = small(causal=True).eval()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = enc(x_batch())
    assert out.shape == (4, 16) and torch.isfinite(out.float()).all()


def test_bad_arguments():
    with pytest.raises(ValueError, match="pooling.*'mean', 'last', 'cls'"):
        small(pooling="max")
    with pytest.raises(ValueError, match="divisible by heads"):
        small(d_model=10, heads=4)
    enc = small(max_len=16, pooling="cls")
    with pytest.raises(ValueError, match="max_len=16"):
        enc(x_batch(T=16))  # 16 steps + cls token
    assert enc(x_batch(T=15)).shape == (4, 16)
    with pytest.raises(ValueError, match=r"\(B, T, C\)"):
        enc(torch.randn(16, 3))
    with pytest.raises(ValueError, match="4 channels.*in_channels=3"):
        enc(torch.randn(2, 10, 4))
