"""Time ``tsssl.data.build_windows`` on a synthetic market and measure its peak memory.

    python -m benchmarks.build_windows [--tickers 500 --days 5000 --features ohlcv]

Prints the seconds, windows per second, the size of the float32 window array X, and the peak
memory of the build relative to X, measured twice: the rise of the process's peak RSS (Linux:
the high-water mark is reset before the build through /proc/self/clear_refs; elsewhere the
peak since start, which may hide the build's peak) and, in a second traced build, the peak of
the allocations tracemalloc sees (numpy reports its buffers to it). Peak memory for the windows
should stay within 2x the float32 array.

Measured (2-core CPU dev box, x86_64, Python 3.11, numpy 2.4, shared with other jobs: load
average about 4, so the times vary run to run), 500 tickers x 5,000 days, window 20, horizon 5:

  features      windows     X float32   build time       windows/s       peak RSS rise
  ohlcv         2,487,500   0.93 GiB    1.0 - 2.4 s      1.0 M - 2.4 M   1.02 x X
  ohlcv+padic   2,487,500   2.04 GiB    1.8 - 4.5 s      0.55 M - 1.4 M  1.04 x X

(tracemalloc peak of the build: 1.37 x X for ohlcv, 1.21 x X for ohlcv+padic; synthetic_market
itself takes 0.6 - 1.6 s for that market.)
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import tracemalloc

from tsssl.data import build_windows, synthetic_market
from tsssl.memory import maxrss_mib, reset_peak_rss, status_kib


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.build_windows",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--tickers", type=int, default=500)
    ap.add_argument("--days", type=int, default=5000)
    ap.add_argument("--window", type=int, default=20)
    ap.add_argument("--horizon", type=int, default=5)
    ap.add_argument("--features", choices=("ohlcv", "ohlcv+padic"), default="ohlcv")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-trace", action="store_true", help="skip the tracemalloc build")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    prices = synthetic_market(args.tickers, args.days, seed=args.seed)
    t_market = time.perf_counter() - t0

    rss_before = status_kib("VmRSS")
    exact_peak = reset_peak_rss()
    maxrss_before = maxrss_mib()
    t0 = time.perf_counter()
    ws = build_windows(prices, window=args.window, horizon=args.horizon, features=args.features, lazy=False)
    seconds = time.perf_counter() - t0
    hwm = status_kib("VmHWM")
    x_gib = ws.X.nbytes / 2**30
    if exact_peak and hwm is not None and rss_before is not None:
        rss_rise = (hwm - rss_before) / 2**20
        rss_note = "peak RSS rise during the build (VmHWM reset before it)"
    else:
        rss_rise = (maxrss_mib() - maxrss_before) / 2**10
        rss_note = "rise of the process's peak RSS (approximate)"
    n = len(ws)
    shape = ws.X.shape
    del ws

    print(
        f"machine      {platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )
    print(
        f"market       {args.tickers} tickers x {args.days} days = {len(prices):,} rows "
        f"(synthetic_market: {t_market:.2f} s)"
    )
    print(f"windows      {n:,} x {shape[1]} days x {shape[2]} features ({args.features}), X float32 = {x_gib:.3f} GiB")
    print(f"build        {seconds:.2f} s, {n / seconds:,.0f} windows/s")
    print(f"memory       {rss_note}: {rss_rise:.3f} GiB = {rss_rise / x_gib:.2f} x X")
    if not args.no_trace:
        tracemalloc.start()
        ws = build_windows(prices, window=args.window, horizon=args.horizon, features=args.features, lazy=False)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"             tracemalloc peak of the build: {peak / 2**30:.3f} GiB = {peak / ws.X.nbytes:.2f} x X")
    return 0


if __name__ == "__main__":
    sys.exit(main())
