"""Fine-tuning: a pretrained encoder plus a classifier head, trained on the labels end to end.

Algorithm (one step)::

    x, y = batch                              # (B, T, C) windows and their 0/1 labels
    h = f(x)                                  # the pretrained encoder; during the first
                                              # freeze_steps steps frozen: eval mode, no gradient
    loss = cross_entropy(head(h), y, weight=class_weight)

Warming the new head up on a frozen encoder first keeps its random initial gradients from
wrecking the pretrained representation (linear-probe-then-fine-tune). ``finetune`` runs it
through the one Trainer, with ``freeze_epochs`` counted in the Trainer's own epochs.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from tsssl.encoders import ClassifierHead
from tsssl.methods.base import TwoViewFn
from tsssl.methods.supervised import SupervisedBaseline


class FineTune(SupervisedBaseline):
    """encoder (B, T, C) -> (B, D) + ``ClassifierHead(D, n_classes, hidden_dim, dropout)``,
    (class-weighted) cross-entropy; the encoder is frozen for the first ``freeze_steps``
    training steps (counted in a buffer, so a resumed run continues the count).

    class_weight: None, "balanced" (needs ``labels``, the training labels) or n_classes
    numbers; ``predict_proba(X) -> (N, n_classes)`` as for the supervised baseline.
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: TwoViewFn | None = None,
        *,
        n_classes: int = 2,
        class_weight: None | str | Sequence[float] = "balanced",
        labels: np.ndarray | Tensor | None = None,
        head_hidden: int | None = None,
        dropout: float = 0.0,
        freeze_steps: int = 0,
    ) -> None:
        super().__init__(encoder, views, n_classes=n_classes, class_weight=class_weight, labels=labels)
        if not hasattr(encoder, "out_dim"):
            raise ValueError("FineTune: the encoder must expose out_dim (its representation size)")
        self.head = ClassifierHead(encoder.out_dim, n_classes, hidden_dim=head_hidden, dropout=dropout)
        self.freeze_steps = int(freeze_steps)
        if self.freeze_steps < 0:
            raise ValueError(f"FineTune: freeze_steps must be >= 0, got {freeze_steps}")
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.int64))
        self._steps: int | None = 0  # host copy of steps_done: no device sync per step

    @property
    def find_unused_parameters(self) -> bool:
        # under DDP the frozen encoder's parameters get no gradient during the warm-up
        return self.freeze_steps > 0

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False):
        out = super().load_state_dict(state_dict, strict=strict, assign=assign)
        self._steps = None  # re-read the restored counter on the next step
        return out

    @property
    def encoder_frozen(self) -> bool:
        """Whether the next training step leaves the encoder untouched."""
        if self._steps is None:
            self._steps = int(self.steps_done)
        return self._steps < self.freeze_steps

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        x, y = self.labelled_inputs(batch)
        if self.encoder_frozen:
            was_training = self.encoder.training
            self.encoder.eval()
            with torch.no_grad():
                h = self.encoder(x)
            self.encoder.train(was_training)
        else:
            h = self.encoder(x)
        self.steps_done.add_(1)
        self._steps += 1  # type: ignore[operator]
        return self.classification_loss(self.head(h), y)


class _FreezeEpochs:
    """Trainer callback: sets ``freeze_steps`` from epochs once the steps per epoch are known."""

    def __init__(self, method: FineTune, epochs: int) -> None:
        self.method, self.epochs = method, epochs

    def on_fit_start(self, info: dict[str, Any]) -> None:
        self.method.freeze_steps = self.epochs * int(info["steps_per_epoch"])


def _labelled_tensors(data: Any, y: Any) -> tuple[Tensor, Tensor]:
    from tsssl.data.windowset import WindowSet

    if isinstance(data, WindowSet):
        if y is not None:
            raise ValueError("finetune: pass y only with an array X, a WindowSet carries its labels")
        X, labels = data.X, data.y
    elif isinstance(data, (tuple, list)) and len(data) == 2 and y is None:
        X, labels = data
    elif y is not None:
        X, labels = data, y
    else:
        raise ValueError("finetune: data must be a WindowSet, an (X, y) pair, or X with y=labels")
    Xt = X if isinstance(X, Tensor) else torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32))
    yt = labels if isinstance(labels, Tensor) else torch.as_tensor(np.asarray(labels).astype(np.int64))
    if Xt.dim() != 3:
        raise ValueError(f"finetune: X must be (N, T, C) windows, got shape {tuple(Xt.shape)}")
    if yt.shape != (len(Xt),):
        raise ValueError(f"finetune: y must have shape ({len(Xt)},) like X, got {tuple(yt.shape)}")
    return Xt.float(), yt.long()


def finetune(
    encoder: nn.Module,
    data: Any,
    y: Any = None,
    *,
    n_classes: int = 2,
    class_weight: None | str | Sequence[float] = "balanced",
    freeze_epochs: int = 0,
    head_hidden: int | None = None,
    dropout: float = 0.0,
    views: TwoViewFn | None = None,
    copy_encoder: bool = True,
    trainer_kwargs: Mapping[str, Any] | None = None,
) -> FineTune:
    """Fine-tune ``encoder`` with a classifier head on labelled windows; returns the trained
    ``FineTune`` (its ``train_result`` holds the Trainer's ``TrainResult``).

    data: a WindowSet, an (X, y) pair, or X (N, T, C) with ``y``. ``copy_encoder`` (default)
    trains a deep copy so that the pretrained encoder stays as it was (for the frozen probe).
    freeze_epochs: epochs at the start with the encoder frozen (only the head learns).
    trainer_kwargs: for ``tsssl.train.Trainer`` (epochs, max_steps, batch_size, lr, device, ...).
    """
    from tsssl.train import Trainer

    X, labels = _labelled_tensors(data, y)
    if int(freeze_epochs) < 0:
        raise ValueError(f"finetune: freeze_epochs must be >= 0, got {freeze_epochs}")
    enc = copy.deepcopy(encoder) if copy_encoder else encoder
    method = FineTune(
        enc,
        views,
        n_classes=n_classes,
        class_weight=class_weight,
        labels=labels,
        head_hidden=head_hidden,
        dropout=dropout,
    )
    kwargs = dict(trainer_kwargs or {})
    callbacks = list(kwargs.pop("callbacks", ()))
    if freeze_epochs:
        # the exact step count is set when the Trainer knows its steps per epoch; a positive
        # placeholder now, so that a DDP wrapper is built with find_unused_parameters
        method.freeze_steps = 1
        callbacks.insert(0, _FreezeEpochs(method, int(freeze_epochs)))
    trainer = Trainer(**kwargs, callbacks=callbacks)
    method.train_result = trainer.fit(method, (X, labels))
    return method
