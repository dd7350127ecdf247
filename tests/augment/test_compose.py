"""Transforms, Compose, RandomApply, TwoViews and the default time-series views."""

from __future__ import annotations

import pytest
import torch

from tsssl import augment as A
from tsssl.augment import timeseries as ts


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def batch(B: int = 32, T: int = 20, C: int = 5) -> torch.Tensor:
    return torch.randn(B, T, C, generator=gen(99))


CASES = [
    (A.Jitter(0.1), lambda x, g: ts.jitter(x, 0.1, generator=g)),
    (
        A.Jitter(0.1, relative=True, channels=[0]),
        lambda x, g: ts.jitter(x, 0.1, relative=True, channels=[0], generator=g),
    ),
    (A.Scaling(0.2), lambda x, g: ts.scaling(x, 0.2, generator=g)),
    (A.Crop(0.6), lambda x, g: ts.crop(x, 0.6, generator=g)),
    (A.ResizedCrop(0.4, 0.9), lambda x, g: ts.resized_crop(x, 0.4, 0.9, generator=g)),
    (A.MaskTimesteps(0.3), lambda x, g: ts.mask_timesteps(x, 0.3, generator=g)),
    (A.MaskSpan(0.4), lambda x, g: ts.mask_span(x, 0.4, generator=g)),
    (A.MaskChannels(0.5, channels=[1, 2]), lambda x, g: ts.mask_channels(x, 0.5, channels=[1, 2], generator=g)),
    (A.PermuteSegments(5), lambda x, g: ts.permute_segments(x, 5, generator=g)),
    (A.MagnitudeWarp(0.3, 3), lambda x, g: ts.magnitude_warp(x, 0.3, 3, generator=g)),
    (A.TimeWarp(0.3, 3), lambda x, g: ts.time_warp(x, 0.3, 3, generator=g)),
    (A.WindowSlice(0.7), lambda x, g: ts.window_slice(x, 0.7, generator=g)),
]


@pytest.mark.parametrize("transform,reference", CASES, ids=[repr(c[0]) for c in CASES])
def test_transform_equals_its_function(transform, reference):
    x = batch()
    assert torch.equal(transform(x, generator=gen(1)), reference(x, gen(1)))
    assert type(transform).__name__ in repr(transform)


def test_compose_applies_in_order():
    x = batch()
    shift = lambda x, generator=None: x + 1.0  # noqa: E731
    double = lambda x, generator=None: x * 2.0  # noqa: E731
    assert torch.equal(A.Compose([shift, double])(x), (x + 1.0) * 2.0)
    assert torch.equal(A.Compose([double, shift])(x), x * 2.0 + 1.0)
    assert torch.equal(A.Compose([])(x), x)
    # with random transforms, the generator is consumed in order
    g_ref = gen(5)
    ref = ts.scaling(ts.mask_timesteps(x, 0.2, generator=g_ref), 0.1, generator=g_ref)
    got = A.Compose([A.MaskTimesteps(0.2), A.Scaling(0.1)])(x, generator=gen(5))
    assert torch.equal(got, ref)
    with pytest.raises(ValueError, match=r"transforms\[1\]"):
        A.Compose([shift, "not a transform"])


def test_random_apply_p0_p1_and_per_sample_mix():
    x = batch(B=2000)
    t = lambda x, generator=None: x + 100.0  # noqa: E731
    assert torch.equal(A.RandomApply(t, p=0.0)(x, generator=gen(0)), x)
    assert torch.equal(A.RandomApply(t, p=1.0)(x, generator=gen(0)), x + 100.0)
    y = A.RandomApply(t, p=0.3)(x, generator=gen(0))
    changed = (y != x).all(dim=(1, 2))
    unchanged = (y == x).all(dim=(1, 2))
    assert torch.equal(changed, ~unchanged)  # whole samples, never partly
    assert abs(changed.float().mean().item() - 0.3) < 0.04
    assert torch.equal(A.RandomApply(t, p=0.3)(x, generator=gen(0)), y)
    with pytest.raises(ValueError, match="p must be in"):
        A.RandomApply(t, p=1.5)


def test_two_views_differ_and_are_repeatable():
    x = batch()
    tv = A.TwoViews(A.Jitter(0.1))
    v1, v2 = tv(x, generator=gen(0))
    assert v1.shape == v2.shape == x.shape
    assert not torch.equal(v1, v2)
    w1, w2 = tv(x, generator=gen(0))
    assert torch.equal(v1, w1) and torch.equal(v2, w2)
    # distinct second transform
    a, b = A.TwoViews(A.Identity(), A.Scaling(0.0))(x)
    assert torch.equal(a, x) and torch.allclose(b, x)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_default_views_mild_finite_and_keep_shape(dtype):
    x = batch(256).to(dtype)
    views = A.default_timeseries_views()
    v1, v2 = views(x, generator=gen(0))
    for v in (v1, v2):
        assert v.shape == x.shape and v.dtype == dtype and torch.isfinite(v.float()).all()
    # mild: the views stay correlated with the input and with each other
    corr = torch.corrcoef(torch.stack([x.float().flatten(), v1.float().flatten(), v2.float().flatten()]))
    assert corr[0, 1] > 0.5 and corr[0, 2] > 0.5 and corr[1, 2] > 0.3
    assert not torch.equal(v1, v2)


def test_default_views_channels_leave_one_hot_channels_alone_where_not_cropped():
    B, T = 512, 20
    cont = torch.randn(B, T, 3, generator=gen(1))
    onehot = torch.nn.functional.one_hot(torch.randint(0, 3, (B, T), generator=gen(2)), 3).float()
    x = torch.cat([cont, onehot], dim=-1)
    v, _ = A.default_timeseries_views(channels=[0, 1, 2])(x, generator=gen(0))
    # noise, scaling and masks skip the one-hot channels; only the crop (p = 0.5) moves them
    exact = (v[..., 3:] == onehot).all(dim=(1, 2))
    assert 0.4 < exact.float().mean() < 0.6
    assert (v[exact][..., :3] != x[exact][..., :3]).any(dim=-1).float().mean() > 0.85
    # without channels the one-hot channels get noise too
    w, _ = A.default_timeseries_views()(x, generator=gen(0))
    assert (w[..., 3:] == onehot).all(dim=(1, 2)).float().mean() < 0.05
