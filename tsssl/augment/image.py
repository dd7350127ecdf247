"""Batched image augmentations: pure functions on x: (B, C, H, W) float, and their transforms.

Every function
- takes any floating dtype on any device and returns a tensor of the same shape, dtype and
  device (random numbers and arithmetic in float32, float64 for float64 input);
- draws its randomness from ``generator`` (``None``: torch's global RNG); a CPU generator also
  serves a CUDA batch (the draws are made on the generator's device and moved);
- does the whole batch with a few tensor ops: the geometric ones (resized crop, rotation) build
  one affine matrix per image and resample the batch with one ``affine_grid`` / ``grid_sample``.

Pixel values are intensities in [0, 1] with a black (0) background, as the scaled digits of
``tsssl.data.image``: geometry pads with 0 and the photometric ops clamp to [0, 1].

The transform classes wrap the functions with their settings fixed (``t(x, generator=None)``)
and compose with ``tsssl.augment.compose`` (``Compose``, ``RandomApply``, ``TwoViews``);
``default_image_views`` is the two-view pipeline of the digits' SimCLR / MoCo / BYOL / ... runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .compose import Compose, RandomApply, Transform, TwoViews

__all__ = [
    "random_affine",
    "random_resized_crop",
    "rotate",
    "horizontal_flip",
    "color_jitter",
    "gaussian_blur",
    "cutout",
    "rot90_batch",
    "RandomResizedCrop",
    "Rotation",
    "HorizontalFlip",
    "ColorJitter",
    "GaussianBlur",
    "Cutout",
    "default_image_views",
]

Range = tuple[float, float]


# --------------------------------------------------------------------------- helpers
def _check_images(x: Tensor, fn: str) -> None:
    if not isinstance(x, Tensor):
        raise ValueError(f"{fn}: x must be a torch.Tensor of shape (B, C, H, W), got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(f"{fn}: x must have shape (B, C, H, W) (4 dims), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{fn}: x must be a floating tensor (float32, float64, bf16, fp16), got {x.dtype}")


def _check_range(value: Sequence[float], name: str, fn: str, lo: float = 0.0, hi: float = math.inf) -> Range:
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{fn}: {name} must be a pair (low, high), got {value!r}") from None
    if not lo <= a <= b <= hi:
        raise ValueError(f"{fn}: {name} must satisfy {lo} <= low <= high <= {hi}, got {value!r}")
    return a, b


def _work_dtype(x: Tensor) -> torch.dtype:
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def _uniform(n: int, lo: float, hi: float, x: Tensor, generator: torch.Generator | None) -> Tensor:
    """(n,) uniform in [lo, hi) on x's device, in the working dtype."""
    device = generator.device if generator is not None else x.device
    u = torch.rand(n, generator=generator, device=device, dtype=_work_dtype(x)).to(x.device)
    return lo + (hi - lo) * u


# --------------------------------------------------------------------------- geometry
def random_affine(
    x: Tensor,
    scale: Sequence[float] = (1.0, 1.0),
    ratio: Sequence[float] = (1.0, 1.0),
    degrees: float = 0.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Per image: crop a random rectangle (area fraction ~ U(scale), aspect ratio log-uniform in
    ``ratio``, random position inside the image), rotate it by ~ U(-degrees, degrees), and
    resample it to H x W (bilinear; outside the image is 0). A scale above 1 zooms out: the
    frame is larger than the image, which lands at a random place inside it.

    One affine matrix per image maps output coordinates (normalised to [-1, 1]) to input
    coordinates: ``p_in = R(angle) diag(w, h) p_out + (cx, cy)``, with w, h the crop's half
    sizes (1 = the whole image) and (cx, cy) its centre.
    """
    _check_images(x, "random_affine")
    s_lo, s_hi = _check_range(scale, "scale", "random_affine", 1e-3, 16.0)
    r_lo, r_hi = _check_range(ratio, "ratio", "random_affine", 1e-3)
    B = x.shape[0]
    area = _uniform(B, s_lo, s_hi, x, generator)
    log_r = _uniform(B, math.log(r_lo), math.log(r_hi), x, generator)
    w = torch.sqrt(area * torch.exp(log_r)).clamp(max=1.0)
    h = torch.sqrt(area / torch.exp(log_r)).clamp(max=1.0)
    # the centre keeps the (unrotated) crop inside the image
    cx = (1 - w) * _uniform(B, -1.0, 1.0, x, generator)
    cy = (1 - h) * _uniform(B, -1.0, 1.0, x, generator)
    angle = _uniform(B, -1.0, 1.0, x, generator) * math.radians(float(degrees))
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack(
        [torch.stack([w * cos, -h * sin, cx], dim=1), torch.stack([w * sin, h * cos, cy], dim=1)], dim=1
    )  # (B, 2, 3)
    xf = x.to(theta.dtype)
    grid = F.affine_grid(theta, list(xf.shape), align_corners=False)
    out = F.grid_sample(xf, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.to(x.dtype)


def random_resized_crop(
    x: Tensor,
    scale: Sequence[float] = (0.5, 1.0),
    ratio: Sequence[float] = (3 / 4, 4 / 3),
    generator: torch.Generator | None = None,
) -> Tensor:
    """Random crop of ``scale`` of the area (aspect ``ratio``) resized back to H x W."""
    return random_affine(x, scale=scale, ratio=ratio, degrees=0.0, generator=generator)


def rotate(x: Tensor, degrees: float = 15.0, generator: torch.Generator | None = None) -> Tensor:
    """Rotation of each image about its centre by an angle ~ U(-degrees, degrees)."""
    return random_affine(x, degrees=degrees, generator=generator)


def horizontal_flip(x: Tensor, p: float = 0.5, generator: torch.Generator | None = None) -> Tensor:
    """Mirror each image left-right with probability p."""
    _check_images(x, "horizontal_flip")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"horizontal_flip: p must be in [0, 1], got {p}")
    flip = (_uniform(x.shape[0], 0.0, 1.0, x, generator) < p).view(-1, 1, 1, 1)
    return torch.where(flip, x.flip(-1), x)


def rot90_batch(x: Tensor, k: Tensor) -> Tensor:
    """Rotate image i by k[i] * 90 degrees counter-clockwise (k: (B,) ints; square images).

    The four rotations of the batch are made with ``torch.rot90`` and each image picks its own:
    four tensor ops, no loop over images.
    """
    _check_images(x, "rot90_batch")
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"rot90_batch: images must be square, got H x W = {x.shape[-2]} x {x.shape[-1]}")
    k = torch.as_tensor(k, device=x.device).long()
    if k.shape != (x.shape[0],):
        raise ValueError(
            f"rot90_batch: k must have shape ({x.shape[0]},), one rotation per image, got {tuple(k.shape)}"
        )
    all4 = torch.stack([torch.rot90(x, r, dims=(-2, -1)) for r in range(4)])  # (4, B, C, H, W)
    return all4[k % 4, torch.arange(x.shape[0], device=x.device)]


# --------------------------------------------------------------------------- photometric
def color_jitter(
    x: Tensor, brightness: float = 0.4, contrast: float = 0.4, generator: torch.Generator | None = None
) -> Tensor:
    """Brightness: x * b with b ~ U(1 - brightness, 1 + brightness); contrast: pull or push each
    image about its mean by c ~ U(1 - contrast, 1 + contrast); clamped to [0, 1]."""
    _check_images(x, "color_jitter")
    for name, v in (("brightness", brightness), ("contrast", contrast)):
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"color_jitter: {name} must be in [0, 1], got {v}")
    B = x.shape[0]
    xf = x.to(_work_dtype(x))
    b = _uniform(B, 1 - brightness, 1 + brightness, x, generator).view(-1, 1, 1, 1)
    c = _uniform(B, 1 - contrast, 1 + contrast, x, generator).view(-1, 1, 1, 1)
    xf = xf * b
    mean = xf.mean(dim=(1, 2, 3), keepdim=True)
    return ((xf - mean) * c + mean).clamp(0.0, 1.0).to(x.dtype)


def gaussian_blur(
    x: Tensor, sigma: Sequence[float] = (0.1, 1.0), kernel_size: int = 3, generator: torch.Generator | None = None
) -> Tensor:
    """Blur each image with its own Gaussian, sigma ~ U(sigma) pixels: a separable convolution
    with one kernel per (image, channel), run as a single grouped convolution (zero padding)."""
    _check_images(x, "gaussian_blur")
    lo, hi = _check_range(sigma, "sigma", "gaussian_blur", 1e-3)
    if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"gaussian_blur: kernel_size must be an odd positive int, got {kernel_size!r}")
    B, C, H, W = x.shape
    s = _uniform(B, lo, hi, x, generator)
    r = torch.arange(kernel_size, device=x.device, dtype=s.dtype) - kernel_size // 2
    k = torch.exp(-0.5 * (r[None, :] / s[:, None]) ** 2)
    k = (k / k.sum(dim=1, keepdim=True)).repeat_interleave(C, dim=0)  # (B*C, K)
    pad = kernel_size // 2
    xf = x.to(s.dtype).reshape(1, B * C, H, W)
    xf = F.conv2d(F.pad(xf, (0, 0, pad, pad)), k[:, None, :, None], groups=B * C)  # along H
    xf = F.conv2d(F.pad(xf, (pad, pad, 0, 0)), k[:, None, None, :], groups=B * C)  # along W
    return xf.reshape(B, C, H, W).to(x.dtype)


def cutout(x: Tensor, size: int = 3, generator: torch.Generator | None = None) -> Tensor:
    """Zero one ``size`` x ``size`` square per image at a uniform random position (the square
    may hang over the border, as in DeVries & Taylor 2017)."""
    _check_images(x, "cutout")
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"cutout: size must be a positive int (pixels), got {size!r}")
    B, _, H, W = x.shape
    # top-left corner in [-(size-1), H-1] so every pixel is covered with the same probability
    top = torch.floor(_uniform(B, 0.0, 1.0, x, generator) * (H + size - 1)).long() - (size - 1)
    left = torch.floor(_uniform(B, 0.0, 1.0, x, generator) * (W + size - 1)).long() - (size - 1)
    rows = torch.arange(H, device=x.device)
    cols = torch.arange(W, device=x.device)
    in_r = (rows[None, :] >= top[:, None]) & (rows[None, :] < top[:, None] + size)  # (B, H)
    in_c = (cols[None, :] >= left[:, None]) & (cols[None, :] < left[:, None] + size)  # (B, W)
    hole = (in_r[:, :, None] & in_c[:, None, :])[:, None]  # (B, 1, H, W)
    return torch.where(hole, torch.zeros((), dtype=x.dtype, device=x.device), x)


# --------------------------------------------------------------------------- transforms
class RandomResizedCrop(Transform):
    """Random resized crop, optionally rotated; see ``random_affine``."""

    fn = staticmethod(random_affine)

    def __init__(
        self, scale: Sequence[float] = (0.5, 1.0), ratio: Sequence[float] = (3 / 4, 4 / 3), degrees: float = 0.0
    ) -> None:
        super().__init__(scale=tuple(scale), ratio=tuple(ratio), degrees=degrees)


class Rotation(Transform):
    """Rotation by ~ U(-degrees, degrees); see ``rotate``."""

    fn = staticmethod(rotate)

    def __init__(self, degrees: float = 15.0) -> None:
        super().__init__(degrees=degrees)


class HorizontalFlip(Transform):
    """Left-right mirror with probability p; see ``horizontal_flip``."""

    fn = staticmethod(horizontal_flip)

    def __init__(self, p: float = 0.5) -> None:
        super().__init__(p=p)


class ColorJitter(Transform):
    """Brightness / contrast jitter; see ``color_jitter``."""

    fn = staticmethod(color_jitter)

    def __init__(self, brightness: float = 0.4, contrast: float = 0.4) -> None:
        super().__init__(brightness=brightness, contrast=contrast)


class GaussianBlur(Transform):
    """Per-image Gaussian blur; see ``gaussian_blur``."""

    fn = staticmethod(gaussian_blur)

    def __init__(self, sigma: Sequence[float] = (0.1, 1.0), kernel_size: int = 3) -> None:
        super().__init__(sigma=tuple(sigma), kernel_size=kernel_size)


class Cutout(Transform):
    """One zeroed square per image; see ``cutout``."""

    fn = staticmethod(cutout)

    def __init__(self, size: int = 3) -> None:
        super().__init__(size=size)


def default_image_views(scale: Sequence[float] = (0.5, 1.0), degrees: float = 15.0, flip: bool = False) -> TwoViews:
    """The two-view pipeline for small grey images such as the 8 x 8 digits.

    Per view: a random resized crop of ``scale`` of the area rotated by up to ``degrees``
    (one resampling); brightness / contrast jitter (0.4) with probability 0.8; a Gaussian blur
    (sigma 0.1-1 px) with probability 0.5; a 3 x 3 cutout with probability 0.5. No flip by
    default: a mirrored digit is another shape (2 and 5, 3 and epsilon); ``flip=True`` adds
    one for natural images.
    """
    steps = [RandomResizedCrop(scale=scale, degrees=degrees)]
    if flip:
        steps.append(HorizontalFlip(0.5))
    steps += [
        RandomApply(ColorJitter(0.4, 0.4), p=0.8),
        RandomApply(GaussianBlur((0.1, 1.0), kernel_size=3), p=0.5),
        RandomApply(Cutout(3), p=0.5),
    ]
    return TwoViews(Compose(steps))
