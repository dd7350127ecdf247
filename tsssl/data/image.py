"""Offline image data: scikit-learn's handwritten digits (1,797 images of 8 x 8 pixels).

``load_digits_images()`` gives the images as float32 (N, 1, 8, 8) in [0, 1] (the raw pixels
are counts 0..16 of a 4 x 4 block of a 32 x 32 bitmap; divided by 16) with labels 0..9;
``digits_split(test_frac, seed)`` a seeded split stratified by label. The data ship inside
scikit-learn (``sklearn.datasets.load_digits``), no download.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
#: caption templates for CLIP on the digits ("{}" is the spelled-out digit)
DIGIT_TEMPLATES = ("the digit {}", "a handwritten {}", "a picture of the number {}")


@dataclass
class ImageSplit:
    """Train and test images (float32 (N, C, H, W) in [0, 1]) with int64 labels."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    def describe(self) -> str:
        return (
            f"{len(self.X_train)} training and {len(self.X_test)} test images of "
            f"{'x'.join(map(str, self.X_train.shape[1:]))}, {len(np.unique(self.y_train))} classes, "
            "stratified split"
        )


def load_digits_images(size: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """(X, y): X float32 (1797, 1, size, size) in [0, 1], y int64 (1797,) digits 0..9.

    ``size`` > 8 upsamples the 8 x 8 images (bilinear, as torch's ``interpolate``): no new
    detail, but room for tasks that cut images into tiles or need a few pixels of context."""
    from sklearn.datasets import load_digits

    if not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an int >= 8 (the digits are 8 x 8 pixels), got {size!r}")
    d = load_digits()
    X = (np.asarray(d.images, dtype=np.float32) / 16.0)[:, None]
    if size != 8:
        import torch
        import torch.nn.functional as F

        X = F.interpolate(torch.from_numpy(X), size=(size, size), mode="bilinear", align_corners=False).numpy()
    return np.ascontiguousarray(X, dtype=np.float32), np.asarray(d.target, dtype=np.int64)


def stratified_split_indices(y: np.ndarray, test_frac: float = 0.25, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train_idx, test_idx), sorted: each class keeps round(test_frac * n_class) samples (at
    least one, at most n_class - 1) for the test set, drawn with ``seed``."""
    y = np.asarray(y)
    if not 0.0 < test_frac < 1.0:
        raise ValueError(f"test_frac must lie strictly between 0 and 1, got {test_frac}")
    if y.ndim != 1 or len(y) < 2:
        raise ValueError(f"y must be a 1-D array of at least 2 labels, got shape {y.shape}")
    rng = np.random.default_rng(seed)
    test = []
    for c in np.unique(y):  # a loop over classes (10), not samples
        idx = np.flatnonzero(y == c)
        if len(idx) < 2:
            raise ValueError(f"class {c!r} has a single sample: it cannot be in both train and test")
        n_test = int(min(max(round(test_frac * len(idx)), 1), len(idx) - 1))
        test.append(rng.choice(idx, size=n_test, replace=False))
    test_idx = np.sort(np.concatenate(test))
    train_idx = np.setdiff1d(np.arange(len(y)), test_idx)
    return train_idx, test_idx


def digits_split(test_frac: float = 0.25, seed: int = 0, size: int = 8) -> ImageSplit:
    """The digits (``size`` x ``size``, see ``load_digits_images``) split into train / test,
    stratified by label, seeded."""
    X, y = load_digits_images(size)
    tr, te = stratified_split_indices(y, test_frac, seed)
    return ImageSplit(X[tr], y[tr], X[te], y[te])
