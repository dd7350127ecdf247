"""Two overlapping random crops of every series: TS2Vec's contextual views (Yue et al., AAAI 2022).

    crops = overlapping_crops(B, T, min_overlap=2)
    v1 = take_subwindows(x, crops.start1, crops.length1)   # x[b, a1 : b1]
    v2 = take_subwindows(x, crops.start2, crops.length2)   # x[b, a2 : b2]
    # the overlap [a2, b1) is v1[:, -crops.overlap:] and v2[:, :crops.overlap]

Within a series of T steps: the overlap length ``l`` is uniform over [min_overlap, T]; the overlap
[a2, b1) = [s, s + l) with s uniform over [0, T - l]; the first crop starts at a1 uniform over
[0, a2] and the second ends at b2 uniform over [b1, T]. So 0 <= a1 <= a2 < b1 <= b2 <= T, and
each crop sees the overlap in a different context. The lengths are shared by the batch (one
tensor per view); each row then slides the whole arrangement by its own offset, uniform over
the shifts that keep both crops inside the series, so the crops fall at different times per row.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from tsssl.checks import check_positive


class OverlappingCrops(NamedTuple):
    """start1, start2: (B,) long starts a1, a2 of the two crops; length1 = b1 - a1 and
    length2 = b2 - a2 their lengths; overlap = b1 - a2, the shared steps."""

    start1: Tensor
    start2: Tensor
    length1: int
    length2: int
    overlap: int


def _uniform_int(low: int, high: int, generator: torch.Generator | None) -> int:
    """An integer uniform over [low, high] (inclusive), drawn on the CPU."""
    return int(torch.randint(low, high + 1, (1,), generator=generator))


def overlapping_crops(
    batch_size: int,
    T: int,
    min_overlap: int = 2,
    *,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
) -> OverlappingCrops:
    """Starts and lengths of two overlapping crops of each of ``batch_size`` series of ``T`` steps
    (see the module docstring); ``generator``: a CPU generator (None: torch's global RNG)."""
    check_positive(min_overlap, "min_overlap", "overlapping_crops")
    if T < min_overlap:
        raise ValueError(
            f"overlapping_crops: series of {T} steps are shorter than the overlap of at least {min_overlap} "
            "steps; use longer series or a smaller temporal_unit"
        )
    overlap = _uniform_int(min_overlap, T, generator)
    a2 = _uniform_int(0, T - overlap, generator)
    b1 = a2 + overlap
    a1, b2 = _uniform_int(0, a2, generator), _uniform_int(b1, T, generator)
    # shift every row by its own offset in [-a1, T - b2]: both crops stay inside [0, T)
    offset = torch.randint(-a1, T - b2 + 1, (batch_size,), generator=generator).to(device or "cpu")
    return OverlappingCrops(offset + a1, offset + a2, b1 - a1, b2 - a2, overlap)
