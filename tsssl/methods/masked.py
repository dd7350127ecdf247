"""Masked reconstruction of windows: masked auto-encoding of time steps, as in TST (Zerveas et
al., KDD 2021, "A Transformer-based Framework for Multivariate Time Series Representation
Learning"); the "masked generation" family of the NeurIPS 2021 self-supervised learning tutorial.

Algorithm (one step)::

    x = batch[0]                              # (B, T, C) windows; labels unused
    m = span_mask(B, T, C, ratio r, span l)   # True = hidden: alternating spans, the hidden ones
                                              # of geometric length (mean l), r of the entries in
                                              # all, drawn per channel (TST) or per time step
    x~ = where(m, mu, x)                      # hidden values -> the channel mean (0 once standardised)
    h = f(x~, return_sequence=True)           # the encoder's per-step outputs (B, T, D)
    xhat = W h_t + b                          # linear reconstruction head, every step: (B, T, C)
    loss = masked_mse(xhat, (x - mu) / sigma, m)    # squared error on the hidden entries only

mu, sigma: the per-channel statistics kept in the encoder (``StandardizedEncoder``; 0 and 1 for
an encoder without them), so the targets are the standardised inputs and every channel weighs
the same. The representation used downstream is the encoder's pooled output f(x) (B, D), on
unmasked windows. ``views`` are accepted (every window method's constructor takes them) but
unused unless ``use_views=True``: the mask is the corruption here (masking an augmented view
instead gave a weaker planted-motif probe, PR-AUC 0.244 against 0.269 at 60 steps).

A unidirectional encoder (the default LSTM, a causal CNN) reconstructs a hidden x_t from the
steps before t and the channels of step t left visible (per-channel masking); a bidirectional
LSTM or a non-causal CNN / Transformer also sees the steps after it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from tsssl.losses._checks import as_float, float32_region
from tsssl.methods.base import Method, TwoViewFn, first_view, split_batch
from tsssl.methods.build import StandardizedEncoder

MASK_MODES = ("channel", "step")


def spans_to_mask(lengths: Tensor, start_masked: Tensor, steps: int) -> Tensor:
    """(R, steps) bool: row r alternates between hidden and visible segments of ``lengths[r]``.

    lengths: (R, S) positive integer segment lengths, summing to >= steps in every row;
    start_masked: (R,) bool, whether the first segment is hidden. Step t lies in segment j, the
    number of segment ends <= t, and is hidden when j is even for a row starting hidden, odd
    otherwise.
    """
    ends = torch.cumsum(lengths, dim=1)  # (R, S), sorted: segment j covers [ends[j-1], ends[j])
    t = torch.arange(steps, device=lengths.device).expand(lengths.shape[0], steps).contiguous()
    segment = torch.searchsorted(ends, t, right=True)  # (R, steps)
    return (segment % 2 == 0) == start_masked[:, None]


def geometric_lengths(p: float, shape: tuple[int, ...], generator: torch.Generator | None, device) -> Tensor:
    """Geometric(p) lengths on {1, 2, ...} (mean 1 / p), by inverting the CDF of uniforms."""
    u = torch.rand(shape, generator=generator, device=device)
    if p >= 1:
        return torch.ones(shape, dtype=torch.long, device=device)
    return 1 + torch.floor(torch.log1p(-u) / math.log1p(-p)).long()


def span_mask(
    shape: tuple[int, int, int],
    ratio: float = 0.15,
    mean_span: float = 3.0,
    mode: str = "channel",
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """TST's mask: (B, T, C) bool, True = hidden.

    Each masked sequence (one per window and channel for ``mode="channel"``, one per window,
    shared by its channels, for ``mode="step"``) is a two-state Markov chain: hidden spans of
    geometric length with mean ``mean_span``, visible spans with mean
    ``mean_span * (1 - ratio) / ratio``, and a first state hidden with probability ``ratio``
    (the chain's stationary law), so ``ratio`` of the entries are hidden on average.
    """
    if not (isinstance(ratio, (int, float)) and 0 < ratio < 1):
        raise ValueError(f"mask ratio must be in (0, 1), got {ratio!r}")
    if not (isinstance(mean_span, (int, float)) and mean_span >= 1):
        raise ValueError(f"mean_span must be a number >= 1, got {mean_span!r}")
    if ratio > mean_span / (mean_span + 1):
        raise ValueError(
            f"mask ratio {ratio} needs visible spans shorter than one step at mean_span={mean_span}; "
            f"use ratio <= {mean_span / (mean_span + 1):.3f} or a longer mean_span"
        )
    if mode not in MASK_MODES:
        raise ValueError(f"unknown mask mode {mode!r}; accepted: {', '.join(MASK_MODES)}")
    B, T, C = shape
    rows = B * C if mode == "channel" else B
    # T segments of length >= 1 always cover T steps; every segment's length is drawn for both states
    hidden = geometric_lengths(1 / mean_span, (rows, T), generator, device)
    visible = geometric_lengths(ratio / (mean_span * (1 - ratio)), (rows, T), generator, device)
    start = torch.rand(rows, generator=generator, device=device) < ratio
    even = torch.arange(T, device=hidden.device) % 2 == 0  # segment j has the first state when j is even
    lengths = torch.where(even[None, :] == start[:, None], hidden, visible)
    mask = spans_to_mask(lengths, start, T)  # (rows, T)
    if mode == "channel":
        return mask.view(B, C, T).transpose(1, 2)
    return mask[:, :, None].expand(B, T, C)


def masked_mse(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean squared error over the hidden entries only; scalar float32.

    pred, target: (B, T, C) (any equal shapes); mask: bool, the same shape, True = count this
    entry. ``sum(mask * (pred - target)^2) / sum(mask)``; 0 with zero gradient when nothing is
    hidden.
    """
    if not isinstance(pred, Tensor) or pred.ndim == 0:
        raise ValueError(
            f"pred must be a torch.Tensor (B, T, C), got {type(pred).__name__} {getattr(pred, 'shape', '')}"
        )
    for name, x in (("target", target), ("mask", mask)):
        if not isinstance(x, Tensor) or x.shape != pred.shape:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"{name} must be a Tensor of pred's shape {tuple(pred.shape)}, got {shape}")
    if mask.dtype != torch.bool:
        raise ValueError(f"mask must be a bool Tensor, got dtype {mask.dtype}")
    with float32_region(pred):
        p, t = as_float(pred, target)
        sq = torch.where(mask, (p - t).pow(2), torch.zeros_like(p))
        return sq.sum() / mask.sum().clamp_min(1)


class MaskedReconstruction(Method):
    """Masked auto-encoding of windows (TST-style).

    encoder: (B, T, C) -> (B, D) pooled, and (B, T, D) per step with ``return_sequence=True``
    (every window encoder of tsssl); ``in_channels`` C defaults to the encoder's. Mask: ``ratio``
    of the entries hidden in spans of mean length ``mean_span``, per ``mask_mode`` ("channel":
    each channel its own spans, TST's default; "step": whole time steps). ``views`` (optional):
    when given and ``use_views``, the first view of each window is masked instead of the window.
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: TwoViewFn | None = None,
        *,
        ratio: float = 0.15,
        mean_span: float = 3.0,
        mask_mode: str = "channel",
        use_views: bool = False,
        in_channels: int | None = None,
    ) -> None:
        super().__init__()
        channels = in_channels if in_channels is not None else getattr(encoder, "in_channels", None)
        if not isinstance(channels, int) or channels < 1:
            raise ValueError(
                f"MaskedReconstruction: pass in_channels (the encoder {type(encoder).__name__} has no in_channels)"
            )
        span_mask((1, 2, 1), ratio, mean_span, mask_mode)  # checks the mask settings now, not at step 1
        self.encoder = encoder
        self.head = nn.Linear(encoder.out_dim, channels)  # TST's linear output layer, per step
        self.views = views if use_views else None
        self.ratio, self.mean_span, self.mask_mode = ratio, mean_span, mask_mode

    def input_stats(self, like: Tensor) -> tuple[Tensor, Tensor]:
        """(mu, sigma) per channel (C,): the encoder's standardisation, else (0, 1)."""
        if isinstance(self.encoder, StandardizedEncoder):
            return self.encoder.mean.to(like.dtype), self.encoder.std.to(like.dtype)
        C = like.shape[-1]
        return like.new_zeros(C), like.new_ones(C)

    def reconstruct(self, x: Tensor, mask: Tensor) -> Tensor:
        """The head's reconstruction (B, T, C), standardised scale, of x with ``mask`` hidden."""
        mu, _ = self.input_stats(x)
        hidden = torch.where(mask, mu.expand_as(x), x)  # standardises to 0: "no information"
        return self.head(self.encoder(hidden, return_sequence=True))

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        x, _ = split_batch(batch)
        x = first_view(self.views, x)
        mask = span_mask(tuple(x.shape), self.ratio, self.mean_span, self.mask_mode, device=x.device)
        mu, sigma = self.input_stats(x)
        return masked_mse(self.reconstruct(x, mask), (x - mu) / sigma, mask)
