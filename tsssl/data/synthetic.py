"""A seeded synthetic market of plausible daily OHLCV, for tests and scale runs.

Per ticker i and business day t (parameters drawn per ticker from the seed):

- **Drift regimes**: a two-state Markov chain (bull / bear; leaves bull with probability 1%
  a day, bear with 4%: mean spells of 100 and 25 days), drift +0.08% / -0.15% a day, and
  volatility x1.3 in the bear state.
- **Volatility clustering**: GARCH(1,1), sigma2[t] = omega + alpha eps[t-1]^2 + beta sigma2[t-1],
  alpha in [0.05, 0.10], alpha + beta in [0.95, 0.985], long-run volatility 1%..2.5% a day.
- **Shocks**: eps = sigma z, z = rho m + sqrt(1 - rho^2) e with a common market shock m
  (loading rho in [0.3, 0.6]) and Student-t(5) idiosyncratic e scaled to unit variance; z is
  clipped to +-8.
- **Bars**: close = P0 exp(cumsum r) (P0 in 10..500, so prices stay positive); the overnight gap
  log(open / previous close) ~ N(0, (0.3 sigma)^2) is part of r; high = max(open, close) and
  low = min(open, close) stretched by |N(0, (0.5 sigma)^2)|, so low <= min(open, close) and
  high >= max(open, close) always.
- **Volume**: V0 exp(0.3 min(|r| / sigma_long, 8) + 0.25 N(0, 1)), rounded: heavier on big
  moves (V0 in 1e5..1e7).

The day recursion (GARCH, regimes) loops over days with every ticker at once; the rest is
vectorised. 500 tickers x 5,000 days take about a second.

**Planted pattern** (``planted_pattern=q > 0``): a motif whose strict-rise label is known.
Each ticker's days are cut into 10-day slots (random phase); a slot receives the motif with
probability min(1, 10 q), so q is the expected number of motifs per ticker-day up to its
ceiling of 0.1 (every slot; q >= 0.1 saturates). The motif: three sharp down days
(log return -2.5 to -3.5 long-run sigmas each) on heavy volume (x3 to x5), immediately
followed by five days of strictly positive log returns (+0.3 to +1.0 sigma). The window whose
last day is the motif's third down day therefore has label 1 (five strictly rising closes),
and that label is predictable from the window alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SLOT = 10  # days per planting slot
MOTIF_DOWN = 3
MOTIF_UP = 5


def synthetic_market(
    n_tickers: int, n_days: int, seed: int = 0, start: str = "2000-01-03", planted_pattern: float = 0.0
) -> pd.DataFrame:
    """Long-format OHLCV (date, ticker, open, high, low, close, volume) of ``n_tickers``
    synthetic tickers ``SYN000``.. over ``n_days`` business days from ``start``; sorted by
    ticker then date; the same ``seed`` gives the same frame. See the module docstring."""
    for name, value, least in (("n_tickers", n_tickers, 1), ("n_days", n_days, 2)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
    q = float(planted_pattern)
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"planted_pattern must be a probability in [0, 1], got {planted_pattern!r}")
    rng = np.random.default_rng(seed)
    k, n = int(n_tickers), int(n_days)

    sigma_long = rng.uniform(0.01, 0.025, k)
    alpha = rng.uniform(0.05, 0.10, k)
    beta = rng.uniform(0.95, 0.985, k) - alpha
    omega = sigma_long**2 * (1.0 - alpha - beta)
    rho = rng.uniform(0.3, 0.6, k)
    p0 = np.exp(rng.uniform(np.log(10), np.log(500), k))
    v0 = 10 ** rng.uniform(5, 7, k)

    market = rng.standard_normal((n, 1))
    idio = rng.standard_t(5, (n, k)) / np.sqrt(5 / 3)
    z = np.clip(rho * market + np.sqrt(1 - rho**2) * idio, -8.0, 8.0)  # no 20-sigma days
    switch_u = rng.random((n, k))

    leave = np.array([0.01, 0.04])  # P(leave bull), P(leave bear)
    drift = np.array([0.0008, -0.0015])
    vol_mult = np.array([1.0, 1.3])
    state = (rng.random(k) < 0.2).astype(np.int64)  # stationary share of bear spells
    sigma2 = sigma_long**2
    r = np.empty((n, k))
    sigma = np.empty((n, k))
    eps_prev2 = sigma2.copy()
    for t in range(n):  # GARCH / regime recursion: sequential in days, vectorised over tickers
        sigma2 = omega + alpha * eps_prev2 + beta * sigma2
        garch_eps = np.sqrt(sigma2) * z[t]
        eps_prev2 = garch_eps * garch_eps  # the bear multiplier stays out of the recursion (stationary)
        sigma[t] = np.sqrt(sigma2) * vol_mult[state]
        r[t] = drift[state] + garch_eps * vol_mult[state]
        state = state ^ (switch_u[t] < leave[state])
    r[0] = 0.0  # the first day is the starting price

    boost = np.ones((n, k))
    if q > 0:
        r, boost = _plant(r, boost, sigma_long, q, rng)

    gap = 0.3 * sigma * rng.standard_normal((n, k))
    gap[0] = 0.0
    log_close = np.log(p0) + np.cumsum(r, axis=0)
    close = np.exp(log_close)
    prev_close = np.exp(log_close - r)
    open_ = prev_close * np.exp(gap)
    high = np.maximum(open_, close) * np.exp(0.5 * sigma * np.abs(rng.standard_normal((n, k))))
    low = np.minimum(open_, close) * np.exp(-0.5 * sigma * np.abs(rng.standard_normal((n, k))))
    move = np.minimum(np.abs(r) / sigma_long, 8.0)
    volume = np.round(v0 * boost * np.exp(0.3 * move + 0.25 * rng.standard_normal((n, k))))

    dates = pd.bdate_range(pd.Timestamp(start), periods=n).to_numpy().astype("datetime64[ns]")
    width = max(3, len(str(k - 1)))
    names = np.array([f"SYN{i:0{width}d}" for i in range(k)], dtype=object)
    frame = {"date": np.tile(dates, k), "ticker": np.repeat(names, n)}
    for name, arr in (("open", open_), ("high", high), ("low", low), ("close", close), ("volume", volume)):
        frame[name] = arr.T.reshape(-1)  # ticker-major rows
    return pd.DataFrame(frame)


def _plant(
    r: np.ndarray, boost: np.ndarray, sigma_long: np.ndarray, q: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Overwrite r / volume boost with the motif in randomly chosen 10-day slots (see module)."""
    n, k = r.shape
    motif = MOTIF_DOWN + MOTIF_UP
    phase = rng.integers(1, SLOT + 1, k)  # day 0 has no return
    starts = phase[None, :] + SLOT * np.arange(n // SLOT + 1)[:, None]  # (slots, k)
    chosen = (starts + motif <= n) & (rng.random(starts.shape) < min(1.0, q * SLOT))
    day0, col = starts[chosen], np.nonzero(chosen)[1]
    r = r.copy()
    scale = sigma_long[col]
    for d in range(MOTIF_DOWN):
        r[day0 + d, col] = -scale * rng.uniform(2.5, 3.5, col.size)
        boost[day0 + d, col] = rng.uniform(3.0, 5.0, col.size)
    for d in range(MOTIF_DOWN, motif):
        r[day0 + d, col] = scale * rng.uniform(0.3, 1.0, col.size)
    return r, boost
