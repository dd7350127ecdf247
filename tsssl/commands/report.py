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
threshold_rule, val_frac), then --quick, then the flags given here.

examples:
  tsssl report --stock-window 20
  tsssl report --quick --out runs/first-look
  tsssl report --methods lstm siamcl cpc --seeds 0 1 2 3 4 --out runs/report
  tsssl report --config experiments/configs/full.toml --out runs/full
  tsssl report --tickers AAPL MSFT --start 2010-01-01 --end 2020-12-31 --features ohlcv
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from tsssl.commands.train import (
    DATA_FLAG_KEYS,
    TRAINING_FLAG_KEYS,
    add_source_arguments,
    add_split_arguments,
    add_training_arguments,
    overrides_from_args,
)
from tsssl.config import (
    ENCODERS,
    FEATURES,
    PROBES,
    REBALANCE,
    WINDOW_METHODS,
    RunConfig,
    load_toml,
    resolve_config,
)

HELP = "run the grid methods x rebalancing x features (several seeds) and write the precision report"

THRESHOLD_RULES = ("f1", "precision_at_recall", "top_frac", "fixed")  # tsssl.pipeline.THRESHOLD_RULES
#: RunConfig keys that the grid's axes replace: left out of the saved config.toml
_AXIS_KEYS = ("modality", "method", "features", "rebalance", "seed", "out")


@dataclass
class GridSettings:
    """The grid and the report's statistics (the ``[report]`` table of a config file)."""

    methods: list[str] = field(default_factory=lambda: ["lstm", "siamcl"])
    features: list[str] = field(default_factory=lambda: ["ohlcv", "ohlcv+padic"])
    rebalance: list[str] = field(default_factory=lambda: ["v1", "v2", "v3"])
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    n_boot: int = 1000
    threshold_rule: str = "f1"
    val_frac: float = 0.2


#: --quick: one seed, 5 epochs, 300 bootstrap replicates (the whole table's shape in ~1-2 min
#: on a 2-core CPU; measured figures in experiments/README.md)
QUICK: dict[str, dict[str, Any]] = {"config": {"epochs": 5}, "report": {"seeds": [0], "n_boot": 300}}

_GRID_LISTS = {"methods": (WINDOW_METHODS, str), "features": (FEATURES, str), "rebalance": (REBALANCE, str)}


def _apply_grid(settings: GridSettings, values: Mapping[str, Any], origin: str) -> GridSettings:
    """``settings`` updated by ``values`` (checked); ValueError naming the key and the origin."""
    accepted = [f.name for f in dataclasses.fields(GridSettings)]
    unknown = sorted(set(values) - set(accepted))
    if unknown:
        raise ValueError(f"{origin}: unknown key(s) {', '.join(map(repr, unknown))} in [report]; "
                         f"accepted: {', '.join(accepted)}")
    updates: dict[str, Any] = {}
    for key, value in values.items():
        if key in _GRID_LISTS:
            choices, _ = _GRID_LISTS[key]
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not value:
                raise ValueError(f"{origin}: {key} must be a non-empty list, e.g. {list(choices[:2])}, "
                                 f"got {value!r}")
            bad = [v for v in value if v not in choices]
            if bad:
                raise ValueError(f"{origin}: {key}: unknown value(s) {', '.join(map(repr, bad))}; "
                                 f"accepted: {', '.join(choices)}")
        elif key == "seeds":
            if isinstance(value, int) and not isinstance(value, bool):
                value = [value]
            if (not isinstance(value, list) or not value
                    or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in value)):
                raise ValueError(f"{origin}: seeds must be a non-empty list of integers >= 0, e.g. "
                                 f"[0, 1, 2], got {value!r}")
        elif key == "n_boot":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{origin}: n_boot must be an integer >= 0 (0: no intervals), "
                                 f"got {value!r}")
        elif key == "threshold_rule":
            if value not in THRESHOLD_RULES:
                raise ValueError(f"{origin}: threshold_rule must be one of {', '.join(THRESHOLD_RULES)}, "
                                 f"got {value!r}")
        elif key == "val_frac":
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or not 0.0 < float(value) < 1.0):
                raise ValueError(f"{origin}: val_frac must lie strictly between 0 and 1, e.g. 0.2, "
                                 f"got {value!r}")
            value = float(value)
        updates[key] = list(dict.fromkeys(value)) if isinstance(value, list) else value
    return dataclasses.replace(settings, **updates)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # Every default is None: only the flags actually given override the config file and --quick.
    g = parser.add_argument_group("grid")
    g.add_argument("--methods", nargs="+", choices=WINDOW_METHODS, default=None, metavar="METHOD",
                   help=f"rows of the table, any of {'|'.join(WINDOW_METHODS)} (default: lstm siamcl)")
    g.add_argument("--rebalance", nargs="+", choices=REBALANCE, default=None, metavar="STRATEGY",
                   help="rebalancing of the training windows, any of v1 v2 v3 none (default: v1 v2 v3)")
    g.add_argument("--features", nargs="+", choices=FEATURES, default=None, metavar="FEATURES",
                   help="feature sets, any of ohlcv ohlcv+padic (default: both)")
    g.add_argument("--seeds", nargs="+", type=int, default=None, metavar="SEED",
                   help="seeds run per cell, e.g. 0 1 2 (the default)")
    g.add_argument("--quick", action="store_true",
                   help="a first look: seed 0 only, 5 epochs, 300 bootstrap replicates")

    d = parser.add_argument_group("data (default: the bundled sample)")
    add_source_arguments(d)
    add_split_arguments(d)

    t = parser.add_argument_group("training and evaluation")
    t.add_argument("--encoder", choices=ENCODERS, default=None, help="window encoder (default lstm)")
    add_training_arguments(t)
    t.add_argument("--probe", choices=PROBES, default=None,
                   help="probe on the frozen representations of the SSL methods (default logreg)")
    t.add_argument("--threshold-rule", choices=THRESHOLD_RULES, default=None,
                   help="how the decision threshold is chosen on the validation slice (default f1)")
    t.add_argument("--val-frac", type=float, default=None,
                   help="share of the training period's end dates in the validation slice (default 0.2)")
    t.add_argument("--n-boot", type=int, default=None,
                   help="bootstrap replicates of the confidence intervals (default 1000; 0: none)")

    o = parser.add_argument_group("configuration and output")
    o.add_argument("--config", metavar="FILE", default=None,
                   help="TOML settings (a report's config.toml, experiments/configs/*.toml); flags override it")
    o.add_argument("--out", metavar="DIR", default=None, help="output folder (default runs/report-<time>)")
    o.add_argument("--overwrite", action="store_true", help="replace a report already in --out")


def settings_from_args(args: argparse.Namespace) -> tuple[RunConfig, GridSettings]:
    """The resolved settings: defaults < --config file < --quick < flags given."""
    file_values: dict[str, Any] = {}
    origin = f"config file {str(args.config)!r}"
    if args.config is not None:
        file_values = dict(load_toml(args.config))
    grid_values = file_values.pop("report", {})
    if not isinstance(grid_values, dict):
        raise ValueError(f"{origin}: 'report' must be a table ([report]) of grid settings")
    single = [k for k in _AXIS_KEYS if k in file_values and k != "out"]
    if single:
        raise ValueError(f"{origin}: {', '.join(map(repr, single))} name(s) a single run (a `tsssl train` "
                         "config); a report sets its grid in a [report] table: methods, features, "
                         "rebalance, seeds")
    flags = {k: v for k, v in overrides_from_args(args, DATA_FLAG_KEYS + TRAINING_FLAG_KEYS + ("probe",)).items()
             if v is not None}
    quick = QUICK if args.quick else {"config": {}, "report": {}}
    cfg = resolve_config(args.config, {**quick["config"], **flags}, file_values=file_values)
    settings = _apply_grid(GridSettings(), grid_values, origin)
    settings = _apply_grid(settings, quick["report"], "--quick")
    grid_flags = {"methods": args.methods, "features": args.features, "rebalance": args.rebalance,
                  "seeds": args.seeds, "n_boot": args.n_boot, "threshold_rule": args.threshold_rule,
                  "val_frac": args.val_frac}
    settings = _apply_grid(settings, {k: v for k, v in grid_flags.items() if v is not None}, "command line")
    if args.out is not None:
        cfg.out = args.out
    return cfg, settings


def save_settings(path: Path, cfg: RunConfig, settings: GridSettings) -> Path:
    """config.toml of the report: the run settings (without the single-run keys the grid replaces)
    and the [report] table. ``tsssl report --config`` on it repeats the report."""
    from tsssl.config import write_toml

    values = {k: v for k, v in cfg.to_dict().items() if k not in _AXIS_KEYS}
    return write_toml(path, {**values, "report": dataclasses.asdict(settings)})


def run(args: argparse.Namespace) -> int:
    cfg, settings = settings_from_args(args)
    out = Path(cfg.out or Path("runs") / f"report-{_dt.datetime.now():%Y%m%d-%H%M%S}")
    if (out / "report.json").exists() and not args.overwrite:
        raise ValueError(f"{out} already holds a report (report.json); choose another --out or pass "
                         "--overwrite")
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, expected a folder")
    cfg.out = str(out)
    report = make_report(cfg, settings)
    print(summary(report, out))
    return 0


def make_report(cfg: RunConfig, settings: GridSettings, progress: Optional[bool] = None) -> dict[str, Any]:
    """Run the grid of ``settings`` on ``cfg``'s data, write every output into ``cfg.out`` and
    return the report dict. progress: a tqdm bar over the runs (None: only on a terminal)."""
    import time

    from tqdm.auto import tqdm

    from tsssl.evaluate import report as rep
    from tsssl.evaluate.report import check_grid

    methods, features, rebalances, seeds = check_grid(settings.methods, settings.features,
                                                      settings.rebalance, settings.seeds)
    t0 = time.perf_counter()
    bar = tqdm(total=len(methods) * len(features) * len(rebalances) * len(seeds), unit="run",
               desc="tsssl report", disable=None if progress is None else not progress)

    def on_cell(cell: Any) -> None:
        bar.set_postfix_str(f"{cell.method} {cell.features} {cell.rebalance} seed {cell.seed}")
        bar.update(1)

    try:
        grid = rep.run_grid(cfg, methods=methods, features=features, rebalances=rebalances, seeds=seeds,
                            threshold_rule=settings.threshold_rule, val_frac=settings.val_frac,
                            on_cell=on_cell)
    finally:
        bar.close()
    out = Path(cfg.out)
    command = f"tsssl report --config {out / 'config.toml'}"
    report = rep.build_report(grid, n_boot=settings.n_boot, extra_meta={"command": command})
    report["meta"]["wall_seconds"]["total"] = round(time.perf_counter() - t0, 3)
    save_settings(out / "config.toml", cfg, settings)
    rep.write_report(report, grid, out)
    return report


def summary(report: dict[str, Any], out: Path) -> str:
    """The console summary: precision (95% CI) and PR-AUC per cell in the talk's shape, the
    base rate, and where the outputs are."""
    from tsssl.evaluate.report import _num, _with_ci, metric_table

    meta = report["meta"]
    s, d = meta["split"], meta["data"]
    base = s["n_test_pos"] / max(s["n_test"], 1)
    ci = int(round(100 * meta["bootstrap"]["ci"]))

    def text_table(rows: list[list[str]]) -> list[str]:
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        return ["  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                for r in rows]

    precision = metric_table(report, lambda r: _with_ci(r, "precision"))
    pr_auc = metric_table(report, lambda r: _num(r.get("pr_auc")))
    lines = [
        f"tsssl report: {', '.join(meta['grid']['methods'])} x {' '.join(meta['grid']['rebalance'])} x "
        f"{' '.join(meta['grid']['features'])}, seeds {' '.join(map(str, meta['grid']['seeds']))} on "
        f"{', '.join(d['tickers'][:5])}{' ...' if len(d['tickers']) > 5 else ''} "
        f"({d['first_date']} to {d['last_date']})",
        f"  test {s['test_start']} to {s['test_end']}: {s['n_test']:,} windows, {s['n_test_pos']} strict rises "
        f"(base rate {100 * base:.1f}%); threshold chosen on validation {s['val_start']} to {s['val_end']}",
        f"  precision on the test set (mean over seeds, {ci}% block-bootstrap CI):",
        *text_table(precision),
        "  PR-AUC (a model without skill scores the base rate):",
        *text_table(pr_auc),
        f"  outputs in {out}/: report.md, report.json, report.html, predictions.npz, config.toml "
        f"({meta['wall_seconds'].get('total', meta['wall_seconds']['grid']):.0f} s in all)",
    ]
    return "\n".join(lines)
