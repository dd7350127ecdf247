"""Time-series augmentations: statistics, shapes and dtypes, seeds, masks, geometry."""

from __future__ import annotations

import math

import pytest
import torch

from tsssl.augment import timeseries as ts

ALL = {
    "jitter": ts.jitter,
    "scaling": ts.scaling,
    "crop": ts.crop,
    "resized_crop": ts.resized_crop,
    "mask_timesteps": ts.mask_timesteps,
    "mask_span": ts.mask_span,
    "mask_channels": ts.mask_channels,
    "permute_segments": ts.permute_segments,
    "magnitude_warp": ts.magnitude_warp,
    "time_warp": ts.time_warp,
    "window_slice": ts.window_slice,
}


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def batch(B: int = 16, T: int = 20, C: int = 5, seed: int = 12345) -> torch.Tensor:
    return torch.randn(B, T, C, generator=gen(seed))


def ramp(B: int, T: int, C: int = 1) -> torch.Tensor:
    """x[b, t, c] = t (+ 100 c): a strictly increasing series per channel."""
    t = torch.arange(T, dtype=torch.float32).view(1, T, 1)
    c = 100.0 * torch.arange(C, dtype=torch.float32).view(1, 1, C)
    return (t + c).expand(B, T, C).contiguous()


# --------------------------------------------------------------------------- generic contract
@pytest.mark.parametrize("name", sorted(ALL))
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float64])
def test_shape_dtype_kept_and_no_nan(name, dtype):
    x = batch(8, 20, 5).to(dtype)
    y = ALL[name](x, generator=gen(1))
    assert y.shape == x.shape and y.dtype == dtype and y.device == x.device
    assert torch.isfinite(y.float()).all()


@pytest.mark.parametrize("name", sorted(ALL))
def test_seeded_generator_repeatable_and_seed_dependent(name):
    x = batch(16, 20, 5)
    a = ALL[name](x, generator=gen(7))
    b = ALL[name](x, generator=gen(7))
    c = ALL[name](x, generator=gen(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    # None uses the global RNG, which manual_seed makes repeatable too
    torch.manual_seed(3)
    d = ALL[name](x)
    torch.manual_seed(3)
    assert torch.equal(d, ALL[name](x))


@pytest.mark.parametrize("name", sorted(ALL))
def test_input_not_modified_and_bad_rank_rejected(name):
    x = batch(4, 20, 3)
    x0 = x.clone()
    ALL[name](x, generator=gen(0))
    assert torch.equal(x, x0)
    with pytest.raises(ValueError, match=r"\(B, T, C\)"):
        ALL[name](x[0], generator=gen(0))
    with pytest.raises(ValueError, match="floating"):
        ALL[name](x.long(), generator=gen(0))


# --------------------------------------------------------------------------- noise
def test_jitter_noise_statistics():
    x = torch.full((256, 50, 4), 2.0)
    y = ts.jitter(x, sigma=0.05, generator=gen(0))
    noise = y - x
    assert abs(noise.mean().item()) < 0.05 * 5 / math.sqrt(noise.numel())
    assert abs(noise.std().item() - 0.05) < 0.05 * 0.01


def test_jitter_relative_scales_with_each_series_std():
    x = batch(512, 40, 2)
    x[..., 1] *= 0.01  # a channel a hundred times smaller
    y = ts.jitter(x, sigma=0.2, relative=True, generator=gen(0))
    noise = y - x
    ratio = noise.std(dim=(0, 1)) / (0.2 * x.std(dim=1, unbiased=False).pow(2).mean(0).sqrt())
    assert torch.allclose(ratio, torch.ones(2), atol=0.02)


def test_jitter_channels_leaves_other_channels_exact():
    x = batch(8, 20, 5)
    y = ts.jitter(x, sigma=0.5, channels=[0, 2], generator=gen(0))
    assert torch.equal(y[..., [1, 3, 4]], x[..., [1, 3, 4]])
    assert (y[..., [0, 2]] != x[..., [0, 2]]).all()
    with pytest.raises(ValueError, match="channels"):
        ts.jitter(x, channels=[5])


def test_scaling_factor_statistics_one_per_sample_and_channel():
    x = torch.rand(2000, 10, 3) + 0.5  # positive, so the factor is y / x
    y = ts.scaling(x, sigma=0.1, generator=gen(0))
    factor = y / x
    # one factor per (sample, channel), constant over time
    assert torch.allclose(factor, factor[:, :1, :].expand_as(factor), rtol=1e-5)
    f = factor[:, 0, :]
    assert abs(f.mean().item() - 1.0) < 5 * 0.1 / math.sqrt(f.numel())
    assert abs(f.std().item() - 0.1) < 0.005
    # factors of different channels are independent
    assert abs(torch.corrcoef(f.T)[0, 1].item()) < 0.1


def test_magnitude_warp_is_a_smooth_positive_curve_times_x():
    x = torch.ones(64, 50, 2)
    y = ts.magnitude_warp(x, sigma=0.2, knots=4, generator=gen(0))
    curve = y[..., 0]
    assert (curve.std(dim=1) > 0).all()
    # smooth: second differences are far smaller than first differences (white noise: ~1.7x)
    d1 = curve.diff(dim=1).abs().mean()
    d2 = curve.diff(n=2, dim=1).abs().mean()
    assert d2 < 0.3 * d1
    assert not torch.equal(y[..., 0], y[..., 1])  # one curve per channel
    # the knots have mean 1: the average curve is close to 1
    assert abs(curve.mean().item() - 1.0) < 0.05
    # sigma 0 is the identity
    assert torch.allclose(ts.magnitude_warp(x, sigma=0.0, generator=gen(0)), x)


# --------------------------------------------------------------------------- crops and warps
def test_crop_right_aligned_contiguous_zero_padded():
    T = 20
    x = ramp(64, T) + 1.0  # values 1..T, so the padding zeros are distinguishable
    y = ts.crop(x, min_ratio=0.5, generator=gen(0))[..., 0]
    kept = y > 0
    n_kept = kept.sum(1)
    assert (n_kept >= 10).all() and (n_kept <= T).all()
    assert len(set(n_kept.tolist())) > 3  # lengths vary
    for b in range(y.shape[0]):  # test-side reference, loops allowed here
        L = int(n_kept[b])
        assert not kept[b, : T - L].any()  # zeros on the left
        seg = y[b, T - L :]
        assert torch.equal(seg.diff(), torch.ones(L - 1))  # one contiguous piece of x
        assert 1 <= seg[0] and seg[-1] <= T
    assert torch.equal(ts.crop(x, min_ratio=1.0, generator=gen(0)), x)


def test_resized_crop_scale_one_is_identity():
    x = batch(8, 20, 3)
    assert torch.equal(ts.resized_crop(x, min_scale=1.0, max_scale=1.0, generator=gen(0)), x)
    assert torch.equal(ts.window_slice(x, ratio=1.0, generator=gen(0)), x)


@pytest.mark.parametrize(
    "fn",
    [
        lambda x, g: ts.resized_crop(x, min_scale=0.5, generator=g),
        lambda x, g: ts.window_slice(x, ratio=0.6, generator=g),
    ],
)
def test_resized_crop_is_a_stretched_sub_window(fn):
    T = 20
    x = ramp(128, T)
    y = fn(x, gen(0))[..., 0]
    # a linear ramp resampled on an evenly spaced grid stays linear (equal steps)
    steps = y.diff(dim=1)
    assert torch.allclose(steps, steps[:, :1].expand_as(steps), atol=1e-4)
    assert (y[:, 0] >= 0).all() and (y[:, -1] <= T - 1 + 1e-5).all()
    span = y[:, -1] - y[:, 0]
    assert (span <= T - 1 + 1e-4).all() and (span >= 0.5 * (T - 1) - 1e-4).all()
    assert y[:, 0].std() > 0  # random starts


def test_resized_crop_scales_vary_within_bounds():
    T = 20
    y = ts.resized_crop(ramp(256, T), min_scale=0.5, max_scale=0.8, generator=gen(0))[..., 0]
    span = (y[:, -1] - y[:, 0]) / (T - 1)
    assert span.min() >= 0.5 - 1e-5 and span.max() <= 0.8 + 1e-5
    assert span.max() - span.min() > 0.25  # uniform over [0.5, 0.8]


def test_window_slice_has_fixed_ratio():
    T = 20
    y = ts.window_slice(ramp(32, T), ratio=0.6, generator=gen(0))[..., 0]
    assert torch.allclose(y[:, -1] - y[:, 0], torch.full((32,), 0.6 * (T - 1)), atol=1e-4)
    assert y[:, 0].std() > 0  # the start varies


def test_time_warp_monotone_ends_fixed_and_not_identity():
    T = 20
    x = ramp(128, T, C=2)
    y = ts.time_warp(x, sigma=0.5, knots=4, generator=gen(0))
    assert (y.diff(dim=1) >= 0).all()
    assert torch.allclose(y[:, 0], x[:, 0]) and torch.allclose(y[:, -1], x[:, -1], atol=1e-4)
    assert (y - x).abs().max() > 0.5
    # channels share the time map
    assert torch.allclose(y[..., 1] - 100.0, y[..., 0], atol=1e-4)
    assert torch.allclose(ts.time_warp(x, sigma=0.0, generator=gen(0)), x, atol=1e-4)


def test_permute_segments_is_a_permutation_of_segments():
    B, T, C, n = 64, 20, 3, 4
    x = batch(B, T, C)
    y = ts.permute_segments(x, n_segments=n, generator=gen(0))
    # multiset of values per sample and channel is preserved
    assert torch.equal(y.sort(dim=1).values, x.sort(dim=1).values)
    seg = T // n
    xs = x.view(B, n, seg, C)
    ys = y.view(B, n, seg, C)
    orders = set()
    for b in range(B):  # reference: every output segment is one input segment, each used once
        order = []
        for k in range(n):
            match = [j for j in range(n) if torch.equal(ys[b, k], xs[b, j])]
            assert len(match) == 1
            order.append(match[0])
        assert sorted(order) == list(range(n))
        orders.add(tuple(order))
    assert len(orders) > 5  # per-sample permutations


def test_permute_segments_uneven_lengths_and_one_segment():
    x = ramp(32, 10)
    y = ts.permute_segments(x, n_segments=3, generator=gen(0))[..., 0]
    assert torch.equal(y.sort(dim=1).values, x[..., 0])
    # the pieces (boundaries 0, 3, 6, 10) stay internally consecutive
    breaks = (y.diff(dim=1) != 1).sum(1)
    assert (breaks <= 2).all()
    assert torch.equal(ts.permute_segments(x, n_segments=1, generator=gen(0)), x)
    with pytest.raises(ValueError, match="n_segments"):
        ts.permute_segments(x, n_segments=11)


# --------------------------------------------------------------------------- masks
def test_mask_timesteps_zeroes_whole_steps_at_rate_p():
    x = batch(512, 20, 4) + 10.0  # no zeros of its own
    y, mask = ts.mask_timesteps(x, p=0.15, return_mask=True, generator=gen(0))
    assert mask.shape == (512, 20) and mask.dtype == torch.bool
    assert (y[mask] == 0).all()  # every channel of a masked step
    assert torch.equal(y[~mask], x[~mask])
    assert abs(mask.float().mean().item() - 0.15) < 0.01
    assert torch.equal(ts.mask_timesteps(x, p=0.0, generator=gen(0)), x)
    assert (ts.mask_timesteps(x, p=1.0, generator=gen(0)) == 0).all()


def test_mask_timesteps_channels_only_touch_those_channels():
    x = batch(64, 20, 4) + 10.0
    y, mask = ts.mask_timesteps(x, p=0.3, channels=[1, 3], return_mask=True, generator=gen(0))
    assert torch.equal(y[..., [0, 2]], x[..., [0, 2]])
    assert (y[..., [1, 3]][mask] == 0).all()
    assert torch.equal(y[..., [1, 3]][~mask], x[..., [1, 3]][~mask])


def test_mask_span_one_contiguous_span_per_sample():
    T = 20
    x = batch(256, T, 3) + 10.0
    y, mask = ts.mask_span(x, max_frac=0.3, return_mask=True, generator=gen(0))
    assert (y[mask] == 0).all() and torch.equal(y[~mask], x[~mask])
    lengths = mask.sum(1)
    assert (lengths >= 1).all() and (lengths <= 6).all()
    assert set(lengths.tolist()) == {1, 2, 3, 4, 5, 6}
    # contiguous: exactly one 0->1 rise when padded with zeros on both sides
    padded = torch.nn.functional.pad(mask.int(), (1, 1))
    assert ((padded.diff(dim=1) == 1).sum(1) == 1).all()
    starts = mask.int().argmax(1)
    assert starts.min() == 0 and (starts + lengths).max() == T
    assert torch.equal(ts.mask_span(x, max_frac=0.0, generator=gen(0)), x)


def test_mask_channels_zeroes_whole_channels_at_rate_p():
    x = batch(1000, 20, 5) + 10.0
    y, mask = ts.mask_channels(x, p=0.2, return_mask=True, generator=gen(0))
    assert mask.shape == (1000, 5)
    m = mask.unsqueeze(1).expand_as(x)
    assert (y[m] == 0).all() and torch.equal(y[~m], x[~m])
    assert abs(mask.float().mean().item() - 0.2) < 0.02
    y2, mask2 = ts.mask_channels(x, p=0.5, channels=[0, 4], return_mask=True, generator=gen(0))
    assert not mask2[:, 1:4].any() and torch.equal(y2[..., 1:4], x[..., 1:4])
    assert mask2[:, [0, 4]].any()


def test_no_nan_even_from_extreme_values():
    x = batch(16, 20, 3) * 1e30
    for name, fn in ALL.items():
        y = fn(x, generator=gen(0))
        assert not torch.isnan(y).any(), name


def test_bad_parameters_raise_value_error():
    x = batch(2, 20, 3)
    with pytest.raises(ValueError, match="sigma"):
        ts.jitter(x, sigma=-1)
    with pytest.raises(ValueError, match="p must be in"):
        ts.mask_timesteps(x, p=1.5)
    with pytest.raises(ValueError, match="min_scale"):
        ts.resized_crop(x, min_scale=0.0)
    with pytest.raises(ValueError, match="min_ratio"):
        ts.crop(x, min_ratio=2.0)
    with pytest.raises(ValueError, match="ratio"):
        ts.window_slice(x, ratio=0.0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", sorted(ALL))
def test_cuda_bf16_and_cpu_generator(name):
    x = batch(8, 20, 5).cuda().bfloat16()
    y = ALL[name](x, generator=torch.Generator(device="cuda").manual_seed(0))
    assert y.is_cuda and y.dtype == torch.bfloat16 and y.shape == x.shape
    assert torch.isfinite(y.float()).all()
    # a CPU generator works on a CUDA batch and gives the CPU result (up to float rounding)
    y_cpu_gen = ALL[name](x.float(), generator=gen(0))
    y_cpu = ALL[name](x.float().cpu(), generator=gen(0))
    assert torch.allclose(y_cpu_gen.cpu(), y_cpu, atol=1e-4)
