"""Frozen-encoder probes: representations of windows, and a small classifier fitted on them.

Z_train = embed(method.encoder, train.X)          # (N, D) float32, encoder untouched
probe = fit_probe(Z_train, train.y, kind="logreg")
score = probe_scores(probe, embed(method.encoder, test.X))   # (N,) P(strict rise)
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight
from torch import Tensor, nn

from tsssl.data.windowset import WindowSet
from tsssl.data.windowviews import WindowViews
from tsssl.registry import PROBES


def _module_device(module: nn.Module) -> torch.device:
    for t in module.parameters():
        return t.device
    for t in module.buffers():
        return t.device
    return torch.device("cpu")


@torch.no_grad()
def embed(
    encoder: nn.Module,
    X: np.ndarray | Tensor | WindowSet,
    batch_size: int = 4096,
    device: None | str | torch.device = None,
) -> np.ndarray:
    """Frozen representations: X (N, ...) -> (N, D) float32 numpy, for windows (N, T, C),
    images (N, 1, H, W) or token ids (N, L) alike.

    The encoder runs in eval mode (dropout off, batch-norm statistics frozen) under no_grad, in
    batches of ``batch_size`` inputs; its training mode is restored afterwards. A ``Method`` is
    accepted for its ``encoder``. Floating inputs are cast to float32; integer inputs (token ids)
    keep their dtype; windows held as views (``WindowViews``) are gathered batch by batch.
    device: where to run (default: where the encoder's parameters are); the
    encoder is moved there for the call and moved back.
    """
    from tsssl.methods.base import Method

    if isinstance(encoder, Method):
        encoder = encoder.encoder
    if not isinstance(encoder, nn.Module):
        raise ValueError(f"encoder must be an nn.Module (or a Method), got {type(encoder).__name__}")
    if isinstance(X, WindowSet):
        X = X.X
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if isinstance(X, WindowViews):  # gathered batch by batch, never materialised whole
        return _embed_batches(encoder, (torch.from_numpy(b) for b in X.blocks(batch_size)), device)
    x = X if isinstance(X, Tensor) else torch.as_tensor(np.asarray(X))
    if x.is_floating_point():
        x = x.float()
    if x.dim() < 2:
        raise ValueError(f"X must be a batch of inputs (N, ...), got shape {tuple(x.shape)}")
    return _embed_batches(encoder, (x[i : i + batch_size] for i in range(0, len(x), batch_size)), device)


def _embed_batches(encoder: nn.Module, batches: Iterator[Tensor], device: None | str | torch.device) -> np.ndarray:
    """(N, D) float32 of the encoder in eval mode on each batch, on ``device`` (module docstring)."""
    home = _module_device(encoder)
    dev = home if device is None else torch.device(device)
    was_training = encoder.training
    encoder.to(dev).eval()
    try:
        parts = [encoder(b.to(dev, non_blocking=True)).float().cpu() for b in batches]
    finally:
        encoder.to(home).train(was_training)
    if not parts:
        return np.zeros((0, int(getattr(encoder, "out_dim", 0))), dtype=np.float32)
    z = torch.cat(parts)
    if z.dim() != 2:
        raise ValueError(f"the encoder must return (B, D) representations, got shape {tuple(z.shape)}")
    return z.numpy().astype(np.float32, copy=False)


def fit_probe(
    Z: np.ndarray,
    y: np.ndarray,
    kind: str = "logreg",
    class_weight: str | None = "balanced",
    seed: int = 0,
    max_iter: int | None = None,
    **kwargs: Any,
) -> Pipeline:
    """A classifier of the label on frozen representations: StandardScaler + a small model.

    kind: "logreg" (LogisticRegression, lbfgs) or "mlp" (MLPClassifier: one hidden layer of 64,
    L2 ``alpha=1e-3``, ``max_iter=200`` epochs of Adam). The MLP does not stop early by default:
    scikit-learn's early stopping scores the validation split by accuracy, which on a ~3%
    positive class is best for the all-negative net of the first epochs, and it keeps those
    weights (pass ``early_stopping=True`` to have it anyway). class_weight: "balanced" weighs each
    class by n / (2 n_c) (for the MLP through ``sample_weight``, which it supports since
    scikit-learn 1.7), or None. Further keyword arguments go to the classifier. Returns the
    fitted ``Pipeline``; use ``probe_scores`` for P(y = 1).
    """
    if kind not in PROBES:
        raise ValueError(f"kind must be one of {', '.join(PROBES)}; got {kind!r}")
    if class_weight not in (None, "balanced"):
        raise ValueError(f"class_weight must be 'balanced' or None, got {class_weight!r}")
    Z = np.asarray(Z, dtype=np.float32)
    y = np.asarray(y)
    if Z.ndim != 2:
        raise ValueError(f"Z must be (N, D) representations, got shape {Z.shape}")
    if y.shape != (len(Z),):
        raise ValueError(f"y must have shape ({len(Z)},) like Z, got {y.shape}")
    classes = np.unique(y)
    if classes.size < 2:
        raise ValueError(f"y holds a single class ({classes.tolist()}); a probe needs both 0 and 1")
    if kind == "logreg":
        clf = LogisticRegression(max_iter=max_iter or 2000, class_weight=class_weight, random_state=seed, **kwargs)
        fit_params = {}
    else:
        opts = {"hidden_layer_sizes": (64,), "early_stopping": False, "alpha": 1e-3, **kwargs}
        clf = MLPClassifier(max_iter=max_iter or 200, random_state=seed, **opts)
        fit_params = {} if class_weight is None else {"clf__sample_weight": compute_sample_weight("balanced", y)}
    pipe = Pipeline([("scale", StandardScaler()), ("clf", clf)])
    with warnings.catch_warnings():
        # a fixed number of epochs is the plan, not a failure to converge
        warnings.simplefilter("ignore", ConvergenceWarning)
        return pipe.fit(Z, y, **fit_params)


def probe_scores(probe: Any, Z: np.ndarray) -> np.ndarray:
    """(N,) float64 probability of the positive class (label 1) from a fitted probe."""
    classes = list(probe.classes_)
    if 1 not in classes:
        raise ValueError(f"the probe was fitted without the positive class 1 (classes {classes})")
    return np.asarray(probe.predict_proba(np.asarray(Z, dtype=np.float32))[:, classes.index(1)], dtype=np.float64)
