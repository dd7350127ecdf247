"""Image encoders: shapes, the row encoder's causality, and any module as an encoder."""

import pytest
import torch
from torch import nn

from tsssl.encoders.image import ConvEncoder, ImageRowEncoder, ModuleEncoder, as_encoder


def test_conv_encoder_shapes_on_images_and_tiles():
    torch.manual_seed(0)
    enc = ConvEncoder(1, (8, 16, 16))
    assert enc.out_dim == 16
    assert enc(torch.rand(4, 1, 8, 8)).shape == (4, 16)
    assert enc(torch.rand(4, 1, 3, 3)).shape == (4, 16)  # jigsaw tiles: fully convolutional
    assert ConvEncoder(3, (8, 16), out_dim=10)(torch.rand(2, 3, 8, 8)).shape == (2, 10)
    assert ConvEncoder(1, (8, 16), pool=2).out_dim == 64
    assert ConvEncoder(1, (8, 16), pool=2)(torch.rand(2, 1, 8, 8)).shape == (2, 64)


def test_conv_encoder_output_is_its_feature_map_pooled():
    torch.manual_seed(0)
    enc = ConvEncoder(1, (4, 6), pool=2).eval()
    x = torch.rand(3, 1, 9, 9)
    fmap = enc.feature_map(x)
    assert fmap.shape == (3, 6, 5, 5) and enc.map_channels == 6  # ceil mode: 9 -> 5
    assert torch.allclose(enc(x), torch.nn.functional.adaptive_avg_pool2d(fmap, 2).flatten(1))
    with pytest.raises(ValueError, match="channels"):
        enc.feature_map(torch.rand(3, 2, 9, 9))


def test_conv_encoder_global_pooling_ignores_where_the_pattern_is():
    torch.manual_seed(0)
    enc = ConvEncoder(1, (8, 8)).eval()
    x = torch.zeros(1, 1, 16, 16)
    x[..., 4:6, 4:6] = 1.0
    # the blob moved by an even shift (the 2x2 pooling's grid) and kept away from the borders
    shifted = torch.roll(x, shifts=(6, 4), dims=(-2, -1))
    assert torch.allclose(enc(x), enc(shifted), atol=1e-6)
    assert not torch.allclose(enc(x), enc(2 * x))


def test_conv_encoder_rejects_bad_input():
    enc = ConvEncoder(1, (8,))
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        enc(torch.rand(4, 8, 8))
    with pytest.raises(ValueError, match="in_channels=1"):
        enc(torch.rand(4, 3, 8, 8))
    with pytest.raises(ValueError, match="channels"):
        ConvEncoder(1, ())


def test_row_encoder_steps_are_causal_and_pool_to_the_mean():
    torch.manual_seed(0)
    enc = ImageRowEncoder(1, width=8, height=8, row_height=2, hidden=16, out_dim=6)
    x = torch.rand(3, 1, 8, 8)
    z = enc(x, return_sequence=True)
    assert z.shape == (3, 4, 6) and enc.steps == 4 and enc.causal
    assert torch.allclose(enc(x), z.mean(1))
    y = x.clone()
    y[:, :, 4:] = torch.rand(3, 1, 4, 8)  # change rows of steps 2 and 3 only
    z2 = enc(y, return_sequence=True)
    assert torch.equal(z2[:, :2], z[:, :2]) and not torch.allclose(z2[:, 2:], z[:, 2:])
    # step t's encoding = the shared MLP on strip t plus step t's position: compare with a naive loop
    first, act, last = enc.mlp
    for t in range(4):
        strip = x[:, 0, 2 * t : 2 * t + 2].reshape(3, -1)
        assert torch.allclose(z[:, t], last(act(first(strip) + enc.position[t])), atol=1e-6)
    with pytest.raises(ValueError, match="multiple"):
        ImageRowEncoder(1, 8, 8, row_height=3)
    with pytest.raises(ValueError, match="8 x 8"):
        enc(torch.rand(2, 1, 6, 8))


def test_as_encoder_measures_or_checks_out_dim():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU())
    enc = as_encoder(net, example=torch.rand(2, 1, 8, 8))
    assert isinstance(enc, ModuleEncoder) and enc.out_dim == 4 * 6 * 6
    assert enc(torch.rand(5, 1, 8, 8)).shape == (5, 144)
    assert net.training  # mode restored after the measuring pass
    conv = ConvEncoder(1, (8,))
    assert as_encoder(conv) is conv  # already has out_dim
    with pytest.raises(ValueError, match="out_dim"):
        as_encoder(nn.Linear(3, 3))
    with pytest.raises(ValueError, match="not out_dim=5"):
        as_encoder(nn.Flatten(), out_dim=5)(torch.rand(2, 3, 3))
