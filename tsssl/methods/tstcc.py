"""TS-TCC (Eldele et al., IJCAI 2021): "Time-Series Representation Learning via Temporal and
Contextual Contrasting".

Algorithm (one step)::

    x = batch[0]                                   # (B, T, C) series
    x_w = scaling(jitter(x))                       # weak view: jitter and scale
    x_s = jitter(permute_segments(x, n))           # strong view: n ~ U{2 .. max_segments} segments
                                                   # shuffled, then a stronger jitter
    z_w, z_s = f(x_w), f(x_s)                      # per-step features (B, T, D), one shared encoder
    t ~ U{min_context - 1 .. T - 1 - K}            # one time step per batch
    c_w = g_ar(z_w[:, :t+1]);  c_s = g_ar(z_s[:, :t+1])    # context of each view's past: (B, H)
    # temporal contrasting, cross-view: each context predicts the OTHER view's next K steps
    L_TC = stepwise_info_nce(W_k c_w, z_s[:, t+k]) + stepwise_info_nce(W_k c_s, z_w[:, t+k])
           # k = 1..K; the negatives of step k are the other series' z at t + k
    # contextual contrasting: the two contexts of a series are positives, NT-Xent over the batch
    L_CC = nt_xent(h(c_w), h(c_s), temperature)
    loss = lambda_tc * L_TC + lambda_cc * L_CC     # the paper: 1 and 0.7

What is implemented. g_ar is a GRU's last state (``context="gru"``, the default, as CPC's context)
or the paper's transformer with a class token (``context="transformer"``:
``tsssl.encoders.TransformerEncoder`` with ``pooling="cls"`` over z_{<=t}). The GRU is the default
because on the planted-motif windows (``synthetic_market(planted_pattern=0.01)``, LSTM encoder, 60 steps)
the transformer context left the probe below the untrained encoder's and the GRU did not, and on
the UCR / UEA sets (the protocol of ``python -m benchmarks.classification``: CNN
encoder, 200 steps, seed 0) it scored below the GRU on ItalyPowerDemand (0.861 vs 0.942),
JapaneseVowels (0.573 vs 0.619) and ArrowHead (0.606 vs 0.646). The augmentations are the library's (``tsssl/augment/timeseries.py``)
with relative jitter (noise std a fraction of each series' own std per channel), so that the same
settings suit log returns and z-normalised series; scaling is N(1, sigma) per series and channel
(the official code multiplies by N(2, sigma)). The temporal contrasting scores are raw dot
products (the paper's). The encoder's per-step features come from ``encoder(x,
return_sequence=True)`` as in CPC, so the LSTM, CNN and Transformer encoders all work; it need not
be causal (the paper's is not: a context predicts the other view's future, not its own).
``self.encoder`` (the encoder with its own pooling) is the representation used downstream, as the
paper evaluates the encoder's features. ``views`` are accepted (every window method's constructor
takes them) but unused unless ``use_views=True``, when they replace the weak / strong views.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from tsssl.augment.timeseries import jitter, permute_segments, scaling
from tsssl.checks import check_positive
from tsssl.encoders import ProjectionHead
from tsssl.encoders.transformer import TransformerEncoder
from tsssl.losses.info_nce import nt_xent
from tsssl.losses.temporal import stepwise_info_nce
from tsssl.methods.base import Method, TwoViewFn, split_batch

CONTEXTS = ("transformer", "gru")


def weak_view(x: Tensor, jitter_sigma: float = 0.1, scale_sigma: float = 0.2) -> Tensor:
    """Jitter (relative) then per-series, per-channel scaling: (B, T, C) -> (B, T, C)."""
    return scaling(jitter(x, jitter_sigma, relative=True), scale_sigma)


def strong_view(x: Tensor, max_segments: int = 5, jitter_sigma: float = 0.3) -> Tensor:
    """Shuffle n ~ U{2 .. min(max_segments, T)} segments (one n per batch), then jitter (relative)."""
    n = int(torch.randint(2, max(2, min(max_segments, x.shape[1])) + 1, (1,)))
    return jitter(permute_segments(x, min(n, x.shape[1])), jitter_sigma, relative=True)


class ContextNetwork(nn.Module):
    """g_ar: per-step features (B, t, D) -> one context vector (B, H) summarising them."""

    def __init__(self, in_dim: int, context_dim: int, context: str, heads: int, layers: int) -> None:
        super().__init__()
        if context not in CONTEXTS:
            raise ValueError(f"TS-TCC: unknown context {context!r}; accepted: {', '.join(CONTEXTS)}")
        self.context = context
        if context == "transformer":
            self.net = TransformerEncoder(
                in_dim, context_dim, heads, layers, dim_feedforward=2 * context_dim, pooling="cls", max_len=4096
            )
        else:
            self.net = nn.GRU(in_dim, context_dim, num_layers=layers, batch_first=True)
        self.out_dim = context_dim

    def forward(self, z: Tensor) -> Tensor:
        if self.context == "transformer":
            return self.net(z)
        return self.net(z)[0][:, -1]


class TSTCC(Method):
    """Temporal and contextual contrasting.

    encoder f: ``f(x, return_sequence=True)`` -> (B, T, D) and ``f(x)`` -> (B, D), with
    ``out_dim`` D; context g_ar ``context`` ("transformer" or "gru") of ``context_dim`` H units,
    ``context_heads`` / ``context_layers``; ``n_predictions`` K steps ahead from a time step drawn
    in [min_context - 1, T - 1 - K]; projection head h ``proj_hidden`` -> ``proj_dim`` and NT-Xent
    ``temperature``; loss weights ``lambda_tc``, ``lambda_cc``; augmentation strengths
    ``weak_jitter``, ``weak_scale``, ``strong_jitter``, ``max_segments``.
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: TwoViewFn | None = None,
        *,
        context: str = "gru",
        context_dim: int = 64,
        context_heads: int = 4,
        context_layers: int = 1,
        n_predictions: int = 4,
        min_context: int = 1,
        proj_hidden: int = 32,
        proj_dim: int = 16,
        temperature: float = 0.2,
        lambda_tc: float = 1.0,
        lambda_cc: float = 0.7,
        weak_jitter: float = 0.1,
        weak_scale: float = 0.2,
        strong_jitter: float = 0.3,
        max_segments: int = 5,
        use_views: bool = False,
    ) -> None:
        super().__init__()
        for name, value in (("n_predictions", n_predictions), ("min_context", min_context)):
            check_positive(value, name, "TS-TCC")
        if max_segments < 2:
            raise ValueError(f"TS-TCC: max_segments must be >= 2 (a permutation needs 2 segments), got {max_segments}")
        self.encoder = encoder
        self.context = ContextNetwork(encoder.out_dim, context_dim, context, context_heads, context_layers)
        # W_1..W_K stacked in one linear map: rows k*D:(k+1)*D are W_{k+1}
        self.predictors = nn.Linear(context_dim, n_predictions * encoder.out_dim)
        self.projector = ProjectionHead(context_dim, proj_hidden, proj_dim)
        self.views = views if use_views else None
        self.n_predictions, self.min_context = n_predictions, min_context
        self.temperature, self.lambda_tc, self.lambda_cc = temperature, lambda_tc, lambda_cc
        self.weak = {"jitter_sigma": weak_jitter, "scale_sigma": weak_scale}
        self.strong = {"max_segments": max_segments, "jitter_sigma": strong_jitter}

    def augment(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(weak view, strong view) of x, or the given ``views`` with ``use_views``."""
        if self.views is not None:
            return self.views(x)
        return weak_view(x, **self.weak), strong_view(x, **self.strong)

    def context_position(self, T: int) -> int:
        """The time step t, uniform in [min_context - 1, T - 1 - K] (capped to the window)."""
        hi = T - 1 - self.n_predictions
        if hi < 0:
            raise ValueError(
                f"TS-TCC: a series of {T} steps is too short to predict {self.n_predictions} steps "
                f"ahead; use n_predictions < {T}"
            )
        return int(torch.randint(min(self.min_context - 1, hi), hi + 1, (1,)))

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        x, _ = split_batch(batch)
        B, T, _ = x.shape
        t, K = self.context_position(T), self.n_predictions
        z_w, z_s = self.encoder(torch.cat(self.augment(x)), return_sequence=True).chunk(2)  # (B, T, D) each
        c_w, c_s = self.context(torch.cat([z_w[:, : t + 1], z_s[:, : t + 1]])).chunk(2)  # (B, H) each
        pred_w, pred_s = (self.predictors(c).unflatten(-1, (K, -1)) for c in (c_w, c_s))  # (B, K, D)
        future = slice(t + 1, t + 1 + K)
        l_tc = stepwise_info_nce(pred_w, z_s[:, future]) + stepwise_info_nce(pred_s, z_w[:, future])
        l_cc = nt_xent(*self.projector(torch.cat([c_w, c_s])).chunk(2), temperature=self.temperature)
        return self.lambda_tc * l_tc + self.lambda_cc * l_cc
