"""Redundancy-reduction losses on batch statistics: Barlow Twins and VICReg.

Both depend on statistics over the batch (means, variances, cross-correlations). Under
torch.distributed with world size > 1 (and ``gather=True``) the two embeddings are gathered
from all ranks with gradients and every rank computes the loss of the *global* batch (the
"replicated" case of :mod:`tsssl.losses.gather`: value = global loss, DDP-averaged gradients =
its exact gradient), as SyncBatchNorm would.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ._checks import as_float, check_nonnegative, check_same_shape, check_tensor, float32_region
from .gather import gather as _gather
from .gather import is_distributed


def _global_pair(z1: Tensor, z2: Tensor, use: bool) -> tuple[Tensor, Tensor]:
    z = torch.stack(as_float(z1, z2), dim=1)  # (n, 2, D): one gather for both
    if use and is_distributed():
        z, _ = _gather(z)
    if z.shape[0] < 2:
        raise ValueError(f"z1 and z2 need a batch of at least 2 rows (batch statistics), got {z.shape[0]}")
    return z[:, 0], z[:, 1]


def _off_diagonal_sq_sum(m: Tensor) -> Tensor:
    off = ~torch.eye(m.shape[0], dtype=torch.bool, device=m.device)
    return m.pow(2)[off].sum()


def barlow_twins(z1: Tensor, z2: Tensor, lambd: float = 5e-3, *, eps: float = 1e-5, gather: bool = True) -> Tensor:
    """Barlow Twins (Zbontar et al. 2021); scalar float32.

    z1, z2: (N, D). Each column is standardised over the batch, ``(z - mean) / sqrt(var + eps)``
    with the biased variance (the paper's BatchNorm1d(affine=False)); the cross-correlation
    ``C = z1n^T z2n / N`` (D, D) gives::

        loss = sum_i (1 - C_ii)^2 + lambd * sum_{i != j} C_ij^2

    (a sum over features, not divided by D, as in the paper; no extra loss scale).
    """
    check_tensor("z1", z1, 2, "a 2-D Tensor (N, D)")
    check_tensor("z2", z2, 2, "a 2-D Tensor (N, D)")
    check_same_shape("z1", z1, "z2", z2)
    check_nonnegative(lambd, "lambd")
    with float32_region(z1):
        a, b = _global_pair(z1, z2, gather)
        n = a.shape[0]

        def standardise(x: Tensor) -> Tensor:
            x = x - x.mean(dim=0)
            return x / torch.sqrt(x.pow(2).mean(dim=0) + eps)

        c = standardise(a).T @ standardise(b) / n
        on = (1 - torch.diagonal(c)).pow(2).sum()
        return on + lambd * _off_diagonal_sq_sum(c)


def vicreg(
    z1: Tensor,
    z2: Tensor,
    *,
    sim_coeff: float = 25.0,
    std_coeff: float = 25.0,
    cov_coeff: float = 1.0,
    eps: float = 1e-4,
    gather: bool = True,
) -> Tensor:
    """VICReg (Bardes et al. 2022) with the paper's coefficients (25, 25, 1); scalar float32.

    z1, z2: (N, D). As the authors' code::

        invariance = mean((z1 - z2)^2)                                   # over N and D
        variance   = mean_d relu(1 - sqrt(var_d(z1) + eps)) / 2 + (same for z2) / 2
        covariance = sum_{i != j} cov(z1)_ij^2 / D + (same for z2)      # unbiased (N - 1)
        loss = sim_coeff * invariance + std_coeff * variance + cov_coeff * covariance
    """
    check_tensor("z1", z1, 2, "a 2-D Tensor (N, D)")
    check_tensor("z2", z2, 2, "a 2-D Tensor (N, D)")
    check_same_shape("z1", z1, "z2", z2)
    for name, value in (("sim_coeff", sim_coeff), ("std_coeff", std_coeff), ("cov_coeff", cov_coeff)):
        check_nonnegative(value, name)
    with float32_region(z1):
        a, b = _global_pair(z1, z2, gather)
        n, d = a.shape
        invariance = F.mse_loss(a, b)
        a, b = a - a.mean(dim=0), b - b.mean(dim=0)
        var_a, var_b = a.pow(2).sum(dim=0) / (n - 1), b.pow(2).sum(dim=0) / (n - 1)
        variance = F.relu(1 - torch.sqrt(var_a + eps)).mean() / 2 + F.relu(1 - torch.sqrt(var_b + eps)).mean() / 2
        covariance = (_off_diagonal_sq_sum(a.T @ a / (n - 1)) + _off_diagonal_sq_sum(b.T @ b / (n - 1))) / d
        return sim_coeff * invariance + std_coeff * variance + cov_coeff * covariance
