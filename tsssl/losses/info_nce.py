"""Softmax contrastive losses: InfoNCE (one query vs many keys), SimCLR's NT-Xent, N-pair.

All compute in float32 (autocast off), through ``log_softmax`` / ``cross_entropy``, and gather
in-batch negatives from every rank when torch.distributed runs with world size > 1 (see
:mod:`tsssl.losses.gather` for the gradient / value convention).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ._checks import (
    as_float,
    check_nonempty,
    check_nonnegative,
    check_same_shape,
    check_temperature,
    check_tensor,
    float32_region,
)
from .gather import combine_partial, is_distributed, offset
from .gather import gather as _gather


def _maybe_gather(x: Tensor, use: bool) -> tuple[Tensor, list[int], int]:
    """(x_all, sizes, this rank's offset): the global batch when gathering, else x itself."""
    if use and is_distributed():
        x_all, sizes = _gather(x)
        return x_all, sizes, offset(sizes)
    return x, [int(x.shape[0])], 0


def info_nce(
    query: Tensor,
    keys: Tensor,
    positive_mask: Tensor | None = None,
    temperature: float | Tensor = 0.1,
    *,
    normalize: bool = True,
    gather: bool = True,
) -> Tensor:
    """InfoNCE of each query against all keys; scalar float32, mean over queries.

    query: (B, D); keys: (K, D); similarity ``s = q . k / temperature`` on L2-normalised rows
    (``normalize=True``, cosine similarity) or raw dot products (``normalize=False``).

    * ``positive_mask=None``: K must equal B and key i is query i's positive (diagonal form:
      SimCLR-style one-directional, CLIP's image->text half, SimCSE). The other keys are the
      negatives and, under torch.distributed with world size > 1 and ``gather=True``, the keys of
      every rank are gathered (autograd-aware) so the negatives are the global batch; the value
      and gradients follow :mod:`tsssl.losses.gather`.
    * ``positive_mask`` (B, K) bool: several positives per query allowed (CPC's future steps,
      SupCon's same-class samples, MoCo's ``[positive keys; queue]``, CLIP). Per query q with
      positive set P(q) this is SupCon's "L_out" form::

          loss_q = -1/|P(q)| * sum_{p in P(q)} log( exp(s_qp) / sum_{k=1..K} exp(s_qk) )

      the softmax running over *all* K keys (positives included; the query itself is not
      among the keys: query and keys are different tensors - mask a key out yourself, e.g. by
      not passing it, if it is the same sample). Rows without any positive are ignored: the
      mean is over queries with at least one positive (an all-False mask gives 0 with zero
      gradient). The mask form never gathers (its columns are the caller's keys); under DDP it
      returns the local mean.

    ``temperature``: a positive number, or a 0-dim Tensor (a learnable temperature as in CLIP;
    its positivity is not checked, to avoid a device sync).
    """
    check_tensor("query", query, 2, "a 2-D Tensor (B, D)")
    check_tensor("keys", keys, 2, "a 2-D Tensor (K, D)")
    check_nonempty("query", query, "2-D Tensor (B, D)")
    check_nonempty("keys", keys, "2-D Tensor (K, D)")
    if query.shape[1] != keys.shape[1]:
        raise ValueError(
            "query and keys must have the same feature size D, "
            f"got query {tuple(query.shape)} and keys {tuple(keys.shape)}"
        )
    check_temperature(temperature)
    B, K = query.shape[0], keys.shape[0]
    if positive_mask is None:
        if K != B:
            raise ValueError(
                f"keys must have as many rows as query ({B}) when positive_mask is None "
                f"(key i is query i's positive), got {K}; pass a (B, K) bool positive_mask otherwise"
            )
    else:
        check_tensor("positive_mask", positive_mask, 2, f"a 2-D bool Tensor (B, K) = ({B}, {K})")
        if tuple(positive_mask.shape) != (B, K):
            raise ValueError(f"positive_mask must have shape (B, K) = ({B}, {K}), got {tuple(positive_mask.shape)}")
        if positive_mask.dtype != torch.bool:
            raise ValueError(f"positive_mask must be a bool Tensor, got dtype {positive_mask.dtype}")

    with float32_region(query):
        q, k = as_float(query, keys)
        if normalize:
            q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
        t = temperature.to(q.dtype) if isinstance(temperature, Tensor) else temperature
        if positive_mask is None:
            k_all, sizes, off = _maybe_gather(k, gather)
            logits = q @ k_all.T / t
            target = torch.arange(B, device=q.device) + off
            part = F.cross_entropy(logits, target, reduction="sum") / sum(sizes)
            return combine_partial(part) if gather else part
        logp = F.log_softmax(q @ k.T / t, dim=1)
        mask = positive_mask.to(logp.device)
        n_pos = mask.sum(dim=1)
        row = -torch.where(mask, logp, torch.zeros_like(logp)).sum(dim=1) / n_pos.clamp_min(1)
        return row.sum() / (n_pos > 0).sum().clamp_min(1)


def nt_xent(z1: Tensor, z2: Tensor, temperature: float = 0.5, *, normalize: bool = True, gather: bool = True) -> Tensor:
    """SimCLR's NT-Xent in its symmetric 2N form; scalar float32, mean over the 2N views.

    z1, z2: (N, D), row i of both are two views of sample i. Each of the 2N views is a query
    against the other 2N - 1 views (itself excluded): 1 positive (its partner) and 2N - 2
    negatives; cosine similarity (``normalize=True``) over ``temperature``. Under
    torch.distributed (world size > 1, ``gather=True``) N is the global batch, gathered with
    gradients; uneven per-rank batches are fine (see :mod:`tsssl.losses.gather`).
    """
    check_tensor("z1", z1, 2, "a 2-D Tensor (N, D)")
    check_tensor("z2", z2, 2, "a 2-D Tensor (N, D)")
    check_same_shape("z1", z1, "z2", z2)
    check_nonempty("z1", z1, "2-D Tensor (N, D)")
    check_temperature(temperature)
    with float32_region(z1):
        z = torch.stack(as_float(z1, z2), dim=1)  # (n, 2, D): one gather for both views
        if normalize:
            z = F.normalize(z, dim=-1)
        z_all, sizes, off = _maybe_gather(z, gather)
        n, N = z.shape[0], z_all.shape[0]
        queries = torch.cat([z[:, 0], z[:, 1]])  # (2n, D)
        keys = torch.cat([z_all[:, 0], z_all[:, 1]])  # (2N, D): all first views, then all second
        logits = queries @ keys.T / temperature
        local = torch.arange(n, device=z.device) + off
        self_idx = torch.cat([local, local + N])
        pos_idx = torch.cat([local + N, local])
        is_self = torch.arange(2 * N, device=z.device)[None, :] == self_idx[:, None]
        logits = logits.masked_fill(is_self, float("-inf"))
        part = F.cross_entropy(logits, pos_idx, reduction="sum") / (2 * sum(sizes))
        return combine_partial(part) if gather else part


def n_pair(anchor: Tensor, positive: Tensor, *, l2_reg: float = 0.0, gather: bool = True) -> Tensor:
    """Multi-class N-pair loss (Sohn, NeurIPS 2016); scalar float32, mean over anchors.

    anchor, positive: (N, D) with (anchor_i, positive_i) a positive pair and the other positives
    the negatives of anchor i, on raw inner products (the paper's form)::

        loss_i = log(1 + sum_{j != i} exp(a_i . p_j - a_i . p_i)) = cross_entropy(a_i . P, i)

    plus ``l2_reg * (|a_i|^2 + |p_i|^2)`` (the paper's embedding regulariser; it used 0.002).
    Under torch.distributed the positives of all ranks are the negatives (gathered with grads).
    """
    check_tensor("anchor", anchor, 2, "a 2-D Tensor (N, D)")
    check_tensor("positive", positive, 2, "a 2-D Tensor (N, D)")
    check_same_shape("anchor", anchor, "positive", positive)
    check_nonempty("anchor", anchor, "2-D Tensor (N, D)")
    check_nonnegative(l2_reg, "l2_reg")
    with float32_region(anchor):
        a, p = as_float(anchor, positive)
        p_all, sizes, off = _maybe_gather(p, gather)
        target = torch.arange(a.shape[0], device=a.device) + off
        total = F.cross_entropy(a @ p_all.T, target, reduction="sum")
        if l2_reg:
            total = total + l2_reg * (a.pow(2).sum() + p.pow(2).sum())
        part = total / sum(sizes)
        return combine_partial(part) if gather else part
