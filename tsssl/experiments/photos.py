"""Colorization and the split-brain auto-encoder on scikit-learn's two sample photographs.

Data: 16 x 16 L*a*b* patches of china.jpg and flower.jpg at half scale (``tsssl.data.photos``),
training patches from the left 3/4 of each photo's columns. Colour: Q = 259 ab bins of 10 units
(``ab_gamut_bins``); colorization's rebalancing weights come from the training targets (the
ab averaged over each cell of the prediction grid). Encoders: conv (32, 64, 64) for
colorization; split-brain halves of (16, 32, 32) each on L and on ab, so that their
concatenation is as wide as colorization's encoder.

Evaluation (every probe: trained encoder, the same encoder at its random initialisation, and
raw pixels, BatchNorm statistics of the probe's training inputs; ``image_probe_metrics``):

- **which photograph** a grey (lightness-only) 8 x 8 patch comes from, probe fitted on patches
  of the training columns and scored on the held-out right quarter (no shared pixel). The
  encoders see L only, so colour cannot give the answer away; the photos differ in their
  textures (roof tiles, foliage and sky against petals and a blurred background), but also in
  brightness, so a probe on each patch's mean and spread of L is reported as a second trivial
  baseline. 8 x 8 rather than the 16 x 16 training patches: with 16 x 16 the random encoder's
  linear probe already reaches 0.989 (measured), too close to 1 to tell encoders apart.
- **digits through the lightness branch**: scikit-learn's 8 x 8 digits (stratified 75 / 25)
  fed as L / 100, linear / k-NN / 5-per-class probes as the digits methods.
- the colour prediction itself: held-out cross-entropy (nats per cell, plain, not rebalanced)
  of the trained network, its random initialisation and the training prior.
- split-brain also: the concatenated representation of colour patches (L*a*b* / 100) on the
  "which photograph" task, against raw L*a*b* pixels (colour visible: a different, easier task).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tsssl import registry
from tsssl.data.colour import ab_gamut_bins, nearest_bin, rebalance_weights
from tsssl.data.image import ImageSplit, digits_split
from tsssl.data.photos import photo_patches
from tsssl.encoders.image import ConvEncoder
from tsssl.evaluate.embedding import probe_accuracies
from tsssl.experiments.base import Experiment, kw_error, rounded
from tsssl.experiments.image import image_probe_metrics
from tsssl.losses.colour import colour_loss
from tsssl.methods.base import eval_mode

_CHANNELS = {"colorization": (32, 64, 64), "splitbrain": (16, 32, 32)}


def build(method: str, seed: int, mk: dict, ek: dict) -> Experiment:
    """The photographs experiment of ``method`` (torch already seeded by the caller)."""
    size, scale = int(mk.pop("patch_size", 16)), int(mk.pop("scale", 2))
    rebalance = bool(mk.pop("rebalance", method == "colorization"))
    photos = photo_patches(size=size, scale=scale)
    centres = ab_gamut_bins()
    try:
        encoders = [ConvEncoder(**{"in_channels": c, "channels": _CHANNELS[method], **ek}) for c in (1, 2)]
    except TypeError as err:
        raise kw_error("ConvEncoder", err) from None
    lab = torch.from_numpy(photos.train)
    counts = target_counts(lab, centres, _grid(encoders[0], size))
    weights = rebalance_weights(counts, centres) if rebalance else None
    try:
        cls = registry.method_class(method)
        model = (
            cls(encoders[0], centres, weights, **mk)
            if method == "colorization"
            else cls(*encoders, centres, weights, **mk)
        )
    except TypeError as err:
        raise kw_error(method, err) from None
    digits = digits_split(test_frac=0.25, seed=seed)
    prior = np.log(counts / counts.sum() + 1e-6).astype(np.float32)

    def evaluate(trained: Any, initial: Any) -> dict[str, Any]:
        return _evaluate(method, photos.probe, digits, prior, seed, trained, initial)

    describe = photos.describe + f"; {len(centres)} ab bins" + (", rebalanced" if rebalance else "")
    return Experiment(method=model, data=lab, evaluate=evaluate, describe=describe)


def _grid(encoder: nn.Module, size: int) -> tuple[int, int]:
    with torch.no_grad(), eval_mode(encoder):
        return tuple(encoder.feature_map(torch.zeros(1, encoder.in_channels, size, size)).shape[-2:])


def target_counts(lab: torch.Tensor, centres: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """(Q,) float64: how many cells of the training targets (lab's ab averaged over each cell of
    the ``grid``) fall nearest each ab bin: the distribution the rebalancing weights correct."""
    ab = F.adaptive_avg_pool2d(lab[:, 1:].float(), grid).permute(0, 2, 3, 1).reshape(-1, 2).numpy()
    return np.bincount(nearest_bin(ab, centres), minlength=len(centres)).astype(np.float64)


@torch.no_grad()
def colour_cross_entropy(model: Any, lab: torch.Tensor, prior: np.ndarray | None = None) -> float:
    """Plain cross-entropy (nats per cell) of ``model.ab_logits`` on L*a*b* images lab (eval
    mode), or of the fixed log-distribution ``prior`` (Q,) predicted everywhere."""
    with eval_mode(model):
        logits = model.ab_logits(lab[:, :1] / 100.0)
        if prior is not None:
            logits = torch.from_numpy(prior).view(1, -1, 1, 1).expand_as(logits)
        return round(float(colour_loss(logits, lab[:, 1:], model.centres, None, model.k, model.sigma)), 4)


def _stats_probe(split: ImageSplit, seed: int) -> dict[str, float]:
    """The probes on each patch's mean and standard deviation of lightness alone."""

    def stats(X: np.ndarray) -> np.ndarray:
        return np.stack([X.mean(axis=(1, 2, 3)), X.std(axis=(1, 2, 3))], axis=1)

    return rounded(probe_accuracies(stats(split.X_train), split.y_train, stats(split.X_test), split.y_test, seed=seed))


def _evaluate(
    method: str, probe: ImageSplit, digits: ImageSplit, prior: np.ndarray, seed: int, trained: Any, initial: Any
):
    light = {"colorization": "encoder", "splitbrain": "l_encoder"}[method]
    grey = ImageSplit(probe.X_train[:, :1], probe.y_train, probe.X_test[:, :1], probe.y_test)
    photo = image_probe_metrics(getattr(trained, light), getattr(initial, light), grey, seed)
    photo["lightness_mean_std"] = _stats_probe(grey, seed)
    photo["majority"] = round(float(np.mean(grey.y_test == np.bincount(grey.y_train).argmax())), 4)
    test_lab = torch.from_numpy(probe.X_test * 100.0).to(next(trained.parameters()).device)
    out: dict[str, Any] = {
        "which_photo_probes": photo,
        "digit_probes": image_probe_metrics(getattr(trained, light), getattr(initial, light), digits, seed),
        "colour_cross_entropy": {
            "trained": colour_cross_entropy(trained, test_lab),
            "random_init": colour_cross_entropy(initial.to(test_lab.device), test_lab),
            "training_prior": colour_cross_entropy(trained, test_lab, prior),
        },
    }
    if method == "splitbrain":
        out["which_photo_colour_probes"] = image_probe_metrics(trained.encoder, initial.encoder, probe, seed)
    out["headline"] = {
        "metric": "linear probe, which photograph (grey patches, held-out region)",
        "trained": photo["trained"]["linear_probe"],
        "random_encoder": photo["random_encoder"]["linear_probe"],
        "raw_pixels": photo["raw_pixels"]["linear_probe"],
        "lightness_mean_std": photo["lightness_mean_std"]["linear_probe"],
        "majority": photo["majority"],
    }
    return out
