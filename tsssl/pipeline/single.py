"""One run of ``tsssl train`` on price windows: data -> split -> rebalance -> train -> probe -> metrics.

    metrics = train_and_probe(cfg)   # cfg.out set: writes checkpoint.pt, log.csv, config.toml, metrics.json

Self-supervised methods train on every training window (labels unused); a method that trains on
labels (the ``lstm`` baseline) on the rebalanced ones. The frozen encoder is then probed on the
(rebalanced) training windows and scored on the untouched test windows; the baseline scores with
its own head. A window is called a rise when its score is >= 0.5: both scorers are trained
class-balanced, and nothing is tuned on the test windows. The representation diagnostics
(alignment, uniformity, effective rank, collapse: ``tsssl.train.diagnostics``) are measured during
training on the first 512 training windows; they go into log.csv and metrics.json ("diagnostics").
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tsssl.atomic import finite_or_none, json_ready, write_json
from tsssl.config import RunConfig
from tsssl.pipeline.cell import build_cell_method, make_trainer, run_budget, run_diagnostics
from tsssl.pipeline.splits import iso_day, load_run_prices


@dataclass
class RunData:
    """The windows of a run: all of them, the purged training / test split, the rebalanced
    training, and what became of the requested data (``tsssl.pipeline.splits.data_record``)."""

    windows: Any
    train: Any
    test: Any
    train_balanced: Any
    record: dict[str, Any]


def prepare_run_data(cfg: RunConfig) -> RunData:
    """Prices -> windows -> chronological split -> rebalanced training windows, as ``cfg`` says.

    ``cfg.features`` "auto" is replaced by the set the prices allow (the run records that one)."""
    from tsssl import data
    from tsssl.data.windows import resolve_features

    prices, record = load_run_prices(cfg)
    record["features"] = {"requested": cfg.features, "used": resolve_features(cfg.features, prices.columns)}
    cfg.features = record["features"]["used"]
    ws = data.build_windows(
        prices,
        window=cfg.window,
        horizon=cfg.horizon,
        features=cfg.features,
        p=cfg.padic_p,
        deadband=cfg.padic_deadband,
    )
    split = data.chronological_split(
        ws, test_start=cfg.test_start, test_frac=cfg.test_frac, purge=cfg.purge, embargo=cfg.embargo
    )
    if len(split.train) == 0 or len(split.test) == 0:
        raise ValueError(
            f"the split left {len(split.train)} training and {len(split.test)} test windows; "
            "use more dates or another --test-start"
        )
    return RunData(ws, split.train, split.test, data.rebalance(split.train, cfg.rebalance, seed=cfg.seed), record)


class SaveConfigAtStart:
    """Trainer callback: write the run's config.toml when training starts, i.e. after the Trainer
    has restored and checked its checkpoint, and before the first step (an interrupted run is
    resumed from it)."""

    def __init__(self, cfg: RunConfig, path: Path, command: str) -> None:
        self.cfg, self.path, self.command = cfg, path, command

    def on_fit_start(self, info: dict[str, Any]) -> None:
        self.cfg.save(self.path, self.command)


def is_main_process() -> bool:
    """Rank 0 of a torchrun launch (RANK), or a single process: the one that writes and prints."""
    from tsssl.train import distributed

    return distributed.get_rank() == 0 if distributed.is_initialized() else int(os.environ.get("RANK", "0")) == 0


def train_and_probe(cfg: RunConfig, resume: bool = False) -> dict[str, Any] | None:
    """Run ``cfg`` (its ``out`` set), write the outputs, return the metrics.

    Under ``torchrun`` every rank trains its shard (the Trainer wraps the method in DDP and
    writes the checkpoint and log from rank 0); rank 0 alone writes config.toml, probes the
    encoder and writes metrics.json; the other ranks return None."""
    import torch

    from tsssl import registry

    t_start = time.perf_counter()
    out = Path(cfg.out)
    # first: a bad device / precision fails before any data is read; config.toml is written once
    # the Trainer has restored and checked a checkpoint (a failed --resume leaves the folder as it was)
    trainer = make_trainer(
        cfg,
        out_dir=out,
        checkpoint_every=cfg.checkpoint_every,
        checkpoint_minutes=cfg.checkpoint_minutes,
        callbacks=[SaveConfigAtStart(cfg, out / "config.toml", "train")] if is_main_process() else [],
    )
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    rd = prepare_run_data(cfg)
    t_data = time.perf_counter() - t_start

    # inputs standardised per channel with the training windows' statistics (kept in the encoder)
    method = build_cell_method(cfg.method, cfg, rd.train, labels=rd.train_balanced.y, rebalance=cfg.rebalance)
    main = is_main_process()
    # self-supervised: every training window, no labels used
    fit_data = rd.train_balanced if registry.uses_labels(cfg.method) else rd.train
    budget = run_budget(cfg, len(fit_data))  # what cfg leaves open, chosen from the data
    trainer = trainer.replace(**budget.trainer_kwargs())
    # rank 0 alone measures the representation (every rank holds the same weights)
    diag = run_diagnostics(rd.train) if main else None
    if diag is not None:
        trainer = trainer.replace(callbacks=[*trainer.callbacks, diag])
    t0 = time.perf_counter()
    result = trainer.fit(method, fit_data, resume=resume)
    t_train = time.perf_counter() - t0
    if not main:
        return None
    t0 = time.perf_counter()
    evaluation = evaluate_split(method, cfg, rd.train_balanced, rd.test)
    t_eval = time.perf_counter() - t0
    seconds = {
        "data": round(t_data, 3),
        "train": round(t_train, 3),
        "evaluate": round(t_eval, 3),
        "total": round(time.perf_counter() - t_start, 3),
    }
    metrics = _metrics(cfg, rd, result, evaluation, seconds, str(next(method.parameters()).device))
    metrics["budget"] = {**budget.trainer_kwargs(), "chosen": list(budget.chosen), "rule": budget.describe()}
    metrics["diagnostics"] = diag.summary() if diag is not None else None  # the last one and its history
    write_json(out / "metrics.json", metrics)
    return metrics


def _metrics(
    cfg: RunConfig, rd: RunData, result: Any, evaluation: dict[str, Any], seconds: dict[str, float], device: str
) -> dict[str, Any]:
    """metrics.json of a run: what ran, on how many windows, the split's dates and the test scores."""
    return {
        "method": cfg.method,
        "encoder": cfg.encoder,
        "final_loss": finite_or_none(result.final_loss),
        "windows_per_s": finite_or_none(result.samples_per_s),
        "train_seconds": seconds["train"],
        "steps": int(result.history[-1]["step"]) if result.history else 0,
        "n_windows": len(rd.windows),
        "n_train": len(rd.train),
        "n_train_rebalanced": len(rd.train_balanced),
        "n_test": len(rd.test),
        "split": {**split_dates(rd.train, rd.test), **split_settings(cfg)},
        "data": rd.record,
        "setup": run_setup(cfg),
        **evaluation,
        "seconds": seconds,
        "device": device,
    }


def evaluate_split(method: Any, cfg: RunConfig, train: Any, test: Any) -> dict[str, Any]:
    """Scores on the test windows and their metrics: a probe on the frozen encoder fitted on the
    (rebalanced) training windows for a self-supervised method, the method's own classifier for
    one that trains on labels. The call threshold is a fixed 0.5 on the class-balanced score."""
    from tsssl import evaluate, registry

    device = next(method.parameters()).device
    method.eval()
    if registry.uses_labels(cfg.method):
        score = method.predict_proba(test.X)[:, 1]
        scored_by = f"{cfg.method} classifier head"
    else:
        z_train = evaluate.embed(method.encoder, train.X, device=device)
        z_test = evaluate.embed(method.encoder, test.X, device=device)
        probe = evaluate.fit_probe(z_train, train.y, kind=cfg.probe, class_weight="balanced", seed=cfg.seed)
        score = evaluate.probe_scores(probe, z_test)
        scored_by = f"{cfg.probe} probe on the frozen encoder"
    report = evaluate.classification_report(
        test.y,
        np.asarray(score, dtype=np.float64),
        threshold=0.5,
        dates=test.end_date,
        seed=cfg.seed,
        threshold_description="fixed 0.5 on the class-balanced score (not tuned on test)",
    )
    # JSON has no NaN: precision with no positive prediction is null
    probe_metrics = json_ready({k: v for k, v in report.items() if isinstance(v, (int, float, str, np.generic))})
    probe_metrics.setdefault("base_rate", float(np.mean(test.y)))
    probe_metrics.setdefault("n_test", int(len(test)))
    probe_metrics["scored_by"] = scored_by
    probe_metrics["trained_on"] = f"{len(train):,} training windows after rebalance {cfg.rebalance}"
    return {"probe": probe_metrics}


def split_dates(train: Any, test: Any) -> dict[str, str]:
    """First and last end dates of the training and test windows, as YYYY-MM-DD."""
    return {
        "train_start": iso_day(train.end_date.min()),
        "train_end": iso_day(train.end_date.max()),
        "test_start": iso_day(test.end_date.min()),
        "test_end": iso_day(test.end_date.max()),
    }


def split_settings(cfg: RunConfig) -> dict[str, Any]:
    """How the run's split was cut: test_frac (or test_start), purge (None: the horizon), embargo."""
    return {"test_frac": cfg.test_frac, "test_start_given": cfg.test_start,
            "purge": cfg.horizon if cfg.purge is None else cfg.purge, "embargo": cfg.embargo}  # fmt: skip


def run_setup(cfg: RunConfig) -> dict[str, Any]:
    """The knobs of a run that metrics.json records: features and their P-adic digits, and the
    method's constructor arguments from the configuration (SiamCL: pair loss, temperature, margin)."""
    padic = {"padic_p": cfg.padic_p, "padic_deadband": cfg.padic_deadband} if "padic" in cfg.features else {}
    return {"features": cfg.features, **padic, "method_settings": cfg.method_settings(cfg.method)}


def default_out(cfg: RunConfig) -> Path:
    """``runs/<method>-<time>`` (``runs/<modality>-<method>-<time>`` for images and text)."""
    from tsssl.runfolder import timestamped

    return timestamped(cfg.method if cfg.modality == "timeseries" else f"{cfg.modality}-{cfg.method}")
