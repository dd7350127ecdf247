"""Relative patch position (Doersch, Gupta & Efros, ICCV 2015): "Unsupervised Visual
Representation Learning by Context Prediction".

Algorithm (one step)::

    x = view(batch[0])                        # (B, C, H, W); labels unused
    cells = a 3 x 3 grid of c x c cells       # the image's centre crop of 3c pixels
    k ~ U{0..7} per image                     # which of the 8 neighbours of the centre cell
    a = p x p patch of the centre cell        # each patch at its own random offset inside its
    b = p x p patch of neighbour cell k       # cell, at least ``margin`` pixels from the cell's
                                              # edges: gaps of >= 2 * margin pixels between a
                                              # and b, and jitter, so that lines continuing
                                              # across the border are no shortcut
    h = concat(g(f_map(a)), g(f_map(b)))      # ONE shared (siamese) patch network
    loss = cross_entropy(head(h), k)          # which neighbour is b?

Neighbour k in row-major order around the centre: 0 = up-left, 1 = up, 2 = up-right, 3 = left,
4 = right, 5 = down-left, 6 = down, 7 = down-right (``NEIGHBOURS``: (row, column) steps).
The paper's other shortcut, chromatic aberration (colour channels shifted towards the lens
edge), needs colour: on greyscale images there is none to remove.
``self.encoder`` is f, which must accept whole images too (the fully convolutional
``ConvEncoder``); the optional ``trunk`` g holds the upper patch layers used for the pretext
task only (on ``encoder.feature_map``), as in ``tsssl.methods.jigsaw``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tsssl.methods.base import Method, ViewFn, eval_mode, split_batch

#: (row, column) step from the centre cell to neighbour k
NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def _patches(x: Tensor, top: Tensor, left: Tensor, patch: int) -> Tensor:
    """(B, C, patch, patch): the patch of image i with top-left corner (top[i], left[i])."""
    r = torch.arange(patch, device=x.device)
    rows = (top[:, None] + r)[:, :, None]  # (B, p, 1)
    cols = (left[:, None] + r)[:, None, :]  # (B, 1, p)
    b = torch.arange(len(x), device=x.device)[:, None, None]
    return x[b, :, rows, cols].permute(0, 3, 1, 2)  # advanced indices first: (B, p, p, C)


def relative_patch_pair(
    x: Tensor,
    patch: int,
    margin: int = 1,
    label: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """(centre (B, C, p, p), neighbour (B, C, p, p), label (B,) int64) from images x
    (B, C, H, W) cut into a 3 x 3 grid of c = min(H, W) // 3 pixel cells (centre crop).

    Each patch sits at a uniform random offset in [margin, c - patch - margin] of its cell on
    both axes; ``label`` (drawn uniformly when None) names the neighbour (``NEIGHBOURS``)."""
    if x.dim() != 4:
        raise ValueError(f"relative_patch_pair: needs images (B, C, H, W), got shape {tuple(x.shape)}")
    B, _, H, W = x.shape
    c = min(H, W) // 3
    if patch < 1 or margin < 0 or patch + 2 * margin > c:
        raise ValueError(
            f"relative_patch_pair: patch {patch} + 2 * margin {margin} must fit in a cell of {c} pixels "
            f"(a third of the {H} x {W} image), with patch >= 1 and margin >= 0"
        )
    device = generator.device if generator is not None else x.device
    if label is None:
        label = torch.randint(8, (B,), generator=generator, device=device).to(x.device)
    elif label.shape != (B,) or (label < 0).any() or (label > 7).any():
        raise ValueError(f"relative_patch_pair: label must be (B,) = ({B},) ints in 0..7, got {tuple(label.shape)}")
    off = torch.randint(margin, c - patch - margin + 1, (4, B), generator=generator, device=device).to(x.device)
    top0, left0 = (H - 3 * c) // 2, (W - 3 * c) // 2
    step = torch.tensor(NEIGHBOURS, device=x.device)[label]  # (B, 2)
    centre = _patches(x, top0 + c + off[0], left0 + c + off[1], patch)
    neighbour = _patches(x, top0 + (1 + step[:, 0]) * c + off[2], left0 + (1 + step[:, 1]) * c + off[3], patch)
    return centre, neighbour, label


class RelativePosition(Method):
    """encoder f: the shared patch encoder ((N, C, p, p) -> (N, out_dim)); ``trunk``
    (optional): pretext-only layers on ``encoder.feature_map`` ((N, C', h, w) -> (N,
    trunk.out_dim)); ``patch`` pixels per patch side, ``margin`` pixels kept free at each cell
    edge (cells: a third of the image side); ``normalize_patches``: each patch to mean 0, std 1
    (its ink total alone no longer tells an edge cell from the centre); ``hidden`` units of the
    head; ``view`` an optional augmentation before cutting."""

    def __init__(
        self,
        encoder: nn.Module,
        view: ViewFn | None = None,
        *,
        patch: int = 5,
        margin: int = 1,
        normalize_patches: bool = True,
        hidden: int = 256,
        trunk: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if trunk is not None and not callable(getattr(encoder, "feature_map", None)):
            raise ValueError(
                f"RelativePosition: a trunk takes the encoder's feature map, but {type(encoder).__name__} "
                "has no feature_map method (ConvEncoder has one); give trunk=None to use the encoder's output"
            )
        self.encoder, self.trunk, self.view = encoder, trunk, view
        self.patch, self.margin, self.normalize_patches = patch, margin, normalize_patches
        d = trunk.out_dim if trunk is not None else encoder.out_dim
        self.head = nn.Sequential(nn.Linear(2 * d, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 8))

    def patch_features(self, p: Tensor) -> Tensor:
        """(N, C, p, p) patches -> (N, d): the encoder, then the trunk if there is one."""
        if self.normalize_patches:
            p = (p - p.mean(dim=(-3, -2, -1), keepdim=True)) / (p.std(dim=(-3, -2, -1), keepdim=True) + 1e-3)
        if self.trunk is None:
            return self.encoder(p)
        return self.trunk(self.encoder.feature_map(p))

    def logits(self, centre: Tensor, neighbour: Tensor) -> Tensor:
        h = self.patch_features(torch.cat([centre, neighbour])).chunk(2)
        return self.head(torch.cat(h, dim=1))

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        x, _ = split_batch(batch)
        if self.view is not None:
            x = self.view(x)
        a, b, k = relative_patch_pair(x, self.patch, self.margin)
        return F.cross_entropy(self.logits(a, b), k)

    @torch.no_grad()
    def position_accuracy(self, x: Tensor, seed: int = 0) -> float:
        """Share of (seeded random) patch pairs whose neighbour position the head names (eval mode)."""
        with eval_mode(self):
            g = torch.Generator().manual_seed(seed)
            a, b, k = relative_patch_pair(x.cpu(), self.patch, self.margin, generator=g)
            dev = x.device
            return float((self.logits(a.to(dev), b.to(dev)).argmax(1) == k.to(dev)).float().mean())
