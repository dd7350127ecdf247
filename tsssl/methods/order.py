"""Temporal order verification (Misra, Zitnick & Hebert, 2016): "Shuffle and Learn: Unsupervised
Learning using Temporal Order Verification", adapted from video frames to windows of days.

Algorithm (one step)::

    x = view(batch[0])                        # (B, T, C) windows; labels unused
    s = segments(x, n=3)                      # (B, 3, L, C): 3 consecutive segments, L = T // 3,
                                              # at a random offset inside the window
    h = f(s.flatten(0, 1)).unflatten(0, (B, 3))  # ONE shared encoder f embeds each segment alone
    perm ~ U{the 3! - 1 non-identity permutations}, one per window
    ordered  = concat_j h[:, j]               # (B, 3 D): the segments in their true order
    shuffled = concat_j h[:, perm[:, j]]      # (B, 3 D): the same segments, out of order
    logits = head([ordered; shuffled])        # (2B,) fusion MLP: "are these in order?"
    loss = binary_pretext(logits, [1; 0])     # binary cross-entropy

Every window gives one positive and one negative tuple made of the *same* segment embeddings, so
the classes are balanced and the head cannot answer from the segments' content (their volatility,
their volume): only from their order. The shuffling acts on the embeddings, which is the same as
shuffling the segments because f sees each segment on its own, and costs one encoder pass of the
3B segments. Misra et al. build negatives by putting an out-of-order frame in the middle of a
frame triplet; here, per the windows' adaptation, a negative is any non-identity permutation of
the three segments (the reversed order included: which way time runs is the arrow-of-time task,
``tsssl/methods/arrow.py``). The segments are shorter than the window (6 days of 20): the LSTM,
CNN and Transformer encoders take any length. ``self.encoder`` (f on the whole window) is the
representation used downstream.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from tsssl.augment.segments import cut_segments, permute_rows, random_permutations
from tsssl.losses.pretext import binary_pretext
from tsssl.methods.base import Method, TwoViewFn, first_view, split_batch


class OrderVerification(Method):
    """Shuffle and Learn on windows.

    encoder f: (B, t, C) -> (B, D) for any length t (its ``out_dim`` D); ``n_segments`` segments
    of T // n_segments days; ``hidden`` units in the fusion head (Linear -> ReLU -> Linear on the
    concatenated segment embeddings). ``views`` (optional): when given, the first view of each
    window is cut (the CLI passes the default views).
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: TwoViewFn | None = None,
        *,
        n_segments: int = 3,
        hidden: int = 64,
    ) -> None:
        super().__init__()
        if isinstance(n_segments, bool) or not isinstance(n_segments, int) or not 2 <= n_segments <= 7:
            raise ValueError(f"OrderVerification: n_segments must be an integer in [2, 7], got {n_segments!r}")
        self.encoder = encoder
        self.views = views
        self.n_segments = n_segments
        self.head = nn.Sequential(
            nn.Linear(n_segments * encoder.out_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 1)
        )

    def segments(self, x: Tensor) -> Tensor:
        """(B, T, C) -> (B, n, L, C): n consecutive segments at a random offset per window
        (so every day of the window gets used over the steps, not only the last n L)."""
        B, T, _ = x.shape
        if T < 2 * self.n_segments:
            raise ValueError(
                f"OrderVerification: a window of {T} days is too short for {self.n_segments} segments "
                f"of at least 2 days; use windows of >= {2 * self.n_segments} days or fewer segments"
            )
        spare = T - self.n_segments * (T // self.n_segments)
        starts = torch.randint(0, spare + 1, (B,), device=x.device)
        return cut_segments(x, self.n_segments, starts)

    def embed_segments(self, segments: Tensor) -> Tensor:
        """(B, n, L, C) -> (B, n, D): every segment embedded on its own, in one encoder pass."""
        return self.encoder(segments.flatten(0, 1)).unflatten(0, segments.shape[:2])

    def verify(self, h: Tensor) -> Tensor:
        """(B, n, D) segment embeddings in a given order -> (B,) logits of "in order"."""
        return self.head(h.flatten(1)).squeeze(-1)

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        x, _ = split_batch(batch)
        x = first_view(self.views, x)
        h = self.embed_segments(self.segments(x))  # (B, n, D)
        B = h.shape[0]
        perm = random_permutations(B, self.n_segments, device=h.device)  # never the identity
        logits = self.verify(torch.cat([h, permute_rows(h, perm)]))  # (2B,)
        ordered = torch.arange(2 * B, device=h.device) < B  # first B in order, last B shuffled
        return binary_pretext(logits, ordered)
