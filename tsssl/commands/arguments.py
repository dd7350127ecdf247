"""Argument builders shared by ``tsssl train`` and ``tsssl report``; every choice comes from ``tsssl.registry``.

Every default is None: only the flags actually given override a config file.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from tsssl.registry import COMPILE_MODES, ENCODERS, PRECISIONS, SAMPLES, SIAMCL_LOSSES

# argparse dest -> RunConfig key, for the flags that map one to one
DATA_FLAG_KEYS = ("tickers", "start", "end", "cache_dir", "data", "window", "horizon", "test_start", "embargo")
DATA_FLAG_KEYS += ("test_frac", "purge", "padic_p", "padic_deadband")
SIAMCL_FLAG_KEYS = ("siamcl_loss", "siamcl_temperature", "siamcl_margin")
TRAINING_FLAG_KEYS = ("encoder", "epochs", "max_steps", "batch_size", "lr", "device", "precision", "compile")


SAMPLE_HELP = (
    "a bundled sample: indices (S&P 500 and NASDAQ OHLCV, 1999-2018; plain --sample, and the default of "
    "train and data) or stocks20 (adjusted closes of 20 large US stocks, 1990-2022; the default of report)"
)


def add_sample_argument(src: argparse._MutuallyExclusiveGroup) -> None:
    """--sample [NAME]: a bundled sample by name (tsssl.registry.SAMPLES), "indices" when no name is given."""
    src.add_argument(
        "--sample", nargs="?", const=SAMPLES[0], choices=SAMPLES, default=None, metavar="NAME", help=SAMPLE_HELP
    )


def add_source_arguments(d: argparse._ArgumentGroup) -> None:
    """--sample [NAME] | --tickers | --data, --start, --end, --cache-dir, --stock-window, --horizon."""
    src = d.add_mutually_exclusive_group()
    add_sample_argument(src)
    src.add_argument(
        "--tickers", nargs="+", metavar="TICKER", default=None, help="download these tickers with yfinance (cached)"
    )
    src.add_argument("--data", metavar="PATH", default=None, help="prices from a CSV / parquet file")
    d.add_argument("--start", metavar="YYYY-MM-DD", default=None, help="first date used")
    d.add_argument("--end", metavar="YYYY-MM-DD", default=None, help="last date used")
    d.add_argument("--cache-dir", metavar="DIR", default=None, help="yfinance cache directory")
    d.add_argument(
        "--stock-window",
        dest="window",
        type=int,
        metavar="DAYS",
        default=None,
        help="window length in trading days (default 20)",
    )
    d.add_argument(
        "--horizon", type=int, metavar="DAYS", default=None, help="label: strict rise over this many days (default 5)"
    )


def add_split_arguments(d: argparse._ArgumentGroup) -> None:
    """--test-start, --test-frac, --purge, --embargo; --padic-p, --padic-deadband."""
    d.add_argument(
        "--test-start", metavar="YYYY-MM-DD", default=None, help="first test date (default: the last 20%% of the dates)"
    )
    d.add_argument(
        "--test-frac", type=float, metavar="F", default=None, help="share of the end dates tested (default 0.2)"
    )
    d.add_argument(
        "--purge",
        type=int,
        metavar="DAYS",
        default=None,
        help="trading days purged before the test period (default: the horizon; at least the horizon)",
    )
    d.add_argument(
        "--embargo",
        type=int,
        metavar="DAYS",
        default=None,
        help="extra days dropped before the test period, beyond the horizon purge",
    )
    d.add_argument("--padic-p", type=int, metavar="P", default=None, help="prime base of the P-adic digits (default 3)")
    d.add_argument(
        "--padic-deadband",
        type=float,
        metavar="R",
        default=None,
        help="dead-band of the P-adic digits, a log return (default 0.002)",
    )


def add_siamcl_arguments(g: argparse._ArgumentGroup) -> None:
    """--siamcl-loss, --siamcl-temperature, --siamcl-margin."""
    g.add_argument(
        "--siamcl-loss",
        choices=SIAMCL_LOSSES,
        default=None,
        metavar="LOSS",
        help=f"SiamCL's pair loss, one of {'|'.join(SIAMCL_LOSSES)} (default nt_xent)",
    )
    g.add_argument("--siamcl-temperature", type=float, default=None, metavar="T", help="its temperature (default 0.2)")
    g.add_argument("--siamcl-margin", type=float, default=None, metavar="M", help="its margin (default 1.0)")


def add_training_arguments(t: argparse._ArgumentGroup, encoder: bool = True) -> None:
    """--encoder, --epochs, --max-steps, --batch-size, --lr, --device, --precision."""
    if encoder:
        t.add_argument("--encoder", choices=ENCODERS, default=None, help="window encoder (default lstm)")
    t.add_argument("--epochs", type=int, default=None, help="passes over the training windows (default 10)")
    t.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    t.add_argument("--batch-size", type=int, default=None, help="windows per step (default 512)")
    t.add_argument("--lr", type=float, default=None, help="peak learning rate (default 3e-3)")
    t.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:1, ...")
    t.add_argument("--precision", choices=PRECISIONS, default=None, help="default fp32")
    t.add_argument(
        "--compile",
        nargs="?",
        const="default",
        default=None,
        choices=COMPILE_MODES,
        metavar="MODE",
        help="train through torch.compile (off by default): default, reduce-overhead (CUDA graphs), "
        "max-autotune, or eager (trace only)",
    )


def key_value(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` -> (key, value): the value read as a TOML value (3, 0.2, true, [32, 64], "x"),
    else as a plain string (``loss=triplet``)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE (e.g. temperature=0.2)")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip(), value


def add_kwargs_arguments(g: argparse._ArgumentGroup) -> None:
    """--method-kwargs / --encoder-kwargs KEY=VALUE ...: the config file's tables, from the command line."""
    g.add_argument("--method-kwargs", nargs="+", type=key_value, default=None, metavar="KEY=VALUE",
                   help="arguments of the method, e.g. loss=triplet margin=0.5 temperature=0.2")  # fmt: skip
    g.add_argument("--encoder-kwargs", nargs="+", type=key_value, default=None, metavar="KEY=VALUE",
                   help="sizes of the encoder, e.g. hidden=64 layers=2")  # fmt: skip


def overrides_from_args(args: argparse.Namespace, keys: tuple[str, ...]) -> dict[str, Any]:
    """RunConfig overrides from the flags named by ``keys`` (None: not given); --sample selects
    the bundled sample of that name."""
    overrides: dict[str, Any] = {k: getattr(args, k, None) for k in keys}
    if getattr(args, "sample", None):
        overrides["source"] = "sample"
        overrides["sample"] = args.sample
    for key in ("method_kwargs", "encoder_kwargs"):
        pairs = getattr(args, key, None)
        if pairs:
            overrides[key] = dict(pairs)
    return overrides


def add_output_arguments(parser: argparse.ArgumentParser, config_help: str, out_help: str, resume_help: str) -> None:
    """The group "configuration and output": --config, --out, --resume, --overwrite, --force."""
    o = parser.add_argument_group("configuration and output")
    o.add_argument("--config", metavar="FILE", default=None, help=config_help)
    o.add_argument("--out", metavar="DIR", default=None, help=out_help)
    o.add_argument("--resume", action="store_true", help=resume_help)
    o.add_argument(
        "--overwrite",
        action="store_true",
        help="replace what tsssl wrote in --out before (a finished or interrupted run); other files are kept",
    )
    o.add_argument(
        "--force",
        action="store_true",
        help="take over the lock of --out left by a run that is gone (killed, crashed)",
    )
