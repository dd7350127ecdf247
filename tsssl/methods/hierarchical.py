"""Hierarchical contrasting of overlapping crops (Yue et al., AAAI 2022, "TS2Vec: Towards Universal
Representation of Time Series").

Algorithm (one step)::

    x = batch[0]                                    # (B, T, C) series (windows)
    [a1, b1), [a2, b2) = two random crops of each series, a1 <= a2 < b1 <= b2; overlap [a2, b1)
    m1, m2 ~ Bernoulli(1 - mask_rate) per crop step  # timestamp masks (training only)
    r1 = f(x[:, a1:b1], mask=m1)[:, a2 - a1:]       # per-step representations of the overlap,
    r2 = f(x[:, a2:b2], mask=m2)[:, :b1 - a2]       #   each seen in its own context
    loss = hierarchical_contrastive(r1, r2, alpha, temporal_unit, max_anchors=temporal_anchors)

The same time step in the two contexts is the positive pair ("contextual consistency"); the
negatives are the other series at that step (instance term) and the other steps of the same
series (temporal term), at every scale of max-pooling over time (``tsssl.losses.hierarchical``).
There is no projection head: the loss acts on the encoder's outputs, and the representation
kept is the encoder's pooled output (max over time for the dilated encoder, TS2Vec's choice).

Weight averaging (``average_weights=True``; TS2Vec's official code does it): ``f`` above is
``online``; after every optimiser step the Trainer sets ``encoder`` (what every representation
reads) to the mean of ``online``'s weights over the steps so far (``momentum_schedule =
"average"``). Off by default: under this package's warm-up + cosine learning rate the last
weights did as well or better on three of the four classification sets of
``benchmarks.classification`` (benchmarks/RESULTS.md, issue 15's section).

Temporal anchors (``temporal_anchors``, 32 by default). TS2Vec contrasts every step of a scale
with every other (cost T^2 per series); here a scale longer than 32 steps has its temporal term
averaged over 32 anchor steps drawn at random, an unbiased estimate of the same term (None: every
step, TS2Vec's). On the classification sets it kept the accuracy and cut the fit of 250-430-step
series by a quarter (benchmarks/RESULTS.md, issue 15's section).

Encoder. ``f`` is the ``"dilated"`` encoder (``tsssl.encoders.DilatedEncoder``, TS2Vec's
dilated residual CNN); its ``mask`` zeroes the input projection's output at the masked steps.
Any encoder with per-step outputs (``return_sequence=True``: also ``"lstm"``, ``"cnn"``,
``"transformer"``) runs too, but without timestamp masking, which needs the mask input; another
encoder is refused.
``views`` are accepted (every window method's constructor takes them) but unused unless
``use_views=True``: TS2Vec's point is to use no transformation that changes the values.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from tsssl.augment.crops import overlapping_crops
from tsssl.augment.segments import take_subwindows
from tsssl.checks import check_fraction, check_positive
from tsssl.losses.hierarchical import hierarchical_contrastive
from tsssl.methods.base import Method, TwoViewFn, first_view, split_batch
from tsssl.methods.build import StandardizedEncoder


def _takes(encoder: nn.Module, argument: str) -> bool:
    """Whether ``encoder``'s forward (that of the encoder inside, for a StandardizedEncoder,
    which passes keyword arguments on) takes ``argument``."""
    while isinstance(encoder, StandardizedEncoder):
        encoder = encoder.encoder
    return argument in inspect.signature(encoder.forward).parameters


class Hierarchical(Method):
    """TS2Vec-style training of a per-step encoder.

    Series padded with NaN to one length are accepted (``accepts_missing``) when the encoder
    masks missing steps (the dilated CNN): the crops' missing steps have zero latents.

    encoder f: (B, T, C) -> (B, D), and (B, T, D) with ``return_sequence=True``; ``alpha``: weight
    of the instance term (1 - alpha: temporal); ``temporal_unit``: first scale with a temporal
    term (the crops overlap on at least 2^(temporal_unit + 1) steps); ``mask_rate``: share of
    crop steps whose latent is zeroed in training (TS2Vec: 0.5; 0 turns masking off);
    ``average_weights``: ``encoder`` is the running mean of the trained ``online`` copy's weights
    (module docstring), else the trained encoder itself; ``temporal_anchors``: the temporal term
    of a scale with more steps is averaged over that many random anchor steps (an unbiased,
    cheaper estimate; ``tsssl.losses.hierarchical_contrastive``'s ``max_anchors``; None: all steps).
    """

    accepts_missing = True

    def __init__(
        self,
        encoder: nn.Module,
        views: TwoViewFn | None = None,
        *,
        alpha: float = 0.5,
        temporal_unit: int = 0,
        mask_rate: float = 0.5,
        use_views: bool = False,
        average_weights: bool = False,
        temporal_anchors: int | None = 32,
    ) -> None:
        super().__init__()
        if not _takes(encoder, "return_sequence"):
            raise ValueError(
                f"Hierarchical: the encoder must give per-step outputs (return_sequence=True); "
                f"got {type(encoder).__name__}; accepted: 'dilated' (with timestamp masking), 'cnn', 'lstm', 'transformer'"
            )
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
            raise ValueError(f"Hierarchical: alpha must be a number in [0, 1], got {alpha!r}")
        if isinstance(temporal_unit, bool) or not isinstance(temporal_unit, int) or temporal_unit < 0:
            raise ValueError(f"Hierarchical: temporal_unit must be a non-negative integer, got {temporal_unit!r}")
        check_fraction(mask_rate, "mask_rate", "Hierarchical")
        check_positive(temporal_anchors, "temporal_anchors", "Hierarchical", allow_none=True)
        if not isinstance(average_weights, bool):
            raise ValueError(f"Hierarchical: average_weights must be True or False, got {average_weights!r}")
        self.encoder = encoder
        self.average_weights = average_weights
        if average_weights:  # online trains; encoder becomes the mean of its weights (Trainer)
            self.online = encoder
            self.encoder = copy.deepcopy(encoder)
            self.momentum_schedule = "average"
        self.views = views if use_views else None
        self.alpha, self.temporal_unit, self.mask_rate = float(alpha), temporal_unit, float(mask_rate)
        self.temporal_anchors = temporal_anchors
        #: whether the encoder takes a timestamp mask (the dilated encoder does)
        self.masks_timestamps = _takes(encoder, "mask")

    def momentum_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        return [(self.online, self.encoder)] if self.average_weights else []

    @property
    def trained(self) -> nn.Module:
        """The encoder the loss trains: ``online`` with weight averaging, else ``encoder``."""
        return self.online if self.average_weights else self.encoder

    def timestamp_mask(self, B: int, T: int, device: torch.device) -> Tensor | None:
        """(B, T) bool, True where a step's latent is kept; None outside training, when
        ``mask_rate`` is 0 or when the encoder takes no mask."""
        if not (self.training and self.mask_rate > 0 and self.masks_timestamps):
            return None
        return torch.rand(B, T, device=device) >= self.mask_rate

    def steps(self, x: Tensor) -> Tensor:
        """Per-step representations (B, T, D) of a crop, timestamp-masked in training."""
        mask = self.timestamp_mask(x.shape[0], x.shape[1], x.device)
        return self.trained(x, return_sequence=True, **({} if mask is None else {"mask": mask}))

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        x, _ = split_batch(batch)
        x = first_view(self.views, x)
        crops = overlapping_crops(x.shape[0], x.shape[1], 2 ** (self.temporal_unit + 1), device=x.device)
        r1 = self.steps(take_subwindows(x, crops.start1, crops.length1))[:, -crops.overlap :]
        r2 = self.steps(take_subwindows(x, crops.start2, crops.length2))[:, : crops.overlap]
        return hierarchical_contrastive(
            r1, r2, alpha=self.alpha, temporal_unit=self.temporal_unit, max_anchors=self.temporal_anchors
        )
