"""Measure training throughput (windows/s) and peak memory of the methods through the Trainer.

Every combination of --methods x --encoders x --batch-sizes x --precision x --device is built as
`tsssl train` builds it (standardised inputs, the default two views) and trained for --warmup
steps, then timed over --steps steps with the device synchronised at both ends; the windows are
kept on the device. Default: the default `tsssl train` configuration (SiamCL, 1-layer LSTM of 32
units, batch 512, fp32) on the bundled sample's 20-day windows (horizon 5), on the CPU and on
CUDA when present. An encoder may carry sizes: lstm:hidden=128,layers=2 (the default sizes of
`tsssl train` otherwise). A case that fails at run time (e.g. no bf16 LSTM kernel on this CPU)
is reported as failed and the others still run; the exit status is then 1.

examples:
  tsssl bench
  tsssl bench --methods siamcl cpc simclr --encoders lstm cnn transformer --batch-sizes 256 512
  tsssl bench --methods simclr --encoders lstm:hidden=128,layers=2 cnn:channels=64 --steps 10
  tsssl bench --device cuda --batch-sizes 4096 --precision bf16 --json bench.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tsssl import registry
from tsssl.registry import COMPILE_MODES, PRECISIONS

HELP = "measure training throughput (windows/s) and peak memory per method x encoder x batch x precision"


def _int_at_least(least: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}, got {value}")
        return value

    parse.__name__ = f"integer >= {least}"
    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("what to measure (every combination)")
    g.add_argument(
        "--methods",
        nargs="+",
        choices=registry.names("timeseries"),
        default=["siamcl"],
        metavar="METHOD",
        help=f"{' '.join(registry.names('timeseries'))} (default siamcl)",
    )
    g.add_argument(
        "--encoders",
        nargs="+",
        default=["lstm"],
        metavar="ENCODER",
        help="lstm cnn transformer, each optionally with sizes: lstm:hidden=128,layers=2 "
        "(default lstm, with the default sizes of tsssl train)",
    )
    g.add_argument(
        "--batch-sizes",
        nargs="+",
        type=_int_at_least(2),
        default=[512],
        metavar="B",
        help="windows per step (default 512)",
    )
    g.add_argument(
        "--precision",
        nargs="+",
        choices=PRECISIONS,
        default=["fp32"],
        help="fp32 bf16 fp16 (fp16: CUDA only; default fp32)",
    )
    g.add_argument(
        "--device",
        nargs="+",
        default=None,
        metavar="DEVICE",
        help="cpu, cuda, cuda:N (default: the CPU, and CUDA when present)",
    )

    t = parser.add_argument_group("timing")
    t.add_argument("--steps", type=_int_at_least(1), default=20, help="timed steps per case (default 20)")
    t.add_argument("--warmup", type=_int_at_least(0), default=3, help="untimed steps first (default 3)")
    t.add_argument(
        "--compile",
        nargs="?",
        const="default",
        default=False,
        choices=COMPILE_MODES,
        metavar="MODE",
        help="train through torch.compile: default, reduce-overhead (CUDA graphs), max-autotune, or eager",
    )
    t.add_argument("--seed", type=int, default=0, help="default 0")

    d = parser.add_argument_group("windows (20 days, horizon 5, ohlcv: issue 7's 20x5 windows)")
    d.add_argument(
        "--data",
        choices=("sample", "synthetic"),
        default="sample",
        help="the bundled sample (10,012 windows; default) or synthetic_market",
    )
    d.add_argument("--tickers", type=_int_at_least(1), default=50, help="synthetic tickers (default 50)")
    d.add_argument("--days", type=_int_at_least(26), default=2000, help="synthetic days (default 2000)")
    d.add_argument(
        "--stock-window",
        dest="window",
        type=_int_at_least(2),
        default=20,
        metavar="DAYS",
        help="window length in days (default 20)",
    )
    d.add_argument("--horizon", type=_int_at_least(1), default=5, help="label horizon in days (default 5)")

    o = parser.add_argument_group("output")
    o.add_argument("--json", metavar="PATH", default=None, help="also write the machine and the rows as JSON")


def run(args: argparse.Namespace) -> int:
    from tsssl import bench
    from tsssl.atomic import write_json

    # checked before any data is read or step run: a bad flag fails at once
    cases = bench.make_cases(args.methods, args.encoders, args.batch_sizes, args.precision, args.device)
    if args.json is not None and Path(args.json).is_dir():
        raise ValueError(f"--json {args.json} is a directory; give a file path")
    windows = bench.bench_windows(
        args.data, window=args.window, horizon=args.horizon, tickers=args.tickers, days=args.days, seed=args.seed
    )
    largest = max(c.batch_size for c in cases)
    if largest > len(windows.X):
        raise ValueError(
            f"--batch-sizes: {largest} is larger than the {len(windows.X):,} windows; use smaller "
            "batches or more windows (--data synthetic --tickers N --days D)"
        )
    devices = list(dict.fromkeys(c.device for c in cases))
    machine = bench.machine_info(devices)
    cuda = "".join(f", {d}: {name}" for d, name in machine.get("cuda_devices", {}).items())
    print(f"tsssl bench: {windows.description}")
    print(
        f"  {args.warmup} warm-up + {args.steps} timed steps per case, data on the device"
        f"{f', torch.compile ({args.compile})' if args.compile else ''}"
    )
    print(
        f"  machine: {machine['cpu']} ({machine['cpu_count']} CPUs, {machine['torch_threads']} torch threads)"
        f"{cuda}, torch {machine['torch']}, {machine['date']}"
    )
    width = bench.encoder_width(cases)
    print(bench.table_header(width), flush=True)
    rows = bench.run_cases(
        cases,
        windows,
        steps=args.steps,
        warmup=args.warmup,
        seed=args.seed,
        compile=args.compile,
        on_row=lambda row: print(bench.format_row(row, width), flush=True),
    )
    if args.json is not None:
        settings = {
            k: getattr(args, k)
            for k in (
                "methods",
                "encoders",
                "batch_sizes",
                "precision",
                "steps",
                "warmup",
                "compile",
                "seed",
                "data",
                "window",
                "horizon",
            )
        }
        settings["device"] = devices
        settings["windows"] = windows.description
        write_json(args.json, {"machine": machine, "settings": settings, "results": rows})
        print(f"  rows written to {args.json}")
    failed = [r for r in rows if r["error"]]
    if failed:
        print(f"  {len(failed)} of {len(rows)} cases failed (see above)")
    return 1 if failed else 0
