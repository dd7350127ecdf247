"""Instance discrimination with a memory bank (Wu, Xiong, Yu & Lin, CVPR 2018): "Unsupervised
Feature Learning via Non-Parametric Instance Discrimination", on windows.

Every training window is its own class. Its class "weight" is a unit vector v_i kept in a
memory bank (one per training sample, a buffer, so checkpoints carry it), and the encoder
learns to put an augmented window near its own entry and away from the others.

Algorithm (one step)::

    x, idx = batch[0], batch[-1]              # idx: each window's row in the training data
    f = normalise(W enc(view(x)))             # (B, dim) on the unit sphere; W: linear head
    if loss == "nce":                         # the paper's approximation, for large banks
        noise = V[uniform(n, size=m)]         # m noise entries, P_n = 1/n, shared by the batch
        s_i = f_i . V[idx_i] / tau;  s_ij = f_i . noise_j / tau
        log Z = log(n * mean exp(s_ij))       # once, from the first batch; then held fixed
        h = exp(s - log Z) / (exp(s - log Z) + m / n)
        loss = mean_i [ -log h(s_i) - sum_j log(1 - h(s_ij)) ]
    else:                                     # "softmax": the exact eq. 2 over the whole bank
        loss = cross_entropy(f @ V.T / tau, idx)
    V[idx] <- normalise(mom * V[idx] + (1 - mom) * f)     # after the loss, no gradient

``loss="auto"`` (the default) is the exact softmax while the bank has at most
``SOFTMAX_MAX_SAMPLES`` entries and NCE above. The paper needed NCE for 1.28M images; a bank of
windows is often a few thousand (8,000 training windows in the bundled sample), where the
(B, n) logits cost about what NCE's (B, m) do, and the exact loss learned the planted motif
better than NCE with Z fixed from the first batch (that Z comes from the random initial bank
and is badly calibrated once the entries have moved: the NCE loss then climbs for many steps).

The Trainer feeds ``idx`` because the class sets ``needs_sample_index`` (tsssl/train/data.py,
"Sample index"): a WindowSet's batches are ``(X, y, idx)``, plain ``(X,)`` data gives
``(X, idx)``, and the same permutation cuts data and index, so a resumed run is exact. The
bank's size n is ``n_samples`` when given, otherwise the Trainer's ``set_num_samples(n)``
sets it from the training data before the first step (and before a checkpoint is loaded).
The losses are in :mod:`tsssl.losses.memory_bank`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tsssl.losses.memory_bank import (
    MemoryBank,
    bank_similarities,
    instdisc_nce,
    memory_bank_softmax,
    nce_log_z,
)
from tsssl.methods.base import Method, TwoViewFn, first_view

LOSSES = ("auto", "softmax", "nce")
#: largest bank for which loss="auto" uses the exact softmax: its (B, n) logits then cost at
#: most 4x NCE's (B, m) at the default m = 4096 noise samples (B * n * dim multiply-adds)
SOFTMAX_MAX_SAMPLES = 16_384


def split_indexed_batch(batch: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    """(X, ..., idx) -> (X (B, ...), idx (B,) int64); ValueError when the batch carries no index."""
    if isinstance(batch, Tensor) or len(batch) < 2:
        raise ValueError(
            "InstDisc needs each sample's index as the last tensor of the batch, (X, [y,] idx); "
            "tsssl.Trainer appends it (needs_sample_index), got a batch without one"
        )
    x, index = batch[0], batch[-1]
    if index.ndim != 1 or index.shape[0] != x.shape[0] or index.is_floating_point() or index.dtype == torch.bool:
        raise ValueError(
            f"the last tensor of an InstDisc batch must be the (B,) = ({x.shape[0]},) integer sample index, "
            f"got {index.dtype} {tuple(index.shape)}"
        )
    return x, index.long()


class InstDisc(Method):
    """encoder: (B, T, C) -> (B, encoder.out_dim); a linear head to ``dim`` unit-norm features;
    a memory bank of ``n_samples`` entries (None: set by the Trainer); ``loss`` "softmax",
    "nce" with ``noise`` samples (the paper's m) or "auto" (softmax up to
    ``SOFTMAX_MAX_SAMPLES`` entries); ``temperature``; bank ``momentum``.
    ``views``: x -> (v1, v2), of which the first is used (None: the windows as they are)."""

    needs_sample_index = True

    def __init__(
        self,
        encoder: nn.Module,
        views: TwoViewFn | None = None,
        *,
        dim: int = 128,
        temperature: float = 0.07,
        loss: str = "auto",
        noise: int = 4096,
        momentum: float = 0.5,
        n_samples: int | None = None,
    ) -> None:
        if loss not in LOSSES:
            raise ValueError(f"InstDisc: unknown loss {loss!r}; accepted: {', '.join(LOSSES)}")
        if isinstance(noise, bool) or not isinstance(noise, int) or noise < 1:
            raise ValueError(f"InstDisc: noise must be a positive int (noise samples per step), got {noise!r}")
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0 <= momentum < 1:
            raise ValueError(f"InstDisc: momentum must be a number in [0, 1), got {momentum!r}")
        super().__init__()
        self.encoder = encoder
        self.views = views
        self.head = nn.Linear(encoder.out_dim, dim)
        self.memory = MemoryBank(dim, n_samples)
        self.loss, self.temperature, self.noise, self.momentum = loss, temperature, noise, momentum

    def set_num_samples(self, n: int) -> None:
        """Size the memory bank to the ``n`` training samples (called by the Trainer)."""
        self.memory.allocate(n)

    def features(self, x: Tensor) -> Tensor:
        """f = normalise(W enc(x)): (B, ...) -> (B, dim) float32 unit vectors."""
        return F.normalize(self.head(self.encoder(x)).float(), dim=-1)

    def nce_loss(self, f: Tensor, index: Tensor) -> Tensor:
        """The NCE loss of features f (B, dim) against their entries ``index`` and m noise
        entries; estimates log Z on the first call (no host sync: a NaN buffer means unset)."""
        memory, n = self.memory, len(self.memory)
        s_data, s_noise = bank_similarities(f, memory.bank[index], memory.sample(self.noise), self.temperature)
        log_z = torch.where(torch.isnan(memory.log_z), nce_log_z(s_noise, n), memory.log_z)
        memory.log_z.copy_(log_z)
        return instdisc_nce(s_data, s_noise, log_z, n)

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        x, index = split_indexed_batch(batch)
        if len(self.memory) == 0:
            raise ValueError("InstDisc: the memory bank has no size; pass n_samples or train with tsssl.Trainer")
        f = self.features(first_view(self.views, x))
        if self.loss == "nce" or (self.loss == "auto" and len(self.memory) > SOFTMAX_MAX_SAMPLES):
            loss = self.nce_loss(f, index)
        else:
            loss = memory_bank_softmax(f, self.memory.bank, index, self.temperature)
        self.memory.update(index, f.detach(), self.momentum)
        return loss
