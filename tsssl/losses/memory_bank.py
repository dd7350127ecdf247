"""Instance discrimination with a memory bank (Wu et al., CVPR 2018, "Unsupervised Feature
Learning via Non-Parametric Instance Discrimination"): the non-parametric softmax, its NCE
approximation and the bank itself.

Every training sample i is its own class, represented by a unit vector v_i kept in a memory
bank V = {v_1 .. v_n}. For a feature f (unit norm) the non-parametric softmax is::

    P(i | f) = exp(v_i . f / tau) / Z,     Z = sum_j exp(v_j . f / tau)

:func:`memory_bank_softmax` is its cross-entropy over the whole bank (the paper's eq. 2; cheap
while n is small). The paper approximates it by NCE: m noise entries drawn uniformly
(P_n = 1/n), Z estimated once by Monte Carlo (``Z = n * mean_j exp(v_j . f / tau)``,
:func:`nce_log_z`) and then held fixed, and the posterior that (i, f) came from the data::

    h(i, f) = P(i | f) / (P(i | f) + m / n)      = sigmoid(s_i - log Z - log(m / n))
    loss    = -log h(i, f) - sum_{j = 1..m} log(1 - h(j, f))           (:func:`instdisc_nce`)

with s = v . f / tau (:func:`bank_similarities`). After the loss the bank entries of the batch
move towards the new features: ``v_i <- normalise(mom * v_i + (1 - mom) * f_i)``
(:func:`momentum_update`, :class:`MemoryBank`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tsssl.checks import check_positive

from ._checks import as_float, check_nonempty, check_temperature, check_tensor, float32_region
from .gather import gather, is_distributed
from .nce import nce


def _check_n_bank(n_bank: object, name: str = "n_bank") -> None:
    if isinstance(n_bank, bool) or not isinstance(n_bank, int) or n_bank < 1:
        raise ValueError(f"{name} must be a positive int (the number of bank entries), got {n_bank!r}")


def _check_features(features: Tensor) -> None:
    check_tensor("features", features, 2, "a 2-D Tensor (B, D)")
    check_nonempty("features", features, "2-D Tensor (B, D)")


def bank_similarities(
    features: Tensor, positives: Tensor, noise: Tensor, temperature: float = 0.07
) -> tuple[Tensor, Tensor]:
    """(s_data (B,), s_noise (B, m)): cosine similarities over ``temperature``, float32.

    features: (B, D) the batch's features f_i; positives: (B, D) their own bank entries v_i;
    noise: (m, D) bank entries shared by every row (one draw per step) or (B, m, D) one draw
    per row. Every vector is L2-normalised first (a no-op for bank entries and normalised f).
    The gradient reaches ``features`` (and the others if they require it; bank entries do not).
    """
    _check_features(features)
    B, D = features.shape
    check_tensor("positives", positives, 2, f"a 2-D Tensor (B, D) = ({B}, {D})")
    if positives.shape != features.shape:
        raise ValueError(f"positives must have the shape of features {(B, D)}, got {tuple(positives.shape)}")
    check_tensor("noise", noise, (2, 3), f"a Tensor (m, D={D}) or (B={B}, m, D={D})")
    if noise.shape[-1] != D or (noise.ndim == 3 and noise.shape[0] != B):
        raise ValueError(f"noise must have shape (m, {D}) or ({B}, m, {D}), got {tuple(noise.shape)}")
    check_temperature(temperature)
    with float32_region(features):
        f, v, n = (F.normalize(t, dim=-1) for t in as_float(features, positives, noise))
        s_data = (f * v).sum(dim=-1) / temperature
        s_noise = (f @ n.T if n.ndim == 2 else torch.einsum("bd,bmd->bm", f, n)) / temperature
        return s_data, s_noise


def nce_log_z(scores_noise: Tensor, n_bank: int) -> Tensor:
    """log Z, the paper's Monte-Carlo estimate of the softmax normaliser; 0-dim, no gradient.

    scores_noise: (B, m) or (m,) similarities ``v_j . f / tau`` of uniform noise entries;
    ``Z = n_bank * mean exp(scores_noise)`` over every entry, computed as
    ``log n_bank + logsumexp(s) - log(count)`` so that it cannot overflow.
    """
    check_tensor("scores_noise", scores_noise, (1, 2), "a Tensor (B, m) or (m,) of scores")
    check_nonempty("scores_noise", scores_noise, "Tensor (B, m) or (m,)")
    _check_n_bank(n_bank)
    with float32_region(scores_noise):
        s = as_float(scores_noise.detach()).reshape(-1)
        return math.log(n_bank) + torch.logsumexp(s, dim=0) - math.log(s.numel())


def instdisc_nce(scores_data: Tensor, scores_noise: Tensor, log_z: float | Tensor, n_bank: int) -> Tensor:
    """The paper's NCE loss (eq. 6-7); scalar float32, mean over the batch.

    scores_data: (B,) ``v_i . f_i / tau`` of each sample with its own bank entry; scores_noise:
    (B, m) ``v_j . f_i / tau`` of m uniform noise entries per sample; log_z: log of the fixed
    normaliser Z (a number or 0-dim Tensor, :func:`nce_log_z`); n_bank: entries in the bank
    (P_n = 1 / n_bank). With P = exp(s - log Z) and h = P / (P + m / n_bank)::

        loss = 1/B sum_i [ -log h(i, f_i) - sum_j log(1 - h(j, f_i)) ]

    i.e. :func:`tsssl.losses.nce` on the logits ``s - log Z - log(m / n_bank)``.
    """
    check_tensor("scores_data", scores_data, 1, "a 1-D Tensor (B,) of scores")
    check_nonempty("scores_data", scores_data, "1-D Tensor (B,)")
    check_tensor("scores_noise", scores_noise, 2, "a 2-D Tensor (B, m) of scores")
    if scores_noise.shape[0] != scores_data.shape[0] or scores_noise.shape[1] == 0:
        raise ValueError(
            f"scores_noise must have shape (B={scores_data.shape[0]}, m >= 1), got {tuple(scores_noise.shape)}"
        )
    if isinstance(log_z, Tensor):
        if log_z.ndim != 0:
            raise ValueError(f"log_z must be a number or a 0-dim Tensor, got shape {tuple(log_z.shape)}")
    elif isinstance(log_z, bool) or not isinstance(log_z, (int, float)) or not math.isfinite(log_z):
        raise ValueError(f"log_z must be a finite number or a 0-dim Tensor, got {log_z!r}")
    _check_n_bank(n_bank)
    with float32_region(scores_data):
        s_data, s_noise = as_float(scores_data, scores_noise)
        shift = log_z + math.log(scores_noise.shape[1] / n_bank)  # log Z + log(m P_n)
        return nce(s_data - shift, s_noise - shift)


def memory_bank_softmax(features: Tensor, bank: Tensor, index: Tensor, temperature: float = 0.07) -> Tensor:
    """The exact non-parametric softmax loss (the paper's eq. 2); scalar float32, mean over B.

    features: (B, D); bank: (n, D); index: (B,) int, row of each sample's own entry.
    ``loss = -1/B sum_i log( exp(v_{idx_i} . f_i / tau) / sum_j exp(v_j . f_i / tau) )`` on
    L2-normalised rows: a (B, n) cross-entropy, cheap while the bank is small.
    """
    _check_features(features)
    check_tensor("bank", bank, 2, f"a 2-D Tensor (n, D={features.shape[1]})")
    check_nonempty("bank", bank, "2-D Tensor (n, D)")
    if bank.shape[1] != features.shape[1]:
        raise ValueError(f"bank must have D={features.shape[1]} features like features, got {tuple(bank.shape)}")
    check_tensor("index", index, 1, f"a 1-D integer Tensor (B,) = ({features.shape[0]},)")
    if index.shape[0] != features.shape[0] or index.is_floating_point() or index.dtype == torch.bool:
        raise ValueError(
            f"index must be a 1-D integer Tensor of {features.shape[0]} rows, got {index.dtype} {tuple(index.shape)}"
        )
    check_temperature(temperature)
    with float32_region(features):
        f, v = (F.normalize(t, dim=-1) for t in as_float(features, bank))
        return F.cross_entropy(f @ v.T / temperature, index.to(device=f.device, dtype=torch.long))


def momentum_update(old: Tensor, new: Tensor, momentum: float) -> Tensor:
    """``normalise(momentum * old + (1 - momentum) * new)`` row-wise: (n, D), no gradient."""
    check_tensor("old", old, 2, "a 2-D Tensor (n, D)")
    if new.shape != old.shape:
        raise ValueError(f"new must have the shape of old {tuple(old.shape)}, got {tuple(new.shape)}")
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0 <= momentum < 1:
        raise ValueError(f"momentum must be a number in [0, 1), got {momentum!r}")
    mixed = momentum * old.detach() + (1 - momentum) * new.detach().to(old.dtype)
    return F.normalize(mixed, dim=-1)


class MemoryBank(nn.Module):
    """One L2-normalised ``dim``-vector per training sample (float32), plus the NCE normaliser.

    Buffers (saved / restored with ``state_dict``, moved with ``.to``): ``bank`` (n, dim),
    random unit vectors at the start (the paper's initialisation), and ``log_z`` (NaN until
    estimated from the first batch). ``n`` is given here or later with :meth:`allocate`
    (InstDisc gets it from the Trainer); loading a state dict into an unallocated bank sizes it.
    ``update(index, f, momentum)`` moves the entries ``index`` towards ``f`` (gathered from every
    rank under torch.distributed, so that all ranks hold the same bank).
    """

    bank: Tensor
    log_z: Tensor

    def __init__(self, dim: int, n: int | None = None) -> None:
        super().__init__()
        check_positive(dim, "dim")
        self.dim = dim
        self.register_buffer("bank", torch.zeros(0, dim))
        self.register_buffer("log_z", torch.full((), float("nan")))
        if n is not None:
            self.allocate(n)

    def __len__(self) -> int:
        return self.bank.shape[0]

    def extra_repr(self) -> str:
        return f"n={len(self)}, dim={self.dim}"

    def allocate(self, n: int) -> None:
        """Size the bank to ``n`` random unit vectors; a no-op if it already holds ``n``."""
        _check_n_bank(n, "n")
        if len(self) == n:
            return
        if len(self):
            raise ValueError(f"the memory bank holds {len(self)} samples; the data has {n} (n_samples must match)")
        self.bank = F.normalize(torch.randn(n, self.dim, device=self.bank.device), dim=-1)

    def sample(self, m: int) -> Tensor:
        """(m, dim) entries drawn uniformly with replacement (torch's global RNG)."""
        return self.bank[torch.randint(len(self), (m,), device=self.bank.device)]

    @torch.no_grad()
    def update(self, index: Tensor, features: Tensor, momentum: float) -> None:
        """bank[index] <- normalise(momentum * bank[index] + (1 - momentum) * features).

        index: (B,) distinct rows (a batch cut from a permutation); features: (B, dim).
        """
        if is_distributed():
            features, _ = gather(features.detach().contiguous(), grad=False)
            index, _ = gather(index.contiguous(), grad=False)
        index = index.to(self.bank.device)
        new = momentum_update(self.bank[index], features.to(self.bank.device), momentum)
        self.bank.index_copy_(0, index, new)

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        incoming = state_dict.get(prefix + "bank")
        if isinstance(incoming, Tensor) and len(self) == 0 and incoming.ndim == 2 and incoming.shape[1] == self.dim:
            self.bank = torch.empty_like(incoming, device=self.bank.device)  # size an unallocated bank
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
