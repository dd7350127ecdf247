"""Predictive (BYOL / SimSiam) loss: negative cosine between a prediction and a fixed target."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ._checks import as_float, check_nonempty, check_same_shape, check_tensor, float32_region


def negative_cosine(p: Tensor, z: Tensor, *, eps: float = 1e-8) -> Tensor:
    """``-mean_i cos(p_i, stopgrad(z_i))``; scalar float32 in [-1, 1].

    p: (B, D) predictions (online branch); z: (B, D) targets. ``z`` is detached inside: no
    gradient ever reaches the target branch (SimSiam's stop-gradient; for BYOL the target comes
    from the EMA network anyway). Symmetrise yourself: ``(negative_cosine(p1, z2) +
    negative_cosine(p2, z1)) / 2``. BYOL's ``2 - 2 cos`` equals ``2 + 2 * negative_cosine``.
    A per-sample loss: under DDP it returns the local mean (no gather needed).
    """
    check_tensor("p", p, 2, "a 2-D Tensor (B, D)")
    check_tensor("z", z, 2, "a 2-D Tensor (B, D)")
    check_same_shape("p", p, "z", z)
    check_nonempty("p", p, "2-D Tensor (B, D)")
    with float32_region(p):
        p, z = as_float(p, z.detach())
        pn, zn = F.normalize(p, dim=-1, eps=eps), F.normalize(z, dim=-1, eps=eps)
        return -(pn * zn).sum(dim=-1).mean()
