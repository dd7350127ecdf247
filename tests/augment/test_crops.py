"""overlapping_crops: two crops of every series that share [a2, b1), inside the series, with the
overlap long enough, shifted per row; the overlap's steps are the same data in both crops."""

import pytest
import torch

from tsssl.augment.crops import overlapping_crops
from tsssl.augment.segments import take_subwindows


@pytest.mark.parametrize("T,min_overlap", [(20, 2), (7, 4), (2, 2), (251, 2)])
def test_crops_overlap_inside_the_series(T, min_overlap):
    g = torch.Generator().manual_seed(T)
    for _ in range(200):
        c = overlapping_crops(8, T, min_overlap, generator=g)
        a1, a2 = c.start1, c.start2
        b1, b2 = a1 + c.length1, a2 + c.length2
        assert (a1 >= 0).all() and (a1 <= a2).all() and (a2 < b1).all() and (b1 <= b2).all() and (b2 <= T).all()
        assert ((b1 - a2) == c.overlap).all() and min_overlap <= c.overlap <= T


def test_the_overlap_holds_the_same_steps_and_rows_are_shifted_apart():
    g = torch.Generator().manual_seed(0)
    x = torch.arange(64 * 30, dtype=torch.float32).reshape(64, 30, 1)
    shifted = 0
    for _ in range(20):
        c = overlapping_crops(64, 30, 2, generator=g)
        v1, v2 = take_subwindows(x, c.start1, c.length1), take_subwindows(x, c.start2, c.length2)
        assert torch.equal(v1[:, -c.overlap :], v2[:, : c.overlap])
        shifted += int(c.start1.unique().numel() > 1)
    assert shifted >= 10  # most draws leave room to slide, and the rows then start at different steps


def test_same_generator_same_crops_and_errors():
    a = overlapping_crops(4, 50, generator=torch.Generator().manual_seed(3))
    b = overlapping_crops(4, 50, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a.start1, b.start1) and a[2:] == b[2:]
    with pytest.raises(ValueError, match="shorter than the overlap of at least 4 steps"):
        overlapping_crops(4, 3, 4)
    with pytest.raises(ValueError, match="min_overlap must be a positive integer"):
        overlapping_crops(4, 10, 0)
