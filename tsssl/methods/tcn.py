"""Time-contrastive learning (Sermanet et al., 2018): "Time-Contrastive Networks: Self-Supervised
Learning from Video", single-view TCN adapted to windows of days.

Algorithm (one step)::

    x = view(batch[0])                        # (B, T, C) windows of random tickers and dates
    a, p, n = starts inside each window       # 1 <= |p - a| <= max_shift;  |n - a| >= far_shift
    anchor   = x[:, a : a + L]                # (B, L, C) sub-windows of L = length days
    positive = x[:, p : p + L]                # the same window, shifted by at most max_shift days
    za, zp = g(f([anchor; positive]))         # ONE shared encoder f and projection head g
    loss = nt_xent(za, zp, temperature)                           # loss="info_nce" (default)
         | triplet_margin(za, zp, g(f(x[:, n : n + L])), margin)  # loss="triplet" (unit-norm z)
         | the sum of both                                        # loss="both"

What is implemented, and why. In the video paper the anchor and positive are frames close in
time and the negative is a frame of the same sequence far in time, with a triplet loss, so that
the embedding keeps what changes over time and drops what does not. Our batches hold windows of
random tickers and dates, so the time structure lives inside each window:

* ``loss="info_nce"`` (default): the positive of an anchor is a sub-window shifted by 1 to
  ``max_shift`` days in the same window; the negatives are the other windows' sub-windows of the
  batch (2B - 2 of them, both anchors and positives; SimCLR's symmetric NT-Xent). "Close in time"
  is the positive; "far" means another ticker or another date. A 20-day window is too short
  for a far 12-day sub-window of the same window to share no day with the anchor, so the
  in-window triplet alone asks the encoder to tell apart two overlapping stretches of one
  series; the in-batch negatives give many distinct stretches per step. (Two windows of one
  ticker a few days apart can meet in a batch and overlap: rare false negatives, as in SimCLR.)
* ``loss="triplet"``: the paper's single-view triplet, the negative a sub-window of the same
  window at least ``far_shift`` days away from the anchor; Euclidean distance on L2-normalised
  embeddings with ``margin``.
* ``loss="both"``: the two added.

``self.encoder`` (f on the whole window) is the representation used downstream; the
sub-windows are shorter than the window, which the LSTM, CNN and Transformer encoders accept.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tsssl.augment.segments import take_subwindows, time_contrastive_starts
from tsssl.checks import check_positive
from tsssl.encoders import ProjectionHead
from tsssl.losses.info_nce import nt_xent
from tsssl.losses.pairwise import triplet_margin
from tsssl.methods.base import Method, TwoViewFn, first_view, split_batch

LOSSES = ("info_nce", "triplet", "both")


class TCN(Method):
    """Time-contrastive network on windows.

    encoder f: (B, t, C) -> (B, D) for any length t; sub-windows of ``length`` days, positives
    shifted by 1..``max_shift`` days, triplet negatives at least ``far_shift`` days away (only
    for ``loss`` "triplet" / "both"); projection head g ``proj_hidden`` -> ``proj_dim``;
    ``temperature`` of the NT-Xent, ``margin`` of the triplet. ``views`` (optional): when given,
    the sub-windows are cut from the first view of each window.
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: TwoViewFn | None = None,
        *,
        loss: str = "info_nce",
        length: int = 12,
        max_shift: int = 2,
        far_shift: int = 6,
        proj_hidden: int = 64,
        proj_dim: int = 32,
        temperature: float = 0.2,
        margin: float = 0.5,
    ) -> None:
        super().__init__()
        if loss not in LOSSES:
            raise ValueError(f"TCN: unknown loss {loss!r}; accepted: {', '.join(LOSSES)}")
        for name, value in (("length", length), ("max_shift", max_shift), ("far_shift", far_shift)):
            check_positive(value, name, "TCN")
        self.encoder = encoder
        self.projector = ProjectionHead(encoder.out_dim, proj_hidden, proj_dim)
        self.views = views
        self.loss, self.length, self.max_shift, self.far_shift = loss, length, max_shift, far_shift
        self.temperature, self.margin = temperature, margin

    def starts(self, B: int, T: int, device: torch.device) -> tuple[Tensor, Tensor, Tensor | None]:
        """Anchor, positive and (for the triplet) far-negative starts, each (B,) long."""
        far = self.far_shift if self.loss != "info_nce" else None
        if T < self.length + (far or 1):
            raise ValueError(
                f"TCN: a window of {T} days is too short for sub-windows of {self.length} days "
                f"{f'and negatives {far} days away' if far else 'shifted by >= 1 day'}; "
                f"use windows of >= {self.length + (far or 1)} days or a smaller length"
            )
        return time_contrastive_starts(B, T, self.length, self.max_shift, far, device=device)

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        x, _ = split_batch(batch)
        x = first_view(self.views, x)
        a, p, n = self.starts(x.shape[0], x.shape[1], x.device)
        subs = [take_subwindows(x, s, self.length) for s in (a, p, n) if s is not None]  # anchor, positive[, negative]
        z = self.projector(self.encoder(torch.cat(subs))).chunk(len(subs))  # one pass over all sub-windows
        if self.loss == "info_nce":
            return nt_xent(z[0], z[1], temperature=self.temperature)
        za, zp, zn = (F.normalize(zi, dim=-1) for zi in z)
        loss = triplet_margin(za, zp, zn, margin=self.margin)
        return loss + nt_xent(z[0], z[1], temperature=self.temperature) if self.loss == "both" else loss
