"""Colour spaces and quantised colour targets for colorization, as pure numpy functions.

- ``srgb_to_lab`` / ``lab_to_srgb``: sRGB in [0, 1] <-> CIE L*a*b* (D65 white; L in [0, 100],
  a and b roughly in [-110, 110]), the IEC 61966-2-1 sRGB curve and matrix.
- ``ab_gamut_bins``: the centres of the ``grid``-spaced ab bins that some sRGB colour falls in
  (Zhang et al., "Colorful Image Colorization", ECCV 2016: Q = 313 bins of size 10 at all
  lightnesses of their gamut estimate; the 33^3 sRGB lattice used here gives 259).
- ``nearest_bin`` and ``rebalance_weights``: a pixel's bin, and the paper's class-rebalancing
  weights w ~ ((1 - lam) * p_smooth + lam / Q)^-1 with E_p_smooth[w] = 1, where p_smooth is the
  empirical ab distribution smoothed by a Gaussian of ``sigma`` ab units.
"""

from __future__ import annotations

import numpy as np

# sRGB (linear) -> XYZ, D65 (IEC 61966-2-1); the white point is this matrix's row sums, so that
# sRGB white maps to a = b = 0 exactly
_RGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)
_WHITE = _RGB_TO_XYZ.sum(axis=1)
_DELTA = 6.0 / 29.0


def _check_last_axis(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 1 or x.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (..., 3), got {x.shape}")
    return x


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """rgb: (..., 3) sRGB in [0, 1] -> (..., 3) float64 L*a*b* (L in [0, 100])."""
    rgb = _check_last_axis(rgb, "rgb")
    if rgb.size and (rgb.min() < 0.0 or rgb.max() > 1.0):
        raise ValueError(f"rgb must lie in [0, 1] (divide 8-bit values by 255), got [{rgb.min()}, {rgb.max()}]")
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    t = (linear @ _RGB_TO_XYZ.T) / _WHITE
    f = np.where(t > _DELTA**3, np.cbrt(t), t / (3 * _DELTA**2) + 4.0 / 29.0)
    L = 116.0 * f[..., 1] - 16.0
    return np.stack([L, 500.0 * (f[..., 0] - f[..., 1]), 200.0 * (f[..., 1] - f[..., 2])], axis=-1)


def lab_to_srgb(lab: np.ndarray) -> np.ndarray:
    """lab: (..., 3) L*a*b* -> (..., 3) float64 sRGB, clipped to [0, 1] (out-of-gamut colours)."""
    lab = _check_last_axis(lab, "lab")
    fy = (lab[..., 0] + 16.0) / 116.0
    f = np.stack([fy + lab[..., 1] / 500.0, fy, fy - lab[..., 2] / 200.0], axis=-1)
    t = np.where(f > _DELTA, f**3, 3 * _DELTA**2 * (f - 4.0 / 29.0))
    linear = np.clip((t * _WHITE) @ np.linalg.inv(_RGB_TO_XYZ).T, 0.0, 1.0)
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)


def ab_gamut_bins(grid: float = 10.0, levels: int = 33) -> np.ndarray:
    """(Q, 2) float32 centres (multiples of ``grid``) of the ab bins that the sRGB colours of a
    ``levels``^3 lattice of the RGB cube fall in, sorted by a then b."""
    if grid <= 0 or levels < 2:
        raise ValueError(f"grid must be > 0 and levels >= 2, got grid={grid}, levels={levels}")
    v = np.linspace(0.0, 1.0, levels)
    rgb = np.stack(np.meshgrid(v, v, v, indexing="ij"), axis=-1).reshape(-1, 3)
    ab = np.round(srgb_to_lab(rgb)[:, 1:] / grid) * grid
    return np.unique(ab, axis=0).astype(np.float32)


def nearest_bin(ab: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """ab: (..., 2) -> (...) int64 index of the nearest of ``centres`` (Q, 2)."""
    ab = np.asarray(ab, dtype=np.float64)
    if ab.shape[-1:] != (2,) or np.ndim(centres) != 2 or np.shape(centres)[1] != 2:
        raise ValueError(f"ab must be (..., 2) and centres (Q, 2), got {ab.shape} and {np.shape(centres)}")
    flat, c = ab.reshape(-1, 2), np.asarray(centres, dtype=np.float64)
    # in chunks of pixels: a whole photograph against every bin at once would take gigabytes
    idx = [((flat[i : i + 8192, None] - c[None]) ** 2).sum(-1).argmin(1) for i in range(0, len(flat), 8192)]
    return np.concatenate(idx or [np.zeros(0, dtype=np.int64)]).astype(np.int64).reshape(ab.shape[:-1])


def rebalance_weights(counts: np.ndarray, centres: np.ndarray, lam: float = 0.5, sigma: float = 5.0) -> np.ndarray:
    """(Q,) float32 class-rebalancing weights from the bins' pixel ``counts`` (Q,).

    p = counts / sum, smoothed across bins by a Gaussian kernel of ``sigma`` ab units (each bin
    spreads its mass to the others, then the result is renormalised); w = ((1 - lam) p_smooth
    + lam / Q)^-1, scaled so that sum_q p_smooth[q] w[q] = 1. ``sigma`` = 0: no smoothing.
    """
    counts = np.asarray(counts, dtype=np.float64)
    centres = np.asarray(centres, dtype=np.float64)
    if counts.ndim != 1 or centres.shape != (len(counts), 2):
        raise ValueError(f"counts must be (Q,) and centres (Q, 2), got {counts.shape} and {centres.shape}")
    if (counts < 0).any() or counts.sum() <= 0:
        raise ValueError("counts must be non-negative with a positive sum")
    if not 0.0 < lam <= 1.0 or sigma < 0:
        raise ValueError(f"lam must lie in (0, 1] and sigma be >= 0, got lam={lam}, sigma={sigma}")
    p = counts / counts.sum()
    if sigma > 0:
        d2 = ((centres[:, None] - centres[None]) ** 2).sum(-1)
        p = np.exp(-d2 / (2 * sigma**2)) @ p
        p = p / p.sum()
    w = 1.0 / ((1.0 - lam) * p + lam / len(p))
    return (w / (p @ w)).astype(np.float32)
