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

from tsssl.config import RunConfig, walk_forward_by_default
from tsssl.data.windows import resolve_features
from tsssl.pipeline.cell import CellResult, make_trainer, run_method
from tsssl.pipeline.cellstore import CellStore
from tsssl.pipeline.splits import (
    SplitData,
    check_same_split,
    describe_prices,
    load_run_prices,
    prepare_folds,
    prepare_splits,
)
from tsssl.pipeline.walkforward import pool_folds
from tsssl.registry import FEATURES, GRID_AUTO_FEATURES, REBALANCE, REPORT_SPLITS, THRESHOLD_RULES, names


def check_grid(
    methods: Iterable[str], features: Iterable[str], rebalances: Iterable[str], seeds: Iterable[int]
) -> tuple[list[str], list[str], list[str], list[int]]:
    """The grid's axes, de-duplicated in their order; ValueError naming an unknown value or an
    empty axis."""
    axes = {
        "methods": (list(methods), names("timeseries")),
        "features": (list(features), (*FEATURES, *GRID_AUTO_FEATURES)),
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
    seed), a description of the data and the wall time.

    Walk-forward (``split_mode``): ``splits`` is the last fold's, ``folds`` one record per fold
    (dates, purge, embargo, sizes, base rate), ``pooled`` the folds pooled
    (``tsssl.pipeline.walkforward.PooledFolds``): ``test`` / ``val`` / ``test_fold`` and the
    cells are then the pooled ones (each test window scored by its own fold's model)."""

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
    threshold_kwargs: dict[str, Any] = field(default_factory=dict)
    split_mode: str = "single"
    folds: list[dict[str, Any]] = field(default_factory=list)
    pooled: Any = None

    @property
    def test(self):
        """The test windows (the same rows in every feature set; walk-forward: every fold's)."""
        return self.pooled.test if self.pooled is not None else next(iter(self.splits.values())).test

    @property
    def val(self):
        """The validation windows (walk-forward: the folds' slices one after the other, as rows)."""
        return self.pooled.val if self.pooled is not None else next(iter(self.splits.values())).val

    @property
    def test_fold(self) -> np.ndarray | None:
        """(N_test,) walk-forward fold index (from 0) of each test window; None for one split."""
        return None if self.pooled is None else self.pooled.test_fold

    def cells_of(self, method: str, features: str, rebalance: str) -> list[Any]:
        """The cell's runs, in seed order."""
        found = [c for c in self.cells if (c.method, c.features, c.rebalance) == (method, features, rebalance)]
        return sorted(found, key=lambda c: self.seeds.index(c.seed))


def split_mode(split: str, prices: Any) -> str:
    """ "single" or "walk-forward" for ``report.split`` on these prices ("auto": the rule of
    ``tsssl.config.walk_forward_by_default``)."""
    import pandas as pd

    if split != "auto":
        if split not in REPORT_SPLITS:
            raise ValueError(f"split must be one of {', '.join(REPORT_SPLITS)}, got {split!r}")
        return split
    dates = pd.to_datetime(prices["date"])
    years = (dates.max() - dates.min()).days / 365.25
    return "walk-forward" if walk_forward_by_default(int(prices["ticker"].nunique()), years) else "single"


def run_grid(
    cfg: RunConfig,
    methods: Sequence[str] = ("lstm", "siamcl"),
    features: Sequence[str] = GRID_AUTO_FEATURES,
    rebalances: Sequence[str] = ("v1", "v2", "v3"),
    seeds: Sequence[int] = (0, 1, 2),
    threshold_rule: str = "f1",
    val_frac: float = 0.2,
    prices=None,
    on_cell: Callable[[Any], None] | None = None,
    store: CellStore | None = None,
    threshold_kwargs: dict[str, Any] | None = None,
    split: str = "single",
    folds: int = 4,
    on_plan: Callable[[int], None] | None = None,
) -> GridResult:
    """Run every (method, features, rebalance, seed) on the data of ``cfg`` (or ``prices``).

    Data, split and training settings come from ``cfg`` (its single ``method`` / ``features`` /
    ``rebalance`` / ``seed`` are ignored: the axes replace them). Windows are built once per
    feature set and split at the same dates (verified). ``on_cell(cell, cached=...)`` is called
    after each cell (cached: read back from ``store``).
    store: cells already saved there are read back instead of trained, and each new cell is
    saved as soon as it is done (``tsssl report --resume``; walk-forward: ``cells/fold<k>``).
    split: "single", "walk-forward" (``folds`` folds, pooled) or "auto" (:func:`split_mode`);
    on_plan: called with the number of runs once the split is known (a progress bar's total).
    """
    methods, features, rebalances, seeds = check_grid(methods, features, rebalances, seeds)
    if threshold_rule not in THRESHOLD_RULES:
        raise ValueError(f"threshold rule must be one of {', '.join(THRESHOLD_RULES)}; got {threshold_rule!r}")
    make_trainer(cfg)  # fail on a bad device / precision before any data is read
    t0 = time.perf_counter()
    record: dict[str, Any] = {}
    if prices is None:
        prices, record = load_run_prices(cfg)
    mode = split_mode(split, prices)
    features = list(dict.fromkeys(resolve_features(f, prices.columns) for f in features))  # "auto": from the columns
    common = {"features": features, "window": cfg.window, "horizon": cfg.horizon, "test_start": cfg.test_start,
              "test_frac": cfg.test_frac, "embargo": cfg.embargo, "val_frac": val_frac, "purge": cfg.purge,
              "padic": {"p": cfg.padic_p, "deadband": cfg.padic_deadband}}  # fmt: skip
    fold_splits = (
        prepare_folds(prices, folds=folds, **common) if mode == "walk-forward" else [prepare_splits(prices, **common)]
    )
    if on_plan is not None:
        on_plan(len(fold_splits) * len(methods) * len(features) * len(rebalances) * len(seeds))
    fold_cells: list[list[CellResult]] = []
    for k, splits in enumerate(fold_splits):
        fold_store = store.subfolder(f"fold{k + 1}") if store is not None and mode == "walk-forward" else store
        cells: list[CellResult] = []
        for f in features:
            for seed in seeds:
                for m in methods:
                    cells += _method_cells(
                        m, cfg, splits[f], rebalances, seed, threshold_rule, on_cell, fold_store,
                        threshold_kwargs=threshold_kwargs, project=mode == "single",
                    )  # fmt: skip
        fold_cells.append(cells)
    grid = GridResult(
        cfg=cfg, methods=methods, features=features, rebalances=rebalances, seeds=seeds,
        threshold_rule=threshold_rule, val_frac=val_frac, splits=fold_splits[-1], cells=fold_cells[-1],
        split=check_same_split(fold_splits[-1]), threshold_kwargs=dict(threshold_kwargs or {}), split_mode=mode,
        data={**describe_prices(prices), **{k: record[k] for k in ("requested_tickers", "left_out") if k in record}},
    )  # fmt: skip
    if mode == "walk-forward":
        grid.pooled = pool_folds(fold_splits, fold_cells)
        grid.cells, grid.folds, grid.split = grid.pooled.cells, grid.pooled.folds, grid.pooled.split
    grid.wall_seconds = round(time.perf_counter() - t0, 3)
    return grid


def _method_cells(
    method: str,
    cfg: RunConfig,
    sd: SplitData,
    rebalances: list[str],
    seed: int,
    threshold_rule: str,
    on_cell: Callable[[Any], None] | None,
    store: CellStore | None,
    threshold_kwargs: dict[str, Any] | None = None,
    project: bool = True,
) -> list[CellResult]:
    """The cells of ``method`` on one feature set and seed: read from ``store`` when all are there,
    else trained (a self-supervised encoder serves every rebalance, so it trains for all of them)."""
    from tsssl import registry

    saved = {r: store.load(method, sd.features, r, seed) if store is not None else None for r in rebalances}
    for c in saved.values():
        if c is not None and on_cell is not None:
            on_cell(c, cached=True)
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
            on_cell(cell, cached=False)

    runs = run_method(
        method, cfg, sd, todo, seed, threshold_rule=threshold_rule, on_cell=done, threshold_kwargs=threshold_kwargs,
        project=project,
    )  # fmt: skip
    fresh = {c.rebalance: c for c in runs}
    return [saved[r] or fresh[r] for r in rebalances]


def run_report(cfg: RunConfig, progress: bool | None = None) -> dict[str, Any]:
    """Run the grid of ``cfg.report`` on ``cfg``'s data, write config.toml, then each finished
    cell into ``cells/`` (cells already there are read back: resuming), then report.md / .json /
    .html and predictions.npz into ``cfg.out``; return the report dict.
    progress: a bar over the runs with the time left, on stderr (None: only on a terminal)."""
    from tsssl.evaluate import report as rep
    from tsssl.pipeline.progress import CellProgress

    s = cfg.report
    methods, features, rebalances, seeds = check_grid(s.methods, s.features, s.rebalance, s.seeds)
    t0 = time.perf_counter()
    bar = CellProgress(progress)
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
            on_cell=bar.update,
            store=store,
            threshold_kwargs=s.threshold_kwargs(),
            split=s.split,
            folds=s.folds,
            on_plan=bar.plan,
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
