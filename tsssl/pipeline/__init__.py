"""The library behind ``tsssl train`` and ``tsssl report``: runs and cells of the comparison.

    prices = load_configured_prices(cfg)
    splits = prepare_splits(prices, features=("ohlcv", "ohlcv+padic"), window=20, horizon=5)
    cells = run_method("siamcl", cfg, splits["ohlcv"], rebalances=("v1", "v2", "v3"), seed=0)
    grid = run_grid(cfg, methods=["lstm", "siamcl"], seeds=[0, 1, 2])   # every cell
    metrics = train_and_probe(cfg)                                      # one `tsssl train` run

Modules: ``splits`` (prices -> windows -> one split shared by every feature set), ``cell`` (the
Trainer and method of every run: :func:`make_trainer`, :func:`make_window_method`; one cell),
``grid`` (every cell of a report), ``walkforward`` (walk-forward folds pooled into one test set),
``progress`` (the report's progress bar), ``single`` (one ``tsssl train`` run).
"""

from __future__ import annotations

from tsssl.pipeline.cell import (
    CellResult,
    build_cell_method,
    choose_cell_threshold,
    make_trainer,
    make_window_method,
    pca_2d,
    run_budget,
    run_method,
)
from tsssl.pipeline.grid import GridResult, check_grid, run_grid, run_report
from tsssl.pipeline.single import default_out, evaluate_split, prepare_run_data, train_and_probe
from tsssl.pipeline.splits import (
    SplitData,
    check_same_split,
    continuous_channels,
    describe_prices,
    load_configured_prices,
    prepare_folds,
    prepare_splits,
)
from tsssl.registry import THRESHOLD_RULES

__all__ = [
    "THRESHOLD_RULES",
    "CellResult",
    "GridResult",
    "SplitData",
    "build_cell_method",
    "check_grid",
    "check_same_split",
    "default_out",
    "choose_cell_threshold",
    "continuous_channels",
    "describe_prices",
    "evaluate_split",
    "load_configured_prices",
    "make_trainer",
    "run_budget",
    "make_window_method",
    "pca_2d",
    "prepare_folds",
    "prepare_run_data",
    "prepare_splits",
    "run_grid",
    "run_report",
    "run_method",
    "train_and_probe",
]
