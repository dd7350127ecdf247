"""The classic image and text self-supervised methods on bundled offline data, as library code.

    metrics = run_experiment(resolve_config(None, {"modality": "image", "method": "simclr", "out": "runs/x"}))
    exp = build_experiment("text", "word2vec", seed=0)   # model, data, evaluation

One module per task, chosen by the table ``TASKS``: ``image`` (scikit-learn's digits: the
window methods with a conv encoder, RotNet, Jigsaw, CPC on pixel rows, CLIP with captions),
``photos`` (colorization and the split-brain auto-encoder on scikit-learn's two sample
photographs), ``text`` (pydoc topics: word2vec, masked LM with optional NSP / SOP, ELECTRA,
SimCSE) and ``window_clip`` (CLIP between price
windows and generated descriptions). Each trains through the one Trainer (built by
``tsssl.pipeline.make_trainer``) and is evaluated against the same model at its random
initialisation. Training settings: the method's registry defaults, then the config file, then
flags (``tsssl.config.resolve_config``).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from importlib import import_module
from pathlib import Path
from typing import Any, Optional

from tsssl import registry
from tsssl.atomic import finite_or_none, write_json
from tsssl.config import RunConfig
from tsssl.experiments.base import Experiment

#: (modality, method) -> the module whose ``build(method, seed, method_kwargs, encoder_kwargs)``
#: makes the experiment; (modality, None): every other method of that modality
TASKS: dict[tuple[str, str | None], str] = {
    ("image", None): "tsssl.experiments.image",
    ("image", "colorization"): "tsssl.experiments.photos",
    ("image", "splitbrain"): "tsssl.experiments.photos",
    ("text", None): "tsssl.experiments.text",
    ("text", "clip"): "tsssl.experiments.window_clip",
}

__all__ = ["TASKS", "Experiment", "build_experiment", "run_experiment"]


def build_experiment(
    modality: str,
    method: str,
    seed: int = 0,
    method_kwargs: Mapping | None = None,
    encoder_kwargs: Mapping | None = None,
) -> Experiment:
    """The model, data and evaluation of ``modality`` / ``method`` (torch seeded with ``seed``)."""
    import torch

    registry.use(method, modality)  # ValueError naming the methods of that modality
    module = TASKS.get((modality, method)) or TASKS[(modality, None)]
    torch.manual_seed(seed)
    return import_module(module).build(method, seed, dict(method_kwargs or {}), dict(encoder_kwargs or {}))


def run_experiment(cfg: RunConfig, resume: bool = False) -> dict[str, Any]:
    """Build the data and method of ``cfg`` (its modality, method and ``out`` set), train with the
    Trainer, evaluate against the random initialisation, write checkpoint.pt, log.csv,
    metrics.json and config.toml into ``cfg.out`` and return the metrics."""
    from tsssl.pipeline import make_trainer
    from tsssl.pipeline.single import SaveConfigAtStart

    out = Path(cfg.out)
    t_start = time.perf_counter()
    log_every = max(1, min(20, (cfg.max_steps or 100) // 10))
    trainer = make_trainer(  # config.toml once the Trainer has restored and checked a checkpoint
        cfg, out_dir=out, log_every=log_every, checkpoint_every=cfg.checkpoint_every,
        checkpoint_minutes=cfg.checkpoint_minutes, callbacks=[SaveConfigAtStart(cfg, out / "config.toml", "modality")],
    )  # fmt: skip
    exp = build_experiment(cfg.modality, cfg.method, cfg.seed, cfg.method_kwargs, cfg.encoder_kwargs)
    initial = copy.deepcopy(exp.method)  # the random-initialisation baseline: same weights before training
    out.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    result = trainer.fit(exp.method, exp.data, resume=resume)
    t_train = time.perf_counter() - t0
    exp.method.eval()
    t0 = time.perf_counter()
    evaluation = exp.evaluate(exp.method, initial)
    t_eval = time.perf_counter() - t0
    metrics = {
        "modality": cfg.modality,
        "method": cfg.method,
        "loss": registry.use(cfg.method, cfg.modality).loss,
        "data": exp.describe,
        "first_logged_loss": finite_or_none(result.history[0]["loss"] if result.history else None),
        "final_loss": finite_or_none(result.final_loss),
        "steps": int(result.steps),
        "samples_per_s": finite_or_none(result.samples_per_s),
        "device": result.device,
        **evaluation,
        "seconds": {
            "train": round(t_train, 2),
            "evaluate": round(t_eval, 2),
            "total": round(time.perf_counter() - t_start, 2),
        },
        "settings": {
            **cfg.trainer_settings(),
            "method_kwargs": cfg.method_kwargs,
            "encoder_kwargs": cfg.encoder_kwargs,
        },
    }
    write_json(out / "metrics.json", metrics)
    return metrics
