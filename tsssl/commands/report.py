"""Run the precision comparison grid and write the report: methods x rebalancing x features, seeds.

Every cell (method, features, rebalance) is trained with every seed on the same data and the
same chronological split (purged); the decision threshold is chosen on a validation slice at
the end of the training period, never on test. Writes to --out (default runs/report-<time>):
  report.md         the talk-shaped table (rows: methods; columns: original V1 V2 V3, P-adic
                    V1 V2 V3): precision with its 95% block-bootstrap CI, then recall, PR-AUC,
                    base rate and lift, precision at the top 1%, the rebalanced-test reading
                    (clearly labelled), the data, the split, the purge, seeds and versions
  report.json       one record per cell (method, features, rebalance, n_seeds, precision,
                    precision_ci_low / _high, recall, pr_auc, base_rate, n_test, n_test_pos, ...)
  report.html       the tables and the plots (PR curves, precision with CI bars, 2-D projection
                    of the representations, training loss)
  predictions.npz   every run's test / validation scores and threshold, and the test labels
  config.toml       the resolved settings: `tsssl report --config <out>/config.toml` repeats it
Settings come from the defaults, then --config FILE (TOML: the data and training keys of
`tsssl train`'s config plus a [report] table: methods, features, rebalance, seeds, n_boot,
threshold_rule, val_frac), then --quick, then the flags given here (tsssl.config.resolve_config).

examples:
  tsssl report --stock-window 20
  tsssl report --quick --out runs/first-look
  tsssl report --methods lstm siamcl cpc --seeds 0 1 2 3 4 --out runs/report
  tsssl report --config experiments/configs/full.toml --out runs/full
  tsssl report --tickers AAPL MSFT --start 2010-01-01 --end 2020-12-31 --features ohlcv
"""

from __future__ import annotations

import argparse
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
from tsssl.config import (
    QUICK_REPORT,
    WALK_FORWARD_MIN_TICKERS,
    WALK_FORWARD_MIN_YEARS,
    RunConfig,
    resolve_config,
    resolve_resumed,
)
from tsssl.registry import FEATURES, GRID_AUTO_FEATURES, PROBES, REBALANCE, REPORT_SPLITS, THRESHOLD_RULES

HELP = "run the grid methods x rebalancing x features (several seeds) and write the precision report"
#: the [report] table's keys that have a flag of the same name
_GRID_FLAGS = ("methods", "features", "rebalance", "seeds", "n_boot", "threshold_rule", "val_frac")
_GRID_FLAGS += ("min_recall", "top_frac", "threshold_value", "split", "folds")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # Every default is None: only the flags actually given override the config file and --quick.
    windows = registry.names("timeseries")
    g = parser.add_argument_group("grid")
    g.add_argument(
        "--methods",
        nargs="+",
        choices=windows,
        default=None,
        metavar="METHOD",
        help=f"rows of the table, any of {'|'.join(windows)} (default: lstm siamcl)",
    )
    g.add_argument(
        "--rebalance",
        nargs="+",
        choices=REBALANCE,
        default=None,
        metavar="STRATEGY",
        help="rebalancing of the training windows, any of v1 v2 v3 none (default: v1 v2 v3)",
    )
    g.add_argument(
        "--features",
        nargs="+",
        choices=(*FEATURES, *GRID_AUTO_FEATURES),
        default=None,
        metavar="FEATURES",
        help=f"feature sets, any of {' '.join((*FEATURES, *GRID_AUTO_FEATURES))} (default: auto auto+padic = "
        "ohlcv ohlcv+padic when the prices have open, high, low and volume, else close close+padic)",
    )
    g.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        default=None,
        metavar="SEED",
        help="seeds run per cell, e.g. 0 1 2 (the default)",
    )
    g.add_argument(
        "--quick",
        action="store_true",
        help="a first look: seed 0 only, 5 epochs, 300 bootstrap replicates, one split",
    )
    _add_split_mode_arguments(g)

    d = parser.add_argument_group("data (default: the bundled sample)")
    add_source_arguments(d)
    add_split_arguments(d)

    t = parser.add_argument_group("training and evaluation")
    add_training_arguments(t)
    add_kwargs_arguments(t)
    add_siamcl_arguments(t)
    t.add_argument(
        "--probe",
        choices=PROBES,
        default=None,
        help="probe on the frozen representations of the SSL methods (default logreg)",
    )
    _add_threshold_arguments(t)
    t.add_argument(
        "--val-frac",
        type=float,
        default=None,
        help="share of the training period's end dates in the validation slice (default 0.2)",
    )
    t.add_argument(
        "--n-boot",
        type=int,
        default=None,
        help="bootstrap replicates of the confidence intervals (default 1000; 0: none)",
    )

    add_output_arguments(
        parser,
        config_help="TOML settings (a report's config.toml, experiments/configs/*.toml); flags override it",
        out_help="output folder (default runs/report-<time>)",
        resume_help="continue the report in --out: its finished cells are read back, the others run",
    )


def _add_split_mode_arguments(g: argparse._ArgumentGroup) -> None:
    """--split, --folds, --progress / --no-progress."""
    g.add_argument(
        "--split",
        choices=REPORT_SPLITS,
        default=None,
        help="single (one chronological split), walk-forward (--folds test periods, each trained on its past), "
        f"or auto (the default: walk-forward on >= {WALK_FORWARD_MIN_TICKERS} tickers over >= "
        f"{WALK_FORWARD_MIN_YEARS:g} years)",
    )
    g.add_argument("--folds", type=int, default=None, help="walk-forward test periods (default 3)")
    g.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar over the cells with the time left, on stderr (default: only on a terminal)",
    )


def _add_threshold_arguments(t: argparse._ArgumentGroup) -> None:
    """--threshold-rule and the rules' parameters: --min-recall, --top-frac, --threshold-value."""
    t.add_argument(
        "--threshold-rule",
        choices=THRESHOLD_RULES,
        default=None,
        help="how the decision threshold is chosen on the validation slice (default f1)",
    )
    t.add_argument("--min-recall", type=float, default=None, help="rule precision_at_recall: least recall (0.1)")
    t.add_argument(
        "--top-frac", type=float, default=None, help="rule top_frac: share flagged (default: the validation base rate)"
    )
    t.add_argument("--threshold-value", type=float, default=None, help="rule fixed: the threshold (default 0.5)")


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The resolved settings: defaults < --config file (on --resume: the report's config.toml) < --quick <
    flags given; the grid in ``.report``. On --resume nothing that decides a cell may change."""
    flags = overrides_from_args(args, DATA_FLAG_KEYS + TRAINING_FLAG_KEYS + SIAMCL_FLAG_KEYS + ("probe", "out"))
    grid = {k: getattr(args, k) for k in _GRID_FLAGS if getattr(args, k) is not None}
    if grid:
        flags["report"] = grid
    presets = [("--quick", QUICK_REPORT)] if args.quick else []
    if not args.resume:
        return resolve_config(args.config, flags, presets=presets, command="report")
    if not args.out:
        raise ValueError("--resume needs --out DIR, the folder of the report to continue")
    cfg = resolve_resumed(args.out, args.config, flags, presets=presets, command="report")
    if cfg is None:
        raise ValueError(f"--resume: no report to continue in {args.out} (no config.toml: no cell had finished)")
    return cfg


def run(args: argparse.Namespace) -> int:
    from tsssl.pipeline import run_report
    from tsssl.pipeline.cellstore import CellStore
    from tsssl.runfolder import RunFolder, timestamped

    cfg = config_from_args(args)
    folder = RunFolder(cfg.out or timestamped("report"), "report", args.resume, args.overwrite, args.force)
    with folder:
        cfg.out = str(folder.path)
        try:
            report = run_report(cfg, progress=args.progress)
        except KeyboardInterrupt:  # finished cells are on disk: say how to go on
            done = CellStore(folder.path / "cells").count()
            raise KeyboardInterrupt(
                f"interrupted; {done} finished cell(s) kept in {folder.path / 'cells'}; continue with: "
                f"tsssl report --out {folder.path} --resume"
            ) from None
    print(summary(report, Path(cfg.out)))
    return 0


def summary(report: dict[str, Any], out: Path) -> str:
    """The console summary: precision (95% CI) and PR-AUC per cell in the talk's shape, the
    base rate, and where the outputs are."""
    from tsssl.evaluate.report import fmt_num, metric_table, with_ci

    meta = report["meta"]
    s, d = meta["split"], meta["data"]
    base = s["n_test_pos"] / max(s["n_test"], 1)
    ci = int(round(100 * meta["bootstrap"]["ci"]))

    def text_table(rows: list[list[str]]) -> list[str]:
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        return [
            "  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
            for r in rows
        ]

    precision = metric_table(report, lambda r: with_ci(r, "precision"))
    pr_auc = metric_table(report, lambda r: fmt_num(r.get("pr_auc")))
    lines = [
        f"tsssl report: {', '.join(meta['grid']['methods'])} x {' '.join(meta['grid']['rebalance'])} x "
        f"{' '.join(meta['grid']['features'])}, seeds {' '.join(map(str, meta['grid']['seeds']))} on "
        f"{', '.join(d['tickers'][:5])}{' ...' if len(d['tickers']) > 5 else ''} "
        f"{'(' + ', '.join(d['left_out']) + ' left out: see report.json meta.data) ' if d.get('left_out') else ''}"
        f"({d['first_date']} to {d['last_date']})",
        f"  test {s['test_start']} to {s['test_end']}: {s['n_test']:,} windows, {s['n_test_pos']} strict rises "
        f"(base rate {100 * base:.1f}%); "
        + (
            f"walk-forward over {s['n_folds']} folds, each trained on its past, threshold chosen on its validation slice"
            if s.get("mode") == "walk-forward"
            else f"threshold chosen on validation {s['val_start']} to {s['val_end']}"
        ),
        f"  precision on the test set (mean over seeds, {ci}% block-bootstrap CI):",
        *text_table(precision),
        "  PR-AUC (a model without skill scores the base rate):",
        *text_table(pr_auc),
        f"  outputs in {out}/: report.md, report.json, report.html, predictions.npz, config.toml "
        f"({meta['wall_seconds'].get('total', meta['wall_seconds']['grid']):.0f} s in all)",
    ]
    return "\n".join(lines)
