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

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tsssl.augment.text import IGNORE, bert_mask
from tsssl.methods.base import Method, eval_mode, split_batch

__all__ = ["IGNORE", "MaskedLM", "bert_mask"]


class MaskedLM(Method):
    """encoder: a ``TextTransformerEncoder`` (any ids -> (B, L, D) with ``return_sequence=True``
    and a ``token_embedding``); ``vocab_size`` output classes; ``mask_prob`` 0.15; output layer
    tied to the token embedding when ``tie_weights``."""

    def __init__(
        self, encoder: nn.Module, vocab_size: int, *, mask_prob: float = 0.15, tie_weights: bool = True
    ) -> None:
        super().__init__()
        self.encoder = encoder
        d = encoder.out_dim
        self.vocab_size, self.mask_prob = vocab_size, mask_prob
        self.transform = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.LayerNorm(d))
        self.decoder = nn.Linear(d, vocab_size)
        if tie_weights:
            emb = getattr(encoder, "token_embedding", None)
            if emb is None or tuple(emb.weight.shape) != (vocab_size, d):
                raise ValueError(f"MaskedLM: tie_weights needs encoder.token_embedding of shape ({vocab_size}, {d})")
            self.decoder.weight = emb.weight

    def token_logits(self, inputs: Tensor) -> Tensor:
        """(B, L, vocab_size) logits at every position."""
        return self.decoder(self.transform(self.encoder(inputs, return_sequence=True)))

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        ids, _ = split_batch(batch)
        inputs, labels = bert_mask(ids, self.vocab_size, self.mask_prob)
        keep = labels != IGNORE
        logits = self.token_logits(inputs)[keep]  # only the chosen positions are decoded
        return F.cross_entropy(logits.float(), labels[keep])

    @torch.no_grad()
    def masked_accuracy(self, ids: Tensor, seed: int = 0, batch_size: int = 512) -> float:
        """Share of the chosen tokens (seeded 80/10/10 masking) predicted exactly, eval mode."""
        with eval_mode(self):
            g = torch.Generator().manual_seed(seed)
            hit = total = 0
            for i in range(0, len(ids), batch_size):
                inputs, labels = bert_mask(ids[i : i + batch_size], self.vocab_size, self.mask_prob, generator=g)
                keep = labels != IGNORE
                pred = self.token_logits(inputs)[keep].argmax(-1)
                hit += int((pred == labels[keep]).sum())
                total += int(keep.sum())
            return hit / max(total, 1)
