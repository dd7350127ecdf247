"""Arrow of time (Wei, Lim, Zisserman & Freeman, 2018): "Learning and Using the Arrow of Time",
on windows of days instead of video clips.

Algorithm (one step)::

    x = view(batch[0])                        # (B, T, C) windows; labels unused
    s ~ U{0..T - L}, one per window           # L = length (default: the whole window, s = 0)
    clip = x[:, s : s + L]                    # (B, L, C) the (sub-)window played forward
    played = [clip; reverse_time(clip)]       # (2B, L, C): forward, then the same days backwards
    logits = head(f(played))                  # (2B,) "is this played forward?"
    loss = binary_pretext(logits, [1; 0])     # binary cross-entropy

Each clip is shown both ways, so the classes are balanced and the head can only answer from the
direction of time, never from the clip's content. On the bundled sample the direction is mostly
readable from the daily range (log_high_close and log_low_close together: loss 0.41 after 150
steps of 512 windows, 0.30 with all five channels; either alone, or log_ret alone, stays near
log 2), as if volatility rose faster than it decays; on the planted synthetic market the loss
hardly moves in 60 steps. Wei et al. train on clips of optical flow and remove artificial cues
(black framing, camera zoom) that give the direction away; we know of no such cue in the daily
features: each day's five channels are kept as they are and only the order of the days is
reversed. ``self.encoder`` (f on the forward window) is the representation used downstream.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from tsssl.augment.segments import reverse_time, take_subwindows
from tsssl.losses.pretext import binary_pretext
from tsssl.methods.base import Method, TwoViewFn, first_view, split_batch


class ArrowOfTime(Method):
    """Forward-or-backward classification of windows.

    encoder f: (B, t, C) -> (B, D); ``length``: the days per clip (None: the whole window; else a
    random sub-window of that many days per window, which needs an encoder that accepts shorter
    inputs, as the LSTM, CNN and Transformer do); ``hidden`` units in the head (Linear -> ReLU ->
    Linear). ``views`` (optional): when given, the first view of each window is used.
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: TwoViewFn | None = None,
        *,
        length: int | None = None,
        hidden: int = 64,
    ) -> None:
        super().__init__()
        if length is not None and (isinstance(length, bool) or not isinstance(length, int) or length < 2):
            raise ValueError(f"ArrowOfTime: length must be None (the whole window) or an integer >= 2, got {length!r}")
        self.encoder = encoder
        self.views = views
        self.length = length
        self.head = nn.Sequential(nn.Linear(encoder.out_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 1))

    def clips(self, x: Tensor) -> Tensor:
        """(B, T, C) -> (B, L, C): the whole window, or a random sub-window of ``length`` days."""
        B, T, _ = x.shape
        if self.length is None:
            return x
        if self.length > T:
            raise ValueError(f"ArrowOfTime: length={self.length} is longer than the window ({T} days)")
        return take_subwindows(x, torch.randint(0, T - self.length + 1, (B,), device=x.device), self.length)

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        x, _ = split_batch(batch)
        clip = self.clips(first_view(self.views, x))
        B = clip.shape[0]
        backwards = torch.arange(2 * B, device=clip.device) >= B  # first B forward, last B reversed
        played = reverse_time(torch.cat([clip, clip]), backwards)  # (2B, L, C)
        logits = self.head(self.encoder(played)).squeeze(-1)  # one pass: batch-norm sees both directions
        return binary_pretext(logits, ~backwards)
