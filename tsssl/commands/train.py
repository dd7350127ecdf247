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
  tsssl train --sample stocks20 --features close+padic
  tsssl train --method cpc --encoder cnn --rebalance v1 --epochs 10
  tsssl train --tickers AAPL MSFT --start 2010-01-01 --end 2020-12-31 --out runs/big
  tsssl train --config runs/big/config.toml --seed 1
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tsssl import registry
from tsssl.commands.arguments import (
    DATA_FLAG_KEYS,
    SIAMCL_FLAG_KEYS,
    TRAINING_FLAG_KEYS,
    add_kwargs_arguments,
    add_output_arguments,
    add_siamcl_arguments,
    add_source_arguments,
    add_split_arguments,
    add_training_arguments,
    overrides_from_args,
)
from tsssl.config import RunConfig, resolve_config, resolve_resumed
from tsssl.registry import AUTO_FEATURES, ENCODERS, FEATURES, MODALITIES, REBALANCE

HELP = "train a contrastive / self-supervised model (or the LSTM baseline) and probe it"

_FLAG_KEYS = DATA_FLAG_KEYS + TRAINING_FLAG_KEYS + SIAMCL_FLAG_KEYS
_FLAG_KEYS += ("modality", "method", "features", "rebalance", "seed", "out", "checkpoint_every", "checkpoint_minutes")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # Every default is None: only the flags actually given override the config file.
    windows, others = (
        registry.names("timeseries"),
        [m for m in registry.names() if m not in registry.names("timeseries")],
    )
    g = parser.add_argument_group("model")
    g.add_argument(
        "--method",
        choices=registry.names(),
        default=None,
        metavar="METHOD",
        help=f"{'|'.join(windows)} (default siamcl); {'|'.join(others)} with --modality image / text",
    )
    g.add_argument("--encoder", choices=ENCODERS, default=None, help="window encoder (default lstm)")
    add_kwargs_arguments(g)
    add_siamcl_arguments(g)
    g.add_argument(
        "--modality",
        choices=MODALITIES,
        default=None,
        help="timeseries (default), or image / text for the classic SSL methods",
    )

    d = parser.add_argument_group("data (default: the bundled sample)")
    add_source_arguments(d)
    d.add_argument(
        "--features",
        choices=(AUTO_FEATURES, *FEATURES),
        default=None,
        help="per-day features (default auto: ohlcv when the prices have open, high, low and volume, else close)",
    )
    d.add_argument(
        "--rebalance", choices=REBALANCE, default=None, help="rebalancing of the training windows only (default v2)"
    )
    add_split_arguments(d)

    t = parser.add_argument_group("training")
    add_training_arguments(t, encoder=False)
    t.add_argument("--seed", type=int, default=None, help="default 0")
    t.add_argument(
        "--checkpoint-every",
        type=int,
        default=None,
        metavar="STEPS",
        help="write checkpoint.pt every STEPS steps (default 100)",
    )
    t.add_argument(
        "--checkpoint-minutes",
        type=float,
        default=None,
        metavar="M",
        help="and every M minutes (default 5); Ctrl-C / SIGTERM also write one, then exit",
    )

    add_output_arguments(
        parser,
        config_help="TOML file of settings (e.g. a run's config.toml); flags override it",
        out_help="output folder (default runs/<method>-<time>)",
        resume_help="continue the run in --out from its checkpoint (its config.toml is the base)",
    )


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The resolved configuration: defaults < --config file (on --resume: the run's config.toml) < flags
    given. On --resume, a setting the checkpoint depends on may not change (``check_resume``)."""
    overrides = overrides_from_args(args, _FLAG_KEYS)
    if not args.resume:
        return resolve_config(args.config, overrides)
    if not args.out:
        raise ValueError("--resume needs --out DIR, the folder of the run to continue")
    cfg = resolve_resumed(args.out, args.config, overrides)
    if cfg is None:  # a checkpoint without its config.toml: the flags and --config alone
        if not (Path(args.out) / "checkpoint.pt").is_file():
            raise ValueError(f"--resume: no checkpoint.pt in {args.out} to continue from")
        return resolve_config(args.config, overrides)
    return cfg


def run(args: argparse.Namespace) -> int:
    from tsssl.pipeline import default_out
    from tsssl.runfolder import RunFolder

    cfg = config_from_args(args)
    folder = RunFolder(cfg.out or default_out(cfg), "train", args.resume, args.overwrite, args.force)
    with folder:
        cfg.out = str(folder.path)
        try:
            if cfg.modality != "timeseries":
                from tsssl.experiments import run_experiment

                print(experiment_summary(run_experiment(cfg, resume=args.resume), folder.path))
                return 0
            from tsssl.pipeline import train_and_probe

            metrics = train_and_probe(cfg, resume=args.resume)
        except KeyboardInterrupt as err:  # Ctrl-C / SIGTERM: the Trainer saved its state; say how to go on
            if getattr(err, "checkpoint", None) is None:
                raise
            raise KeyboardInterrupt(f"{err}; continue with: tsssl train --out {folder.path} --resume") from None
    if metrics is not None:  # under torchrun, rank 0 reports
        print(summary(cfg, metrics))
    return 0


def _pct(v: Any) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}%"


def _fmt(x: float | None) -> str:
    """A loss for the summary: 4 significant digits (the full value is in metrics.json)."""
    return "n/a" if x is None else f"{x:.4g}"


def summary(cfg: RunConfig, m: dict[str, Any]) -> str:
    """The console summary of a run on price windows."""
    from tsssl.train.diagnostics import describe

    p, s = m["probe"], m["split"]
    pr_auc = "n/a" if p.get("pr_auc") is None else f"{p['pr_auc']:.3f}"
    d = m.get("data", {})
    source = {"sample": f"the bundled sample {cfg.sample}", "file": cfg.data, "tickers": _tickers(d, cfg)}[cfg.source]
    auto = " (auto)" if (d.get("features") or {}).get("requested") == AUTO_FEATURES else ""
    dropped = f"; {d['dropped_text']}" if d.get("dropped_text") else ""
    layout = [f"  layout: {d['layout']}{dropped}"] if d.get("layout") else []
    return "\n".join(
        [
            f"tsssl train: {cfg.method} ({cfg.encoder} encoder) on {source}: {m['n_windows']:,} windows "
            f"of {cfg.window} days, {cfg.features}{auto}, strict {cfg.horizon}-day rise",
            *layout,
            f"  split: train {s['train_start']}..{s['train_end']} ({m['n_train']:,} windows; "
            f"{m['n_train_rebalanced']:,} after rebalance {cfg.rebalance}), "
            f"test {s['test_start']}..{s['test_end']} ({m['n_test']:,} windows)",
            *([f"  budget: {m['budget']['rule']}"] if m.get("budget") else []),
            f"  trained {m['steps']} steps in {m['train_seconds']:.1f} s: "
            f"{(m['windows_per_s'] or 0):,.0f} windows/s, final loss {_fmt(m['final_loss'])}",
            f"  test ({p['scored_by']}): precision {_pct(p.get('precision'))}, recall "
            f"{_pct(p.get('recall'))}, PR-AUC {pr_auc}, base rate {_pct(p.get('base_rate'))}",
            *([f"  representation: {describe(m['diagnostics'])}"] if m.get("diagnostics") else []),
            f"  outputs in {cfg.out}/: checkpoint.pt, config.toml, metrics.json, log.csv "
            f"({m['seconds']['total']:.1f} s in all)",
        ]
    )


def _tickers(record: Mapping[str, Any], cfg: RunConfig) -> str:
    """The tickers used, and the ones asked for but left out with the first clause of the reason."""
    used = " ".join(record.get("tickers") or cfg.tickers)
    left = record.get("left_out") or {}
    if not left:
        return used
    reasons = dict.fromkeys(str(r).split(";")[0] for r in left.values())
    return f"{used} ({', '.join(left)} left out: {'; '.join(reasons)})"


def experiment_summary(m: Mapping[str, Any], out: Path) -> str:
    """The console summary of an image / text run."""
    h = m["headline"]
    others = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in h.items() if k not in ("metric", "trained"))
    return "\n".join(
        [
            f"tsssl train --modality {m['modality']} --method {m['method']} ({m['loss']})",
            f"  data: {m['data']}",
            f"  trained {m['steps']} steps on {m['device']} in {m['seconds']['train']:.1f} s: loss "
            f"{_fmt(m['first_logged_loss'])} -> {_fmt(m['final_loss'])}",
            f"  {h['metric']}: {h['trained']} ({others})",
            f"  outputs in {out}/: checkpoint.pt, log.csv, metrics.json, config.toml",
        ]
    )
