"""Image augmentations: shapes, seeded determinism, and the property each one promises,
checked against naive per-image references."""

import math

import pytest
import torch
import torch.nn.functional as F

from tsssl.augment.image import (
    Cutout,
    color_jitter,
    cutout,
    default_image_views,
    gaussian_blur,
    horizontal_flip,
    random_affine,
    random_resized_crop,
    rot90_batch,
    rotate,
)


def images(b=6, c=1, h=8, w=8, seed=0):
    return torch.rand(b, c, h, w, generator=torch.Generator().manual_seed(seed))


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


FUNCS = [
    lambda x, g: random_affine(x, scale=(0.5, 1.0), ratio=(0.75, 1.33), degrees=20, generator=g),
    lambda x, g: random_resized_crop(x, generator=g),
    lambda x, g: rotate(x, 30, generator=g),
    lambda x, g: horizontal_flip(x, generator=g),
    lambda x, g: color_jitter(x, generator=g),
    lambda x, g: gaussian_blur(x, generator=g),
    lambda x, g: cutout(x, 3, generator=g),
]


@pytest.mark.parametrize("fn", FUNCS)
def test_shape_dtype_and_seeded_determinism(fn):
    x = images(5, 3, 8, 10)
    a, b = fn(x, gen(1)), fn(x, gen(1))
    assert a.shape == x.shape and a.dtype == x.dtype
    assert torch.equal(a, b)
    assert not torch.equal(fn(x, gen(2)), a) or torch.equal(a, x)  # another seed, another view
    assert torch.isfinite(a).all()
    assert fn(x.double(), gen(1)).dtype == torch.float64
    assert fn(x.bfloat16(), gen(1)).dtype == torch.bfloat16


@pytest.mark.parametrize("fn", FUNCS)
def test_bad_input_is_a_value_error(fn):
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        fn(torch.rand(4, 8, 8), gen())
    with pytest.raises(ValueError, match="floating"):
        fn(torch.zeros(2, 1, 8, 8, dtype=torch.long), gen())


def test_full_crop_without_rotation_is_the_identity():
    x = images()
    assert torch.allclose(random_affine(x, scale=(1, 1), ratio=(1, 1), degrees=0, generator=gen()), x, atol=1e-6)


def test_crop_zooms_into_the_image():
    # a horizontal ramp: a crop of a quarter of the area spans half the ramp's range
    ramp = torch.linspace(0, 1, 32).repeat(32, 1)[None, None].repeat(8, 1, 1, 1)
    out = random_resized_crop(ramp, scale=(0.25, 0.25), ratio=(1, 1), generator=gen())
    span = out[:, 0, 16, -2] - out[:, 0, 16, 1]
    assert torch.allclose(span, torch.full_like(span, 0.5 * (29 / 31)), atol=0.03)
    assert out.min() >= 0 and out.max() <= 1  # bilinear: convex combinations of the pixels


def test_rotation_turns_the_image_by_at_most_the_angle():
    # a vertical bar rotated by up to 30 degrees: the bar's angle, from its second moments
    x = torch.zeros(16, 1, 33, 33)
    x[:, :, 4:29, 15:18] = 1.0
    out = rotate(x, 30, generator=gen())
    ys, xs = torch.meshgrid(torch.arange(33.0), torch.arange(33.0), indexing="ij")
    m = out[:, 0]
    cx, cy = (m * xs).sum((1, 2)) / m.sum((1, 2)), (m * ys).sum((1, 2)) / m.sum((1, 2))
    dx, dy = xs - cx[:, None, None], ys - cy[:, None, None]
    mxy, mxx, myy = (m * dx * dy).sum((1, 2)), (m * dx * dx).sum((1, 2)), (m * dy * dy).sum((1, 2))
    angle = 0.5 * torch.atan2(2 * mxy, myy - mxx)  # 0 for a vertical bar
    assert angle.abs().max() <= math.radians(30) + 0.05
    assert angle.abs().max() > math.radians(10)  # some images did turn
    assert torch.allclose(out.sum((1, 2, 3)), x.sum((1, 2, 3)), rtol=0.08)  # ink kept (inside the frame)


def test_rot90_batch_matches_a_loop_over_images():
    x = images(8, 2, 5, 5)
    k = torch.tensor([0, 1, 2, 3, 3, 2, 1, 5])
    expected = torch.stack([torch.rot90(x[i], int(k[i]), dims=(-2, -1)) for i in range(8)])
    assert torch.equal(rot90_batch(x, k), expected)
    with pytest.raises(ValueError, match="square"):
        rot90_batch(images(2, 1, 4, 6), torch.tensor([0, 1]))


def test_flip_probabilities():
    x = images()
    assert torch.equal(horizontal_flip(x, p=1.0, generator=gen()), x.flip(-1))
    assert torch.equal(horizontal_flip(x, p=0.0, generator=gen()), x)
    out = horizontal_flip(images(2000, 1, 2, 2), p=0.3, generator=gen())
    flipped = (out != images(2000, 1, 2, 2)).flatten(1).any(1).float().mean()
    assert abs(flipped.item() - 0.3) < 0.04


def test_color_jitter_contrast_keeps_the_mean_and_brightness_scales():
    x = 0.4 + 0.2 * images(16)  # mid-grey: no clamping
    out = color_jitter(x, brightness=0.0, contrast=0.5, generator=gen())
    assert torch.allclose(out.mean((1, 2, 3)), x.mean((1, 2, 3)), atol=1e-6)
    ratio = out.std((1, 2, 3)) / x.std((1, 2, 3))
    assert ((ratio >= 0.5 - 1e-4) & (ratio <= 1.5 + 1e-4)).all() and ratio.std() > 0.05
    out = color_jitter(x, brightness=0.3, contrast=0.0, generator=gen())
    factor = out / x
    assert torch.allclose(factor, factor[:, :1, :1, :1].expand_as(factor), atol=1e-5)  # one factor per image
    assert ((factor >= 0.7 - 1e-5) & (factor <= 1.3 + 1e-5)).all()
    assert color_jitter(images() * 3, generator=gen()).max() <= 1.0


def test_gaussian_blur_matches_a_naive_convolution():
    x = images(4, 2, 9, 9)
    sigma, k = 0.8, 5
    out = gaussian_blur(x, sigma=(sigma, sigma), kernel_size=k, generator=gen())
    r = torch.arange(k, dtype=torch.float32) - k // 2
    g1 = torch.exp(-0.5 * (r / sigma) ** 2)
    g2 = torch.outer(g1, g1) / g1.sum() ** 2
    for i in range(4):
        for c in range(2):
            ref = F.conv2d(x[i, c][None, None], g2[None, None], padding=k // 2)[0, 0]
            assert torch.allclose(out[i, c], ref, atol=1e-5)
    with pytest.raises(ValueError, match="odd"):
        gaussian_blur(x, kernel_size=4)


def test_cutout_zeroes_one_square_and_covers_pixels_evenly():
    x = torch.ones(3000, 1, 8, 8)
    out = cutout(x, 3, generator=gen())
    holes = out[:, 0] == 0
    rows, cols = holes.any(2), holes.any(1)
    # each hole is the product of its rows and columns (a rectangle) of at most 3 x 3 pixels
    assert torch.equal(holes, rows[:, :, None] & cols[:, None, :])
    assert (rows.sum(1) <= 3).all() and (cols.sum(1) <= 3).all() and (rows.sum(1) >= 1).all()
    interior = holes.float().mean(0)[2:6, 2:6]  # each interior pixel: 9 of the 100 positions
    assert torch.allclose(interior, torch.full_like(interior, 0.09), atol=0.025)
    assert torch.equal(Cutout(3)(x[:5], generator=gen()), cutout(x[:5], 3, generator=gen()))


def test_default_views_differ_and_repeat_with_the_seed():
    x = images(32)
    views = default_image_views()
    v1, v2 = views(x, generator=gen(3))
    w1, w2 = views(x, generator=gen(3))
    assert torch.equal(v1, w1) and torch.equal(v2, w2)
    assert v1.shape == x.shape and not torch.equal(v1, v2)
    assert v1.min() >= 0 and v1.max() <= 1
