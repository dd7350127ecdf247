"""Batched augmentations: pure functions on (B, T, C) tensors and the transforms around them.

Time series: ``tsssl.augment.timeseries`` (functions) and ``tsssl.augment.compose``
(transform classes, ``Compose``, ``RandomApply``, ``TwoViews``, ``default_timeseries_views``).
Images: ``tsssl.augment.image`` on (B, C, H, W). Text: ``tsssl.augment.text`` (BERT masking).
"""

from __future__ import annotations

from .compose import (
    Compose,
    Crop,
    Identity,
    Jitter,
    MagnitudeWarp,
    MaskChannels,
    MaskSpan,
    MaskTimesteps,
    PermuteSegments,
    RandomApply,
    ResizedCrop,
    Scaling,
    TimeWarp,
    Transform,
    TwoViews,
    WindowSlice,
    default_timeseries_views,
)
from .timeseries import (
    crop,
    jitter,
    magnitude_warp,
    mask_channels,
    mask_span,
    mask_timesteps,
    permute_segments,
    resized_crop,
    scaling,
    time_warp,
    window_slice,
)
