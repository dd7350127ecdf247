"""``TSSSLEncoder``: a self-supervised window encoder as a scikit-learn transformer.

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    clf = make_pipeline(TSSSLEncoder(method="siamcl", epochs=5), LogisticRegression())
    clf.fit(X_train, y_train)              # X: (N, T, C) float windows, y: (N,) 0/1
    clf.predict_proba(X_test)[:, 1]

``fit`` builds the method with ``tsssl.methods.build_method`` (inputs standardised per channel
with the training windows' statistics, kept inside the encoder) and trains it with the one
``tsssl.Trainer``; ``transform`` runs the frozen encoder (eval mode, no grad, batched). The
fitted estimator pickles (weights moved to the CPU) and has ``save`` / ``load``. With
``checkpoint_dir`` an interrupted ``fit`` (Ctrl-C, a killed kernel) continues where its last
checkpoint left off when called again.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import io
import json
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.utils.validation import check_is_fitted

from tsssl.atomic import atomic_write
from tsssl.budget import auto_budget
from tsssl.data.windowset import WindowSet

__all__ = ["TSSSLEncoder"]

_FORMAT = "tsssl.TSSSLEncoder"
_FORMAT_VERSION = 1
#: written next to checkpoint.pt in ``checkpoint_dir``: which fit the checkpoint belongs to
_RUN_FILE = "tsssl_encoder.json"
_RUN_FORMAT = "tsssl.TSSSLEncoder checkpoint_dir"
#: the parameters that decide the trained weights (not device, precision, progress, ...)
_TRAINING_PARAMS = (
    "method",
    "encoder",
    "encoder_kwargs",
    "method_kwargs",
    "epochs",
    "max_steps",
    "batch_size",
    "lr",
    "weight_decay",
    "grad_clip",
    "warmup_frac",
    "min_lr_ratio",
    "seed",
    "standardize",
)


def _uses_labels(method: Any) -> bool:
    """Whether ``method`` (a window method's name) trains on labels; False for an unknown name."""
    from tsssl import registry

    return isinstance(method, str) and method in registry.names("timeseries") and registry.uses_labels(method)


def _as_windows(X: Any, name: str = "X", missing_ok: bool = False) -> np.ndarray:
    """X (a WindowSet, an array or a CPU tensor of windows) -> (N, T, C) float32, checked.

    missing_ok: steps that are NaN in every channel are missing (variable-length series padded
    with NaN), for an encoder and method that mask them; a series with no observed step, a step
    NaN in some channels only, and inf stay errors."""
    if isinstance(X, WindowSet):
        X = X.X
    try:
        arr = np.asarray(X)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{name} must be an array of windows (N, T, C), got {type(X).__name__}: {err}") from None
    if arr.ndim != 3:
        hint = " (one window? use X[None])" if arr.ndim == 2 else ""
        raise ValueError(
            f"{name} must be windows of shape (N, T, C) = (windows, days, channels), "
            f"got an array of shape {arr.shape}{hint}"
        )
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name} must hold real numbers (float or int), got dtype {arr.dtype}")
    if 0 in arr.shape:
        raise ValueError(f"{name} is empty: shape {arr.shape}; need at least one window, day and channel")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if missing_ok:
        _check_missing(arr, name)
    bad = ~np.isfinite(arr)
    if missing_ok:
        bad &= ~np.isnan(arr).all(axis=2, keepdims=True)  # whole missing steps are fine
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=(1, 2)))
        raise ValueError(
            f"{name} holds {int(bad.sum())} NaN/inf values in {rows.size} window(s), first at "
            f"index {rows[:5].tolist()}; drop or fill them first (windows must be finite"
            + (
                ""
                if missing_ok
                else "; series padded with NaN to one length need method='hierarchical', whose "
                "dilated encoder masks missing steps"
            )
            + ")"
        )
    return arr


def _check_missing(arr: np.ndarray, name: str) -> None:
    """ValueError for a series whose every step is missing or a step NaN in some channels only."""
    nan = np.isnan(arr)
    empty = np.flatnonzero(nan.all(axis=(1, 2)))
    if empty.size:
        raise ValueError(
            f"{name} has {empty.size} series with no observed value (all NaN), first at index "
            f"{empty[:5].tolist()}; drop them (a series needs at least one observed step)"
        )
    partial = np.flatnonzero((nan.any(axis=2) & ~nan.all(axis=2)).any(axis=1))
    if partial.size:
        raise ValueError(
            f"{name} has steps with NaN in some channels but not all, in {partial.size} series, first at "
            f"index {partial[:5].tolist()}; a missing step must be NaN in every channel (impute partial gaps)"
        )


def _sha256(*arrays: np.ndarray) -> str:
    """SHA-256 hex digest over the bytes of C-contiguous copies of ``arrays``."""
    digest = hashlib.sha256()
    for arr in arrays:
        digest.update(np.ascontiguousarray(arr).reshape(-1).view(np.uint8))
    return digest.hexdigest()


def _plain(value: Any) -> Any:
    """``value`` as JSON gives it back (tuples -> lists), mappings key by key; anything JSON
    cannot hold as its repr, memory addresses removed (they change from one process to the next)."""
    import torch

    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, torch.nn.Module):
        # its repr shows the layers, not the weights it starts from
        state = [
            t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy() for t in value.state_dict().values()
        ]
        return {"repr": " ".join(repr(value).split()), "weights_sha256": _sha256(*state)}
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        return re.sub(r" at 0x[0-9a-fA-F]+", "", " ".join(repr(value).split()))


def _parameter_defaults() -> dict[str, Any]:
    """TSSSLEncoder's constructor parameters and their defaults (the constructor stores them as given)."""
    return TSSSLEncoder().get_params(deep=False)


def _differences(saved: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """One "name: saved vs now" phrase per entry of the two stamps that differ."""
    out = []
    for section in ("params", "data"):
        old, new = saved.get(section) or {}, now[section]
        for key in [*new, *(k for k in old if k not in new)]:
            a, b = old.get(key), new.get(key)
            if a == b or (key == "X_sha256" and old.get("X_shape") != new.get("X_shape")):
                continue  # other shapes already say that X is another array
            if key.endswith("_sha256"):
                out.append(f"{key[:-7]} values (sha256 {str(a)[:12]}... in the checkpoint, {str(b)[:12]}... now)")
            else:
                out.append(f"{key}: {a!r} in the checkpoint, {b!r} now")
    return out


class TSSSLEncoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Learn representations of windows without labels; ``transform`` maps (N, T, C) -> (N, D).

    Parameters (stored as given; checked at ``fit``, as scikit-learn does):

    method: a window method of ``tsssl.registry`` ("siamcl", "cpc", "simclr", "moco",
        "byol", "simsiam", "barlow", or "lstm", the supervised baseline, which needs ``y``).
    encoder: "auto" (the method's registry encoder: the LSTM for most, the dilated CNN for
        "hierarchical"), "lstm", "cnn", "transformer" or "dilated" (or an ``nn.Module`` with
        ``out_dim``; it is copied, not trained in place). A dilated CNN gets the windows' length
        (its depth follows it). encoder_kwargs: its sizes; default the CLI's
        (``tsssl.config.DEFAULT_ENCODER_KWARGS``, e.g. one LSTM layer of 32 units), updated by
        the ones given.
    method_kwargs: arguments of the method (``temperature``, ``proj_dim``, ``views``,
        ``class_weight``, ...). Without ``views``, window methods get
        ``tsssl.augment.default_timeseries_views()`` (restricted to the continuous channels when
        fitted on a WindowSet with one-hot p-adic digits). ``class_weight="balanced"`` for
        "lstm" takes its weights from the ``y`` given to ``fit``.
    epochs, max_steps, batch_size, lr, weight_decay, device, precision, seed, progress: the
        ``tsssl.Trainer``'s; lr None: the method's registry default, its paper's where one is set
        (1e-3 for "hierarchical" and "tloss", 3e-4 for "tstcc"; "tnc" takes 1e-3 too), else 3e-3. The batch is capped
        at the number of training windows. Left None (the default), the budget is chosen from the
        data by ``tsssl.budget.auto_budget``: batch = the power of two <= N / 8 within [8, 512]
        (at most 8 for "hierarchical", TS2Vec's batch), length = 10 epochs within [200, 600]
        optimiser steps (``budget_`` says what was chosen; printed when ``progress``).
    grad_clip, warmup_frac, min_lr_ratio: the Trainer's optimiser settings too: the gradient
        norm is clipped at ``grad_clip`` (None: not clipped); the learning rate rises linearly
        over ``warmup_frac`` of the steps, then follows a half cosine down to ``min_lr_ratio *
        lr`` (``warmup_frac=0, min_lr_ratio=1``: a constant rate, TS2Vec's optimiser with
        ``weight_decay=0.01`` and ``grad_clip=None``).
    standardize: standardise each input channel with the training windows' mean / std (kept
        in the encoder as buffers, so ``transform`` applies the same statistics).
    transform_batch_size: windows per forward pass in ``transform``.
    checkpoint_dir: a folder where ``fit`` writes the Trainer's ``checkpoint.pt`` (every
        ``checkpoint_every`` optimiser steps and at the end; None: only at the end) and
        ``log.csv``, so that an interrupted fit (Ctrl-C, a killed notebook kernel) can go on.
        When the folder already holds a checkpoint, ``fit`` continues from it (the result is
        the uninterrupted fit's), or just loads it when that fit had finished, but only if it
        belongs to the same fit: ``tsssl_encoder.json`` next to it records the parameters that
        decide training (method, encoder, encoder_kwargs, method_kwargs, epochs, max_steps,
        batch_size, lr, weight_decay, grad_clip, warmup_frac, min_lr_ratio, seed, standardize)
        and a fingerprint of the training data (X's shape and a SHA-256 hash of its float32
        values, of y's when the method uses labels, and the augmented channels a WindowSet's
        feature names select); any difference is a ValueError. None (the default): nothing is
        written, every fit starts afresh.

    Fitted attributes: ``method_`` (the trained ``Method``), ``encoder_`` (its encoder),
    ``n_features_in_`` / ``in_channels_`` (C), ``window_length_`` (T), ``out_dim_`` (D),
    ``feature_names_`` (when fitted on a WindowSet, else None), ``budget_`` (batch_size,
    max_steps, epochs, chosen: the names the rule picked, and the rule), ``history_`` (the Trainer's log
    rows) and ``loss_curve_`` ((steps, losses) float arrays), ``n_steps_``, ``device_``.

    ``transform`` runs where the model is: the training device after ``fit``, the CPU after
    unpickling or ``load`` (unless ``load(path, device=...)``). Same ``seed``, same device:
    the same ``transform``; ``fit`` leaves the global torch / numpy / ``random`` states as it
    found them.
    """

    def __init__(
        self,
        method: str = "siamcl",
        encoder: Any = "auto",
        encoder_kwargs: Mapping[str, Any] | None = None,
        method_kwargs: Mapping[str, Any] | None = None,
        epochs: int | None = None,
        max_steps: int | None = None,
        batch_size: int | None = None,
        lr: float | None = None,
        weight_decay: float = 1e-4,
        grad_clip: float | None = 1.0,
        warmup_frac: float = 0.05,
        min_lr_ratio: float = 0.0,
        device: str = "auto",
        precision: str = "fp32",
        seed: int = 0,
        standardize: bool = True,
        transform_batch_size: int = 4096,
        progress: bool | None = False,
        checkpoint_dir: str | os.PathLike | None = None,
        checkpoint_every: int | None = 100,
    ) -> None:
        self.method = method
        self.encoder = encoder
        self.encoder_kwargs = encoder_kwargs
        self.method_kwargs = method_kwargs
        self.epochs = epochs
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.grad_clip = grad_clip
        self.warmup_frac = warmup_frac
        self.min_lr_ratio = min_lr_ratio
        self.device = device
        self.precision = precision
        self.seed = seed
        self.standardize = standardize
        self.transform_batch_size = transform_batch_size
        self.progress = progress
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every

    # -- fit -----------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> TSSSLEncoder:
        """Train on windows X (N, T, C) (or a WindowSet, whose ``y`` is used when y is None).

        y: (N,) labels, used only by supervised methods ("lstm", or ``supervised=True`` in
        method_kwargs); the self-supervised methods ignore it. With ``checkpoint_dir`` holding
        this fit's checkpoint, training continues from it (see the class docstring).
        """
        import torch

        from tsssl import registry
        from tsssl.pipeline import make_trainer
        from tsssl.train.checkpoint import capture_rng_state, restore_rng_state

        feature_names = list(X.feature_names) if isinstance(X, WindowSet) else None
        if isinstance(X, WindowSet) and y is None:
            y = X.y
        missing_ok = self._missing_ok()
        Xa = _as_windows(X, missing_ok=missing_ok)
        n, T, C = Xa.shape
        windows = registry.names("timeseries")
        if not isinstance(self.method, str) or self.method not in windows:
            raise ValueError(f"TSSSLEncoder: unknown method {self.method!r}; accepted: {', '.join(windows)}")
        method_kwargs = dict(self.method_kwargs or {})
        supervised = _uses_labels(self.method) or bool(method_kwargs.get("supervised", False))
        ya = self._check_y(y, n) if supervised else None
        if n < 2:
            raise ValueError(
                f"X has {n} window; training needs at least 2 (contrastive methods compare windows of a batch)"
            )
        # Trainer first: a bad device / precision / epochs fails before any model is built
        # (a small X still trains: the batch is capped at n; about 100 log rows over the run)
        use = registry.use(self.method, "timeseries")
        budget = auto_budget(
            n, batch_size=self.batch_size, max_steps=self.max_steps, epochs=self.epochs, max_batch=use.max_batch
        )
        lr = self.lr if self.lr is not None else use.defaults.get("lr", 3e-3)
        trainer = make_trainer(
            self,
            lr=lr,
            n_samples=n,
            log_points=100,
            progress=self.progress,
            batch_size=budget.batch_size,
            max_steps=budget.max_steps,
            epochs=budget.epochs,
            grad_clip=self.grad_clip,
            warmup_frac=self.warmup_frac,
            min_lr_ratio=self.min_lr_ratio,
            **self._checkpoint_options(),
        )
        if self.progress and budget.chosen:
            print(f"TSSSLEncoder budget: {budget.describe()}", file=sys.stderr)

        recipe = self._recipe(Xa, ya, feature_names, method_kwargs)
        resume = self._claim_checkpoint_dir(Xa, ya, recipe)
        # seeding is the run's business, not the caller's: the global torch / numpy / random
        # states (which the Trainer reseeds) are put back as they were after training
        rng_state = capture_rng_state()
        try:
            torch.manual_seed(self.seed)  # the model's initial weights
            method = self._build(recipe)
            data = (torch.from_numpy(Xa),) if ya is None else (torch.from_numpy(Xa), torch.from_numpy(ya))
            result = trainer.fit(method, data, resume=resume)  # a finished checkpoint: no step left
        finally:
            restore_rng_state(rng_state)
        method.eval()

        self._set_model(method, recipe)
        self.n_features_in_ = self.in_channels_ = C
        self.window_length_ = T
        self.feature_names_ = feature_names
        self.history_ = [dict(row) for row in result.history]
        self.n_steps_ = int(result.steps)
        self.accepts_missing_ = missing_ok
        self.budget_ = dataclasses.asdict(budget)
        return self

    def _missing_ok(self) -> bool:
        """Whether fit / transform take NaN-padded series: the method and its encoder mask missing
        steps (class attribute ``accepts_missing``: ``hierarchical`` on the dilated CNN)."""
        from tsssl import registry

        if not isinstance(self.method, str) or self.method not in registry.names("timeseries"):
            return False
        if not getattr(registry.method_class(self.method), "accepts_missing", False):
            return False
        encoder = registry.default_encoder(self.method) if self.encoder == "auto" else self.encoder
        if isinstance(encoder, str):
            name = encoder.lower()
            return name in registry.ENCODER_CLASSES and getattr(registry.encoder_class(name), "accepts_missing", False)
        return bool(getattr(encoder, "accepts_missing", False))

    def _checkpoint_options(self) -> dict[str, Any]:
        """The Trainer's out_dir / checkpoint_every (none without ``checkpoint_dir``)."""
        if self.checkpoint_dir is None:
            return {}
        if not isinstance(self.checkpoint_dir, (str, os.PathLike)):
            raise ValueError(
                f"checkpoint_dir must be a folder path (str or os.PathLike) or None, got {self.checkpoint_dir!r}"
            )
        folder = Path(self.checkpoint_dir)
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"checkpoint_dir={str(folder)!r} is a file, not a folder")
        return {"out_dir": folder, "checkpoint_every": self.checkpoint_every}

    def _run_stamp(self, X: np.ndarray, y: np.ndarray | None, recipe: Mapping[str, Any]) -> dict[str, Any]:
        """What makes a fit this fit: the training parameters and a fingerprint of the data."""
        import tsssl

        data = {"X_shape": list(X.shape), "X_sha256": _sha256(X)}
        if y is not None:
            data.update(y_shape=list(y.shape), y_sha256=_sha256(y))
        data["augmented_channels"] = recipe["view_channels"]  # from a WindowSet's feature names
        return {
            "format": _RUN_FORMAT,
            "tsssl_version": tsssl.__version__,
            "params": {k: _plain(getattr(self, k)) for k in _TRAINING_PARAMS},
            "data": data,
        }

    def _claim_checkpoint_dir(self, X: np.ndarray, y: np.ndarray | None, recipe: Mapping[str, Any]) -> bool:
        """Whether ``fit`` resumes from ``checkpoint_dir``'s checkpoint: True when it is there and
        belongs to this fit (ValueError when it belongs to another); False, with the folder's
        stamp written, for a fresh run (or without ``checkpoint_dir``)."""
        from tsssl.atomic import write_json
        from tsssl.train.checkpoint import CHECKPOINT_NAME

        if self.checkpoint_dir is None:
            return False
        folder = Path(self.checkpoint_dir)
        stamp, run_file = self._run_stamp(X, y, recipe), folder / _RUN_FILE
        if not (folder / CHECKPOINT_NAME).is_file():
            write_json(run_file, stamp)  # before the first checkpoint, so that it is never unclaimed
            return False
        advice = "use another checkpoint_dir, or delete the folder to start this fit afresh"
        try:
            saved = json.loads(run_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            saved = None
        if not isinstance(saved, dict) or saved.get("format") != _RUN_FORMAT:
            raise ValueError(
                f"checkpoint_dir {str(folder)!r} holds a {CHECKPOINT_NAME} without a readable {_RUN_FILE} "
                f"(not written by TSSSLEncoder.fit); {advice}"
            )
        # a stamp written before a parameter existed: that fit ran at the parameter's default
        defaults = {k: _plain(v) for k, v in _parameter_defaults().items() if k in _TRAINING_PARAMS}
        saved["params"] = {**defaults, **(saved.get("params") or {})}
        diffs = _differences(saved, stamp)
        if diffs:
            message = (
                f"checkpoint_dir {str(folder)!r} holds the checkpoint of another fit: {'; '.join(diffs)}; {advice}"
            )
            raise ValueError(" ".join(message.split()))  # one line, even for a multi-line repr
        return True

    @staticmethod
    def _check_y(y: Any, n: int) -> np.ndarray:
        if y is None:
            raise ValueError("this method trains on labels: pass y (N,) of 0/1 to fit (or a WindowSet)")
        ya = np.asarray(y)
        if ya.shape != (n,):
            raise ValueError(f"y must have shape ({n},) like X's windows, got {ya.shape}")
        if not np.isin(ya, (0, 1)).all():
            bad = np.unique(ya[~np.isin(ya, (0, 1))])[:5].tolist()
            raise ValueError(f"y must hold the labels 0 and 1, found {bad}")
        if np.unique(ya).size < 2:
            raise ValueError(f"y holds only the class {int(ya[0])}; a supervised method needs both 0 and 1")
        return ya.astype(np.int64)

    def _recipe(
        self, X: np.ndarray, y: np.ndarray | None, feature_names: list[str] | None, method_kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        """Everything ``_build`` needs to make the (untrained) method again: plain values only,
        unless the caller passed objects (an encoder module, views)."""
        from tsssl import registry
        from tsssl.config import DEFAULT_ENCODER_KWARGS
        from tsssl.methods import channel_stats
        from tsssl.methods.supervised import balanced_class_weight

        if isinstance(self.encoder, str):
            encoder: Any = registry.default_encoder(self.method) if self.encoder == "auto" else self.encoder
            encoder_kwargs = {**DEFAULT_ENCODER_KWARGS.get(encoder.lower(), {}), **dict(self.encoder_kwargs or {})}
        else:
            encoder, encoder_kwargs = copy.deepcopy(self.encoder), dict(self.encoder_kwargs or {})
        if _uses_labels(self.method) and method_kwargs.get("class_weight") == "balanced":
            # the weights themselves, so that the recipe need not carry the labels
            method_kwargs["class_weight"] = balanced_class_weight(y, 2).tolist()
            method_kwargs.pop("labels", None)
        view_channels = None
        if feature_names is not None:
            from tsssl.pipeline import continuous_channels

            view_channels = continuous_channels(feature_names)
        mean, std = channel_stats(X) if self.standardize else (None, None)
        return {
            "method": self.method,
            "in_channels": int(X.shape[2]),
            "length": int(X.shape[1]),
            "encoder": encoder,
            "encoder_kwargs": encoder_kwargs,
            "method_kwargs": method_kwargs,
            "view_channels": view_channels,
            "mean": None if mean is None else [float(v) for v in mean],
            "std": None if std is None else [float(v) for v in std],
        }

    @staticmethod
    def _build(recipe: Mapping[str, Any]):
        from tsssl.pipeline import make_window_method

        standardize = None if recipe["mean"] is None else (recipe["mean"], recipe["std"])
        encoder = recipe["encoder"]
        return make_window_method(
            recipe["method"],
            recipe["in_channels"],
            encoder=encoder if isinstance(encoder, str) else copy.deepcopy(encoder),
            encoder_kwargs=recipe["encoder_kwargs"],
            method_kwargs=recipe["method_kwargs"],
            standardize=standardize,
            view_channels=recipe["view_channels"],
            length=recipe.get("length"),
        )

    def _set_model(self, method: Any, recipe: dict[str, Any]) -> None:
        self.method_ = method
        self.encoder_ = method.encoder
        self.out_dim_ = int(method.encoder.out_dim)
        self.device_ = str(next(iter(method.state_dict().values())).device)
        self._recipe_ = recipe

    # -- transform -----------------------------------------------------------------------------
    def transform(self, X: Any) -> np.ndarray:
        """Representations (N, out_dim_) float32 of windows X (N, T, C) (or a WindowSet) by the
        frozen encoder: eval mode, no gradients, ``transform_batch_size`` windows at a time."""
        from tsssl.evaluate import embed

        check_is_fitted(self, "method_")
        if (
            isinstance(X, WindowSet)
            and self.feature_names_ is not None
            and list(X.feature_names) != list(self.feature_names_)
        ):
            raise ValueError(
                f"X has the features {list(X.feature_names)} but this encoder was fitted on "
                f"{list(self.feature_names_)}; build the windows with the same features"
            )
        Xa = _as_windows(X, missing_ok=getattr(self, "accepts_missing_", False))
        if Xa.shape[2] != self.in_channels_:
            raise ValueError(
                f"X has {Xa.shape[2]} channels per day but this encoder was fitted on "
                f"{self.in_channels_}" + (f" ({', '.join(self.feature_names_)})" if self.feature_names_ else "")
            )
        if Xa.shape[1] != self.window_length_:
            raise ValueError(
                f"X has windows of {Xa.shape[1]} days but this encoder was fitted on {self.window_length_}-day windows"
            )
        return embed(self.encoder_, Xa, batch_size=int(self.transform_batch_size))

    @property
    def loss_curve_(self) -> tuple[np.ndarray, np.ndarray]:
        """(steps, losses): the training loss (mean over each log interval) against the step."""
        check_is_fitted(self, "method_")
        steps = np.array([row["step"] for row in self.history_], dtype=np.int64)
        losses = np.array([row["loss"] for row in self.history_], dtype=np.float64)
        return steps, losses

    @property
    def _n_features_out(self) -> int:  # for get_feature_names_out: tssslencoder0, ...
        return self.out_dim_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.target_tags.required = _uses_labels(self.method)
        tags.non_deterministic = False
        return tags

    # -- pickling, save / load -----------------------------------------------------------------
    def _model_payload(self) -> dict[str, Any]:
        """The recipe and the weights on the CPU (the live model is not moved)."""
        state = {k: v.detach().to("cpu", copy=True) for k, v in self.method_.state_dict().items()}
        return {"recipe": self._recipe_, "state_dict": state}

    def _restore_model(self, payload: Mapping[str, Any], device: Any = "cpu") -> None:
        method = self._build(payload["recipe"])
        method.load_state_dict(payload["state_dict"])
        method.to(device).eval()
        self._set_model(method, dict(payload["recipe"]))

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state = dict(state)
        for key in ("method_", "encoder_", "_recipe_"):
            state.pop(key, None)
        if hasattr(self, "method_"):
            state["_model_payload"] = self._model_payload()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = {**_parameter_defaults(), **state}  # pickled before a parameter existed: its default
        payload = state.pop("_model_payload", None)
        super().__setstate__(state)
        if payload is not None:
            self._restore_model(payload, "cpu")

    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted encoder to ``path`` (torch format; written to a temp file and renamed)."""
        import torch

        import tsssl

        check_is_fitted(self, "method_")
        path = Path(path)
        blob = {
            "format": _FORMAT,
            "format_version": _FORMAT_VERSION,
            "tsssl_version": tsssl.__version__,
            "state": self.__getstate__(),
        }
        buf = io.BytesIO()
        torch.save(blob, buf)  # serialised first: a failing save leaves no file behind
        return atomic_write(path, lambda fh: fh.write(buf.getbuffer()), mode="wb")

    @classmethod
    def load(cls, path: str | os.PathLike, device: Any = "cpu") -> TSSSLEncoder:
        """A fitted encoder saved by ``save``, its model on ``device`` (default the CPU).

        The file is unpickled (it may hold custom views or encoder modules): load only files
        you trust, as with ``torch.load(weights_only=False)`` or ``joblib.load``.
        """
        import torch

        from tsssl.train.trainer import resolve_device

        path = Path(path)
        if not path.is_file():
            raise ValueError(f"no saved TSSSLEncoder at {path}")
        blob = torch.load(path, map_location="cpu", weights_only=False)
        if not isinstance(blob, dict) or blob.get("format") != _FORMAT:
            raise ValueError(f"{path} is not a file written by TSSSLEncoder.save")
        if blob.get("format_version", 0) > _FORMAT_VERSION:
            raise ValueError(
                f"{path} was written by a newer tsssl ({blob.get('tsssl_version')}); upgrade tsssl to read it"
            )
        state = {**_parameter_defaults(), **blob["state"]}  # saved before a parameter existed: its default
        payload = state.pop("_model_payload")
        est = cls.__new__(cls)
        BaseEstimator.__setstate__(est, state)
        est._restore_model(payload, resolve_device(device))
        return est
