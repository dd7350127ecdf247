"""Transforms: thin callables around the pure functions of ``timeseries``, and their glue.

Every transform is ``t(x, generator=None) -> x`` on a batch x: (B, T, C); the arguments fixed at
construction are the function's keyword arguments. ``Compose`` chains transforms,
``RandomApply`` applies one to a random subset of the batch, ``TwoViews`` makes the pair of views
a contrastive method needs. All of them pass the same ``generator`` on, so a seeded generator
gives repeatable views.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from . import timeseries as ts

__all__ = [
    "Transform",
    "Identity",
    "Jitter",
    "Scaling",
    "Crop",
    "ResizedCrop",
    "MaskTimesteps",
    "MaskSpan",
    "MaskChannels",
    "PermuteSegments",
    "MagnitudeWarp",
    "TimeWarp",
    "WindowSlice",
    "Compose",
    "RandomApply",
    "TwoViews",
    "default_timeseries_views",
]

TransformFn = Callable[..., Tensor]


class Transform:
    """A batch augmentation ``x -> x``: wraps ``fn`` with the keyword arguments given."""

    fn: Callable[..., Tensor]

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return type(self).fn(x, generator=generator, **self.kwargs)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"{type(self).__name__}({args})"


class Identity(Transform):
    """Returns x as it is."""

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return x


class Jitter(Transform):
    """Additive Gaussian noise; see ``timeseries.jitter``."""

    fn = staticmethod(ts.jitter)

    def __init__(self, sigma: float = 0.03, relative: bool = False, channels: Sequence[int] | None = None) -> None:
        super().__init__(sigma=sigma, relative=relative, channels=channels)


class Scaling(Transform):
    """Per-sample, per-channel factor ~ N(1, sigma); see ``timeseries.scaling``."""

    fn = staticmethod(ts.scaling)

    def __init__(self, sigma: float = 0.1, channels: Sequence[int] | None = None) -> None:
        super().__init__(sigma=sigma, channels=channels)


class MagnitudeWarp(Transform):
    """Smooth random multiplicative curve; see ``timeseries.magnitude_warp``."""

    fn = staticmethod(ts.magnitude_warp)

    def __init__(self, sigma: float = 0.2, knots: int = 4, channels: Sequence[int] | None = None) -> None:
        super().__init__(sigma=sigma, knots=knots, channels=channels)


class Crop(Transform):
    """Random crop, right-aligned, zero-padded on the left; see ``timeseries.crop``."""

    fn = staticmethod(ts.crop)

    def __init__(self, min_ratio: float = 0.5) -> None:
        super().__init__(min_ratio=min_ratio)


class ResizedCrop(Transform):
    """Random crop stretched back to length T; see ``timeseries.resized_crop``."""

    fn = staticmethod(ts.resized_crop)

    def __init__(self, min_scale: float = 0.5, max_scale: float = 1.0) -> None:
        super().__init__(min_scale=min_scale, max_scale=max_scale)


class WindowSlice(Transform):
    """Fixed-ratio slice stretched back to length T; see ``timeseries.window_slice``."""

    fn = staticmethod(ts.window_slice)

    def __init__(self, ratio: float = 0.9) -> None:
        super().__init__(ratio=ratio)


class TimeWarp(Transform):
    """Smooth random monotone time map; see ``timeseries.time_warp``."""

    fn = staticmethod(ts.time_warp)

    def __init__(self, sigma: float = 0.2, knots: int = 4) -> None:
        super().__init__(sigma=sigma, knots=knots)


class PermuteSegments(Transform):
    """Shuffle the window's segments per sample; see ``timeseries.permute_segments``."""

    fn = staticmethod(ts.permute_segments)

    def __init__(self, n_segments: int = 4) -> None:
        super().__init__(n_segments=n_segments)


class MaskTimesteps(Transform):
    """Zero random time steps; see ``timeseries.mask_timesteps``."""

    fn = staticmethod(ts.mask_timesteps)

    def __init__(self, p: float = 0.15, channels: Sequence[int] | None = None) -> None:
        super().__init__(p=p, channels=channels)


class MaskSpan(Transform):
    """Zero one contiguous span per sample; see ``timeseries.mask_span``."""

    fn = staticmethod(ts.mask_span)

    def __init__(self, max_frac: float = 0.3, channels: Sequence[int] | None = None) -> None:
        super().__init__(max_frac=max_frac, channels=channels)


class MaskChannels(Transform):
    """Zero random whole channels per sample; see ``timeseries.mask_channels``."""

    fn = staticmethod(ts.mask_channels)

    def __init__(self, p: float = 0.2, channels: Sequence[int] | None = None) -> None:
        super().__init__(p=p, channels=channels)


class Compose:
    """Apply transforms in order: ``Compose([a, b])(x) == b(a(x))``."""

    def __init__(self, transforms: Sequence[TransformFn]) -> None:
        transforms = list(transforms)
        for i, t in enumerate(transforms):
            if not callable(t):
                raise ValueError(f"Compose: transforms[{i}] is not callable: {t!r}")
        self.transforms = transforms

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        for t in self.transforms:
            x = t(x, generator=generator)
        return x

    def __repr__(self) -> str:
        inner = ", ".join(repr(t) for t in self.transforms)
        return f"Compose([{inner}])"


class RandomApply:
    """Apply ``transform`` to each sample independently with probability p.

    The transform runs once on the whole batch and a per-sample Bernoulli(p) mask picks the
    transformed or the original sample (one ``torch.where``): no loop, no data-dependent shapes.
    p = 0 returns x untouched and p = 1 returns the transform's output, without drawing a mask.
    """

    def __init__(self, transform: TransformFn, p: float = 0.5) -> None:
        if not callable(transform):
            raise ValueError(f"RandomApply: transform is not callable: {transform!r}")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomApply: p must be in [0, 1], got {p}")
        self.transform = transform
        self.p = p

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        if self.p == 0.0:
            return x
        y = self.transform(x, generator=generator)
        if self.p == 1.0:
            return y
        device = generator.device if generator is not None else x.device
        apply = torch.rand(x.shape[0], generator=generator, device=device) < self.p
        apply = apply.to(x.device).view(-1, *([1] * (x.dim() - 1)))
        return torch.where(apply, y, x)

    def __repr__(self) -> str:
        return f"RandomApply({self.transform!r}, p={self.p})"


class TwoViews:
    """Two augmented views of the same batch: ``(t1(x), t2(x))``; t2 defaults to t1."""

    def __init__(self, t1: TransformFn, t2: TransformFn | None = None) -> None:
        for name, t in (("t1", t1), ("t2", t2)):
            if t is not None and not callable(t):
                raise ValueError(f"TwoViews: {name} is not callable: {t!r}")
        self.t1 = t1
        self.t2 = t1 if t2 is None else t2

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        return self.t1(x, generator=generator), self.t2(x, generator=generator)

    def __repr__(self) -> str:
        if self.t2 is self.t1:
            return f"TwoViews({self.t1!r})"
        return f"TwoViews({self.t1!r}, {self.t2!r})"


def default_timeseries_views(channels: Sequence[int] | None = None) -> TwoViews:
    """A mild two-view pipeline for 20-day windows of scale-free daily features.

    Per view: with probability 0.5 a resized crop of 70-100% of the window; relative jitter
    (noise std 10% of each sample's per-channel std, so it suits both small log returns and O(1)
    z-scores, standardised or not); per-channel scaling by N(1, 0.1); 10% of the time steps
    zeroed. ``channels`` restricts the noise, scaling and masking to those channel indices
    (pass the continuous channels to keep one-hot channels, e.g. p-adic digits, exact); the crop
    moves all channels together.
    """
    view = Compose(
        [
            RandomApply(ResizedCrop(min_scale=0.7, max_scale=1.0), p=0.5),
            Jitter(sigma=0.1, relative=True, channels=channels),
            Scaling(sigma=0.1, channels=channels),
            MaskTimesteps(p=0.1, channels=channels),
        ]
    )
    return TwoViews(view)
