"""Nearest-neighbour positives (NNCLR, Dwibedi et al. 2021): the support-set lookup and the loss.

    nn1 = nearest_neighbour(z1, support)                # (B, D) rows of support, no gradient
    loss = nnclr_loss(p1, p2, nn1, nn2, temperature=0.1)

The support set itself is a :class:`tsssl.losses.MemoryQueue` of past normalised projections.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ._checks import as_float, check_nonempty, check_same_shape, check_temperature, check_tensor, float32_region
from .info_nce import info_nce


def nearest_neighbour(z: Tensor, support: Tensor) -> Tensor:
    """Each row's nearest neighbour in ``support`` by cosine similarity: (B, D), no gradient.

    z: (B, D) queries; support: (Q, D) candidates. Row i of the result is
    ``support[argmax_k cos(z_i, support_k)]`` (the first such k on ties), as stored (not
    re-normalised), detached: NNCLR lets no gradient through the lookup. Computed in float32
    (float64 stays float64).
    """
    check_tensor("z", z, 2, "a 2-D Tensor (B, D)")
    check_tensor("support", support, 2, "a 2-D Tensor (Q, D)")
    check_nonempty("z", z, "2-D Tensor (B, D)")
    check_nonempty("support", support, "2-D Tensor (Q, D) (an empty support set has no neighbour)")
    if z.shape[1] != support.shape[1]:
        raise ValueError(
            f"z and support must have the same feature size D, got z {tuple(z.shape)} and support {tuple(support.shape)}"
        )
    with float32_region(z):
        q, s = as_float(z.detach(), support.detach())
        index = (F.normalize(q, dim=-1) @ F.normalize(s, dim=-1).T).argmax(dim=1)  # (B,)
        return support.detach().index_select(0, index)


def nnclr_loss(
    p1: Tensor, p2: Tensor, nn1: Tensor, nn2: Tensor, temperature: float = 0.1, *, gather: bool = True
) -> Tensor:
    """NNCLR's symmetric InfoNCE; scalar float32, ``(L(nn1, p2) + L(nn2, p1)) / 2``.

    p1, p2: (B, D) predictions of the two views of each sample; nn1, nn2: (B, D) the nearest
    neighbours of the two views' projections in the support set. ``L(nn, p)`` is InfoNCE with
    query ``nn_i`` and keys ``p_1 .. p_B``, positive ``p_i`` (the paper's ``logits = nn @ p.T /
    temperature; cross_entropy(logits, arange(B))``) on L2-normalised rows::

        L(nn, p) = -1/B sum_i log( exp(cos(nn_i, p_i)/t) / sum_k exp(cos(nn_i, p_k)/t) )

    The gradient reaches p1, p2 (the neighbours are support-set entries, constants). Under
    torch.distributed (world size > 1, ``gather=True``) the keys of every rank are the
    negatives, as in :func:`tsssl.losses.info_nce`.
    """
    for name, t in (("p1", p1), ("p2", p2), ("nn1", nn1), ("nn2", nn2)):
        check_tensor(name, t, 2, "a 2-D Tensor (B, D)")
    check_same_shape("p1", p1, "p2", p2)
    check_same_shape("nn1", nn1, "p1", p1)
    check_same_shape("nn2", nn2, "p2", p2)
    check_nonempty("p1", p1, "2-D Tensor (B, D)")
    check_temperature(temperature)
    forward = info_nce(nn1, p2, temperature=temperature, gather=gather)
    backward = info_nce(nn2, p1, temperature=temperature, gather=gather)
    return 0.5 * (forward + backward)
