"""Temporal Neighbourhood Coding (Tonekaboni, Eytan & Goldenberg, ICLR 2021): "Unsupervised
Representation Learning for Time Series with Temporal Neighborhood Coding".

Algorithm (one step)::

    x = batch[0]                                     # (B, T, C) series
    s ~ U{0 .. T - delta}                            # one anchor window per series, delta steps
    eta = stationary_extent(x, s, delta, max_extent) # neighbourhood width, from a unit-root test
    s_l = s + round(eta delta N(0, 1))               # M neighbours (clipped into the series)
    s_k ~ U{starts >= 2 eta delta away from s}       # M non-neighbours (the farthest where none is)
    z_t, z_l, z_k = f(x[s : s + delta]), f(x[s_l : ...]), f(x[s_k : ...])    # one encoder pass
    loss = tnc_loss(D(z_t, z_l), D(z_t, z_k), w)     # D: MLP on [z_t; z] -> logit

Neighbours are positives, non-neighbours are unlabelled (``tsssl.losses.tnc_loss``): a window
far away may be in the same state as the anchor, so it counts as a positive with weight ``w``
(positive-unlabelled learning). The discriminator D is the paper's: Linear(2D, 4D), ReLU,
dropout 0.5, Linear(4D, 1). The neighbourhood's width and the non-neighbours' distance follow
``tsssl.augment.neighbourhoods``, which says where they differ from the paper's code (a plain
Dickey-Fuller test, no lags; non-neighbours 2 sigma away).

What is implemented. The paper encodes windows of a long recording (a window length per data
set) and classifies windows; on a set of whole series we train on windows of ``window`` steps
(default: a quarter of the series, at least 2) and ``self.encoder`` on the whole series is the
representation used downstream (its max pooling takes any length: the ``dilated`` encoder by
default). ``n_neighbours`` windows of each kind per anchor (the paper draws more; each one is an
encoder pass). ``views`` are accepted (every window method's constructor takes them) but unused
unless ``use_views=True``: the method's augmentation is the choice of windows.

What to expect. TNC learns what stays the same within a stretch of a series and changes between
stretches: its signal is a series that changes state. On series that pass through AR(1) regimes
of different coefficients (tests/methods/test_tnc.py) a probe of the regime on its frozen window
features beats the untrained encoder's; on stationary AR(1) series, where every window of a
series is alike and the discriminator can only learn that neighbours overlap, its features say
less about the coefficient than the untrained encoder's.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from tsssl.augment.neighbourhoods import distant_starts, neighbourhood_starts, stationary_extent
from tsssl.augment.segments import take_subwindows
from tsssl.checks import check_fraction, check_positive
from tsssl.losses.neighbourhood import tnc_loss
from tsssl.methods.base import Method, TwoViewFn, first_view, split_batch


class Discriminator(nn.Module):
    """D(z_t, z) -> logit that z is in z_t's neighbourhood: (N, D), (N, D) -> (N,)."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.5) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2 * dim, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 1))

    def forward(self, anchor: Tensor, other: Tensor) -> Tensor:
        return self.net(torch.cat([anchor, other], dim=-1)).squeeze(-1)


class TNC(Method):
    """TNC on series or windows.

    encoder f: (B, t, C) -> (B, D) for any length t; ``window``: the windows' length delta (None:
    a quarter of the series, at least 2); ``n_neighbours``: M neighbours and M non-neighbours per
    anchor; ``max_extent``: the widest neighbourhood, in windows (sigma = eta delta, eta <= it);
    ``w``: a non-neighbour's weight as a positive; ``disc_hidden``: D's width (None: 4 D).
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: TwoViewFn | None = None,
        *,
        window: int | None = None,
        n_neighbours: int = 4,
        max_extent: int = 3,
        w: float = 0.05,
        disc_hidden: int | None = None,
        use_views: bool = False,
    ) -> None:
        super().__init__()
        check_positive(window, "window", "TNC", allow_none=True)
        check_positive(n_neighbours, "n_neighbours", "TNC")
        check_positive(max_extent, "max_extent", "TNC")
        check_positive(disc_hidden, "disc_hidden", "TNC", allow_none=True)
        self.encoder = encoder
        self.views = views if use_views else None
        self.window, self.n_neighbours, self.max_extent = window, n_neighbours, max_extent
        self.w = check_fraction(w, "w", "TNC")
        self.discriminator = Discriminator(encoder.out_dim, disc_hidden or 4 * encoder.out_dim)

    def window_length(self, T: int) -> int:
        """delta for series of T steps; at least two window starts must fit."""
        delta = self.window if self.window is not None else max(2, T // 4)
        if delta > T - 1:
            raise ValueError(
                f"TNC: series of {T} steps are too short for windows of {delta} steps (a neighbour must "
                f"start elsewhere); give window < {T}, or longer series"
            )
        return delta

    def draw(self, x: Tensor, delta: int) -> tuple[Tensor, Tensor, Tensor]:
        """Starts of the anchors (B,), their neighbours (B, M) and non-neighbours (B, M)."""
        B, T, _ = x.shape
        last = T - delta
        anchor = torch.randint(0, last + 1, (B,), device=x.device)
        sigma = stationary_extent(x, anchor, delta, self.max_extent) * delta
        near = neighbourhood_starts(anchor, sigma, last, self.n_neighbours)
        far = distant_starts(anchor, sigma, last, self.n_neighbours)
        return anchor, near, far

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        x, _ = split_batch(batch)
        x = first_view(self.views, x)
        B, M = x.shape[0], self.n_neighbours
        delta = self.window_length(x.shape[1])
        anchor, near, far = self.draw(x, delta)
        # the anchors, then row b M + j of the near and of the far windows: series b, its j-th draw
        rows = torch.arange(B, device=x.device)
        rows = torch.cat([rows, rows.repeat_interleave(M), rows.repeat_interleave(M)])
        windows = take_subwindows(x, torch.cat([anchor, near.reshape(-1), far.reshape(-1)]), delta, rows)
        z_t, z_near, z_far = self.encoder(windows).split([B, B * M, B * M])
        z_rep = z_t.repeat_interleave(M, dim=0)
        near_logits = self.discriminator(z_rep, z_near).view(B, M)
        far_logits = self.discriminator(z_rep, z_far).view(B, M)
        return tnc_loss(near_logits, far_logits, self.w)
