"""Masked-language-model pre-training (BERT, Devlin et al., 2019) of a small Transformer.

Algorithm (one step)::

    t = batch[0]                              # (B, L) token ids; [PAD] = 0 after each sentence
    choose 15% of the real tokens             # never [PAD] / [CLS]; at least one per sentence
    of those: 80% -> [MASK], 10% -> a random word, 10% unchanged      # BERT's 80/10/10
    h = f(t_masked, return_sequence=True)     # (B, L, D) token states
    loss = cross_entropy(W h, t) on the chosen positions only
           # W: the output layer, tied to the token embedding (+ a bias), after a
           #    dense + GELU + LayerNorm transform as in BERT
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tsssl.data.text import CLS_ID, MASK_ID, PAD_ID, SPECIAL_TOKENS
from tsssl.methods.base import Method
from tsssl.methods.siamcl import split_batch

IGNORE = -100


def bert_mask(ids: Tensor, vocab_size: int, mask_prob: float = 0.15, mask_id: int = MASK_ID,
              protected: Sequence[int] = (PAD_ID, CLS_ID), first_word_id: int = len(SPECIAL_TOKENS),
              generator: Optional[torch.Generator] = None) -> tuple[Tensor, Tensor]:
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
        max=vocab_size - first_word_id - 1)
    inputs = torch.where(to_mask, torch.full_like(ids, mask_id), ids)
    inputs = torch.where(to_random, random_words.to(ids.dtype), inputs)
    labels = torch.where(chosen, ids, torch.full_like(ids, IGNORE))
    return inputs, labels


class MaskedLM(Method):
    """encoder: a ``TextTransformerEncoder`` (any ids -> (B, L, D) with ``return_sequence=True``
    and a ``token_embedding``); ``vocab_size`` output classes; ``mask_prob`` 0.15; output layer
    tied to the token embedding when ``tie_weights``."""

    def __init__(self, encoder: nn.Module, vocab_size: int, *, mask_prob: float = 0.15,
                 tie_weights: bool = True) -> None:
        super().__init__()
        self.encoder = encoder
        d = encoder.out_dim
        self.vocab_size, self.mask_prob = vocab_size, mask_prob
        self.transform = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.LayerNorm(d))
        self.decoder = nn.Linear(d, vocab_size)
        if tie_weights:
            emb = getattr(encoder, "token_embedding", None)
            if emb is None or tuple(emb.weight.shape) != (vocab_size, d):
                raise ValueError("MaskedLM: tie_weights needs encoder.token_embedding of shape "
                                 f"({vocab_size}, {d})")
            self.decoder.weight = emb.weight

    def token_logits(self, inputs: Tensor) -> Tensor:
        """(B, L, vocab_size) logits at every position."""
        return self.decoder(self.transform(self.encoder(inputs, return_sequence=True)))

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        ids, _ = split_batch(batch)
        inputs, labels = bert_mask(ids, self.vocab_size, self.mask_prob)
        keep = labels != IGNORE
        logits = self.token_logits(inputs)[keep]           # only the chosen positions are decoded
        return F.cross_entropy(logits.float(), labels[keep])

    @torch.no_grad()
    def masked_accuracy(self, ids: Tensor, seed: int = 0, batch_size: int = 512) -> float:
        """Share of the chosen tokens (seeded 80/10/10 masking) predicted exactly, eval mode."""
        was = self.training
        self.eval()
        try:
            g = torch.Generator().manual_seed(seed)
            hit = total = 0
            for i in range(0, len(ids), batch_size):
                inputs, labels = bert_mask(ids[i:i + batch_size], self.vocab_size, self.mask_prob, generator=g)
                keep = labels != IGNORE
                pred = self.token_logits(inputs)[keep].argmax(-1)
                hit += int((pred == labels[keep]).sum())
                total += int(keep.sum())
            return hit / max(total, 1)
        finally:
            self.train(was)
