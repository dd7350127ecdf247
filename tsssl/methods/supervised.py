"""The supervised baseline of the talk: a plain LSTM classifier of the strict-rise label.

Algorithm (one step)::

    x, y = batch                              # (B, T, C) windows and their 0/1 labels
    logits = head(f(x))                       # encoder f (the LSTM), linear classifier head
    loss = cross_entropy(logits, y, weight=class_weight)

Class imbalance is handled either by rebalancing the training windows beforehand
(``tsssl.data.rebalance``) or by class weights: ``class_weight="balanced"`` gives class c the
weight n / (n_classes * n_c) computed from the training ``labels``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tsssl.encoders import ClassifierHead
from tsssl.methods.base import Method, TwoViewFn, eval_mode, first_view, split_batch


def balanced_class_weight(labels: np.ndarray | Tensor, n_classes: int) -> Tensor:
    """n / (n_classes * n_c) per class c (scikit-learn's "balanced"); float32 (n_classes,)."""
    y = torch.as_tensor(np.asarray(labels.cpu() if isinstance(labels, Tensor) else labels)).long()
    if y.numel() == 0:
        raise ValueError("class_weight='balanced' needs training labels, got none")
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"labels must lie in 0..{n_classes - 1}, got {int(y.min())}..{int(y.max())}")
    counts = torch.bincount(y, minlength=n_classes).float()
    missing = (counts == 0).nonzero().flatten().tolist()
    if missing:
        raise ValueError(f"class_weight='balanced': class(es) {missing} absent from the training labels")
    return y.numel() / (n_classes * counts)


class SupervisedBaseline(Method):
    """encoder (B, T, C) -> (B, D) plus ``ClassifierHead(D, n_classes)``, cross-entropy.

    class_weight: None (plain), "balanced" (needs ``labels``, the training labels) or a
    sequence of n_classes weights. views: optional augmentation; its first view is trained on.
    """

    uses_labels = True

    def __init__(
        self,
        encoder: nn.Module,
        views: TwoViewFn | None = None,
        *,
        n_classes: int = 2,
        class_weight: None | str | Sequence[float] = None,
        labels: np.ndarray | Tensor | None = None,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = ClassifierHead(encoder.out_dim, n_classes)
        self.views = views
        self.n_classes = n_classes
        if class_weight is None:
            weight = None
        elif isinstance(class_weight, str):
            if class_weight != "balanced":
                raise ValueError(f"class_weight must be None, 'balanced' or {n_classes} numbers, got {class_weight!r}")
            if labels is None:
                raise ValueError("class_weight='balanced' needs the training labels: pass labels=y_train")
            weight = balanced_class_weight(labels, n_classes)
        else:
            weight = torch.as_tensor(list(class_weight), dtype=torch.float32)
            if weight.shape != (n_classes,) or not bool((weight > 0).all()):
                raise ValueError(f"class_weight must hold {n_classes} positive numbers, got {list(class_weight)}")
        # a buffer: moves with the module and is saved in the checkpoint
        self.register_buffer("class_weight", weight)

    def forward_logits(self, x: Tensor) -> Tensor:
        """x: (B, T, C) -> (B, n_classes) logits."""
        return self.head(self.encoder(x))

    def labelled_inputs(self, batch: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        """(x, y) of a labelled batch: x (B, T, C), its first view when there are views; y (B,)."""
        x, y = split_batch(batch)
        if y is None:
            raise ValueError(f"{type(self).__name__} needs labelled batches (X, y); got X only")
        return first_view(self.views, x), y

    def classification_loss(self, logits: Tensor, y: Tensor) -> Tensor:
        """(Class-weighted) cross-entropy of logits (B, n_classes) against y (B,)."""
        weight = None if self.class_weight is None else self.class_weight.float()
        return F.cross_entropy(logits.float(), y.long(), weight=weight)  # float32 under autocast too

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        x, y = self.labelled_inputs(batch)
        return self.classification_loss(self.forward_logits(x), y)

    @torch.no_grad()
    def predict_proba(self, X: np.ndarray | Tensor, batch_size: int = 4096) -> np.ndarray:
        """Class probabilities (N, n_classes) for windows X (N, T, C), in eval mode, batched."""
        device = next(self.parameters()).device
        if getattr(type(X), "is_window_views", False):  # views: gathered batch by batch
            batches = (torch.from_numpy(b) for b in X.blocks(batch_size))
        else:
            X = torch.as_tensor(np.asarray(X, dtype=np.float32) if not isinstance(X, Tensor) else X)
            batches = (X[i : i + batch_size] for i in range(0, len(X), batch_size))
        with eval_mode(self):
            out = [F.softmax(self.forward_logits(b.to(device, torch.float32)).float(), dim=1).cpu() for b in batches]
        if not out:
            return np.zeros((0, self.n_classes), dtype=np.float32)
        return torch.cat(out).numpy()
