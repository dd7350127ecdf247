"""Evaluation on the untouched chronological test set: frozen-encoder probes, the decision
threshold (tuned on a validation slice of the training period), metrics of the positive
(strict-rise) class and their block-bootstrap confidence intervals.
"""

from __future__ import annotations

from .bootstrap import DEFAULT_BLOCK_DAYS, BootstrapResult, bootstrap, percentile_interval, replicate_weights
from .metrics import (
    BALANCED_PRECISION_NOTE,
    balanced_precision,
    base_rate,
    binary_metrics,
    classification_report,
    confusion_counts,
    lift,
    pr_auc,
    precision_at_k,
)
from .probe import embed, fit_probe, probe_scores
from .threshold import choose_threshold, threshold_curve, validation_slice

__all__ = [
    "embed",
    "fit_probe",
    "probe_scores",
    "binary_metrics",
    "confusion_counts",
    "pr_auc",
    "precision_at_k",
    "base_rate",
    "lift",
    "balanced_precision",
    "BALANCED_PRECISION_NOTE",
    "classification_report",
    "bootstrap",
    "BootstrapResult",
    "replicate_weights",
    "percentile_interval",
    "DEFAULT_BLOCK_DAYS",
    "choose_threshold",
    "threshold_curve",
    "validation_slice",
]
