"""Context encoder / inpainting (Pathak, Krähenbühl, Donahue, Darrell & Efros, CVPR 2016):
"Context Encoders: Feature Learning by Inpainting".

Algorithm (one step)::

    x  = view(batch[0])                       # (B, C, H, W); labels unused
    m  = mask(x)                              # (B, 1, H, W) bool, True = hidden: the central
                                              # square, or random square blocks (the paper's
                                              # "random block" masks, which it found to give
                                              # better features than the central region)
    x~ = where(m, fill, x)                    # hidden pixels -> the batch's mean intensity
    xhat = g(f(x~))                           # encoder on the context, decoder paints the image
    loss = region_mse(xhat, x, m)             # L2 on the hidden region only

The paper's adversarial term is left out: it makes the painted region sharper (an image-quality
goal) at the cost of a discriminator network and a min-max game, and whether it helps the
features on small digits was not measured here. ``self.encoder`` is f, applied to whole, unmasked images downstream.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from tsssl.checks import check_positive
from tsssl.losses.reconstruction import region_mse
from tsssl.methods.base import Method, ViewFn, split_batch

MASKS = ("center", "random_blocks")


def central_square_mask(batch: int, size: int, side: int, device: torch.device | str | None = None) -> Tensor:
    """(batch, 1, size, size) bool: the centred ``side`` x ``side`` square is True."""
    if not 1 <= side <= size:
        raise ValueError(f"the hidden square's side must be in 1..{size} (the image side), got {side}")
    top = (size - side) // 2
    m = torch.zeros(size, size, dtype=torch.bool, device=device)
    m[top : top + side, top : top + side] = True
    return m.expand(batch, 1, size, size)


def random_block_mask(
    batch: int,
    size: int,
    side: int,
    n_blocks: int,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """(batch, 1, size, size) bool: the union of ``n_blocks`` ``side`` x ``side`` squares per
    image, each at a uniform random position inside the image (they may overlap)."""
    if not 1 <= side <= size:
        raise ValueError(f"the blocks' side must be in 1..{size} (the image side), got {side}")
    check_positive(n_blocks, "n_blocks")
    gen_device = generator.device if generator is not None else device
    corner = torch.randint(size - side + 1, (2, batch, n_blocks, 1), generator=generator, device=gen_device)
    corner = corner.to(device)
    pos = torch.arange(size, device=device)
    rows = (pos >= corner[0]) & (pos < corner[0] + side)  # (batch, n_blocks, size)
    cols = (pos >= corner[1]) & (pos < corner[1] + side)
    return (rows[..., :, None] & cols[..., None, :]).any(dim=1, keepdim=True)


class ContextEncoder(Method):
    """encoder f: (B, C, H, H) -> (B, out_dim); decoder g: (B, out_dim) -> (B, C, H, H)
    intensities (e.g. ``ConvDecoder``); ``mask``: "random_blocks" (``n_blocks`` squares of
    ``hole`` pixels) or "center" (one square of ``hole`` pixels); ``hole`` defaults to H / 2
    for "center" and H / 4 for "random_blocks"; ``view``: an optional augmentation first."""

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        view: ViewFn | None = None,
        *,
        mask: str = "random_blocks",
        hole: int | None = None,
        n_blocks: int = 4,
    ) -> None:
        super().__init__()
        if mask not in MASKS:
            raise ValueError(f"ContextEncoder: unknown mask {mask!r}; accepted: {', '.join(MASKS)}")
        if hole is not None and (not isinstance(hole, int) or hole < 1):
            raise ValueError(f"ContextEncoder: hole must be a positive int (pixels), got {hole!r}")
        check_positive(n_blocks, "n_blocks", "ContextEncoder")
        self.encoder, self.decoder, self.view = encoder, decoder, view
        self.mask_kind, self.hole, self.n_blocks = mask, hole, n_blocks

    def mask(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """(B, 1, H, H) bool, True = hidden, for square images x (B, C, H, H)."""
        if x.dim() != 4 or x.shape[-1] != x.shape[-2]:
            raise ValueError(f"ContextEncoder: needs square images (B, C, H, H), got shape {tuple(x.shape)}")
        B, size = x.shape[0], x.shape[-1]
        if self.mask_kind == "center":
            return central_square_mask(B, size, self.hole or size // 2, x.device)
        return random_block_mask(B, size, self.hole or max(size // 4, 1), self.n_blocks, generator, x.device)

    def reconstruction_loss(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        m = self.mask(x, generator)
        context = torch.where(m, x.mean(), x)
        return region_mse(self.decoder(self.encoder(context)), x, m)

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        x, _ = split_batch(batch)
        if self.view is not None:
            x = self.view(x)
        return self.reconstruction_loss(x)
