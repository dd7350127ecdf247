"""ELECTRA (Clark et al., ICLR 2020): pre-training a text encoder as a discriminator of
replaced tokens rather than a generator of masked ones.

Algorithm (one step)::

    t = batch[0]                              # (B, L) token ids; [PAD] = 0 after each sentence
    choose 15% of the real tokens (never [PAD] / [CLS]; at least one per sentence)
    t_masked = t with the chosen tokens -> [MASK]
    gen_loss = cross_entropy(G(t_masked), t) on the chosen positions     # G: a small masked LM
    t_hat = t with each chosen token replaced by a sample of G's softmax  # no gradient through
                                                                          # the sampling
    r = t_hat != t                            # a sample equal to the original counts as original
    disc_loss = mean over real tokens of BCE(D(t_hat), r)                # D: encoder + token head
    loss = gen_loss + disc_weight * disc_loss # disc_weight 50 as in the paper

The generator is a masked LM (``tsssl.methods.mlm.MaskedLM``) on its own narrower encoder (the
paper's best generators are 1/4 to 1/2 of the discriminator's width); the discriminator's encoder is the representation. Unlike
the paper, generator and discriminator do not share token embeddings (their widths differ and
the encoders have no embedding projection).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from tsssl.augment.text import IGNORE, bert_mask
from tsssl.data.text import MASK_ID, PAD_ID, SPECIAL_TOKENS
from tsssl.losses import replaced_token_detection, replaced_token_labels
from tsssl.methods.base import Method, eval_mode, split_batch


def sample_replacements(logits: Tensor, temperature: float = 1.0, generator: torch.Generator | None = None) -> Tensor:
    """(N,) int64 word ids drawn from softmax(logits / temperature), logits (N, V) detached;
    the special tokens are never drawn."""
    z = logits.detach().float() / temperature
    z[:, : len(SPECIAL_TOKENS)] = float("-inf")
    return torch.multinomial(torch.softmax(z, dim=-1), 1, generator=generator).squeeze(1)


class Electra(Method):
    """encoder: the discriminator's ``TextTransformerEncoder`` (ids -> (B, L, D) with
    ``return_sequence=True``); generator: a masked LM over the same ``vocab_size`` words (its
    ``token_logits(ids)`` (B, L, V); ``MaskedLM`` on a narrower encoder);
    ``disc_weight`` the lambda of the discriminator's loss; ``temperature`` of the sampling."""

    def __init__(
        self,
        encoder: nn.Module,
        generator: nn.Module,
        vocab_size: int,
        *,
        mask_prob: float = 0.15,
        disc_weight: float = 50.0,
        temperature: float = 1.0,
    ) -> None:
        super().__init__()
        if disc_weight <= 0 or temperature <= 0:
            raise ValueError(f"Electra: disc_weight and temperature must be > 0, got {disc_weight}, {temperature}")
        self.encoder = encoder
        self.generator = generator
        d = encoder.out_dim
        self.disc_head = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, 1))
        self.vocab_size, self.mask_prob = vocab_size, mask_prob
        self.disc_weight, self.temperature = disc_weight, temperature

    def corrupt(self, ids: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """(corrupted ids (B, L), generator MLM loss, chosen (B, L) bool): masked positions
        filled by samples of the generator."""
        _, labels = bert_mask(ids, self.vocab_size, self.mask_prob, generator=generator)
        chosen = labels != IGNORE
        masked = torch.where(chosen, torch.full_like(ids, MASK_ID), ids)
        logits = self.generator.token_logits(masked)[chosen]  # (n_chosen, V)
        gen_loss = nn.functional.cross_entropy(logits.float(), ids[chosen])
        corrupted = ids.clone()
        corrupted[chosen] = sample_replacements(logits, self.temperature, generator).to(ids.dtype)
        return corrupted, gen_loss, chosen

    def discriminator_logits(self, ids: Tensor) -> Tensor:
        """(B, L) scores, > 0 = "replaced"."""
        return self.disc_head(self.encoder(ids, return_sequence=True)).squeeze(-1)

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        ids, _ = split_batch(batch)
        corrupted, gen_loss, _ = self.corrupt(ids)
        replaced = replaced_token_labels(ids, corrupted)
        disc_loss = replaced_token_detection(self.discriminator_logits(corrupted), replaced, ids != PAD_ID)
        return gen_loss + self.disc_weight * disc_loss

    @torch.no_grad()
    def detection_accuracy(self, ids: Tensor, corrupted: Tensor) -> dict[str, float]:
        """How well the discriminator tells the replaced from the original real tokens of
        ``corrupted`` (B, L) (``ids`` with some tokens replaced, e.g. by ``corrupt``), eval mode:
        the share of each it labels right (score > 0 = replaced) and the ROC AUC of its scores
        (threshold-free: replaced tokens are rare, so "all original" scores well on accuracy)."""
        with eval_mode(self):
            replaced = replaced_token_labels(ids, corrupted)
            score = self.discriminator_logits(corrupted).float()
            real = ids != PAD_ID
            hit = (score > 0) == replaced
            return {
                "replaced": float(hit[real & replaced].float().mean()),
                "original": float(hit[real & ~replaced].float().mean()),
                "auc": rank_auc(score[real], replaced[real]),
            }


def rank_auc(score: Tensor, positive: Tensor) -> float:
    """ROC AUC of ``score`` (N,) for the ``positive`` (N,) bool ones (Mann-Whitney U, average
    ranks for ties); NaN when either class is empty."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    _, inverse, counts = torch.unique(score, return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, 0).double()
    ranks = (ends - (counts.double() - 1) / 2)[inverse]  # average rank (1-based) of each score
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
