"""One cell of the comparison: (method, features, rebalance, seed) -> scores and a threshold.

The Trainer and the window method of every run are built here, by :func:`make_trainer` and
:func:`make_window_method`: ``tsssl train``, ``tsssl report``, the image / text experiments,
``TSSSLEncoder`` and ``tsssl bench`` all call them.

- ``lstm`` (the supervised baseline; any method whose class has ``uses_labels``) trains on the
  fit windows rebalanced with ``rebalance`` (``none``: balanced class weights instead) and
  scores with its own classifier head;
- a self-supervised method trains its encoder once per (features, seed) on every fit window
  (labels unused, so rebalancing cannot change it), then, per rebalance, a class-balanced probe
  (``cfg.probe``) is fitted on the frozen representations of the rebalanced fit windows.

Both then score the validation and test windows; the threshold comes from the validation scores
(``threshold_rule``), and the test scores, threshold and the training history are returned as a
:class:`CellResult` (plus a 2-D PCA projection of the test representations for the plots, and
the representation diagnostics of the encoder's last step: :func:`run_diagnostics`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tsssl.atomic import finite_or_none
from tsssl.config import RunConfig
from tsssl.pipeline.splits import SplitData, continuous_channels
from tsssl.registry import THRESHOLD_RULES

#: the representation diagnostics of every run: measured every DIAG_EVERY steps (and at the
#: last) on the first DIAG_PROBE training windows (``tsssl.train.diagnostics.Diagnostics``)
DIAG_EVERY = 50
DIAG_PROBE = 512


@dataclass
class CellResult:
    """What one (method, features, rebalance, seed) cell produced.

    test_score / val_score: (N,) float64 confidence of a rise; threshold: the decision threshold
    (``score >= threshold`` is a call), chosen on the validation scores as
    ``threshold_description`` says; history: the Trainer's log rows; projection: (N_test, 2) PCA
    of the test representations (None when not asked for); diagnostics: the representation
    diagnostics at the last step (alignment (None without views), uniformity, effective_rank,
    collapsed, dim, step, n_probe, every; see ``tsssl.train.diagnostics``), None when not measured.
    Pooled over walk-forward folds (``tsssl.pipeline.walkforward``): test_threshold is the (N,)
    threshold of each test window (its fold's), ``threshold`` their folds' mean, and ``folds`` one
    record per fold (threshold, how it was chosen, steps, seconds); None for one split.
    """

    method: str
    features: str
    rebalance: str
    seed: int
    test_score: np.ndarray
    val_score: np.ndarray
    threshold: float
    threshold_description: str
    scored_by: str
    history: list[dict[str, Any]] = field(default_factory=list)
    projection: np.ndarray | None = None
    n_fit_rebalanced: int = 0
    train_seconds: float = 0.0
    steps: int = 0
    final_loss: float | None = None
    device: str = "cpu"
    diagnostics: dict[str, Any] | None = None
    test_threshold: np.ndarray | None = None
    folds: list[dict[str, Any]] | None = None

    @property
    def key(self) -> tuple[str, str, str, int]:
        return (self.method, self.features, self.rebalance, self.seed)

    @property
    def thresholds(self) -> float | np.ndarray:
        """The threshold of every test window: (N,) pooled over folds, else the one float."""
        return self.threshold if self.test_threshold is None else self.test_threshold

    def calls(self) -> np.ndarray:
        """(N,) bool: the test windows called a rise (``test_score >= threshold`` of their fold)."""
        return self.test_score >= self.thresholds


def pca_2d(Z: np.ndarray) -> np.ndarray:
    """(N, D) representations -> (N, 2) float32 coordinates on their first two principal axes
    (centred, each dimension scaled to unit variance; fewer than 2 dimensions are zero-padded)."""
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2:
        raise ValueError(f"Z must be (N, D) representations, got shape {Z.shape}")
    out = np.zeros((len(Z), 2), dtype=np.float32)
    if len(Z) < 2:
        return out
    Zc = Z - Z.mean(axis=0)
    sd = Zc.std(axis=0)
    Zc = Zc / np.where(sd > 0, sd, 1.0)
    _, _, vt = np.linalg.svd(Zc, full_matrices=False)
    k = min(2, vt.shape[0])
    out[:, :k] = (Zc @ vt[:k].T).astype(np.float32)
    return out


def choose_cell_threshold(
    y_val: np.ndarray, score_val: np.ndarray, rule: str = "f1", **kwargs: Any
) -> tuple[float, str]:
    """``evaluate.choose_threshold`` on the validation slice; when the rule needs positives and the
    slice has none, the fixed 0.5 of the class-balanced score, saying so."""
    from tsssl.evaluate import choose_threshold

    if rule not in THRESHOLD_RULES:
        raise ValueError(f"threshold rule must be one of {', '.join(THRESHOLD_RULES)}; got {rule!r}")
    y_val = np.asarray(y_val)
    if rule in ("f1", "precision_at_recall", "top_frac") and (y_val.size == 0 or y_val.sum() == 0):
        return 0.5, (
            f"fixed 0.5 on the class-balanced score: the validation slice ({y_val.size} "
            f"windows) has no positive window for rule {rule!r}"
        )
    return choose_threshold(y_val, score_val, rule, **kwargs)


def make_trainer(settings: Any, *, n_samples: int | None = None, log_points: int | None = None, **options: Any):
    """The Trainer of a run, built once through its checks.

    settings: a RunConfig, a TSSSLEncoder, a mapping, ... : its ``TRAINER_KEYS`` (epochs,
    max_steps, batch_size, lr, weight_decay, device, precision, seed) that are present; the
    Trainer's own defaults for the others. options: more Trainer arguments, over the settings
    (out_dir, progress, seed, callbacks, ...). n_samples: cap the batch at the number of training
    samples (rebalancing v1 or a small X can leave fewer than a batch). log_points: log about
    that many rows over the run (sets ``log_every``).
    """
    from tsssl.config import TRAINER_KEYS
    from tsssl.train import Trainer, total_steps

    if isinstance(settings, Mapping):
        kwargs = {k: settings[k] for k in TRAINER_KEYS if k in settings}
    else:
        kwargs = {k: getattr(settings, k) for k in TRAINER_KEYS if hasattr(settings, k)}
    kwargs.update(options)
    if n_samples is not None:  # a length or batch left open (None) is chosen from the data
        kwargs.update(run_budget(kwargs, n_samples).trainer_kwargs())
    elif kwargs.get("batch_size") is None:  # not known yet: the Trainer's default until run_budget
        kwargs.pop("batch_size", None)
    if log_points is not None and n_samples is not None:
        steps_per_epoch = max(1, n_samples // kwargs.get("batch_size", n_samples))
        run_steps = total_steps(kwargs.get("epochs"), kwargs.get("max_steps"), steps_per_epoch)
        kwargs["log_every"] = max(1, run_steps // log_points)
    return Trainer(**kwargs)


def run_budget(settings: Any, n_samples: int):
    """The :class:`tsssl.budget.Budget` of a run on ``n_samples`` training samples: the epochs,
    max_steps and batch_size that ``settings`` (a mapping or an object) gives, the others chosen
    by ``tsssl.budget.auto_budget`` (docs/design.md, "Budget")."""
    from tsssl.budget import auto_budget

    get = settings.get if isinstance(settings, Mapping) else lambda k: getattr(settings, k, None)
    return auto_budget(n_samples, batch_size=get("batch_size"), max_steps=get("max_steps"), epochs=get("epochs"))


def make_window_method(
    name: str,
    in_channels: int,
    *,
    encoder: Any = "lstm",
    encoder_kwargs: dict[str, Any] | None = None,
    method_kwargs: dict[str, Any] | None = None,
    standardize: Any = None,
    view_channels: list[int] | None = None,
    labels: np.ndarray | None = None,
    balance_classes: bool = False,
    length: int | None = None,
):
    """Window method ``name`` as every command builds it (``tsssl.methods.build_method``).

    encoder: a name, ``"auto"`` (the method's registry encoder) or a module. length: the windows'
    length in steps, given to an encoder that takes it (the dilated CNN's depth follows it)
    unless ``encoder_kwargs`` set ``length`` or ``depth``.

    A method that trains on labels (``uses_labels``) gets balanced class weights from ``labels``
    when ``balance_classes`` (or ``class_weight="balanced"`` in method_kwargs); a self-supervised
    one gets the default two views, restricted to ``view_channels`` (one-hot channels stay exact).
    standardize: per-channel (mean, std) of the training windows, kept in the encoder.
    """
    from tsssl import registry
    from tsssl.augment import default_timeseries_views
    from tsssl.methods import build_method

    kwargs = dict(method_kwargs or {})
    if encoder == "auto":
        encoder = registry.default_encoder(name)
    encoder_kwargs = _with_length(encoder, dict(encoder_kwargs or {}), length)
    if registry.uses_labels(name):
        if balance_classes:
            kwargs.setdefault("class_weight", "balanced")
        if kwargs.get("class_weight") == "balanced":
            kwargs.setdefault("labels", labels)
    else:
        kwargs.setdefault("views", default_timeseries_views(channels=view_channels))
    return build_method(
        name,
        in_channels=in_channels,
        encoder=encoder,
        encoder_kwargs=encoder_kwargs or None,
        standardize=standardize,
        **kwargs,
    )


def _with_length(encoder: Any, encoder_kwargs: dict[str, Any], length: int | None) -> dict[str, Any]:
    """``encoder_kwargs`` with ``length`` added when the named encoder takes one and neither
    ``length`` nor ``depth`` is set."""
    import inspect

    from tsssl import registry

    if length is None or not isinstance(encoder, str) or encoder.lower() not in registry.ENCODER_CLASSES:
        return encoder_kwargs
    params = inspect.signature(registry.encoder_class(encoder.lower())).parameters
    if "length" in params and not {"length", "depth"} & set(encoder_kwargs):
        encoder_kwargs["length"] = int(length)
    return encoder_kwargs


def build_cell_method(
    method_name: str, cfg: RunConfig, fit_ws, labels: np.ndarray | None = None, rebalance: str = "none"
):
    """The method of a report cell or of a `tsssl train` run around ``cfg``'s encoder, inputs
    standardised with the fit windows' per-channel statistics; a labelled method without
    rebalancing gets balanced class weights (``labels``)."""
    from tsssl.methods import channel_stats

    return make_window_method(
        method_name,
        fit_ws.X.shape[2],
        encoder=cfg.encoder,
        encoder_kwargs=cfg.encoder_kwargs,
        method_kwargs=cfg.method_settings(method_name),
        standardize=channel_stats(fit_ws.X),
        view_channels=continuous_channels(fit_ws.feature_names),
        labels=labels,
        balance_classes=rebalance == "none",
        length=fit_ws.X.shape[1],
    )


def run_diagnostics(fit_ws: Any):
    """The diagnostics callback of a run: every DIAG_EVERY steps on the first DIAG_PROBE windows
    of ``fit_ws`` (the training windows in time order: the same probe for every method)."""
    from tsssl.train.diagnostics import Diagnostics

    return Diagnostics(every=DIAG_EVERY, windows=fit_ws.X[:DIAG_PROBE])


def final_diagnostics(diag: Any) -> dict[str, Any] | None:
    """The last measurement of a ``Diagnostics`` callback without its history (None: none taken)."""
    summary = diag.summary()
    return None if summary is None else {k: v for k, v in summary.items() if k != "history"}


def _seed_all(seed: int) -> None:
    import torch

    torch.manual_seed(seed)
    np.random.seed(seed)


def _cell_trainer(cfg: RunConfig, seed: int, n_samples: int, callbacks: list[Any] | None = None):
    """A report cell's Trainer: no checkpoints, no progress bar, the batch capped at the samples."""
    return make_trainer(
        cfg, n_samples=n_samples, seed=seed, out_dir=None, progress=False, callbacks=list(callbacks or [])
    )


def run_method(
    method_name: str,
    cfg: RunConfig,
    sd: SplitData,
    rebalances: Iterable[str],
    seed: int,
    threshold_rule: str = "f1",
    project: bool = True,
    on_cell: Callable[[CellResult], None] | None = None,
    threshold_kwargs: Mapping[str, Any] | None = None,
) -> list[CellResult]:
    """Train and score ``method_name`` on one feature set for every rebalance strategy, one seed.

    Returns one :class:`CellResult` per rebalance (in the order given). A labelled method trains
    once per rebalance; a self-supervised method trains its encoder once and fits one probe per
    rebalance. ``on_cell`` is called with each result as soon as it is ready (progress).
    threshold_kwargs: the rule's parameter (``min_recall``, ``frac``, ``value``).
    """
    from tsssl import registry

    results: list[CellResult] = []

    def finish(
        rebalance: str,
        result: Any,
        train_seconds: float,
        val_score: Any,
        test_score: Any,
        n_bal: int,
        scored_by: str,
        z_test: Any = None,
        diagnostics: dict[str, Any] | None = None,
    ) -> None:
        t, how = choose_cell_threshold(sd.val.y, val_score, threshold_rule, **dict(threshold_kwargs or {}))
        cell = CellResult(
            method=method_name,
            features=sd.features,
            rebalance=rebalance,
            seed=seed,
            test_score=np.asarray(test_score, dtype=np.float64),
            val_score=np.asarray(val_score, dtype=np.float64),
            threshold=float(t),
            threshold_description=how,
            scored_by=scored_by,
            history=list(result.history),
            projection=None if z_test is None else pca_2d(z_test),
            n_fit_rebalanced=int(n_bal),
            train_seconds=round(train_seconds, 3),
            steps=int(result.steps),
            final_loss=finite_or_none(result.final_loss),
            device=str(result.device),
            diagnostics=diagnostics,
        )
        results.append(cell)
        if on_cell is not None:
            on_cell(cell)

    run = _run_labelled if registry.uses_labels(method_name) else _run_self_supervised
    run(method_name, cfg, sd, list(rebalances), seed, project, finish)
    return results


def _run_labelled(
    method_name: str,
    cfg: RunConfig,
    sd: SplitData,
    rebalances: list[str],
    seed: int,
    project: bool,
    finish: Callable[..., None],
) -> None:
    """One model per rebalance, trained on the rebalanced fit windows, scored by its own head."""
    from tsssl import data
    from tsssl.evaluate import embed

    for rebalance in rebalances:
        _seed_all(seed)
        bal = data.rebalance(sd.fit, rebalance, seed=seed)
        method = build_cell_method(method_name, cfg, sd.fit, labels=bal.y, rebalance=rebalance)
        diag = run_diagnostics(sd.fit)
        t0 = time.perf_counter()
        result = _cell_trainer(cfg, seed, len(bal), [diag]).fit(method, bal)
        dt = time.perf_counter() - t0
        method.eval()
        val_score = method.predict_proba(sd.val.X)[:, 1]
        test_score = method.predict_proba(sd.test.X)[:, 1]
        z_test = embed(method.encoder, sd.test.X) if project else None
        finish(
            rebalance,
            result,
            dt,
            val_score,
            test_score,
            len(bal),
            f"{method_name} classifier head",
            z_test,
            final_diagnostics(diag),
        )


def _run_self_supervised(
    method_name: str,
    cfg: RunConfig,
    sd: SplitData,
    rebalances: list[str],
    seed: int,
    project: bool,
    finish: Callable[..., None],
) -> None:
    """One encoder on every fit window (labels unused), then one probe per rebalance."""
    from tsssl import data, evaluate

    _seed_all(seed)
    method = build_cell_method(method_name, cfg, sd.fit)
    diag = run_diagnostics(sd.fit)
    t0 = time.perf_counter()
    result = _cell_trainer(cfg, seed, len(sd.fit), [diag]).fit(method, sd.fit)
    dt = time.perf_counter() - t0
    method.eval()
    z_val = evaluate.embed(method.encoder, sd.val.X)
    z_test = evaluate.embed(method.encoder, sd.test.X)
    for rebalance in rebalances:
        bal = data.rebalance(sd.fit, rebalance, seed=seed)
        z_bal = evaluate.embed(method.encoder, bal.X)
        probe = evaluate.fit_probe(z_bal, bal.y, kind=cfg.probe, class_weight="balanced", seed=seed)
        finish(
            rebalance,
            result,
            dt,
            evaluate.probe_scores(probe, z_val),
            evaluate.probe_scores(probe, z_test),
            len(bal),
            f"{cfg.probe} probe on the frozen encoder",
            z_test if project else None,
            final_diagnostics(diag),
        )
