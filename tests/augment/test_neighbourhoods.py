"""TNC's neighbourhoods: the Dickey-Fuller statistic against an OLS written out span by span, the
stationarity extent on white noise and random walks, and the neighbour / non-neighbour draws
inside their bounds."""

import numpy as np
import pytest
import torch

from tsssl.augment.neighbourhoods import (
    DF_CRITICAL_1PCT,
    dickey_fuller_t,
    distant_starts,
    neighbourhood_starts,
    stationary_extent,
)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def naive_df_t(y: np.ndarray) -> float:
    """b / se(b) of dy_i = a + b y_{i-1} + e_i by least squares, written out."""
    prev, dy = y[:-1], np.diff(y)
    A = np.column_stack([np.ones_like(prev), prev])
    coef, *_ = np.linalg.lstsq(A, dy, rcond=None)
    resid = dy - A @ coef
    sigma2 = resid @ resid / (len(dy) - 2)
    cov = sigma2 * np.linalg.inv(A.T @ A)
    return coef[1] / np.sqrt(cov[1, 1])


def test_dickey_fuller_statistic_matches_least_squares_span_by_span():
    rng = np.random.default_rng(0)
    B, T, C, K = 4, 60, 2, 3
    x = np.cumsum(rng.normal(size=(B, T, C)), axis=1) * 0.3 + rng.normal(size=(B, T, C))
    lo = torch.as_tensor(rng.integers(0, 30, size=(B, K)))
    hi = lo + torch.as_tensor(rng.integers(5, 30, size=(B, K)))
    got = dickey_fuller_t(torch.as_tensor(x, dtype=torch.float32), lo, hi)
    assert got.shape == (B, K, C) and got.dtype == torch.float64
    for b in range(B):
        for k in range(K):
            for c in range(C):
                span = x[b, int(lo[b, k]) : int(hi[b, k]), c].astype(np.float32).astype(np.float64)
                assert got[b, k, c].item() == pytest.approx(naive_df_t(span), rel=1e-6)


def test_dickey_fuller_edge_cases_constant_short_and_perfect_fits():
    T = 12
    x = torch.zeros(1, T, 3, dtype=torch.float64)
    x[0, :, 0] = 5.0  # constant: stationary
    x[0, :, 1] = 0.5 ** torch.arange(T, dtype=torch.float64)  # exact decay dx = -0.5 x: b < 0, no residual
    x[0, :, 2] = torch.arange(T, dtype=torch.float64)  # a line: dx = 1, b = 0 fits exactly
    t = dickey_fuller_t(x, torch.tensor([[0, 0]]), torch.tensor([[T, 3]]))
    assert t[0, 0, 0] == -np.inf and t[0, 0, 1] == -np.inf and t[0, 0, 2] == np.inf
    assert torch.isnan(t[0, 1]).all()  # 3 steps: 2 differences, untestable


def test_white_noise_is_stationary_to_the_widest_span_and_a_random_walk_is_not():
    rng = np.random.default_rng(1)
    B, T, window = 64, 400, 20
    noise = torch.as_tensor(rng.normal(size=(B, T, 1)), dtype=torch.float32)
    walk = torch.as_tensor(np.cumsum(rng.normal(size=(B, T, 1)), axis=1), dtype=torch.float32)
    starts = torch.as_tensor(rng.integers(0, T - window + 1, size=B))
    eta_noise = stationary_extent(noise, starts, window, 4)
    eta_walk = stationary_extent(walk, starts, window, 4)
    assert eta_noise.dtype == torch.long and ((eta_noise >= 1) & (eta_noise <= 4)).all()
    assert (eta_noise == 4).float().mean() > 0.9, eta_noise
    assert (eta_walk == 1).float().mean() > 0.8, eta_walk


def test_extent_stops_at_the_first_span_that_is_not_stationary():
    # stationary within one window of the centre, a random walk beyond it
    rng = np.random.default_rng(2)
    T, window = 200, 20
    x = np.cumsum(rng.normal(size=T)) * 3.0
    x[90:130] = rng.normal(size=40)
    x = torch.as_tensor(x, dtype=torch.float32)[None, :, None]
    start = torch.tensor([100])  # centre 110: span k = [110 - 20 k, 110 + 20 k)
    t = dickey_fuller_t(x, torch.tensor([[90, 70, 50]]), torch.tensor([[130, 150, 170]]))[0, :, 0]
    assert (t < DF_CRITICAL_1PCT).tolist() == [True, False, False]
    assert stationary_extent(x, start, window, 3).item() == 1
    # the noise stretch widened to the whole series: every span passes
    x[0, :, 0] = torch.as_tensor(rng.normal(size=T), dtype=torch.float32)
    assert stationary_extent(x, start, window, 3).item() == 3


def test_channels_vote_half_or_more_must_reject_the_unit_root():
    rng = np.random.default_rng(3)
    T, window = 300, 30
    noise, walk = rng.normal(size=T), np.cumsum(rng.normal(size=T))
    starts = torch.tensor([135])
    half = torch.as_tensor(np.stack([noise, walk], 1), dtype=torch.float32)[None]
    minority = torch.as_tensor(np.stack([noise, walk, walk], 1), dtype=torch.float32)[None]
    assert stationary_extent(half, starts, window, 3).item() == 3
    assert stationary_extent(minority, starts, window, 3).item() == 1


@pytest.mark.parametrize(("last", "sigma"), [(50, 4.0), (10, 30.0), (1, 2.0)])
def test_neighbours_are_gaussian_offsets_clipped_into_the_series(last, sigma):
    B, n = 200, 8
    starts = torch.randint(0, last + 1, (B,), generator=gen(0))
    got = neighbourhood_starts(starts, torch.full((B,), sigma), last, n, generator=gen(1))
    assert got.shape == (B, n) and got.dtype == torch.long
    assert ((got >= 0) & (got <= last)).all()
    noise = torch.randn((B, n), generator=gen(1))  # the same draws, written out
    expected = (starts[:, None] + torch.round(noise.double() * sigma).long()).clamp(0, last)
    assert torch.equal(got, expected)


def test_non_neighbours_are_two_sigma_away_or_the_farthest_the_series_has():
    B, n, last = 300, 6, 40
    starts = torch.randint(0, last + 1, (B,), generator=gen(2))
    sigma = torch.full((B,), 6.0)
    got = distant_starts(starts, sigma, last, n, generator=gen(3))
    assert got.shape == (B, n) and ((got >= 0) & (got <= last)).all()
    gap = (got - starts[:, None]).abs()
    farthest = torch.maximum(starts, last - starts)[:, None]
    assert (gap >= torch.minimum(torch.tensor(12), farthest)).all()
    # uniform over what is allowed: a start in the middle reaches both sides
    mid = distant_starts(torch.full((2000,), 20), torch.full((2000,), 6.0), last, 1, generator=gen(4))
    assert set(mid.view(-1).tolist()) == set(range(0, 9)) | set(range(32, 41))
    # too short a series for 2 sigma: only the farthest starts
    short = distant_starts(torch.tensor([1, 3]), torch.tensor([10.0, 10.0]), 4, 50, generator=gen(5))
    assert set(short[0].tolist()) == {4} and set(short[1].tolist()) == {0}
