"""What every method gives the Trainer.

A method is an ``nn.Module`` that names its encoder(s), heads, views and loss and implements
``training_step(batch) -> loss``. Device placement, precision, the optimiser and schedule,
checkpoints, logging and the momentum (EMA) updates it declares belong to the Trainer.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn


class Method(nn.Module):
    """Base class of all self-supervised and supervised methods.

    Subclasses set ``self.encoder`` (frozen use: input batch -> (B, D) representation) and
    implement ``training_step``. A batch is the tuple of tensors the Trainer cut from the data
    (for a WindowSet: ``(X, y)`` with X (B, T, C) float32 and y (B,) int64), already on the
    method's device.
    """

    encoder: nn.Module
    #: EMA momentum at step 0 for the pairs of ``momentum_pairs``; the Trainer raises it to 1
    #: along a cosine over the run (BYOL's schedule) and applies it after each optimiser step.
    base_momentum: float = 0.99

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        """Scalar loss for one batch."""
        raise NotImplementedError

    def forward(self, batch: Sequence[Tensor]) -> Tensor:
        # DistributedDataParallel calls forward: the training step is the forward pass.
        return self.training_step(batch)

    def momentum_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        """(online, target) module pairs updated as target <- m * target + (1 - m) * online."""
        return []

    @torch.no_grad()
    def embed(self, x: Tensor) -> Tensor:
        """Frozen representation of a batch: (B, ...) -> (B, D)."""
        return self.encoder(x)
