"""Masked-language-model pre-training (BERT, Devlin et al., 2019) of a small Transformer.

Algorithm (one step)::

    t = batch[0]                              # (B, L) token ids; [PAD] = 0 after each sentence
    choose 15% of the real tokens             # never [PAD] / [CLS]; at least one per sentence
    of those: 80% -> [MASK], 10% -> a random word, 10% unchanged      # BERT's 80/10/10
    h = f(t_masked, return_sequence=True)     # (B, L, D) token states
    loss = cross_entropy(W h, t) on the chosen positions only
           # W: the output layer, tied to the token embedding (+ a bias), after a
           #    dense + GELU + LayerNorm transform as in BERT

Option ``pair_task`` "nsp" (BERT's next-sentence prediction) or "sop" (ALBERT's sentence-order
prediction): the batch is (pairs ``[CLS] a [CLS] b`` (B, L), label (B,) 1 = b follows a in the
same topic, 0 = negative; tsssl.data.text_pairs builds both), and::

    p = head(tanh(P h[:, 0]))                 # BERT's pooler on the first [CLS]'s state, 2 logits
    loss = mlm_loss + cross_entropy(p, label)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tsssl.augment.text import IGNORE, bert_mask
from tsssl.methods.base import Method, eval_mode, split_batch

__all__ = ["IGNORE", "PAIR_OPTIONS", "MaskedLM", "bert_mask"]

PAIR_OPTIONS = ("none", "nsp", "sop")


class MaskedLM(Method):
    """encoder: a ``TextTransformerEncoder`` (any ids -> (B, L, D) with ``return_sequence=True``
    and a ``token_embedding``); ``vocab_size`` output classes; ``mask_prob`` 0.15; output layer
    tied to the token embedding when ``tie_weights``; ``pair_task`` one of ``PAIR_OPTIONS``."""

    def __init__(
        self,
        encoder: nn.Module,
        vocab_size: int,
        *,
        mask_prob: float = 0.15,
        tie_weights: bool = True,
        pair_task: str = "none",
    ) -> None:
        super().__init__()
        if pair_task not in PAIR_OPTIONS:
            raise ValueError(f"MaskedLM: pair_task must be one of {', '.join(PAIR_OPTIONS)}, got {pair_task!r}")
        self.encoder = encoder
        d = encoder.out_dim
        self.vocab_size, self.mask_prob = vocab_size, mask_prob
        self.transform = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.LayerNorm(d))
        self.decoder = nn.Linear(d, vocab_size)
        self.pair_task = pair_task
        if pair_task != "none":
            self.pair_head = nn.Sequential(nn.Linear(d, d), nn.Tanh(), nn.Linear(d, 2))
        if tie_weights:
            emb = getattr(encoder, "token_embedding", None)
            if emb is None or tuple(emb.weight.shape) != (vocab_size, d):
                raise ValueError(f"MaskedLM: tie_weights needs encoder.token_embedding of shape ({vocab_size}, {d})")
            self.decoder.weight = emb.weight

    def token_logits(self, inputs: Tensor) -> Tensor:
        """(B, L, vocab_size) logits at every position."""
        return self.decoder(self.transform(self.encoder(inputs, return_sequence=True)))

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        ids, pair_label = split_batch(batch)
        if self.pair_task != "none" and pair_label is None:
            raise ValueError(f"MaskedLM(pair_task={self.pair_task!r}): the batch must be (pair ids, pair label)")
        inputs, labels = bert_mask(ids, self.vocab_size, self.mask_prob)
        keep = labels != IGNORE
        h = self.encoder(inputs, return_sequence=True)
        logits = self.decoder(self.transform(h[keep]))  # only the chosen positions are decoded
        loss = F.cross_entropy(logits.float(), labels[keep])
        if self.pair_task == "none":
            return loss
        return loss + F.cross_entropy(self.pair_head(h[:, 0]).float(), pair_label)

    @torch.no_grad()
    def pair_accuracy(self, ids: Tensor, label: Tensor, batch_size: int = 512) -> float:
        """Share of the pairs ``[CLS] a [CLS] b`` (N, L) whose label (N,) the pair head gets
        right, unmasked inputs, eval mode."""
        if self.pair_task == "none":
            raise ValueError("MaskedLM.pair_accuracy needs pair_task 'nsp' or 'sop'")
        with eval_mode(self):
            pred = torch.cat(
                [
                    self.pair_head(self.encoder(ids[i : i + batch_size], return_sequence=True)[:, 0]).argmax(-1)
                    for i in range(0, len(ids), batch_size)
                ]
            )
            return float((pred == label.to(pred.device)).float().mean())

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
