"""Temporal neighbourhoods of TNC (Tonekaboni, Eytan & Goldenberg, ICLR 2021): where a window's
neighbours and non-neighbours are cut, the neighbourhood's width set by a stationarity test.

    t = dickey_fuller_t(x, lo, hi)                 # (B, K, C) DF statistic of x[b, lo:hi] per channel
    eta = stationary_extent(x, starts, window, 3)  # (B,) 1..3: spans of eta windows around each
                                                   #   anchor that still look stationary
    d = neighbourhood_starts(starts, eta * window, T - window, n=4)   # (B, n) neighbour starts
    f = distant_starts(starts, eta * window, T - window, n=4)         # (B, n) non-neighbour starts

The paper's neighbourhood of a window centred at t is the windows centred at t* ~ N(t, (eta
delta)^2), delta the window length and eta the widest span around t in which the augmented
Dickey-Fuller test still rejects a unit root; non-neighbours are windows outside it. Here (all
vectorised, no loop over series):

* The test is the plain Dickey-Fuller regression dx_i = a + b x_{i-1} + e_i (the paper uses the
  augmented test, which adds lagged differences dx_{i-j} to the regression), its statistic b / se(b)
  compared with the asymptotic 1 % critical value of the constant-only case, -3.43 (MacKinnon).
  A span is stationary when at least half of the channels reject the unit root; a constant
  channel counts as stationary; a span of fewer than 4 steps cannot be tested and is not.
* eta is the number of leading spans k = 1, 2, ..., K (the steps within k windows of the anchor's
  centre, clipped to the series) that are stationary, at least 1.
* Non-neighbours start at least 2 sigma from the anchor (sigma = eta delta: 95 % of the
  neighbours fall closer), drawn uniformly; where the series has no start that far (short
  series), from the farthest starts it has.

Starts, not centres: a window [s, s + delta) is centred at s + delta / 2, so the offsets are the
same. Randomness comes from ``generator`` (None: torch's global RNG) on the generator's device.
"""

from __future__ import annotations

import torch
from torch import Tensor

from tsssl.augment.segments import sample_where

#: asymptotic 1 % critical value of the Dickey-Fuller statistic, constant and no trend (MacKinnon)
DF_CRITICAL_1PCT = -3.43

__all__ = [
    "DF_CRITICAL_1PCT",
    "dickey_fuller_t",
    "distant_starts",
    "neighbourhood_starts",
    "stationary_extent",
]


def dickey_fuller_t(x: Tensor, lo: Tensor, hi: Tensor) -> Tensor:
    """Dickey-Fuller statistics of the spans ``x[b, lo[b, k] : hi[b, k]]``, every channel.

    x: (B, T, C); lo, hi: (B, K) integer bounds (0 <= lo < hi <= T). Returns (B, K, C) float64:
    b / se(b) of the OLS fit dx_i = a + b x_{i-1} + e_i over the span's n = hi - lo - 1 steps;
    -inf for a constant channel (or a perfect fit that decays), +inf for a perfect fit that does
    not, NaN for a span of fewer than 4 steps (no residual degree of freedom to speak of).
    """
    if not isinstance(x, Tensor) or x.dim() != 3:
        raise ValueError(f"dickey_fuller_t: x must be a Tensor (B, T, C), got {getattr(x, 'shape', x)!r}")
    x = x.detach().double()
    prev, step = x[:, :-1], x[:, 1:] - x[:, :-1]  # (B, T - 1, C): x_{i-1}, dx_i for i = 1..T-1
    i = torch.arange(1, x.shape[1], device=x.device)
    m = ((i >= lo[..., None] + 1) & (i < hi[..., None])).double()  # (B, K, T - 1): i in the span
    n = m.sum(-1)[..., None]  # (B, K, 1)
    safe_n = n.clamp(min=1.0)
    sx, sy = torch.einsum("bki,bic->bkc", m, prev), torch.einsum("bki,bic->bkc", m, step)
    sxx = torch.einsum("bki,bic->bkc", m, prev * prev) - sx * sx / safe_n
    sxy = torch.einsum("bki,bic->bkc", m, prev * step) - sx * sy / safe_n
    syy = torch.einsum("bki,bic->bkc", m, step * step) - sy * sy / safe_n
    spread = torch.einsum("bki,bic->bkc", m, prev.abs()).clamp(min=1e-300) / safe_n
    constant = sxx <= 1e-12 * n * spread * spread  # no variation of x in the span
    sxx = torch.where(constant, torch.ones_like(sxx), sxx)  # a constant's t is set below
    beta = sxy / sxx
    se = torch.sqrt((syy - beta * sxy).clamp(min=0.0) / (n - 2).clamp(min=1.0) / sxx)
    inf = torch.full_like(beta, float("inf"))
    exact = torch.where(beta < 0, -inf, inf)  # no residual: the sign of b decides
    t = torch.where(se > 0, beta / torch.where(se > 0, se, torch.ones_like(se)), exact)
    t = torch.where(constant, -inf, t)
    return torch.where(n < 3, torch.full_like(t, float("nan")), t)


def stationary_extent(
    x: Tensor, starts: Tensor, window: int, max_extent: int, critical: float = DF_CRITICAL_1PCT
) -> Tensor:
    """(B,) long eta in [1, max_extent]: how many spans around each anchor look stationary.

    x: (B, T, C); starts: (B,) anchor window starts; span k covers the steps within k windows of
    the anchor's centre, [c - k window, c + k window) clipped to [0, T). eta = the number of
    leading spans whose Dickey-Fuller test rejects a unit root (module docstring), at least 1.
    """
    B, T, _ = x.shape
    k = torch.arange(1, max_extent + 1, device=x.device)
    centre = starts.to(x.device).long()[:, None] + window // 2
    lo, hi = (centre - k * window).clamp(min=0), (centre + k * window).clamp(max=T)
    t = dickey_fuller_t(x, lo, hi)  # (B, K, C)
    stationary = (t < critical).double().mean(-1) >= 0.5  # NaN compares False: untestable spans
    return stationary.long().cumprod(dim=1).sum(dim=1).clamp(min=1)


def neighbourhood_starts(
    starts: Tensor, sigma: Tensor, last: int, n: int, generator: torch.Generator | None = None
) -> Tensor:
    """(B, n) long: starts s + round(sigma_b N(0, 1)), clipped to [0, last]; starts, sigma (B,)."""
    where = generator.device if generator is not None else starts.device
    noise = torch.randn((len(starts), n), generator=generator, device=where).to(starts.device)
    offset = torch.round(noise * sigma.to(starts.device).double()[:, None]).long()
    return (starts.long()[:, None] + offset).clamp(0, last)


def distant_starts(
    starts: Tensor, sigma: Tensor, last: int, n: int, generator: torch.Generator | None = None
) -> Tensor:
    """(B, n) long: starts in [0, last] at least 2 sigma_b from starts[b], uniform over them; the
    farthest starts of the series where none is that far (module docstring)."""
    s = torch.arange(last + 1, device=starts.device)
    gap = (s[None, :] - starts.long()[:, None]).abs()  # (B, last + 1)
    far = torch.minimum(torch.ceil(2 * sigma.to(starts.device).double()).long(), gap.max(dim=1).values)
    allowed = (gap >= far[:, None]).repeat_interleave(n, dim=0)  # (B n, last + 1)
    return sample_where(allowed, generator).view(len(starts), n)
