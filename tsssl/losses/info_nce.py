"""Softmax contrastive losses: InfoNCE (one query vs many keys), SimCLR's NT-Xent, N-pair.

All compute in float32 (autocast off), through ``log_softmax`` / ``cross_entropy`` /
log-sum-exp, and gather in-batch negatives from every rank when torch.distributed runs with
world size > 1 (see :mod:`tsssl.losses.gather` for the gradient / value convention).

Hard negatives (options of :func:`info_nce` and :func:`nt_xent`, off by default; off, the
losses are computed exactly as without them):

* ``tau_plus`` > 0: the debiased contrastive loss (Chuang et al., NeurIPS 2020, "Debiased
  Contrastive Learning"). Some "negatives" share the query's latent class (prior ``tau_plus``);
  their expected contribution, estimated from the positives, is subtracted from the negative
  term.
* ``beta`` > 0: hardness-weighted negatives (Robinson et al., ICLR 2021, "Contrastive Learning
  with Hard Negative Samples"). Negative i is weighted by ``exp(beta * s_i)``, normalised to
  mean 1 over the query's negatives, so that negatives close to the query count more.

Both together are Robinson et al.'s estimator. Per query q, with s = similarity / temperature,
positives P(q) (M of them) and negatives N(q) (n of them)::

    R    = n * sum_{i in N} exp((1 + beta) s_i) / sum_{i in N} exp(beta s_i)   # reweighted sum
    Ng   = max( (R - tau_plus * n * mean_{p in P} exp(s_p)) / (1 - tau_plus),  n * exp(-1 / t) )
    loss = mean_{p in P} -log( exp(s_p) / (exp(s_p) + Ng) )

(``n exp(-1/t)`` is the papers' floor: the least the n negatives can give on the unit sphere.)
With both at 0, ``Ng`` is the plain sum of the negatives' ``exp(s_i)``. Everything is computed
in log space (log-sum-exp, ``log(-expm1)``, softplus), never exp-then-log.
"""

from __future__ import annotations

import math

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


def check_hard_negatives(tau_plus: object, beta: object) -> None:
    """``tau_plus`` in [0, 1) (the class prior of Chuang et al.) and ``beta`` >= 0 (Robinson et al.)."""
    if isinstance(tau_plus, bool) or not isinstance(tau_plus, (int, float)) or not 0 <= tau_plus < 1:
        raise ValueError(f"tau_plus must be a number in [0, 1) (the positive-class prior), got {tau_plus!r}")
    check_nonnegative(beta, "beta")


def hard_negative_log_partition(
    logits: Tensor, positive: Tensor, negative: Tensor, temperature: float | Tensor, tau_plus: float, beta: float
) -> Tensor:
    """log Ng per row (R,): the debiased / hardness-weighted negative term (module docstring).

    logits: (R, K) similarities over the temperature; positive, negative: (R, K) bool, disjoint
    (keys in neither, such as a view itself, are left out). A row without negatives gets -inf
    (its loss is then 0); a row without positives gets a finite value that the caller ignores.
    """
    minus_inf = torch.full_like(logits, float("-inf"))
    zeros = torch.zeros_like(logits)
    has_neg = negative.any(dim=1)
    # a row without negatives is computed on zeros (finite, no NaN in backward), replaced below
    neg = negative | ~has_neg[:, None]
    s = torch.where(negative, logits, zeros)
    log_n = torch.log(neg.sum(dim=1).to(logits.dtype))
    log_w = torch.where(neg, beta * s, minus_inf)  # log of the unnormalised weight exp(beta s)
    log_r = log_n + torch.logsumexp(log_w + s, dim=1) - torch.logsumexp(log_w, dim=1)
    if tau_plus > 0:
        has_pos = positive.any(dim=1, keepdim=True)
        pos = positive | ~has_pos
        sp = torch.where(positive, logits, zeros)
        log_pos_mean = torch.logsumexp(torch.where(pos, sp, minus_inf), dim=1) - torch.log(pos.sum(dim=1).to(s.dtype))
        # log(R - tau_plus n e^p) = log R + log(1 - e^a), defined where a < 0, else under the floor
        a = math.log(tau_plus) + log_n + log_pos_mean - log_r
        below = a < 0
        log_diff = log_r + torch.log(-torch.expm1(torch.where(below, a, torch.full_like(a, -1.0))))
        log_r = torch.where(below, log_diff - math.log1p(-tau_plus), torch.full_like(a, float("-inf")))
    log_ng = torch.maximum(log_r, log_n - 1 / temperature)
    return torch.where(has_neg, log_ng, torch.full_like(log_ng, float("-inf")))


def _hard_negative_rows(
    logits: Tensor, positive: Tensor, negative: Tensor, temperature: float | Tensor, tau_plus: float, beta: float
) -> Tensor:
    """Per-row loss (R,): mean over the row's positives p of -log(e^{s_p} / (e^{s_p} + Ng)) =
    softplus(log Ng - s_p); 0 for a row without positives."""
    log_ng = hard_negative_log_partition(logits, positive, negative, temperature, tau_plus, beta)
    per_key = F.softplus(log_ng[:, None] - torch.where(positive, logits, torch.zeros_like(logits)))
    per_key = torch.where(positive, per_key, torch.zeros_like(per_key))
    return per_key.sum(dim=1) / positive.sum(dim=1).clamp_min(1)


def _check_info_nce_args(
    query: Tensor, keys: Tensor, positive_mask: Tensor | None, extra_negatives: Tensor | None
) -> None:
    check_tensor("query", query, 2, "a 2-D Tensor (B, D)")
    check_tensor("keys", keys, 2, "a 2-D Tensor (K, D)")
    check_nonempty("query", query, "2-D Tensor (B, D)")
    check_nonempty("keys", keys, "2-D Tensor (K, D)")
    if query.shape[1] != keys.shape[1]:
        raise ValueError(
            "query and keys must have the same feature size D, "
            f"got query {tuple(query.shape)} and keys {tuple(keys.shape)}"
        )
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
    if extra_negatives is not None:
        D = query.shape[1]
        check_tensor("extra_negatives", extra_negatives, 3, f"a 3-D Tensor (B, S, D) = ({B}, S, {D})")
        if extra_negatives.shape[0] != B or extra_negatives.shape[2] != D:
            raise ValueError(
                f"extra_negatives must have shape (B, S, D) = ({B}, S, {D}), got {tuple(extra_negatives.shape)}"
            )


def _logits(q: Tensor, k: Tensor, extra: Tensor | None, t: float | Tensor) -> Tensor:
    """(B, K [+ S]) similarities over t: every key, then each query's own extra negatives."""
    logits = q @ k.T / t
    if extra is None:
        return logits
    return torch.cat([logits, torch.einsum("bd,bsd->bs", q, extra) / t], dim=1)


def info_nce(
    query: Tensor,
    keys: Tensor,
    positive_mask: Tensor | None = None,
    temperature: float | Tensor = 0.1,
    *,
    normalize: bool = True,
    gather: bool = True,
    tau_plus: float = 0.0,
    beta: float = 0.0,
    extra_negatives: Tensor | None = None,
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

    ``extra_negatives`` (B, S, D), optional: S more negatives per query, seen by that query only
    (MoCHi's synthetic hard negatives); normalised like the keys. ``tau_plus`` / ``beta``: the
    debiased / hardness-weighted negative term of the module docstring (0: off). When on, every
    key outside P(q) is a negative and each positive is contrasted with ``Ng`` alone, so with a
    multi-positive mask the other positives leave the denominator (they enter the ``tau_plus``
    estimate instead), as in Chuang et al.'s M-positive estimator.
    """
    _check_info_nce_args(query, keys, positive_mask, extra_negatives)
    check_temperature(temperature)
    check_hard_negatives(tau_plus, beta)
    hard = tau_plus > 0 or beta > 0
    B = query.shape[0]
    with float32_region(query):
        q, k = as_float(query, keys)
        extra = None if extra_negatives is None else as_float(extra_negatives).to(q.dtype)
        if normalize:
            q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
            extra = None if extra is None else F.normalize(extra, dim=-1)
        t = temperature.to(q.dtype) if isinstance(temperature, Tensor) else temperature
        if positive_mask is None:
            k_all, sizes, off = _maybe_gather(k, gather)
            logits = _logits(q, k_all, extra, t)
            target = torch.arange(B, device=q.device) + off
            if hard:
                pos = torch.arange(logits.shape[1], device=q.device)[None, :] == target[:, None]
                part = _hard_negative_rows(logits, pos, ~pos, t, tau_plus, beta).sum() / sum(sizes)
            else:
                part = F.cross_entropy(logits, target, reduction="sum") / sum(sizes)
            return combine_partial(part) if gather else part
        logits = _logits(q, k, extra, t)
        mask = positive_mask.to(logits.device)
        if extra is not None:  # the extra negatives are never positives
            mask = torch.cat([mask, mask.new_zeros(B, extra.shape[1])], dim=1)
        n_pos = mask.sum(dim=1)
        if hard:
            row = _hard_negative_rows(logits, mask, ~mask, t, tau_plus, beta)
        else:
            logp = F.log_softmax(logits, dim=1)
            row = -torch.where(mask, logp, torch.zeros_like(logp)).sum(dim=1) / n_pos.clamp_min(1)
        return row.sum() / (n_pos > 0).sum().clamp_min(1)


def nt_xent(
    z1: Tensor,
    z2: Tensor,
    temperature: float = 0.5,
    *,
    normalize: bool = True,
    gather: bool = True,
    tau_plus: float = 0.0,
    beta: float = 0.0,
) -> Tensor:
    """SimCLR's NT-Xent in its symmetric 2N form; scalar float32, mean over the 2N views.

    z1, z2: (N, D), row i of both are two views of sample i. Each of the 2N views is a query
    against the other 2N - 1 views (itself excluded): 1 positive (its partner) and 2N - 2
    negatives; cosine similarity (``normalize=True``) over ``temperature``. Under
    torch.distributed (world size > 1, ``gather=True``) N is the global batch, gathered with
    gradients; uneven per-rank batches are fine (see :mod:`tsssl.losses.gather`).
    ``tau_plus`` / ``beta``: the debiased / hardness-weighted negative term over the 2N - 2
    negatives (module docstring; 0: off, the plain NT-Xent).
    """
    check_tensor("z1", z1, 2, "a 2-D Tensor (N, D)")
    check_tensor("z2", z2, 2, "a 2-D Tensor (N, D)")
    check_same_shape("z1", z1, "z2", z2)
    check_nonempty("z1", z1, "2-D Tensor (N, D)")
    check_temperature(temperature)
    check_hard_negatives(tau_plus, beta)
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
        columns = torch.arange(2 * N, device=z.device)[None, :]
        is_self = columns == self_idx[:, None]
        logits = logits.masked_fill(is_self, float("-inf"))
        if tau_plus > 0 or beta > 0:
            pos = columns == pos_idx[:, None]
            rows = _hard_negative_rows(logits, pos, ~pos & ~is_self, temperature, tau_plus, beta)
            part = rows.sum() / (2 * sum(sizes))
        else:
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
