"""Learning-rate and momentum schedules as pure functions of the step.

Steps are optimiser steps counted from 0; ``total`` is the number of steps of the run.
"""

from __future__ import annotations

import math


def warmup_steps(total: int, warmup_frac: float) -> int:
    """Steps of linear warm-up: ``round(warmup_frac * total)`` (at least 1 when the fraction is
    positive, never more than ``total``)."""
    if warmup_frac <= 0 or total <= 0:
        return 0
    return min(total, max(1, round(warmup_frac * total)))


def warmup_cosine(step: int, total: int, warmup: int, min_lr_ratio: float = 0.0) -> float:
    """Multiplier of the peak learning rate used at optimiser step ``step`` (0-based).

    Linear warm-up ``(step + 1) / warmup`` over the first ``warmup`` steps (reaching 1 at step
    ``warmup - 1``), then a half cosine from 1 at step ``warmup`` down to ``min_lr_ratio`` at
    step ``total`` (the step after the last one), so the last step still learns a little.
    """
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    span = max(1, total - warmup)
    progress = min(1.0, max(0.0, (step - warmup) / span))
    return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def ema_momentum(step: int, total: int, base_momentum: float) -> float:
    """BYOL's target momentum at step ``step``: ``1 - (1 - base) * (cos(pi * step / total) + 1) / 2``,
    ``base`` at step 0 rising to 1 at ``total``."""
    progress = min(1.0, max(0.0, step / max(1, total)))
    return 1.0 - (1.0 - base_momentum) * (math.cos(math.pi * progress) + 1.0) / 2.0


def average_momentum(step: int) -> float:
    """The momentum that makes the target the plain mean of the online weights after steps 0..step
    (0-based): ``step / (step + 1)``, so 0 (a copy) after the first step. Stochastic weight
    averaging over every iterate (Izmailov et al. 2018), which TS2Vec's official code applies to
    its encoder; the starting weights are not in the mean."""
    return step / (step + 1.0)


MOMENTUM_SCHEDULES = ("cosine", "average")


class WarmupCosine:
    """``warmup_cosine`` as a ``LambdaLR`` multiplier. A callable object (not a lambda), so the
    scheduler's ``state_dict`` carries its settings into checkpoints."""

    def __init__(self, total: int, warmup: int, min_lr_ratio: float = 0.0) -> None:
        self.total, self.warmup, self.min_lr_ratio = int(total), int(warmup), float(min_lr_ratio)

    def __call__(self, step: int) -> float:
        return warmup_cosine(step, self.total, self.warmup, self.min_lr_ratio)
