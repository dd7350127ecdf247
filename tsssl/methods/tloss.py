"""T-Loss (Franceschi, Dieuleveut & Jaggi, NeurIPS 2019): "Unsupervised Scalable Representation
Learning for Multivariate Time Series", the triplet loss with time-based negative sampling.

Algorithm (one step)::

    x = batch[0]                                  # (B, T, C) series
    s   ~ U{min_length .. T}                      # one positive / negative length per batch
    s_r ~ U{s .. T}                               # one reference length per batch
    for every series b (all at once):
        x_ref   = x[b, r_b : r_b + s_r]           # r_b ~ U{0 .. T - s_r}
        x_pos   = x[b, p_b : p_b + s]             # a sub-series of x_ref: r_b <= p_b <= r_b + s_r - s
        x_neg_k = x[j_bk, q_bk : q_bk + s]        # k = 1..K, j_bk another series of the batch
    loss = mean_b [ -log sigma(f(x_ref) . f(x_pos)) - w sum_k log sigma(-f(x_ref) . f(x_neg_k)) ]
                                                  # loss="logistic" (the paper's; w = 1 its equation)
         | mean_bk triplet_margin(f(x_ref), f(x_pos), f(x_neg_k))   # loss="margin" (unit-norm f)

What is implemented. The paper draws s and s_r once per batch so that a batch of sub-series has
one length and is encoded in one pass; so do we. Its negatives are sub-series of random series
of the whole training set; ours are sub-series of the other series of the batch (the batch is a
random sample of the training set; a negative is never cut from the reference's own series).
The encoder f is the run's encoder on the whole sub-series (the paper's causal dilated CNN with
global max pooling is ``--encoder cnn`` with ``pooling="max"``); there is no projection head, and
``self.encoder`` on the whole series is the representation used downstream. ``views`` are
accepted (every window method's constructor takes them) but unused unless ``use_views=True``:
the paper trains on the raw series, the sub-series sampling is its augmentation.

What to expect. The logistic loss sits near (K + 1) log 2 (every score 0) at the start and can
fall only towards about K log 2: negatives are random series, so their scores cannot all be
negative. Training shows in the positives' scores rising above the negatives' (the test ranks
them). On AR(1) series of random coefficients (60 steps, a small CNN) the margin variant's
features gave a better ridge probe of the coefficient than the untrained encoder's and the
logistic variant's did not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tsssl.augment.segments import take_subwindows
from tsssl.checks import check_positive
from tsssl.losses.pairwise import triplet_logistic, triplet_margin
from tsssl.methods.base import Method, TwoViewFn, first_view, split_batch

LOSSES = ("logistic", "margin")


class SubSeries(NamedTuple):
    """Where the reference, positive and negatives of every series of a batch are cut.

    ref_length s_r and length s (positive and negatives) are shared by the batch; starts are
    indices into the time axis: ref_start, pos_start (B,), neg_series, neg_start (B, K) long.
    """

    ref_length: int
    length: int
    ref_start: Tensor
    pos_start: Tensor
    neg_series: Tensor
    neg_start: Tensor


def _randint(low: int, high: int, shape: tuple[int, ...], generator: torch.Generator | None) -> Tensor:
    """U{low .. high - 1} on the generator's device (CPU without one)."""
    device = generator.device if generator is not None else None
    return torch.randint(low, high, shape, generator=generator, device=device)


def sample_subseries(
    batch_size: int,
    T: int,
    n_negatives: int,
    min_length: int = 1,
    *,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
) -> SubSeries:
    """The paper's draws for a batch of ``batch_size`` series of T steps (module docstring)."""
    if batch_size < 2:
        raise ValueError(f"T-Loss: a batch needs >= 2 series (negatives come from the others), got {batch_size}")
    if not 1 <= min_length <= T:
        raise ValueError(f"T-Loss: min_length must be in [1, T={T}], got {min_length}")
    B, K = batch_size, n_negatives
    length = int(_randint(min_length, T + 1, (1,), generator))
    ref_length = int(_randint(length, T + 1, (1,), generator))
    ref_start = _randint(0, T - ref_length + 1, (B,), generator)
    pos_start = ref_start + _randint(0, ref_length - length + 1, (B,), generator)
    # another series than b: b + U{1 .. B-1} modulo B
    neg_series = (torch.arange(B, device=ref_start.device)[:, None] + _randint(1, B, (B, K), generator)) % B
    neg_start = _randint(0, T - length + 1, (B, K), generator)
    moved = (t.to(device) for t in (ref_start, pos_start, neg_series, neg_start))
    return SubSeries(ref_length, length, *moved)


class TLoss(Method):
    """T-Loss on windows or series.

    encoder f: (B, t, C) -> (B, D) for any length t; ``n_negatives`` K negatives per reference;
    sub-series of at least ``min_length`` steps; ``loss`` "logistic" (the paper's, on raw dot
    products, negatives weighted by ``negative_weight``: 1 the paper's equation, 1 / K its
    official code) or "margin" (``triplet_margin`` on L2-normalised f with ``margin``).
    ``views``: used only with ``use_views=True`` (the first view of each series is cut).
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: TwoViewFn | None = None,
        *,
        n_negatives: int = 10,
        min_length: int = 1,
        loss: str = "logistic",
        negative_weight: float = 1.0,
        margin: float = 1.0,
        use_views: bool = False,
    ) -> None:
        super().__init__()
        if loss not in LOSSES:
            raise ValueError(f"T-Loss: unknown loss {loss!r}; accepted: {', '.join(LOSSES)}")
        for name, value in (("n_negatives", n_negatives), ("min_length", min_length)):
            check_positive(value, name, "T-Loss")
        self.encoder = encoder
        self.views = views if use_views else None
        self.n_negatives, self.min_length = n_negatives, min_length
        self.loss, self.negative_weight, self.margin = loss, negative_weight, margin

    def cut(self, x: Tensor, s: SubSeries) -> tuple[Tensor, Tensor, Tensor]:
        """x (B, T, C) -> x_ref (B, s_r, C), x_pos (B, s, C), x_neg (B * K, s, C) in (b, k) order."""
        ref = take_subwindows(x, s.ref_start, s.ref_length)
        pos = take_subwindows(x, s.pos_start, s.length)
        neg = take_subwindows(x, s.neg_start.reshape(-1), s.length, rows=s.neg_series.reshape(-1))
        return ref, pos, neg

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        x, _ = split_batch(batch)
        x = first_view(self.views, x)
        B, T, _ = x.shape
        K = self.n_negatives
        s = sample_subseries(B, T, K, min(self.min_length, T), device=x.device)
        x_ref, x_pos, x_neg = self.cut(x, s)
        z_ref = self.encoder(x_ref)
        z_pos, z_neg = self.encoder(torch.cat([x_pos, x_neg])).split([B, B * K])  # one pass at length s
        if self.loss == "logistic":
            return triplet_logistic(z_ref, z_pos, z_neg.unflatten(0, (B, K)), self.negative_weight)
        a, p, n = (F.normalize(z, dim=-1) for z in (z_ref, z_pos, z_neg))
        return triplet_margin(a.repeat_interleave(K, 0), p.repeat_interleave(K, 0), n, margin=self.margin)
