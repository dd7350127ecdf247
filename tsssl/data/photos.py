"""Offline colour photographs: scikit-learn's two sample photos (china.jpg, flower.jpg; 427 x 640
sRGB each, ``sklearn.datasets.load_sample_images``), as L*a*b* patches.

``load_photos_lab(scale)``: both photos block-averaged by ``scale`` (in sRGB), in L*a*b*.
``photo_patches(...)``: the patches colorization trains on and the held-out "which photograph"
probe, split by region: the left ``train_frac`` of each photo's columns gives the training
patches (self-supervised and probe alike), the rest the test patches; no test patch shares a
pixel with a training patch.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from tsssl.data.colour import srgb_to_lab
from tsssl.data.image import ImageSplit

PHOTO_NAMES = ("china", "flower")


def load_photos_lab(scale: int = 2) -> np.ndarray:
    """(2, 427 // scale, 640 // scale, 3) float32 L*a*b* of china.jpg and flower.jpg, each
    ``scale`` x ``scale`` block of sRGB pixels averaged first."""
    if not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be an int >= 1 (the block-averaging factor), got {scale!r}")
    return _photos_lab(scale).copy()


@lru_cache(maxsize=2)
def _photos_lab(scale: int) -> np.ndarray:
    from sklearn.datasets import load_sample_images

    images = np.stack(load_sample_images().images).astype(np.float64) / 255.0  # (2, 427, 640, 3)
    n, H, W, _ = images.shape
    h, w = H // scale, W // scale
    blocks = images[:, : h * scale, : w * scale].reshape(n, h, scale, w, scale, 3).mean(axis=(2, 4))
    return srgb_to_lab(blocks).astype(np.float32)


def cut_patches(image: np.ndarray, size: int, stride: int) -> np.ndarray:
    """image: (H, W, C) -> (N, C, size, size) float32, every ``stride`` pixels, row-major."""
    if size < 1 or stride < 1 or size > min(image.shape[:2]):
        raise ValueError(f"size must be in 1..{min(image.shape[:2])} and stride >= 1, got {size}, {stride}")
    view = np.lib.stride_tricks.sliding_window_view(image, (size, size), axis=(0, 1))  # (h, w, C, s, s)
    view = view[::stride, ::stride]
    return np.ascontiguousarray(view.reshape(-1, *view.shape[2:]), dtype=np.float32)


@dataclass
class PhotoPatches:
    """``train``: (N, 3, S, S) L*a*b* patches of the training regions (self-supervised data);
    ``probe``: the same patches as L*a*b* / 100 (N, 3, S, S; L / 100 in [0, 1]) labelled by
    photo (0 china, 1 flower), from the training regions for its train part and the held-out
    regions for its test part; ``grey_probe``: its lightness channel alone (N, 1, S, S)."""

    train: np.ndarray
    probe: ImageSplit
    describe: str

    @property
    def grey_probe(self) -> ImageSplit:
        p = self.probe
        return ImageSplit(p.X_train[:, :1], p.y_train, p.X_test[:, :1], p.y_test)


def photo_patches(
    size: int = 16,
    scale: int = 2,
    train_frac: float = 0.75,
    stride: int = 4,
    probe_size: int = 8,
    probe_stride: int = 8,
) -> PhotoPatches:
    """The photos' training patches of ``size`` pixels (after ``scale`` block-averaging) and
    probe patches of ``probe_size``, split by column: columns [0, cut) train, [cut, W) test,
    cut = round(train_frac * W)."""
    if not 0.0 < train_frac < 1.0:
        raise ValueError(f"train_frac must lie strictly between 0 and 1, got {train_frac}")
    photos = load_photos_lab(scale)
    cut = int(round(train_frac * photos.shape[2]))
    if min(cut, photos.shape[2] - cut) < max(size, probe_size):
        raise ValueError(f"train_frac={train_frac} leaves a region narrower than a {max(size, probe_size)}-pixel patch")
    train, probe_tr, probe_te, y_tr, y_te = [], [], [], [], []
    for i, photo in enumerate(photos):  # two photographs
        train.append(cut_patches(photo[:, :cut], size, stride))
        probe_tr.append(cut_patches(photo[:, :cut], probe_size, probe_stride) / 100.0)
        probe_te.append(cut_patches(photo[:, cut:], probe_size, probe_stride) / 100.0)
        y_tr.append(np.full(len(probe_tr[-1]), i))
        y_te.append(np.full(len(probe_te[-1]), i))
    probe = ImageSplit(np.concatenate(probe_tr), np.concatenate(y_tr), np.concatenate(probe_te), np.concatenate(y_te))
    describe = (
        f"scikit-learn's photos {' and '.join(PHOTO_NAMES)} at 1/{scale} scale ({photos.shape[1]} x "
        f"{photos.shape[2]}), {size} x {size} patches: {sum(map(len, train))} training patches (stride {stride}) "
        f"from the left {cut} columns; probe 'which photograph' on {probe_size} x {probe_size} patches (stride {probe_stride}): "
        f"{len(probe.y_train)} from the training columns, {len(probe.y_test)} held out from the other "
        f"{photos.shape[2] - cut} columns (no shared pixel)"
    )
    return PhotoPatches(np.concatenate(train), probe, describe)
