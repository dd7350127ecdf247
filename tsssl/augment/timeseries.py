"""Batched time-series augmentations: pure functions on x: (B, T, C) float.

Every function
- takes any floating dtype (float32, float64, bf16, fp16) on any device and returns a tensor of
  the same shape, dtype and device (random numbers and arithmetic run in float32, or float64
  for float64 input, and the result is cast back);
- draws its randomness from ``generator`` (``None``: torch's global RNG). A generator on the
  same device as ``x`` is fastest; a generator on another device also works (the draws are
  made there and moved), so a CPU generator gives the same view of a CPU and a CUDA batch;
- does the whole batch with a few tensor ops (no Python loop over samples);
- never produces NaN from finite input (masks use ``torch.where``, not multiplication).

Masked values are set to 0. Our window features are scale-free and roughly zero-centred (log
returns, log ratios, a volume z-score), so 0 is the neutral "nothing happened" value.

``channels`` (a list of channel indices, where accepted) restricts an augmentation to those
channels and leaves the others exactly as they were, so noise can be kept off one-hot channels
(e.g. the p-adic digit channels). Time-geometry augmentations (crops, warps, permutations)
always move all channels together: they must stay aligned in time.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "jitter",
    "scaling",
    "crop",
    "resized_crop",
    "mask_timesteps",
    "mask_span",
    "mask_channels",
    "permute_segments",
    "magnitude_warp",
    "time_warp",
    "window_slice",
]

Channels = Sequence[int] | None


# --------------------------------------------------------------------------- helpers
def _check_x(x: Tensor, fn: str) -> None:
    if not isinstance(x, Tensor):
        raise ValueError(f"{fn}: x must be a torch.Tensor of shape (B, T, C), got {type(x).__name__}")
    if x.dim() != 3:
        raise ValueError(f"{fn}: x must have shape (B, T, C) (3 dims), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{fn}: x must be a floating tensor (float32, float64, bf16, fp16), got {x.dtype}")


def _work_dtype(x: Tensor) -> torch.dtype:
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def _draw(
    sampler: Callable[..., Tensor], shape: tuple[int, ...], x: Tensor, generator: torch.Generator | None
) -> Tensor:
    """Random tensor from ``torch.rand`` / ``torch.randn`` on x's device, in the working dtype."""
    device = generator.device if generator is not None else x.device
    out = sampler(shape, generator=generator, device=device, dtype=_work_dtype(x))
    return out.to(x.device, non_blocking=True)


def _uniform(shape: tuple[int, ...], x: Tensor, generator: torch.Generator | None) -> Tensor:
    return _draw(torch.rand, shape, x, generator)


def _normal(shape: tuple[int, ...], x: Tensor, generator: torch.Generator | None) -> Tensor:
    return _draw(torch.randn, shape, x, generator)


def _channel_mask(channels: Channels, n_channels: int, x: Tensor, fn: str) -> Tensor | None:
    """(C,) bool on x's device, True on the channels to augment; None means all of them."""
    if channels is None:
        return None
    idx = tuple(int(c) for c in channels)
    if any(not -n_channels <= c < n_channels for c in idx):
        raise ValueError(
            f"{fn}: channels={list(idx)} out of range for x with {n_channels} channels "
            f"(accepted: indices in [-{n_channels}, {n_channels - 1}])"
        )
    return _cached_channel_mask(idx, n_channels, x.device)


@functools.lru_cache(maxsize=64)
def _cached_channel_mask(idx: tuple[int, ...], n_channels: int, device: torch.device) -> Tensor:
    # cached so that a training loop does not copy the same mask to the GPU every step
    mask = torch.zeros(n_channels, dtype=torch.bool)
    mask[list(idx)] = True
    return mask.to(device)


def _restrict(x: Tensor, y: Tensor, cmask: Tensor | None) -> Tensor:
    """y on the selected channels, x elsewhere; cast back to x's dtype."""
    if cmask is not None:
        y = torch.where(cmask, y, x.to(y.dtype))
    return y.to(x.dtype)


def _check_nonneg(value: float, name: str, fn: str) -> None:
    if not value >= 0:
        raise ValueError(f"{fn}: {name} must be >= 0, got {value}")


def _check_prob(value: float, name: str, fn: str) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{fn}: {name} must be in [0, 1], got {value}")


def _interp_time(x: Tensor, pos: Tensor) -> Tensor:
    """Linear interpolation along time at fractional positions.

    x: (B, T, C) working dtype; pos: (B, T') float in [0, T-1] -> (B, T', C).
    One gather per neighbour; integer positions give x exactly.
    """
    T = x.shape[1]
    pos = pos.clamp(0, T - 1)
    i0 = pos.floor().long().clamp_(0, T - 1)
    i1 = (i0 + 1).clamp_(max=T - 1)
    w = (pos - i0.to(pos.dtype)).unsqueeze(-1)
    C = x.shape[2]
    x0 = torch.gather(x, 1, i0.unsqueeze(-1).expand(-1, -1, C))
    x1 = torch.gather(x, 1, i1.unsqueeze(-1).expand(-1, -1, C))
    return torch.lerp(x0, x1, w.to(x.dtype))


def _smooth_curve(knot_values: Tensor, T: int) -> Tensor:
    """Cubic (Keys) interpolation of K evenly spaced knots over [0, T-1].

    knot_values: (B, C, K) -> (B, C, T). Uses bicubic interpolation of a height-1 image so the
    whole batch is one kernel; the first and last knots sit on the first and last time steps.
    """
    B, C, K = knot_values.shape
    img = knot_values.reshape(B * C, 1, 1, K)
    out = F.interpolate(img, size=(1, T), mode="bicubic", align_corners=True)
    return out.reshape(B, C, T)


def _crop_positions(B: int, T: int, scale: Tensor, x: Tensor, generator: torch.Generator | None) -> Tensor:
    """Sampling positions (B, T) covering a random sub-window of length scale*(T-1)+1 steps.

    scale: (B,) in (0, 1]. The sub-window start is uniform over the admissible range; scale 1
    gives positions 0, 1, ..., T-1 exactly.
    """
    span = scale * (T - 1)  # (B,) length of the sub-window in steps between first and last sample
    start = _uniform((B,), x, generator) * (T - 1 - span)
    step = span / max(T - 1, 1)  # exactly 1.0 at scale 1, so positions are exact integers
    return start.unsqueeze(1) + torch.arange(T, device=x.device, dtype=span.dtype) * step.unsqueeze(1)


# --------------------------------------------------------------------------- noise
def jitter(
    x: Tensor,
    sigma: float = 0.03,
    *,
    relative: bool = False,
    channels: Channels = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Add Gaussian noise: x + sigma * N(0, 1).

    x: (B, T, C). With ``relative=True`` the noise std is sigma times each sample's per-channel
    std over time (scale-free: the same sigma suits small log returns and O(1) z-scores).
    """
    _check_x(x, "jitter")
    _check_nonneg(sigma, "sigma", "jitter")
    cmask = _channel_mask(channels, x.shape[2], x, "jitter")
    xw = x.to(_work_dtype(x))
    scale = sigma
    if relative:
        scale = sigma * xw.std(dim=1, keepdim=True, unbiased=False) if x.shape[1] > 1 else 0.0
    y = xw + scale * _normal(tuple(x.shape), x, generator)
    return _restrict(x, y, cmask)


def scaling(
    x: Tensor, sigma: float = 0.1, *, channels: Channels = None, generator: torch.Generator | None = None
) -> Tensor:
    """Multiply each sample's channel by one factor ~ N(1, sigma): x * f, f: (B, 1, C)."""
    _check_x(x, "scaling")
    _check_nonneg(sigma, "sigma", "scaling")
    cmask = _channel_mask(channels, x.shape[2], x, "scaling")
    B, _, C = x.shape
    factor = 1.0 + sigma * _normal((B, 1, C), x, generator)
    return _restrict(x, x.to(factor.dtype) * factor, cmask)


def magnitude_warp(
    x: Tensor,
    sigma: float = 0.2,
    knots: int = 4,
    *,
    channels: Channels = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Multiply by a smooth random curve per sample and channel (Um et al., 2017).

    The curve interpolates ``knots + 2`` values ~ N(1, sigma), evenly spaced over the window
    (first and last on the window's ends), by cubic interpolation.
    """
    _check_x(x, "magnitude_warp")
    _check_nonneg(sigma, "sigma", "magnitude_warp")
    if knots < 0:
        raise ValueError(f"magnitude_warp: knots must be >= 0, got {knots}")
    cmask = _channel_mask(channels, x.shape[2], x, "magnitude_warp")
    B, T, C = x.shape
    values = 1.0 + sigma * _normal((B, C, knots + 2), x, generator)
    curve = _smooth_curve(values, T).transpose(1, 2)  # (B, T, C)
    return _restrict(x, x.to(curve.dtype) * curve, cmask)


# --------------------------------------------------------------------------- crops
def crop(x: Tensor, min_ratio: float = 0.5, *, generator: torch.Generator | None = None) -> Tensor:
    """Random crop, right-aligned and zero-padded on the left back to length T.

    Each sample keeps a random contiguous sub-window of L steps, L uniform in
    [ceil(min_ratio * T), T], starting uniformly at random; the kept steps are moved to the end
    of the window (so the last step is real data, as "last"-state encoders want) and the first
    T - L steps are 0.
    """
    _check_x(x, "crop")
    if not 0.0 < min_ratio <= 1.0:
        raise ValueError(f"crop: min_ratio must be in (0, 1], got {min_ratio}")
    B, T, C = x.shape
    min_len = max(1, min(T, math.ceil(min_ratio * T - 1e-9)))
    u = _uniform((2, B), x, generator)
    length = min_len + (u[0] * (T - min_len + 1)).long().clamp_(max=T - min_len)  # (B,)
    start = (u[1] * (T - length + 1)).long().clamp_(max=T - length)  # (B,)
    j = torch.arange(T, device=x.device).unsqueeze(0)  # output step
    pad = (T - length).unsqueeze(1)
    src = (start.unsqueeze(1) + j - pad).clamp_(0, T - 1)  # (B, T)
    kept = torch.gather(x, 1, src.unsqueeze(-1).expand(-1, -1, C))
    return torch.where((j >= pad).unsqueeze(-1), kept, torch.zeros((), dtype=x.dtype, device=x.device))


def resized_crop(
    x: Tensor, min_scale: float = 0.5, max_scale: float = 1.0, *, generator: torch.Generator | None = None
) -> Tensor:
    """Random crop of a fraction in [min_scale, max_scale] of the window, stretched back to T.

    The crop's length and start are continuous and the crop is resampled at T evenly spaced
    points by linear interpolation; scale 1 returns x unchanged.
    """
    _check_x(x, "resized_crop")
    if not 0.0 < min_scale <= max_scale <= 1.0:
        raise ValueError(
            f"resized_crop: need 0 < min_scale <= max_scale <= 1, got min_scale={min_scale}, max_scale={max_scale}"
        )
    B, T, _ = x.shape
    scale = min_scale + (max_scale - min_scale) * _uniform((B,), x, generator)
    pos = _crop_positions(B, T, scale, x, generator)
    return _interp_time(x.to(pos.dtype), pos).to(x.dtype)


def window_slice(x: Tensor, ratio: float = 0.9, *, generator: torch.Generator | None = None) -> Tensor:
    """Window slicing (Le Guennec et al., 2016): a random slice of ``ratio`` of the window,
    stretched back to length T by linear interpolation."""
    _check_x(x, "window_slice")
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"window_slice: ratio must be in (0, 1], got {ratio}")
    B, T, _ = x.shape
    scale = torch.full((B,), float(ratio), device=x.device, dtype=_work_dtype(x))
    pos = _crop_positions(B, T, scale, x, generator)
    return _interp_time(x.to(pos.dtype), pos).to(x.dtype)


def time_warp(x: Tensor, sigma: float = 0.2, knots: int = 4, *, generator: torch.Generator | None = None) -> Tensor:
    """Resample along a smooth random monotone time map (one per sample, shared by channels).

    A positive speed curve exp(sigma * z(t)), z a cubic interpolation of ``knots + 2`` standard
    normal knots, is integrated into a strictly increasing map of [0, T-1] onto itself (ends
    fixed); x is read at those positions by linear interpolation. A non-decreasing series stays
    non-decreasing.
    """
    _check_x(x, "time_warp")
    _check_nonneg(sigma, "sigma", "time_warp")
    if knots < 0:
        raise ValueError(f"time_warp: knots must be >= 0, got {knots}")
    B, T, _ = x.shape
    if T < 2:
        return x.clone()
    z = _normal((B, 1, knots + 2), x, generator)
    speed = torch.exp(sigma * _smooth_curve(z, T - 1).squeeze(1))  # (B, T-1) step lengths > 0
    cum = torch.cumsum(speed, dim=1)
    pos = torch.cat([torch.zeros_like(cum[:, :1]), cum * ((T - 1) / cum[:, -1:])], dim=1)
    return _interp_time(x.to(pos.dtype), pos).to(x.dtype)


def permute_segments(x: Tensor, n_segments: int = 4, *, generator: torch.Generator | None = None) -> Tensor:
    """Cut the window into ``n_segments`` consecutive segments and shuffle them per sample.

    Segments are equal when n_segments divides T, otherwise their lengths differ by at most one
    (boundaries at floor(k * T / n_segments)). Each sample gets its own random permutation
    (argsort of random keys); the output is the segments concatenated in that order.
    """
    _check_x(x, "permute_segments")
    B, T, C = x.shape
    if not 1 <= n_segments <= T:
        raise ValueError(f"permute_segments: n_segments must be in [1, T={T}], got {n_segments}")
    device = x.device
    bounds = torch.arange(n_segments + 1, device=device) * T // n_segments  # (n+1,)
    starts, lengths = bounds[:-1], bounds[1:] - bounds[:-1]  # (n,)
    perm = torch.argsort(_uniform((B, n_segments), x, generator), dim=1)  # (B, n)
    out_len = lengths[perm]  # (B, n) lengths in output order
    out_start = torch.cumsum(out_len, dim=1) - out_len  # (B, n) where each lands in the output
    j = torch.arange(T, device=device).expand(B, T).contiguous()
    seg = torch.searchsorted(out_start, j, right=True) - 1  # (B, T) output segment of step j
    src_seg = torch.gather(perm, 1, seg)
    src = starts[src_seg] + j - torch.gather(out_start, 1, seg)
    return torch.gather(x, 1, src.unsqueeze(-1).expand(-1, -1, C))


# --------------------------------------------------------------------------- masks
def mask_timesteps(
    x: Tensor,
    p: float = 0.15,
    *,
    channels: Channels = None,
    return_mask: bool = False,
    generator: torch.Generator | None = None,
) -> Tensor | tuple[Tensor, Tensor]:
    """Zero each time step independently with probability p (all channels, or ``channels``).

    Returns the masked x, and with ``return_mask=True`` also mask: (B, T) bool, True = zeroed.
    """
    _check_x(x, "mask_timesteps")
    _check_prob(p, "p", "mask_timesteps")
    B, T, _ = x.shape
    mask = _uniform((B, T), x, generator) < p
    return _apply_mask(x, mask.unsqueeze(-1), channels, return_mask, mask, "mask_timesteps")


def mask_span(
    x: Tensor,
    max_frac: float = 0.3,
    *,
    channels: Channels = None,
    return_mask: bool = False,
    generator: torch.Generator | None = None,
) -> Tensor | tuple[Tensor, Tensor]:
    """Zero one contiguous span per sample.

    Span length uniform in {1, ..., max(1, floor(max_frac * T))}, start uniform over the
    positions where it fits. max_frac = 0 masks nothing. With ``return_mask=True`` also returns
    mask: (B, T) bool, True = zeroed.
    """
    _check_x(x, "mask_span")
    _check_prob(max_frac, "max_frac", "mask_span")
    B, T, _ = x.shape
    max_len = max(1, int(max_frac * T)) if max_frac > 0 else 0
    u = _uniform((2, B), x, generator)
    if max_len == 0:
        length = torch.zeros(B, dtype=torch.long, device=x.device)
    else:
        length = 1 + (u[0] * max_len).long().clamp_(max=max_len - 1)  # (B,) in 1..max_len
    start = (u[1] * (T - length + 1)).long()
    start = torch.minimum(start, T - length)  # (B,) in 0..T-length
    t = torch.arange(T, device=x.device).unsqueeze(0)
    mask = (t >= start.unsqueeze(1)) & (t < (start + length).unsqueeze(1))
    return _apply_mask(x, mask.unsqueeze(-1), channels, return_mask, mask, "mask_span")


def mask_channels(
    x: Tensor,
    p: float = 0.2,
    *,
    channels: Channels = None,
    return_mask: bool = False,
    generator: torch.Generator | None = None,
) -> Tensor | tuple[Tensor, Tensor]:
    """Zero whole channels of a sample, each with probability p (only among ``channels``).

    With ``return_mask=True`` also returns mask: (B, C) bool, True = zeroed.
    """
    _check_x(x, "mask_channels")
    _check_prob(p, "p", "mask_channels")
    B, _, C = x.shape
    mask = _uniform((B, C), x, generator) < p
    cmask = _channel_mask(channels, C, x, "mask_channels")
    if cmask is not None:
        mask = mask & cmask
    out = torch.where(mask.unsqueeze(1), torch.zeros((), dtype=x.dtype, device=x.device), x)
    return (out, mask) if return_mask else out


def _apply_mask(
    x: Tensor, where: Tensor, channels: Channels, return_mask: bool, mask: Tensor, fn: str
) -> Tensor | tuple[Tensor, Tensor]:
    """Zero x where ``where`` (broadcast to (B, T, C)) and the channel is selected."""
    cmask = _channel_mask(channels, x.shape[2], x, fn)
    if cmask is not None:
        where = where & cmask
    out = torch.where(where, torch.zeros((), dtype=x.dtype, device=x.device), x)
    return (out, mask) if return_mask else out
