"""The grid of ``tsssl report``: every (method, features, rebalance, seed) on one data set and split.

grid = run_grid(cfg, methods=["lstm", "siamcl"], features=["ohlcv", "ohlcv+padic"],
                rebalances=["v1", "v2", "v3"], seeds=[0, 1, 2])
report = tsssl.evaluate.report.build_report(grid, n_boot=1000)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tsssl.config import RunConfig
from tsssl.pipeline.cell import CellResult, make_trainer, run_method
from tsssl.pipeline.cellstore import CellStore
from tsssl.pipeline.splits import SplitData, check_same_split, describe_prices, load_run_prices, prepare_splits
from tsssl.registry import FEATURES, REBALANCE, THRESHOLD_RULES, names


def check_grid(
    methods: Iterable[str], features: Iterable[str], rebalances: Iterable[str], seeds: Iterable[int]
) -> tuple[list[str], list[str], list[str], list[int]]:
    """The grid's axes, de-duplicated in their order; ValueError naming an unknown value or an
    empty axis."""
    axes = {
        "methods": (list(methods), names("timeseries")),
        "features": (list(features), FEATURES),
        "rebalance": (list(rebalances), REBALANCE),
    }
    out = []
    for name, (values, accepted) in axes.items():
        if not values:
            raise ValueError(f"empty grid: {name} has no value; give at least one of {', '.join(accepted)}")
        bad = [v for v in values if v not in accepted]
        if bad:
            raise ValueError(f"{name}: unknown value(s) {', '.join(map(repr, bad))}; accepted: " + ", ".join(accepted))
        out.append(list(dict.fromkeys(values)))
    seeds = list(seeds)
    if not seeds:
        raise ValueError("empty grid: seeds has no value; give at least one seed, e.g. 0")
    bad = [s for s in seeds if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0]
    if bad:
        raise ValueError(f"seeds must be integers >= 0, got {bad!r}")
    out.append([int(s) for s in dict.fromkeys(seeds)])
    return tuple(out)  # type: ignore[return-value]


@dataclass
class GridResult:
    """Everything a grid run produced: the configuration, the axes, the split per feature set
    (``SplitData``, all with the same rows) and its shared description (``split``:
    ``check_same_split``), the cells (``CellResult``, one per method x features x rebalance x
    seed), a description of the data and the wall time."""

    cfg: RunConfig
    methods: list[str]
    features: list[str]
    rebalances: list[str]
    seeds: list[int]
    threshold_rule: str
    val_frac: float
    splits: dict[str, SplitData]
    cells: list[CellResult]
    split: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    wall_seconds: float = 0.0

    @property
    def test(self):
        """The test windows (the same rows in every feature set)."""
        return next(iter(self.splits.values())).test

    def cells_of(self, method: str, features: str, rebalance: str) -> list[Any]:
        """The cell's runs, in seed order."""
        found = [c for c in self.cells if (c.method, c.features, c.rebalance) == (method, features, rebalance)]
        return sorted(found, key=lambda c: self.seeds.index(c.seed))


def run_grid(
    cfg: RunConfig,
    methods: Sequence[str] = ("lstm", "siamcl"),
    features: Sequence[str] = ("ohlcv", "ohlcv+padic"),
    rebalances: Sequence[str] = ("v1", "v2", "v3"),
    seeds: Sequence[int] = (0, 1, 2),
    threshold_rule: str = "f1",
    val_frac: float = 0.2,
    prices=None,
    on_cell: Callable[[Any], None] | None = None,
    store: CellStore | None = None,
) -> GridResult:
    """Run every (method, features, rebalance, seed) on the data of ``cfg`` (or ``prices``).

    Data, split and training settings come from ``cfg`` (its single ``method`` / ``features`` /
    ``rebalance`` / ``seed`` are ignored: the axes replace them). Windows are built once per
    feature set and split at the same dates (verified). ``on_cell`` is called after each cell.
    store: cells already saved there are read back instead of trained, and each new cell is
    saved as soon as it is done (``tsssl report --resume``).
    """
    methods, features, rebalances, seeds = check_grid(methods, features, rebalances, seeds)
    if threshold_rule not in THRESHOLD_RULES:
        raise ValueError(f"threshold rule must be one of {', '.join(THRESHOLD_RULES)}; got {threshold_rule!r}")
    make_trainer(cfg)  # fail on a bad device / precision before any data is read
    t0 = time.perf_counter()
    record: dict[str, Any] = {}
    if prices is None:
        prices, record = load_run_prices(cfg)
    splits = prepare_splits(
        prices,
        features=features,
        window=cfg.window,
        horizon=cfg.horizon,
        test_start=cfg.test_start,
        test_frac=cfg.test_frac,
        embargo=cfg.embargo,
        val_frac=val_frac,
    )
    split = check_same_split(splits)  # the dates and sizes every feature set shares
    cells: list[CellResult] = []
    for f in features:
        for seed in seeds:
            for m in methods:
                cells += _method_cells(m, cfg, splits[f], rebalances, seed, threshold_rule, on_cell, store)
    return GridResult(
        cfg=cfg,
        methods=methods,
        features=features,
        rebalances=rebalances,
        seeds=seeds,
        threshold_rule=threshold_rule,
        val_frac=val_frac,
        splits=splits,
        cells=cells,
        split=split,
        data={**describe_prices(prices), **{k: record[k] for k in ("requested_tickers", "left_out") if k in record}},
        wall_seconds=round(time.perf_counter() - t0, 3),
    )


def _method_cells(
    method: str,
    cfg: RunConfig,
    sd: SplitData,
    rebalances: list[str],
    seed: int,
    threshold_rule: str,
    on_cell: Callable[[Any], None] | None,
    store: CellStore | None,
) -> list[CellResult]:
    """The cells of ``method`` on one feature set and seed: read from ``store`` when all are there,
    else trained (a self-supervised encoder serves every rebalance, so it trains for all of them)."""
    from tsssl import registry

    saved = {r: store.load(method, sd.features, r, seed) if store is not None else None for r in rebalances}
    for c in saved.values():
        if c is not None and on_cell is not None:
            on_cell(c)
    # a labelled method trains once per rebalance (seeded alone): only the missing ones run
    todo = [r for r in rebalances if saved[r] is None]
    if todo and not registry.uses_labels(method):
        todo = list(rebalances)
    if not todo:
        return [saved[r] for r in rebalances]

    def done(cell: CellResult) -> None:
        if store is not None and saved[cell.rebalance] is None:  # a saved cell stays as it was written
            store.save(cell)
        if on_cell is not None and saved[cell.rebalance] is None:
            on_cell(cell)

    fresh = {
        c.rebalance: c for c in run_method(method, cfg, sd, todo, seed, threshold_rule=threshold_rule, on_cell=done)
    }
    return [saved[r] or fresh[r] for r in rebalances]


def run_report(cfg: RunConfig, progress: bool | None = None) -> dict[str, Any]:
    """Run the grid of ``cfg.report`` on ``cfg``'s data, write config.toml, then each finished
    cell into ``cells/`` (cells already there are read back: resuming), then report.md / .json /
    .html and predictions.npz into ``cfg.out``; return the report dict.
    progress: a tqdm bar over the runs (None: only on a terminal)."""
    from tqdm.auto import tqdm

    from tsssl.evaluate import report as rep

    s = cfg.report
    methods, features, rebalances, seeds = check_grid(s.methods, s.features, s.rebalance, s.seeds)
    t0 = time.perf_counter()
    bar = tqdm(
        total=len(methods) * len(features) * len(rebalances) * len(seeds),
        unit="run",
        desc="tsssl report",
        disable=None if progress is None else not progress,
    )

    def on_cell(cell: CellResult) -> None:
        bar.set_postfix_str(f"{cell.method} {cell.features} {cell.rebalance} seed {cell.seed}")
        bar.update(1)

    out = Path(cfg.out)
    # config.toml with the first finished cell (after every data check): `--resume` reads it back
    store = CellStore(out / "cells", before_first_save=lambda: cfg.save(out / "config.toml", "report"))
    try:
        grid = run_grid(
            cfg,
            methods=methods,
            features=features,
            rebalances=rebalances,
            seeds=seeds,
            threshold_rule=s.threshold_rule,
            val_frac=s.val_frac,
            on_cell=on_cell,
            store=store,
        )
    finally:
        bar.close()
    report = rep.build_report(
        grid, n_boot=s.n_boot, extra_meta={"command": f"tsssl report --config {out / 'config.toml'}"}
    )
    report["meta"]["wall_seconds"]["total"] = round(time.perf_counter() - t0, 3)
    cfg.save(out / "config.toml", "report")  # also when every cell came from the store
    rep.write_report(report, grid, out)
    return report
