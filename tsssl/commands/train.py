"""Train a self-supervised (or the supervised LSTM) model on price windows and probe it.

Pipeline: prices -> windows (window days, strict `horizon`-day-rise label) -> chronological
split (purged) -> rebalance the training windows only -> train with the Trainer (SSL methods
on all training windows, labels unused; `lstm` on the rebalanced ones) -> embed train / test
with the frozen encoder -> logistic-regression probe fitted on the (rebalanced) training
windows, evaluated on the untouched test windows.

Outputs in --out (default runs/<method>-<timestamp>): checkpoint.pt, config.toml (the
resolved configuration: pass it to --config to repeat the run), metrics.json, log.csv.
Settings come from the defaults, then --config FILE (TOML), then the flags given here.

examples:
  tsssl train --stock-window 20
  tsssl train --method cpc --encoder cnn --rebalance v1 --epochs 10
  tsssl train --tickers AAPL MSFT --start 2010-01-01 --end 2020-12-31 --out runs/big
  tsssl train --config runs/big/config.toml --seed 1
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import time
from pathlib import Path
from typing import Any

from tsssl.atomic import finite_or_none, json_ready, write_json
from tsssl.config import (
    ENCODERS,
    FEATURES,
    MODALITIES,
    MODALITY_METHODS,
    PRECISIONS,
    REBALANCE,
    WINDOW_METHODS,
    RunConfig,
    resolve_config,
)

HELP = "train a contrastive / self-supervised model (or the LSTM baseline) and probe it"

# argparse dest -> RunConfig key, for the flags that map one to one. The data and training
# flags are shared with `tsssl report` (add_source_arguments / add_split_arguments /
# add_training_arguments below); train adds its single-run flags.
DATA_FLAG_KEYS = ("tickers", "start", "end", "cache_dir", "data", "window", "horizon", "test_start", "embargo")
TRAINING_FLAG_KEYS = ("encoder", "epochs", "max_steps", "batch_size", "lr", "device", "precision")
_FLAG_KEYS = DATA_FLAG_KEYS + TRAINING_FLAG_KEYS + (
    "modality", "method", "features", "rebalance", "seed", "out")


def add_source_arguments(d: argparse._ArgumentGroup) -> None:
    """--sample | --tickers | --data, --start, --end, --cache-dir, --stock-window, --horizon
    (every default None: only the flags given override a config file)."""
    src = d.add_mutually_exclusive_group()
    src.add_argument("--sample", action="store_true", default=None,
                     help="bundled S&P 500 and NASDAQ prices, 1999-2018 (the default)")
    src.add_argument("--tickers", nargs="+", metavar="TICKER", default=None,
                     help="download these tickers with yfinance (cached)")
    src.add_argument("--data", metavar="PATH", default=None, help="prices from a CSV / parquet file")
    d.add_argument("--start", metavar="YYYY-MM-DD", default=None, help="first date used")
    d.add_argument("--end", metavar="YYYY-MM-DD", default=None, help="last date used")
    d.add_argument("--cache-dir", metavar="DIR", default=None, help="yfinance cache directory")
    d.add_argument("--stock-window", dest="window", type=int, metavar="DAYS", default=None,
                   help="window length in trading days (default 20)")
    d.add_argument("--horizon", type=int, metavar="DAYS", default=None,
                   help="label: strict rise over this many days (default 5)")


def add_split_arguments(d: argparse._ArgumentGroup) -> None:
    """--test-start, --embargo."""
    d.add_argument("--test-start", metavar="YYYY-MM-DD", default=None,
                   help="first test date (default: the last 20%% of the dates)")
    d.add_argument("--embargo", type=int, metavar="DAYS", default=None,
                   help="extra days dropped before the test period, beyond the horizon purge")


def add_training_arguments(t: argparse._ArgumentGroup) -> None:
    """--epochs, --max-steps, --batch-size, --lr, --device, --precision."""
    t.add_argument("--epochs", type=int, default=None, help="passes over the training windows (default 10)")
    t.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    t.add_argument("--batch-size", type=int, default=None, help="windows per step (default 512)")
    t.add_argument("--lr", type=float, default=None, help="peak learning rate (default 3e-3)")
    t.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:1, ...")
    t.add_argument("--precision", choices=PRECISIONS, default=None, help="default fp32")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # Every default is None: only the flags actually given override the config file.
    g = parser.add_argument_group("model")
    g.add_argument("--method", choices=WINDOW_METHODS + MODALITY_METHODS, default=None, metavar="METHOD",
                   help=f"{'|'.join(WINDOW_METHODS)} (default siamcl); "
                        f"{'|'.join(MODALITY_METHODS)} with --modality image / text")
    g.add_argument("--encoder", choices=ENCODERS, default=None, help="window encoder (default lstm)")
    g.add_argument("--modality", choices=MODALITIES, default=None,
                   help="timeseries (default), or image / text for the classic SSL methods")

    d = parser.add_argument_group("data (default: the bundled sample)")
    add_source_arguments(d)
    d.add_argument("--features", choices=FEATURES, default=None, help="per-day features (default ohlcv)")
    d.add_argument("--rebalance", choices=REBALANCE, default=None,
                   help="rebalancing of the training windows only (default v2)")
    add_split_arguments(d)

    t = parser.add_argument_group("training")
    add_training_arguments(t)
    t.add_argument("--seed", type=int, default=None, help="default 0")

    o = parser.add_argument_group("configuration and output")
    o.add_argument("--config", metavar="FILE", default=None,
                   help="TOML file of settings (e.g. a run's config.toml); flags override it")
    o.add_argument("--out", metavar="DIR", default=None, help="output folder (default runs/<method>-<time>)")
    o.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its checkpoint (its config.toml is the base)")


def overrides_from_args(args: argparse.Namespace, keys: tuple[str, ...]) -> dict[str, Any]:
    """RunConfig overrides from the flags named by ``keys`` (None: not given); --sample selects
    the bundled sample."""
    overrides: dict[str, Any] = {k: getattr(args, k, None) for k in keys}
    if getattr(args, "sample", None):
        overrides["source"] = "sample"
    return overrides


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The resolved configuration: defaults < --config file < flags given."""
    overrides = overrides_from_args(args, _FLAG_KEYS)
    config_file = args.config
    if args.resume:
        if not args.out:
            raise ValueError("--resume needs --out DIR, the folder of the run to continue")
        previous = Path(args.out) / "config.toml"
        if config_file is None and previous.is_file():
            config_file = previous
    return resolve_config(config_file, overrides)


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    if cfg.modality != "timeseries":
        return _run_modality(cfg, args)
    if cfg.method not in WINDOW_METHODS:
        raise ValueError(
            f"method {cfg.method!r} is for --modality image / text; on price windows use one of "
            + ", ".join(WINDOW_METHODS)
        )
    out = Path(cfg.out or Path("runs") / f"{cfg.method}-{_dt.datetime.now():%Y%m%d-%H%M%S}")
    if not args.resume and (out / "checkpoint.pt").exists():
        raise ValueError(f"{out} already holds a run (checkpoint.pt); pass --resume to continue it "
                         "or choose another --out")
    if args.resume and not (out / "checkpoint.pt").exists():
        raise ValueError(f"--resume: no checkpoint.pt in {out} to continue from")
    cfg.out = str(out)
    metrics = train_and_probe(cfg, resume=args.resume)
    if metrics is not None:  # under torchrun, rank 0 reports
        print(summary(cfg, metrics))
    return 0


def _is_main_process() -> bool:
    """Rank 0 of a torchrun launch (RANK), or a single process: the one that writes and prints."""
    from tsssl.train import distributed

    return distributed.get_rank() == 0 if distributed.is_initialized() else int(os.environ.get("RANK", "0")) == 0


def _run_modality(cfg: RunConfig, args: argparse.Namespace) -> int:
    try:
        from tsssl.commands.modality import train_modality
    except ImportError as err:
        raise ValueError(f"--modality {cfg.modality} is not available in this build ({err})") from None
    train_modality(cfg.modality, cfg.method, args)  # prints its summary, returns its metrics
    return 0


# -- the pipeline --------------------------------------------------------------------------
def train_and_probe(cfg: RunConfig, resume: bool = False) -> dict[str, Any] | None:
    """Run the pipeline of ``cfg`` (its ``out`` set), write the outputs, return the metrics.

    Under ``torchrun`` every rank trains its shard (the Trainer wraps the method in DDP and
    writes the checkpoint and log from rank 0); rank 0 alone writes config.toml, probes the
    encoder and writes metrics.json; the other ranks return None."""
    import numpy as np
    import torch

    from tsssl import data
    from tsssl.pipeline import build_cell_method, load_configured_prices  # shared with `tsssl report`
    from tsssl.train import Trainer

    t_start = time.perf_counter()
    out = Path(cfg.out)
    # first, so that a bad device / precision fails before any data is read or file written
    trainer = Trainer(epochs=cfg.epochs, max_steps=cfg.max_steps, batch_size=cfg.batch_size,
                      lr=cfg.lr, weight_decay=cfg.weight_decay, device=cfg.device,
                      precision=cfg.precision, seed=cfg.seed, out_dir=out)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)

    prices = load_configured_prices(cfg)
    ws = data.build_windows(prices, window=cfg.window, horizon=cfg.horizon, features=cfg.features)
    split = data.chronological_split(ws, test_start=cfg.test_start, test_frac=cfg.test_frac,
                                     embargo=cfg.embargo)
    train, test = split.train, split.test
    if len(train) == 0 or len(test) == 0:
        raise ValueError(f"the split left {len(train)} training and {len(test)} test windows; "
                         "use more dates or another --test-start")
    train_bal = data.rebalance(train, cfg.rebalance, seed=cfg.seed)
    t_data = time.perf_counter() - t_start

    # inputs standardised per channel with the training windows' statistics (kept in the encoder);
    # the baseline sees labels: without rebalancing it gets balanced class weights instead
    method = build_cell_method(cfg.method, cfg, train, labels=train_bal.y, rebalance=cfg.rebalance)
    main = _is_main_process()
    if main:
        out.mkdir(parents=True, exist_ok=True)
        cfg.save(out / "config.toml")  # before training: an interrupted run can be resumed from it

    fit_data = train_bal if cfg.method == "lstm" else train  # SSL: every training window, no labels used
    t0 = time.perf_counter()
    result = trainer.fit(method, fit_data, resume=resume)
    t_train = time.perf_counter() - t0
    if not main:
        return None

    t0 = time.perf_counter()
    evaluation = evaluate_split(method, cfg, train_bal, test)
    t_eval = time.perf_counter() - t0

    metrics: dict[str, Any] = {
        "method": cfg.method,
        "encoder": cfg.encoder,
        "final_loss": finite_or_none(result.final_loss),
        "windows_per_s": finite_or_none(result.samples_per_s),
        "train_seconds": round(t_train, 3),
        "steps": int(result.history[-1]["step"]) if result.history else 0,
        "n_windows": len(ws),
        "n_train": len(train),
        "n_train_rebalanced": len(train_bal),
        "n_test": len(test),
        "split": _split_dates(train, test),
        **evaluation,
        "seconds": {"data": round(t_data, 3), "train": round(t_train, 3), "evaluate": round(t_eval, 3),
                    "total": round(time.perf_counter() - t_start, 3)},
        "device": str(next(method.parameters()).device),
    }
    write_json(out / "metrics.json", metrics)
    return metrics


def evaluate_split(method, cfg: RunConfig, train, test) -> dict[str, Any]:
    """Scores on the test windows and their metrics: a probe on the frozen encoder fitted on the
    (rebalanced) training windows for SSL methods, the LSTM baseline's own classifier for lstm.
    A window is called a rise when its score is >= 0.5: both scorers are trained class-balanced
    (rebalanced windows or balanced class weights), and nothing is tuned on the test windows."""
    import numpy as np

    from tsssl import evaluate

    device = next(method.parameters()).device
    method.eval()
    if cfg.method == "lstm":
        score = method.predict_proba(test.X)[:, 1]
        scored_by = "lstm classifier head"
    else:
        z_train = evaluate.embed(method.encoder, train.X, device=device)
        z_test = evaluate.embed(method.encoder, test.X, device=device)
        probe = evaluate.fit_probe(z_train, train.y, kind=cfg.probe, class_weight="balanced", seed=cfg.seed)
        score = evaluate.probe_scores(probe, z_test)
        scored_by = f"{cfg.probe} probe on the frozen encoder"
    report = evaluate.classification_report(
        test.y, np.asarray(score, dtype=np.float64), threshold=0.5, dates=test.end_date, seed=cfg.seed,
        threshold_description="fixed 0.5 on the class-balanced score (not tuned on test)")
    # JSON has no NaN: precision with no positive prediction is null
    probe_metrics = json_ready({k: v for k, v in report.items() if isinstance(v, (int, float, str, np.generic))})
    probe_metrics.setdefault("base_rate", float(np.mean(test.y)))
    probe_metrics.setdefault("n_test", int(len(test)))
    probe_metrics["scored_by"] = scored_by
    probe_metrics["trained_on"] = f"{len(train):,} training windows after rebalance {cfg.rebalance}"
    return {"probe": probe_metrics}


def _split_dates(train, test) -> dict[str, str]:
    import numpy as np

    def day(v) -> str:
        return str(np.datetime_as_string(np.asarray(v, dtype="datetime64[D]")))

    return {"train_start": day(train.end_date.min()), "train_end": day(train.end_date.max()),
            "test_start": day(test.end_date.min()), "test_end": day(test.end_date.max())}


def summary(cfg: RunConfig, m: dict[str, Any]) -> str:
    p, s = m["probe"], m["split"]

    def pct(v: Any) -> str:
        return "n/a" if v is None else f"{100 * v:.1f}%"

    pr_auc = "n/a" if p.get("pr_auc") is None else f"{p['pr_auc']:.3f}"
    source = {"sample": "the bundled sample", "file": cfg.data,
              "tickers": " ".join(cfg.tickers)}[cfg.source]
    return "\n".join([
        f"tsssl train: {cfg.method} ({cfg.encoder} encoder) on {source}: {m['n_windows']:,} windows "
        f"of {cfg.window} days, {cfg.features}, strict {cfg.horizon}-day rise",
        f"  split: train {s['train_start']}..{s['train_end']} ({m['n_train']:,} windows; "
        f"{m['n_train_rebalanced']:,} after rebalance {cfg.rebalance}), "
        f"test {s['test_start']}..{s['test_end']} ({m['n_test']:,} windows)",
        f"  trained {m['steps']} steps in {m['train_seconds']:.1f} s: "
        f"{(m['windows_per_s'] or 0):,.0f} windows/s, final loss "
        f"{'n/a' if m['final_loss'] is None else format(m['final_loss'], '.4g')}",
        f"  test ({p['scored_by']}): precision {pct(p.get('precision'))}, recall "
        f"{pct(p.get('recall'))}, PR-AUC {pr_auc}, base rate {pct(p.get('base_rate'))}",
        f"  outputs in {cfg.out}/: checkpoint.pt, config.toml, metrics.json, log.csv "
        f"({m['seconds']['total']:.1f} s in all)",
    ])
