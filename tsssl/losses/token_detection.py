"""ELECTRA's replaced-token detection (Clark et al., 2020): per-token labels and the
discriminator's binary cross-entropy.

A token counts as replaced only where the corrupted id differs from the original: a generator
sample that happens to equal the original token is labelled original, as in the paper. The loss
is computed in float32 with autocast off, as the softplus form of BCE on logits.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ._checks import as_float, check_same_shape, check_tensor, float32_region


def replaced_token_labels(original: Tensor, corrupted: Tensor) -> Tensor:
    """(B, L) bool: True where ``corrupted`` (B, L) ids differ from ``original`` (B, L)."""
    check_tensor("original", original, 2, "of token ids (B, L)")
    check_same_shape("original", original, "corrupted", corrupted)
    return corrupted != original


def replaced_token_detection(logits: Tensor, replaced: Tensor, keep: Tensor) -> Tensor:
    """Mean BCE over the kept tokens; scalar float32.

    logits: (B, L) scores s (> 0 means "replaced"); replaced: (B, L) bool truth; keep: (B, L)
    bool, the tokens that count (not padding)::

        loss = sum_kept  r * softplus(-s) + (1 - r) * softplus(s)  /  #kept
    """
    check_tensor("logits", logits, 2, "(B, L) of per-token scores")
    check_same_shape("logits", logits, "replaced", replaced)
    check_same_shape("logits", logits, "keep", keep)
    if not bool(keep.any()):
        raise ValueError("keep must select at least one token")
    with float32_region(logits):
        s = as_float(logits)[keep]
        r = replaced[keep].to(s.dtype)
        return (r * F.softplus(-s) + (1 - r) * F.softplus(s)).mean()
