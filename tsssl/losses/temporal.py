"""Temporal contrasting (TS-TCC, Eldele et al., IJCAI 2021): InfoNCE per prediction step, the
negatives of a step being the batch's encodings at that same step."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ._checks import as_float, check_nonempty, check_same_shape, check_temperature, check_tensor, float32_region


def stepwise_info_nce(
    predictions: Tensor, targets: Tensor, temperature: float = 1.0, *, normalize: bool = False
) -> Tensor:
    """Mean over steps k and samples i of InfoNCE with in-batch negatives at step k; scalar float32.

    predictions, targets: (B, K, D): predictions[i, k] = W_k c_i, targets[i, k] = z_i at t + k.
    With s_k(i, j) = predictions[i, k] . targets[j, k] / temperature (cosine when ``normalize``)::

        loss = -1 / (B K) sum_k sum_i log( exp(s_k(i, i)) / sum_j exp(s_k(i, j)) )

    TS-TCC's temporal contrasting loss (raw dot products, temperature 1, is its form). Equal to
    the mean over k of ``info_nce(predictions[:, k], targets[:, k], gather=False)``, in one
    batched product instead of K. A local-batch loss: under DDP the local mean.
    """
    check_tensor("predictions", predictions, 3, "a 3-D Tensor (B, K, D)")
    check_tensor("targets", targets, 3, "a 3-D Tensor (B, K, D)")
    check_same_shape("predictions", predictions, "targets", targets)
    check_nonempty("predictions", predictions, "3-D Tensor (B, K, D)")
    check_temperature(temperature)
    with float32_region(predictions):
        p, z = as_float(predictions, targets)
        if normalize:
            p, z = F.normalize(p, dim=-1), F.normalize(z, dim=-1)
        B, K, _ = p.shape
        logits = torch.einsum("ikd,jkd->kij", p, z) / temperature  # (K, B, B): step k, prediction i, target j
        target = torch.arange(B, device=p.device).repeat(K)
        return F.cross_entropy(logits.reshape(K * B, B), target)
