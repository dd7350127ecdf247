"""Text encoders: token ids (B, L) int64 (``[PAD]`` = 0 after the sentence) -> (B, out_dim).

- ``TextTransformerEncoder``: token + learned position embeddings, a pre-norm
  ``nn.TransformerEncoder`` with a padding mask, a final LayerNorm, and "mean" pooling over the
  real (non-pad) tokens or the "cls" token's state; ``return_sequence=True`` gives every
  token's state (B, L, D) (what masked-LM predicts from).
- ``BagOfEmbeddings``: the mean of the word vectors of the real tokens (word2vec's sentence
  vector; a light text tower for CLIP).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from tsssl.checks import check_positive

from .base import check_attention_sizes, check_choice

POOLINGS = ("mean", "cls")


def _check_ids(ids: Tensor, vocab_size: int, owner: str, max_len: int | None = None) -> None:
    if not isinstance(ids, Tensor) or ids.dim() != 2:
        shape = tuple(ids.shape) if isinstance(ids, Tensor) else type(ids).__name__
        raise ValueError(f"{owner}: input must be token ids of shape (B, L), got {shape}")
    if ids.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"{owner}: token ids must be int64 (or int32), got {ids.dtype}")
    if max_len is not None and ids.shape[1] > max_len:
        raise ValueError(f"{owner}: sequences of {ids.shape[1]} tokens exceed max_len={max_len}")


def masked_mean(h: Tensor, keep: Tensor) -> Tensor:
    """(B, L, D), (B, L) bool -> (B, D): mean over the kept positions (0 where none is kept)."""
    w = keep.to(h.dtype).unsqueeze(-1)
    return (h * w).sum(dim=1) / w.sum(dim=1).clamp_min(1.0)


class TextTransformerEncoder(nn.Module):
    """ids (B, L) -> (B, d_model), or per token (B, L, d_model) with ``return_sequence=True``.

    ``vocab_size`` ids (``pad_id`` is padding: masked out of attention and pooling, its
    embedding fixed at 0); at most ``max_len`` tokens; ``layers`` pre-norm Transformer layers
    of ``heads`` heads, feed-forward ``dim_feedforward``, ``dropout`` (SimCSE's two views are
    two dropout masks, so keep it > 0 there).
    """

    def __init__(
        self,
        vocab_size: int,
        d_model: int = 64,
        heads: int = 4,
        layers: int = 2,
        dim_feedforward: int = 128,
        max_len: int = 64,
        dropout: float = 0.1,
        pad_id: int = 0,
        pooling: str = "mean",
    ) -> None:
        super().__init__()
        check_attention_sizes(
            "TextTransformerEncoder",
            d_model,
            heads,
            dropout,
            vocab_size=vocab_size,
            layers=layers,
            dim_feedforward=dim_feedforward,
            max_len=max_len,
        )
        self.pooling = check_choice(pooling, POOLINGS, "pooling", "TextTransformerEncoder")
        self.vocab_size, self.max_len, self.pad_id = vocab_size, max_len, pad_id
        self.out_dim = d_model
        self.token_embedding = nn.Embedding(vocab_size, d_model, padding_idx=pad_id)
        self.position_embedding = nn.Parameter(torch.zeros(max_len, d_model))
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.position_embedding, std=0.02)
        with torch.no_grad():
            self.token_embedding.weight[pad_id].zero_()
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(
            d_model, heads, dim_feedforward, dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.transformer = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)

    def forward(self, ids: Tensor, return_sequence: bool = False) -> Tensor:
        _check_ids(ids, self.vocab_size, "TextTransformerEncoder", self.max_len)
        pad = ids == self.pad_id
        # a row of padding only would make attention's softmax all -inf (NaN): let it attend
        pad = pad & ~pad.all(dim=1, keepdim=True)
        h = self.token_embedding(ids) + self.position_embedding[: ids.shape[1]]
        h = self.norm(self.transformer(self.dropout(h), src_key_padding_mask=pad))
        if return_sequence:
            return h
        return h[:, 0] if self.pooling == "cls" else masked_mean(h, ~pad)


class BagOfEmbeddings(nn.Module):
    """ids (B, L) -> (B, dim): mean word vector of the non-pad tokens."""

    def __init__(self, vocab_size: int, dim: int = 64, pad_id: int = 0) -> None:
        super().__init__()
        check_positive(vocab_size, "vocab_size", "BagOfEmbeddings")
        check_positive(dim, "dim", "BagOfEmbeddings")
        self.vocab_size, self.pad_id, self.out_dim = vocab_size, pad_id, dim
        self.embedding = nn.Embedding(vocab_size, dim, padding_idx=pad_id)

    def forward(self, ids: Tensor) -> Tensor:
        _check_ids(ids, self.vocab_size, "BagOfEmbeddings")
        return masked_mean(self.embedding(ids), ids != self.pad_id)
