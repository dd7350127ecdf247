"""What every method gives the Trainer, and the pieces the method files share.

A method is an ``nn.Module`` that names its encoder(s), heads, views and loss and implements
``training_step(batch) -> loss``. Device placement, precision, the optimiser and schedule,
checkpoints, logging and the momentum (EMA) updates it declares belong to the Trainer.

Shared here: ``split_batch`` (a batch -> (X, y or None)), the view types ``TwoViewFn`` /
``ViewFn`` and ``first_view``, ``frozen_copy`` (momentum / target networks), ``eval_mode``, and
``TwoViewMethod``: the encoder + projector + two views that SiamCL, SimCLR, MoCo, BYOL, SimSiam
and Barlow Twins are built on.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from tsssl.augment import default_timeseries_views
from tsssl.encoders import ProjectionHead

#: a random augmentation x -> (v1, v2): two views of every input of the batch
TwoViewFn = Callable[[Tensor], "tuple[Tensor, Tensor]"]
#: a random augmentation x -> v of the same shape
ViewFn = Callable[[Tensor], Tensor]


def split_batch(batch: Sequence[Tensor] | Tensor) -> tuple[Tensor, Tensor | None]:
    """(X, y) or (X,) or X -> (X, y or None)."""
    if isinstance(batch, Tensor):
        return batch, None
    return batch[0], (batch[1] if len(batch) > 1 else None)


def first_view(views: TwoViewFn | None, x: Tensor) -> Tensor:
    """x itself without views, else the first of its two views.

    Lets a single-view method (CPC, the supervised baseline) take the same two-view pipeline
    as the contrastive methods.
    """
    return x if views is None else views(x)[0]


def frozen_copy(module: nn.Module) -> nn.Module:
    """A deep copy whose parameters take no gradient (a momentum / target network)."""
    target = copy.deepcopy(module)
    for p in target.parameters():
        p.requires_grad_(False)
    return target


@contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """``module`` in eval mode inside the block; its train / eval mode restored after it."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


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
    #: how the Trainer sets that momentum: "cosine" (BYOL's rise from ``base_momentum`` to 1) or
    #: "average" (the target is the mean of the online weights after every step so far: weight
    #: averaging, ``tsssl.train.schedule.average_momentum``)
    momentum_schedule: str = "cosine"
    #: True when the method trains on the batch's labels (a supervised classifier): its
    #: training data must carry labels, and the CLI trains it on the rebalanced windows and
    #: scores it with its own classifier head rather than a probe on the frozen encoder. A
    #: method that only uses labels when given (SiamCL with ``supervised=True``) stays False.
    uses_labels: bool = False
    #: True when a CNN / Transformer encoder built by name for this method must be causal
    #: (CPC: its z_t must not see the steps it predicts).
    causal_encoder: bool = False

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


class TwoViewMethod(Method):
    """An encoder f, a projection head g and two random views of every input.

    encoder: (B, ...) -> (B, encoder.out_dim), the representation kept; projector
    ``ProjectionHead(encoder.out_dim, proj_hidden, proj_dim)``; views: x -> (v1, v2), by
    default ``default_timeseries_views()`` (pass image views with an image encoder).
    """

    def __init__(self, encoder: nn.Module, views: TwoViewFn | None, *, proj_hidden: int, proj_dim: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.projector = ProjectionHead(encoder.out_dim, proj_hidden, proj_dim)
        self.views = views if views is not None else default_timeseries_views()

    def project(self, x: Tensor) -> Tensor:
        """z = g(f(x)): (B, ...) -> (B, proj_dim)."""
        return self.projector(self.encoder(x))

    def project_views(self, v1: Tensor, v2: Tensor) -> tuple[Tensor, Tensor]:
        """(g(f(v1)), g(f(v2))), each (B, proj_dim).

        One pass over the 2B stacked views: cheaper than two passes of B, and the batch-norm
        layers normalise both views with the same batch statistics.
        """
        return self.project(torch.cat([v1, v2])).chunk(2)
