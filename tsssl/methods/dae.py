"""Denoising auto-encoder (Vincent, Larochelle, Bengio & Manzagol, ICML 2008): "Extracting and
Composing Robust Features with Denoising Autoencoders".

Algorithm (one step)::

    x  = view(batch[0])                       # (B, C, H, W) intensities in [0, 1]; labels unused
    x~ = corrupt(x)                           # masking noise: each pixel set to 0 with prob. nu
                                              # (the paper's), or Gaussian: x + sigma * N(0, 1)
    z  = f(x~)                                # encoder: the representation kept
    l  = g(z)                                 # decoder: (B, C, H, W) pixel logits
    loss = bernoulli_nll(l, x)                # cross-entropy against the CLEAN image

Reconstructing x from x~ forces f to capture the dependencies between pixels (strokes) rather
than copy its input. ``self.encoder`` is f, applied to clean images downstream.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from tsssl.losses.reconstruction import bernoulli_nll
from tsssl.methods.base import Method, ViewFn, split_batch

NOISES = ("masking", "gaussian")


def corrupt(x: Tensor, noise: str = "masking", level: float = 0.3, generator: torch.Generator | None = None) -> Tensor:
    """x: (B, ...) -> a corrupted copy. ``masking``: every entry set to 0 with probability
    ``level`` (independently); ``gaussian``: x + level * N(0, 1), not clipped."""
    if noise not in NOISES:
        raise ValueError(f"unknown noise {noise!r}; accepted: {', '.join(NOISES)}")
    if noise == "masking" and not 0 <= level < 1:
        raise ValueError(f"masking noise level must be a probability in [0, 1), got {level!r}")
    if noise == "gaussian" and not level >= 0:
        raise ValueError(f"gaussian noise level must be a standard deviation >= 0, got {level!r}")
    device = generator.device if generator is not None else x.device
    if noise == "masking":
        keep = torch.rand(x.shape, generator=generator, device=device).to(x.device) >= level
        return x * keep.to(x.dtype)
    return x + level * torch.randn(x.shape, generator=generator, device=device, dtype=x.dtype).to(x.device)


class DenoisingAutoencoder(Method):
    """encoder f: (B, C, H, W) -> (B, out_dim); decoder g: (B, out_dim) -> (B, C, H, W) logits
    (e.g. ``ConvDecoder``); ``noise`` / ``level``: the corruption (see ``corrupt``); ``view``:
    an optional augmentation applied to the clean image first."""

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        view: ViewFn | None = None,
        *,
        noise: str = "masking",
        level: float = 0.3,
    ) -> None:
        super().__init__()
        corrupt(torch.zeros(1), noise, level)  # checks the settings now, not at the first step
        self.encoder, self.decoder, self.view = encoder, decoder, view
        self.noise, self.level = noise, level

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        x, _ = split_batch(batch)
        if self.view is not None:
            x = self.view(x)
        logits = self.decoder(self.encoder(corrupt(x, self.noise, self.level)))
        return bernoulli_nll(logits, x)
