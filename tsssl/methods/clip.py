"""CLIP (Radford et al., 2021): "Learning Transferable Visual Models From Natural Language
Supervision" - two towers trained with the symmetric InfoNCE.

Algorithm (one step)::

    x, t = batch                              # x: (B, ...) inputs of modality A (images, price
                                              # windows); t: (B, L) int64 token ids of their texts
    a = normalize(W_a f_a(x))                 # (B, E) tower A + linear projection
    b = normalize(W_b f_b(t))                 # (B, E) text tower + linear projection
    tau = exp(-logit_scale)                   # learned temperature (init 0.07), tau >= 0.01
    P[i, j] = (t_i == t_j)                    # positives: pairs with the same text
    loss = ( info_nce(a, b, P, tau) + info_nce(b, a, P^T, tau) ) / 2

With captions drawn from a few labels ("the digit seven") a batch holds the same text many
times; counting identical texts as positives (``same_text_positives=True``) keeps them from
being pushed apart as negatives. With all texts distinct P is the identity, CLIP's own loss.

Zero-shot: embed one text per class (or several templates, averaged: "prompt ensembling"),
and predict the class whose text is most similar to the input (``zero_shot_logits``).
``self.encoder`` is tower A.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tsssl.losses import info_nce
from tsssl.methods.base import Method, ViewFn


class CLIP(Method):
    """encoder: tower A ((B, ...) -> (B, encoder.out_dim)); text_encoder: ((B, L) ids ->
    (B, text_encoder.out_dim)); both projected to ``embed_dim``; ``temperature`` the initial
    temperature (learned when ``learn_temperature``); ``view``: an optional augmentation of
    tower A's input."""

    def __init__(
        self,
        encoder: nn.Module,
        text_encoder: nn.Module,
        *,
        embed_dim: int = 64,
        temperature: float = 0.07,
        learn_temperature: bool = True,
        min_temperature: float = 0.01,
        same_text_positives: bool = True,
        view: ViewFn | None = None,
    ) -> None:
        super().__init__()
        if not 0 < min_temperature <= temperature:
            raise ValueError(f"CLIP: need 0 < min_temperature <= temperature, got {min_temperature}, {temperature}")
        self.encoder, self.text_encoder = encoder, text_encoder
        self.project_a = nn.Linear(encoder.out_dim, embed_dim, bias=False)
        self.project_text = nn.Linear(text_encoder.out_dim, embed_dim, bias=False)
        scale = torch.tensor(math.log(1.0 / temperature))
        if learn_temperature:
            self.logit_scale = nn.Parameter(scale)
        else:
            self.register_buffer("logit_scale", scale)
        self.max_scale = math.log(1.0 / min_temperature)
        self.same_text_positives = same_text_positives
        self.view = view
        self.out_dim = embed_dim

    def temperature(self) -> Tensor:
        """0-dim tensor tau = exp(-logit_scale), clamped at the minimum temperature."""
        return torch.exp(-self.logit_scale.clamp(max=self.max_scale))

    def encode_a(self, x: Tensor) -> Tensor:
        """(B, embed_dim) L2-normalised embeddings of tower A's inputs."""
        return F.normalize(self.project_a(self.encoder(x)), dim=-1)

    def encode_text(self, ids: Tensor) -> Tensor:
        """(B, embed_dim) L2-normalised text embeddings."""
        return F.normalize(self.project_text(self.text_encoder(ids)), dim=-1)

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        if len(batch) < 2:
            raise ValueError("CLIP: a batch must hold (inputs, token ids)")
        x, ids = batch[0], batch[1]
        if self.view is not None:
            x = self.view(x)
        a, b = self.encode_a(x), self.encode_text(ids)
        tau = self.temperature()
        if self.same_text_positives:
            same = (ids[:, None, :] == ids[None, :, :]).all(dim=-1)  # (B, B)
            return 0.5 * (info_nce(a, b, same, tau, normalize=False) + info_nce(b, a, same.T, tau, normalize=False))
        return 0.5 * (info_nce(a, b, None, tau, normalize=False) + info_nce(b, a, None, tau, normalize=False))

    @torch.no_grad()
    def class_embeddings(self, class_ids: Tensor) -> Tensor:
        """class_ids: (K, L) one text per class, or (K, M, L) M templates per class -> (K, E)
        normalised (template embeddings averaged, then re-normalised)."""
        if class_ids.dim() == 2:
            class_ids = class_ids[:, None]
        K, M, L = class_ids.shape
        e = self.encode_text(class_ids.reshape(K * M, L)).reshape(K, M, -1).mean(dim=1)
        return F.normalize(e, dim=-1)

    @torch.no_grad()
    def zero_shot_logits(self, x: Tensor, class_ids: Tensor) -> Tensor:
        """(B, K) cosine similarities of each input to each class text (see class_embeddings)."""
        return self.encode_a(x) @ self.class_embeddings(class_ids).T
