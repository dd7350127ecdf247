"""DilatedEncoder: shapes, the depth rule (the last step sees the first), NaN-padded series give the
unpadded series' outputs, the timestamp mask zeroes only the input projection's output, clear errors."""

import pytest
import torch

from tsssl.encoders import DilatedEncoder, build_encoder
from tsssl.encoders.dilated import DEFAULT_DEPTH, depth_for, reach


def _enc(**kwargs) -> DilatedEncoder:
    torch.manual_seed(0)
    return DilatedEncoder(**{"in_channels": 3, "out_dim": 16, "hidden": 8, **kwargs}).eval()


@pytest.mark.parametrize("pooling", ["max", "mean"])
def test_shapes_and_build_by_name(pooling):
    enc = _enc(length=30, pooling=pooling)
    x = torch.randn(4, 30, 3)
    assert enc.forward_steps(x).shape == (4, 30, 16)
    assert enc(x).shape == (4, 16) and enc(x, return_sequence=True).shape == (4, 30, 16)
    expected = enc.forward_steps(x).amax(1) if pooling == "max" else enc.forward_steps(x).mean(1)
    torch.testing.assert_close(enc(x), expected)
    built = build_encoder("dilated", 3, out_dim=16, hidden=8, depth=2)
    assert isinstance(built, DilatedEncoder) and built.depth == 2 and len(built.blocks) == 3
    assert built(torch.randn(2, 5, 3)).shape == (2, 16)
    linear = build_encoder("dilated", 3, out_dim=16, hidden=8, depth=2, output="linear")
    assert linear.blocks[-1].conv2.out_channels == 8 and linear(torch.randn(2, 5, 3)).shape == (2, 16)
    assert sum(p.numel() for p in linear.parameters()) < sum(p.numel() for p in built.parameters())


@pytest.mark.parametrize("length", [2, 20, 24, 251, 427])
def test_depth_from_length_covers_the_series(length):
    depth = depth_for(length)
    assert reach(depth) >= length - 1 and (depth == 0 or reach(depth - 1) < length - 1)
    enc = _enc(length=length)
    assert enc.depth == depth and len(enc.blocks) == depth + 1
    x = torch.randn(2, length, 3, dtype=torch.float64)
    enc = enc.double()
    moved = x.clone()
    moved[:, 0] += 3.0  # perturb the first step only
    with torch.no_grad():
        last, last_moved = enc.forward_steps(x)[:, -1], enc.forward_steps(moved)[:, -1]
    assert (last != last_moved).any()  # float64: without a path from step 0 the outputs would be bit-equal


def test_one_block_less_does_not_reach():
    enc = _enc(depth=depth_for(100) - 1).double()
    x = torch.randn(2, 100, 3, dtype=torch.float64)
    moved = x.clone()
    moved[:, 0] += 3.0
    with torch.no_grad():
        assert torch.equal(enc.forward_steps(x)[:, -1], enc.forward_steps(moved)[:, -1])


def test_depth_given_wins_and_default():
    assert _enc(depth=4, length=1000).depth == 4
    assert _enc().depth == DEFAULT_DEPTH


@pytest.mark.parametrize("pooling,output", [("max", "block"), ("mean", "block"), ("max", "linear")])
def test_nan_padding_gives_the_unpadded_outputs(pooling, output):
    enc = _enc(length=40, pooling=pooling, output=output).double()
    torch.manual_seed(1)
    short = torch.randn(3, 25, 3, dtype=torch.float64)
    nan = torch.full((3, 9, 3), float("nan"), dtype=torch.float64)
    with torch.no_grad():
        for padded, observed in (
            (torch.cat([short, nan], 1), slice(0, 25)),
            (torch.cat([nan, short], 1), slice(9, 34)),
        ):
            steps = enc.forward_steps(padded)
            torch.testing.assert_close(steps[:, observed], enc.forward_steps(short))
            assert torch.isfinite(steps).all()
            assert (steps[:, 25:] == 0).all() if observed.start == 0 else (steps[:, :9] == 0).all()
            torch.testing.assert_close(enc(padded), enc(short))  # the padding is left out of the pooling


def test_rows_of_different_lengths_in_one_batch():
    enc = _enc(length=20).double()
    torch.manual_seed(2)
    x = torch.randn(2, 20, 3, dtype=torch.float64)
    x[1, 14:] = float("nan")
    with torch.no_grad():
        torch.testing.assert_close(enc(x)[1], enc(x[1:, :14])[0])
        torch.testing.assert_close(enc(x)[0], enc(x[:1])[0])


def test_every_block_gets_channel_major_contiguous_input():
    # a (B, T, hidden) layout passed on through the residual sums made the convolutions copy and
    # GELU's backward run strided, about 3x slower (benchmarks/RESULTS.md, issue 15's speed section)
    enc = _enc(length=40, output="linear")
    seen = []
    for block in enc.blocks:
        block.register_forward_pre_hook(lambda _m, args: seen.append(args[0].is_contiguous()))
    enc.forward_steps(torch.randn(2, 40, 3))
    assert seen == [True] * len(enc.blocks)


def test_timestamp_mask_zeroes_the_projected_input():
    enc = _enc(length=16).double()
    x = torch.randn(2, 16, 3, dtype=torch.float64)
    mask = torch.ones(2, 16, dtype=torch.bool)
    mask[0, 5] = False
    with torch.no_grad():
        h = enc.input(x)
        h[0, 5] = 0.0
        expected = h.transpose(1, 2)
        for block in enc.blocks:
            expected = block(expected, None)
        torch.testing.assert_close(enc.forward_steps(x, mask), expected.transpose(1, 2))
        torch.testing.assert_close(enc.forward_steps(x, torch.ones_like(mask)), enc.forward_steps(x))
        assert not torch.allclose(enc.forward_steps(x, mask)[0], enc.forward_steps(x)[0])


def test_bad_input_and_settings_are_reported():
    enc = _enc(length=10)
    x = torch.randn(2, 10, 3)
    x[0, 3, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN in some channels but not all"):
        enc(x)
    with pytest.raises(ValueError, match="no observed step"):
        enc(torch.full((1, 10, 3), float("nan")))
    with pytest.raises(ValueError, match="in_channels=3"):
        enc(torch.randn(2, 10, 4))
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        DilatedEncoder(3, kernel_size=2)
    with pytest.raises(ValueError, match="depth must be a non-negative integer"):
        DilatedEncoder(3, depth=-1)
    with pytest.raises(ValueError, match="unknown pooling 'last'"):
        DilatedEncoder(3, pooling="last")
    with pytest.raises(ValueError, match="unknown output 'conv'; accepted: 'block', 'linear'"):
        DilatedEncoder(3, output="conv")
