"""Text augmentation: BERT's masking of token ids (the views of masked-language-model training).

``bert_mask(ids, vocab_size)`` on (B, L) int64 token ids -> (inputs, labels), batched on any device.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from tsssl.data.text import CLS_ID, MASK_ID, PAD_ID, SPECIAL_TOKENS

IGNORE = -100


def bert_mask(
    ids: Tensor,
    vocab_size: int,
    mask_prob: float = 0.15,
    mask_id: int = MASK_ID,
    protected: Sequence[int] = (PAD_ID, CLS_ID),
    first_word_id: int = len(SPECIAL_TOKENS),
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """(inputs, labels) for masked-LM from ids (B, L) int64.

    Each token not in ``protected`` is chosen with probability ``mask_prob`` (a sentence with
    none chosen gets one chosen at random, so every row has a target); a chosen token becomes
    ``mask_id`` with p 0.8, a random word id in [first_word_id, vocab_size) with p 0.1, and
    stays with p 0.1. labels: the original id at chosen positions, -100 (ignored) elsewhere.
    """
    if ids.dim() != 2 or ids.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"bert_mask: ids must be (B, L) integer token ids, got {tuple(ids.shape)} {ids.dtype}")
    if not 0.0 < mask_prob < 1.0:
        raise ValueError(f"bert_mask: mask_prob must be in (0, 1), got {mask_prob}")
    if vocab_size <= first_word_id:
        raise ValueError(f"bert_mask: vocab_size {vocab_size} leaves no word ids above {first_word_id}")
    device = generator.device if generator is not None else ids.device

    def rand(*shape: int) -> Tensor:
        return torch.rand(shape, generator=generator, device=device).to(ids.device)

    B, L = ids.shape
    eligible = torch.ones_like(ids, dtype=torch.bool)
    for p in protected:
        eligible &= ids != p
    chosen = eligible & (rand(B, L) < mask_prob)
    # rows with no chosen token: choose one eligible token (the eligible one with the top score)
    score = torch.where(eligible, rand(B, L), torch.full((B, L), -1.0, device=ids.device))
    fallback = F.one_hot(score.argmax(dim=1), L).bool() & eligible
    chosen |= fallback & ~chosen.any(dim=1, keepdim=True)
    u = rand(B, L)
    to_mask = chosen & (u < 0.8)
    to_random = chosen & (u >= 0.8) & (u < 0.9)
    random_words = first_word_id + (rand(B, L) * (vocab_size - first_word_id)).long().clamp(
        max=vocab_size - first_word_id - 1
    )
    inputs = torch.where(to_mask, torch.full_like(ids, mask_id), ids)
    inputs = torch.where(to_random, random_words.to(ids.dtype), inputs)
    labels = torch.where(chosen, ids, torch.full_like(ids, IGNORE))
    return inputs, labels
