"""MoCo v2 (He et al., 2020; Chen et al., 2020): momentum contrast with a queue of negatives,
optionally with MoCHi's mixed hard negatives (Kalantidis et al., NeurIPS 2020, "Hard Negative
Mixing for Contrastive Learning") and the debiased / hardness-weighted InfoNCE of
:mod:`tsssl.losses.info_nce` (``tau_plus``, ``beta``).

Algorithm (one step)::

    x = batch[0]
    v1, v2 = views(x)
    q = g_q(f_q(v1))                          # query: encoder + MLP head, trained by gradient
    with no_grad: k = g_k(f_k(v2))            # key: momentum copies (EMA of f_q, g_q)
    keys = [k; queue]                         # (B + Q, D): positives first, then old keys
    if mochi_n:                               # MoCHi, no gradient through what it makes
        H = the mochi_n keys most similar to q among its negatives     # (B, N, D) per query
        h_s  = normalize(a n_i + (1 - a) n_j),  n_i, n_j in H, a ~ U(0, 1)     # mochi_s1 of them
        h'_s = normalize(b q + (1 - b) n_j),    n_j in H,      b ~ U(0, 0.5)   # mochi_s2 of them
    loss = info_nce(q, keys, positive_mask=[I_B | 0], temperature,
                    extra_negatives=[h; h'], tau_plus, beta)           # h, h': query q's alone
    queue.enqueue(k)                          # after the loss, so a key never meets itself
    # after the optimiser step the Trainer applies f_k <- m f_k + (1 - m) f_q (momentum_pairs)

The paper's negatives are the queue; here MoCo also contrasts each query with the batch's other
keys, so MoCHi's hard set is drawn from all of the query's negatives (only the batch's keys while
the queue is still empty at the first step). With ``mochi_n = 0`` and ``tau_plus = beta = 0``
(the defaults) the step is MoCo v2 as before, bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tsssl.losses import MemoryQueue, info_nce
from tsssl.losses.info_nce import check_hard_negatives
from tsssl.methods.base import TwoViewFn, TwoViewMethod, frozen_copy, split_batch

#: MoCHi draws the query's share b of a query-negative mix from U(0, MOCHI_MAX_QUERY_SHARE):
#: below 1/2, so the synthetic point stays nearer the negative than the query (the paper's bound)
MOCHI_MAX_QUERY_SHARE = 0.5


def moco_positive_mask(batch_size: int, n_keys: int, device: torch.device | str | None = None) -> Tensor:
    """(B, K) bool: query i's positive is key i (the first B keys); the rest are negatives."""
    mask = torch.zeros(batch_size, n_keys, dtype=torch.bool, device=device)
    mask[:, :batch_size].fill_diagonal_(True)
    return mask


@torch.no_grad()
def hardest_negatives(query: Tensor, keys: Tensor, positive_mask: Tensor, n: int) -> Tensor:
    """(B, n) long: per query, the indices of the ``n`` keys of highest cosine similarity among
    its negatives (keys where ``positive_mask`` is False), hardest first.

    query: (B, D); keys: (K, D); positive_mask: (B, K) bool; n <= the fewest negatives of a row.
    """
    sim = F.normalize(query.float(), dim=-1) @ F.normalize(keys.float(), dim=-1).T
    sim = sim.masked_fill(positive_mask, float("-inf"))  # a positive is never a hard negative
    return sim.topk(n, dim=1).indices


@torch.no_grad()
def mix_hard_negatives(
    query: Tensor, keys: Tensor, hard: Tensor, pairs: Tensor, alpha: Tensor, partners: Tensor, beta: Tensor
) -> Tensor:
    """MoCHi's synthetic negatives for each query, (B, S1 + S2, D), unit length, no gradient.

    query: (B, D); keys: (K, D); hard: (B, N) long, each query's hard negatives as rows of keys
    (:func:`hardest_negatives`); pairs: (B, S1, 2) long positions in the hard set and alpha:
    (B, S1) mixing weights -> normalize(alpha n_i + (1 - alpha) n_j); partners: (B, S2) long
    positions in the hard set and beta: (B, S2) the query's share -> normalize(beta q +
    (1 - beta) n_j). Query and keys are L2-normalised first, as the paper's are.
    """
    q = F.normalize(query.float(), dim=-1)

    def pick(positions: Tensor) -> Tensor:  # (B, S) positions in the hard set -> (B, S, D) keys
        rows = torch.gather(hard, 1, positions.reshape(len(hard), -1)).reshape(positions.shape)
        return F.normalize(keys[rows].float(), dim=-1)  # only the S picked keys, never all B x N

    a = alpha.float()[..., None]
    mixed = a * pick(pairs[..., 0]) + (1 - a) * pick(pairs[..., 1])  # s1: pairs of hard negatives
    b = beta.float()[..., None]
    harder = b * q[:, None, :] + (1 - b) * pick(partners)  # s2: the query pulled into a negative
    return F.normalize(torch.cat([mixed, harder], dim=1), dim=-1)


def mochi_negatives(query: Tensor, keys: Tensor, positive_mask: Tensor, n_hard: int, s1: int, s2: int) -> Tensor:
    """MoCHi's (B, s1 + s2, D) synthetic negatives, drawn at random from the ``n_hard`` hardest
    negatives of each query.

    query: (B, D); keys: (K, D); positive_mask: (B, K) bool with one positive per row (MoCo's),
    so every row has K - 1 negatives: the hard set is ``min(n_hard, K - 1)`` of them, and the
    result is (B, 0, D) when there are none. Randomness from torch's global generator.
    """
    B, K = positive_mask.shape
    n = min(n_hard, K - 1)
    if n <= 0:
        return query.new_zeros(B, 0, query.shape[1], dtype=torch.float32)
    hard = hardest_negatives(query.detach(), keys, positive_mask, n)  # (B, n) rows of keys
    device = query.device
    pairs = torch.randint(0, n, (B, s1, 2), device=device)
    alpha = torch.rand(B, s1, device=device)
    partners = torch.randint(0, n, (B, s2), device=device)
    beta = torch.rand(B, s2, device=device) * MOCHI_MAX_QUERY_SHARE
    return mix_hard_negatives(query.detach(), keys.detach(), hard, pairs, alpha, partners, beta)


def _check_mochi(n_hard: object, s1: object, s2: object) -> None:
    for name, value in (("mochi_n", n_hard), ("mochi_s1", s1), ("mochi_s2", s2)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"MoCo: {name} must be an integer >= 0, got {value!r}")
    if (n_hard > 0) != (s1 + s2 > 0):
        raise ValueError(
            f"MoCo: MoCHi needs mochi_n > 0 and mochi_s1 + mochi_s2 > 0 together (0 for all: off), "
            f"got mochi_n={n_hard}, mochi_s1={s1}, mochi_s2={s2}"
        )


class MoCo(TwoViewMethod):
    """MoCo v2. ``queue_size`` negative keys of ``proj_dim`` features, ``temperature`` 0.2,
    key-encoder momentum ``base_momentum`` (raised to 1 over the run by the Trainer).

    MoCHi (off by default): ``mochi_n`` hardest negatives per query, ``mochi_s1`` synthetic
    negatives mixed from pairs of them and ``mochi_s2`` mixed from the query and one of them
    (the paper's N, s and s'). ``tau_plus`` / ``beta``: the debiased / hardness-weighted InfoNCE
    (``tsssl.losses.info_nce``; 0: off).
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: TwoViewFn | None = None,
        *,
        proj_hidden: int = 128,
        proj_dim: int = 64,
        queue_size: int = 4096,
        temperature: float = 0.2,
        momentum: float = 0.99,
        mochi_n: int = 0,
        mochi_s1: int = 0,
        mochi_s2: int = 0,
        tau_plus: float = 0.0,
        beta: float = 0.0,
    ) -> None:
        _check_mochi(mochi_n, mochi_s1, mochi_s2)
        check_hard_negatives(tau_plus, beta)
        super().__init__(encoder, views, proj_hidden=proj_hidden, proj_dim=proj_dim)
        self.key_encoder = frozen_copy(self.encoder)
        self.key_projector = frozen_copy(self.projector)
        self.queue = MemoryQueue(queue_size, proj_dim)
        self.temperature = temperature
        self.base_momentum = momentum
        self.mochi_n, self.mochi_s1, self.mochi_s2 = mochi_n, mochi_s1, mochi_s2
        self.tau_plus, self.beta = tau_plus, beta

    def momentum_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        return [(self.encoder, self.key_encoder), (self.projector, self.key_projector)]

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        x, _ = split_batch(batch)
        v1, v2 = self.views(x)
        q = self.project(v1)
        with torch.no_grad():
            k = self.key_projector(self.key_encoder(v2))
        k = F.normalize(k.float(), dim=-1)  # float32 under autocast too, like the queue
        keys = torch.cat([k, self.queue.keys()])
        mask = moco_positive_mask(len(q), len(keys), q.device)
        extra = None
        if self.mochi_n:
            extra = mochi_negatives(q, keys, mask, self.mochi_n, self.mochi_s1, self.mochi_s2)
        loss = info_nce(q, keys, mask, self.temperature, tau_plus=self.tau_plus, beta=self.beta, extra_negatives=extra)
        self.queue.enqueue(k)
        return loss
