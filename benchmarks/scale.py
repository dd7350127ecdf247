"""Scale with the universe: windows as views of a large synthetic panel, from prices to training.

    python -m benchmarks.scale [--tickers 3000 --days 7500 --steps 1000 --batch-size 512]

Phases, each timed with the process's peak RSS during it (VmHWM reset before the phase on
Linux): the synthetic market (``tsssl.data.synthetic_market``), ``build_windows(lazy=True)``
(the windows are views into the per-day array), the chronological split (purged), rebalance
v1 (undersample) and v2 (oversample) by index, v3 (SMOTE: refused on views above
``SMOTE_MAX_VIEWS``; the message is printed), the per-channel statistics of the training
windows (gathered block by block), and ``--steps`` optimiser steps of the default method
(SiamCL, LSTM encoder, standardised inputs, two default views) on the v1-rebalanced windows,
each batch gathered when it is cut. windows/s = windows the phase handled / seconds (training:
steps x batch / seconds). Results: benchmarks/RESULTS.md, "Scale with the universe".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from tsssl.memory import peak_rss_mib, reset_peak_rss, status_kib


def _phase(rows: list[dict[str, Any]], name: str, fn: Callable[[], Any], windows: Callable[[Any], int]) -> Any:
    """Run ``fn``, append its row (seconds, windows, windows/s, peak RSS) and print it."""
    reset_peak_rss()
    t0 = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t0
    n = int(windows(out))
    rss = status_kib("VmRSS")
    row = {
        "phase": name,
        "seconds": round(seconds, 3),
        "windows": n,
        "windows_per_s": round(n / seconds) if seconds > 0 else None,
        "peak_rss_mib": round(peak_rss_mib()),
        "rss_after_mib": None if rss is None else round(rss / 1024),
    }
    rows.append(row)
    print(
        f"{name:<16} {seconds:9.2f} s  {n:>12,} windows  {row['windows_per_s'] or 0:>12,} windows/s  "
        f"peak RSS {row['peak_rss_mib']:>7,} MiB",
        flush=True,
    )
    return out


def _smote_note(train: Any) -> str:
    """What rebalance v3 does with these windows (refused above SMOTE_MAX_VIEWS)."""
    from tsssl.data import rebalance
    from tsssl.data.rebalance import SMOTE_MAX_VIEWS

    if len(train) <= SMOTE_MAX_VIEWS:
        return f"v3 would materialise the {len(train):,} windows and run SMOTE (<= SMOTE_MAX_VIEWS)"
    try:
        rebalance(train, "v3", seed=0)
    except ValueError as err:
        return f"v3 refused: {err}"
    raise RuntimeError("rebalance v3 accepted views above SMOTE_MAX_VIEWS")


def _train(args: argparse.Namespace, balanced: Any, stats: Any) -> Any:
    from tsssl.pipeline.cell import make_window_method
    from tsssl.train import Trainer

    method = make_window_method(args.method, balanced.X.shape[2], encoder=args.encoder, standardize=stats)
    trainer = Trainer(
        device=args.device,
        batch_size=args.batch_size,
        max_steps=args.steps,
        seed=args.seed,
        progress=False,
        log_every=max(1, args.steps // 10),
    )
    return trainer.fit(method, balanced)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """All phases; returns the JSON-ready record (sizes, rows, the v3 note, the last loss)."""
    from tsssl.data import build_windows, chronological_split, rebalance, synthetic_market
    from tsssl.methods import channel_stats

    rows: list[dict[str, Any]] = []
    prices = _phase(rows, "market (rows)", lambda: synthetic_market(args.tickers, args.days, seed=args.seed), len)
    ws = _phase(rows, "build (views)", partial(build_windows, prices, features=args.features, lazy=True), len)
    n_rows = len(prices)
    del prices
    split = _phase(rows, "split", lambda: chronological_split(ws, test_frac=0.2), lambda s: len(s.train) + len(s.test))
    v2 = _phase(rows, "rebalance v2", lambda: rebalance(split.train, "v2", seed=args.seed), len)
    n_v2 = len(v2)
    del v2
    v1 = _phase(rows, "rebalance v1", lambda: rebalance(split.train, "v1", seed=args.seed), len)
    note = _smote_note(split.train)
    print(note, flush=True)
    stats = _phase(rows, "channel stats", lambda: channel_stats(v1.X), lambda _: len(v1))
    result = _phase(rows, "train", lambda: _train(args, v1, stats), lambda r: r.steps * args.batch_size)
    dense_gib = len(ws) * ws.X.shape[1] * ws.X.shape[2] * 4 / 2**30
    return {
        "tickers": args.tickers,
        "days": args.days,
        "price_rows": n_rows,
        "windows": len(ws),
        "views_nbytes_gib": round(ws.X.nbytes / 2**30, 3),
        "dense_x_gib": round(dense_gib, 3),
        "train_windows": len(split.train),
        "v1_windows": len(v1),
        "v2_windows": n_v2,
        "v3": note,
        "final_loss": result.history[-1]["loss"] if result.history else None,
        "phases": rows,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.scale", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--tickers", type=int, default=3000)
    ap.add_argument("--days", type=int, default=7500)
    ap.add_argument("--features", choices=("ohlcv", "ohlcv+padic"), default="ohlcv")
    ap.add_argument("--steps", type=int, default=1000, help="optimiser steps (passed as max_steps)")
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--method", default="siamcl")
    ap.add_argument("--encoder", default="lstm")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="write the record here")
    args = ap.parse_args(argv)
    for name in ("tickers", "days", "steps", "batch_size"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    print(f"machine      {platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}")
    load_start = os.getloadavg()[0]
    record = run(args)
    record["load_average_1min"] = [round(load_start, 2), round(os.getloadavg()[0], 2)]  # at start, at end
    # the phases reset the high-water mark, so the process's peak is the largest phase peak
    record["process_peak_rss_mib"] = max(row["peak_rss_mib"] for row in record["phases"])
    print(
        f"{record['windows']:,} windows of {record['price_rows']:,} price rows: views hold "
        f"{record['views_nbytes_gib']:.2f} GiB, the dense X would be {record['dense_x_gib']:.2f} GiB; "
        f"process peak RSS {record['process_peak_rss_mib']:,} MiB, load average {record['load_average_1min']}"
    )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
