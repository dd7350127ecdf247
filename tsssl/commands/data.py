"""Load prices, build the labelled windows and split them as `tsssl train` would; print a summary.

Shows the tickers, the date range, the split dates and the purge, and per part (train / test)
the number of windows, the positives (strict rises) and the base rate. Nothing is written.

examples:
  tsssl data --sample
  tsssl data --sample stocks20
  tsssl data --tickers AAPL MSFT --start 2015-01-01 --end 2020-12-31
  tsssl data --data prices.csv --stock-window 30 --horizon 5 --test-start 2019-01-02
  tsssl data --sample --features ohlcv+padic --embargo 10
"""

from __future__ import annotations

import argparse

from tsssl.commands.arguments import add_sample_argument
from tsssl.registry import AUTO_FEATURES, FEATURES

HELP = "load prices, build windows and show the split: tickers, dates, windows, base rates"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = parser.add_argument_group("prices (default: the bundled sample)")
    src = d.add_mutually_exclusive_group()
    add_sample_argument(src)
    src.add_argument("--tickers", nargs="+", metavar="TICKER", help="download these tickers with yfinance (cached)")
    src.add_argument("--data", metavar="PATH", help="prices from a CSV / parquet file")
    d.add_argument("--start", metavar="YYYY-MM-DD", help="first date used")
    d.add_argument("--end", metavar="YYYY-MM-DD", help="last date used")
    d.add_argument(
        "--cache-dir", metavar="DIR", help="yfinance cache directory (default $TSSSL_CACHE or the user cache folder)"
    )
    d.add_argument("--dropna", action="store_true", help="drop rows with NaN prices (with a warning)")

    w = parser.add_argument_group("windows and split")
    w.add_argument(
        "--stock-window",
        dest="window",
        type=int,
        default=20,
        metavar="DAYS",
        help="window length in trading days (default 20)",
    )
    w.add_argument(
        "--horizon", type=int, default=5, metavar="DAYS", help="label: strict rise over this many days (default 5)"
    )
    w.add_argument(
        "--features",
        choices=(AUTO_FEATURES, *FEATURES),
        default=AUTO_FEATURES,
        help="per-day features (default auto: ohlcv when the prices have open, high, low and volume, else close)",
    )
    w.add_argument("--p", type=int, default=3, help="prime of the P-adic digits (default 3)")
    w.add_argument(
        "--deadband", type=float, default=0.002, help="P-adic flat band of the daily log return (default 0.002)"
    )
    w.add_argument(
        "--test-frac",
        type=float,
        default=0.2,
        help="share of the dates in the test period when --test-start is not given (default 0.2)",
    )
    w.add_argument("--test-start", metavar="YYYY-MM-DD", help="first test date")
    w.add_argument(
        "--purge", type=int, metavar="DAYS", help="trading days purged before the test period (default: the horizon)"
    )
    w.add_argument(
        "--embargo",
        type=int,
        default=0,
        metavar="DAYS",
        help="extra trading days dropped before the test period (default 0)",
    )


def load(args: argparse.Namespace):
    """The price frame the flags name, cut to --start..--end (ValueError when empty)."""
    import pandas as pd

    from tsssl import data

    if args.tickers:
        prices = data.load_prices(args.tickers, args.start, args.end, cache_dir=args.cache_dir, dropna=args.dropna)
    elif args.data:
        try:
            prices = data.read_prices(args.data, dropna=args.dropna)
        except OSError as err:  # unreadable file: a message, not a traceback
            raise ValueError(f"cannot read --data {args.data}: {err.strerror or err}") from None
    else:
        prices = data.load_sample(args.sample or "indices")
    attrs = dict(prices.attrs)
    keep = pd.Series(True, index=prices.index)
    for flag, value, cmp in (("--start", args.start, "ge"), ("--end", args.end, "le")):
        if value:
            try:
                day = pd.Timestamp(value)
            except ValueError:
                raise ValueError(f"{flag} must be a date like 2015-01-02, got {value!r}") from None
            keep &= getattr(prices["date"], cmp)(day)
    if not keep.any():
        raise ValueError(
            f"no prices between --start {args.start or '-'} and --end {args.end or '-'}; the "
            f"data covers {prices['date'].min():%Y-%m-%d} to {prices['date'].max():%Y-%m-%d}"
        )
    prices = prices[keep.to_numpy()].reset_index(drop=True)
    prices.attrs = attrs  # the layout and the dropped cells of the whole file
    return prices


def summary(prices, split, features: str = "") -> str:
    """The printed report of a price frame and its split."""
    info = split.describe()
    tickers = list(dict.fromkeys(prices["ticker"]))
    shown = ", ".join(tickers[:12]) + (f", ... ({len(tickers)} in all)" if len(tickers) > 12 else "")
    meta = split.train.meta
    columns = ", ".join(c for c in prices.columns if c not in ("date", "ticker"))
    auto = f" ({features}: chosen from the columns {columns})"
    lines = [
        f"tickers    {shown}",
        *([f"layout     {prices.attrs['layout']}"] if prices.attrs.get("layout") else []),
        *([f"dropped    {prices.attrs['dropped_text']}"] if prices.attrs.get("dropped_text") else []),
        f"dates      {prices['date'].min():%Y-%m-%d} to {prices['date'].max():%Y-%m-%d} "
        f"({prices['date'].nunique()} trading days, {len(prices)} rows)",
        f"windows    {meta['window']} days, label: strict {meta['horizon']}-day rise, "
        f"features {meta['features']}"
        + (auto if features == AUTO_FEATURES else "")
        + (f" (p={meta['p']}, deadband={meta['deadband']})" if meta.get("p") else ""),
        f"split      train windows end {info['train']['start']} .. {info['train_end']}; "
        f"test {info['test_start']} .. {info['test_end']}",
        f"purge      {info['purge']} trading days + embargo {info['embargo']}: "
        f"{info['n_purged']} training windows purged",
        "",
        f"{'part':<6}{'windows':>10}{'positives':>11}{'base rate':>11}",
    ]
    for part in ("train", "test"):
        p = info[part]
        rate = "n/a" if p["base_rate"] is None else f"{100 * p['base_rate']:.2f}%"
        lines.append(f"{part:<6}{p['windows']:>10}{p['positives']:>11}{rate:>11}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from tsssl import data

    prices = load(args)
    ws = data.build_windows(
        prices, window=args.window, horizon=args.horizon, features=args.features, p=args.p, deadband=args.deadband
    )
    split = data.chronological_split(
        ws, test_start=args.test_start, test_frac=args.test_frac, purge=args.purge, embargo=args.embargo
    )
    print(summary(prices, split, args.features))
    return 0
