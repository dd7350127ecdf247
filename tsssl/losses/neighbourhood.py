"""TNC's discriminator loss (Tonekaboni, Eytan & Goldenberg, ICLR 2021): neighbours are positives,
non-neighbours unlabelled (positive-unlabelled learning: a far window may still resemble the
anchor, so it counts as a positive with weight w).

Computed in float32 (float64 inputs stay float64) with autocast off, on logits through softplus
(``-log sigmoid(s) = softplus(-s)``, ``-log(1 - sigmoid(s)) = softplus(s)``). Per-sample: under
DDP it returns the local mean.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from tsssl.checks import check_fraction

from ._checks import as_float, check_nonempty, check_tensor, float32_region


def tnc_loss(near_logits: Tensor, far_logits: Tensor, w: float = 0.05) -> Tensor:
    """The paper's objective on the discriminator's logits; scalar float32.

    near_logits: (B, M) scores D(z_t, z_l) of each anchor against its neighbours; far_logits:
    (B, M') against its non-neighbours; w in [0, 1): the weight of a non-neighbour as a positive::

        loss = mean_{b,l} -log D(z_t, z_l)
             + mean_{b,k} [ -(1 - w) log(1 - D(z_t, z_k)) - w log D(z_t, z_k) ]

    (D = sigmoid of the logit.)
    """
    check_tensor("near_logits", near_logits, 2, "a 2-D Tensor (B, M) of logits")
    check_tensor("far_logits", far_logits, 2, "a 2-D Tensor (B, M) of logits")
    check_nonempty("near_logits", near_logits, "2-D Tensor (B, M) of logits")
    check_nonempty("far_logits", far_logits, "2-D Tensor (B, M) of logits")
    if near_logits.shape[0] != far_logits.shape[0]:
        raise ValueError(
            f"near_logits and far_logits must have one row per anchor, got {near_logits.shape[0]} and "
            f"{far_logits.shape[0]} rows"
        )
    check_fraction(w, "w")
    with float32_region(near_logits):
        near, far = as_float(near_logits, far_logits)
        return F.softplus(-near).mean() + ((1 - w) * F.softplus(far) + w * F.softplus(-far)).mean()
