"""word2vec (Mikolov et al., 2013): skip-gram and CBOW with negative sampling.

Algorithm (one step)::

    skip-gram: (w, c) = batch                 # center word ids (B,), a context word id each (B,)
        h = V_in[w]                           # (B, D) the center's input vector
    CBOW:      (C, w) = batch                 # context ids (B, 2W) ([PAD] = 0 unused), center (B,)
        h = mean of V_in[C] over the non-pad slots, target c = w
    noise n ~ P_noise(.) = count^0.75 / Z, K per example        # (B, K)
    loss = nce(h . V_out[c], h . V_out[n])    # logistic NCE / negative sampling:
         = -log sigma(h . u_c) - sum_k log sigma(-h . u_n_k)

The word vectors kept are V_in (``self.encoder``: ids (B,) -> (B, D), or (B, L) sentences ->
their mean vector). V_out starts at zero, as in the reference code. Frequent-word sub-sampling
happens when the pairs are made (``tsssl.data.text.word2vec_data``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from tsssl.encoders.text import masked_mean
from tsssl.losses import nce
from tsssl.methods.base import Method

MODES = ("skipgram", "cbow")


class WordVectors(nn.Module):
    """The input embedding: ids (B,) -> (B, D); ids (B, L) -> mean vector of the non-pad ids."""

    def __init__(self, vocab_size: int, dim: int, pad_id: int = 0) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim, padding_idx=pad_id)
        nn.init.uniform_(self.embedding.weight, -0.5 / dim, 0.5 / dim)  # the reference code's init
        with torch.no_grad():
            self.embedding.weight[pad_id].zero_()
        self.pad_id, self.out_dim, self.vocab_size = pad_id, dim, vocab_size

    @property
    def vectors(self) -> Tensor:
        """(V, D) the word vectors (detached)."""
        return self.embedding.weight.detach()

    def forward(self, ids: Tensor) -> Tensor:
        if ids.dim() == 1:
            return self.embedding(ids)
        return masked_mean(self.embedding(ids), ids != self.pad_id)


class Word2Vec(Method):
    """``mode`` "skipgram" or "cbow"; ``dim``-dimensional vectors for ``vocab_size`` ids;
    ``n_negatives`` noise words per example from ``noise`` ((V,) probabilities, e.g.
    ``tsssl.data.text.noise_distribution(vocab.counts)``)."""

    def __init__(
        self,
        vocab_size: int,
        noise: Tensor,
        *,
        dim: int = 64,
        mode: str = "skipgram",
        n_negatives: int = 5,
        pad_id: int = 0,
    ) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"Word2Vec: unknown mode {mode!r}; accepted: {', '.join(MODES)}")
        noise = torch.as_tensor(noise, dtype=torch.float32)
        if noise.shape != (vocab_size,) or (noise < 0).any() or noise.sum() <= 0:
            raise ValueError(f"Word2Vec: noise must be ({vocab_size},) non-negative probabilities")
        if n_negatives < 1:
            raise ValueError(f"Word2Vec: n_negatives must be >= 1, got {n_negatives}")
        self.encoder = WordVectors(vocab_size, dim, pad_id)
        self.output = nn.Embedding(vocab_size, dim)
        nn.init.zeros_(self.output.weight)
        self.register_buffer("noise", noise / noise.sum())
        self.mode, self.n_negatives = mode, n_negatives

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        a, b = batch[0], batch[1]
        if self.mode == "skipgram":
            h, target = self.encoder(a), b  # a: centers (B,), b: contexts (B,)
        else:
            h, target = self.encoder(a), b  # a: contexts (B, 2W), b: centers (B,)
            if a.dim() != 2:
                raise ValueError(f"Word2Vec(cbow): contexts must be (B, 2W) ids, got {tuple(a.shape)}")
        negatives = torch.multinomial(self.noise, target.numel() * self.n_negatives, replacement=True)
        negatives = negatives.view(-1, self.n_negatives)  # (B, K)
        s_data = (h * self.output(target)).sum(-1)  # (B,)
        s_noise = torch.einsum("bd,bkd->bk", h, self.output(negatives))  # (B, K)
        return nce(s_data, s_noise)
