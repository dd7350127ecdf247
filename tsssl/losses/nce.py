"""Noise-contrastive estimation: logistic regression of data against noise scores."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ._checks import as_float, check_nonempty, check_tensor, float32_region


def nce(scores_data: Tensor, scores_noise: Tensor) -> Tensor:
    """Logistic NCE (Gutmann & Hyvarinen 2010; word2vec's negative sampling); scalar float32.

    scores_data: (B,) logits of the data samples; scores_noise: (B, K) logits of K noise
    samples per data sample (word2vec) or (M,) logits of M noise samples. A score is the logit
    of "this came from the data", i.e. ``log p_model(x) - log(nu * p_noise(x))`` if you follow
    Gutmann & Hyvarinen. With sigma the logistic function::

        loss = ( sum_i -log sigma(s_i) + sum_noise -log(1 - sigma(s_noise)) ) / B
             = ( sum_i softplus(-s_i) + sum_noise softplus(s_noise) ) / B

    i.e. per data sample: its own term plus the sum over its K noise samples (word2vec), or
    with (M,) noise the paper's J with nu = M / B.
    """
    check_tensor("scores_data", scores_data, 1, "a 1-D Tensor (B,) of logits")
    check_nonempty("scores_data", scores_data, "1-D Tensor (B,)")
    check_tensor("scores_noise", scores_noise, (1, 2), "a Tensor (B, K) or (M,) of logits")
    if scores_noise.ndim == 2 and scores_noise.shape[0] != scores_data.shape[0]:
        raise ValueError(
            f"scores_noise of shape (B, K) must have B = {scores_data.shape[0]} rows like scores_data, "
            f"got {tuple(scores_noise.shape)}"
        )
    with float32_region(scores_data):
        s_data, s_noise = as_float(scores_data, scores_noise)
        return (F.softplus(-s_data).sum() + F.softplus(s_noise).sum()) / s_data.shape[0]
