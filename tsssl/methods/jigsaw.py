"""Jigsaw puzzles (Noroozi & Favaro, 2016): "Unsupervised Learning of Visual Representations by
Solving Jigsaw Puzzles".

Algorithm (one step)::

    x = view(batch[0])                        # (B, C, H, W), optional augmentation; labels unused
    cells = grid x grid cells of each image   # (B, n, C, c, c), n = grid^2, row-major
    tiles = a random t x t crop of each cell  # t < c leaves random gaps between the tiles
    p ~ U{0..P-1} per image                   # P permutations fixed up front (below)
    shuffled[:, j] = tiles[:, perms[p, j]]    # tiles put in the order of permutation p
    h = concat_j g(f_map(shuffled[:, j]))     # ONE shared tile network: f's layers, then g
    loss = cross_entropy(head(h), p)          # which permutation was applied?

The permutation set: P permutations of the n tiles chosen greedily for maximal Hamming
distance (the paper's Algorithm 1): start from a random one, then repeatedly add the permutation
whose smallest Hamming distance to those already chosen is largest (ties broken at random), so
that the classes are far apart and the task cannot be solved from one or two tiles.
Shortcuts: on the 8 x 8 digits the first pixel column is always empty, so a tile holding it
gives its position away, and neighbouring tiles continue each other's strokes at their edges.
The random ``view`` (a crop / shift) moves the empty border around and the random gaps
(``tile_size`` < cell) break the edge continuity, as in the paper.
``self.encoder`` is f, which must accept whole images too (e.g. the fully convolutional
``ConvEncoder``): it is the representation, what the probe uses. The optional ``trunk`` g holds
the tile network's upper layers, used for the puzzle only: it takes f's feature map
(f_map = ``encoder.feature_map``, before f's pooling) and returns (N, trunk.out_dim); without
a trunk, g is f's own pooling and the tile feature is f's output. The split follows the
per-layer linear probes of Jigsaw in Goyal et al. (2019), "Scaling and Benchmarking
Self-Supervised Visual Representation Learning": its features are best below the top layers,
which specialise to the puzzle.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tsssl.methods.base import Method, ViewFn, eval_mode, split_batch


def hamming_permutations(n_tiles: int, n_permutations: int, seed: int = 0) -> np.ndarray:
    """(n_permutations, n_tiles) int64: permutations of range(n_tiles) with maximal minimum
    Hamming distance, by greedy selection from all n_tiles! permutations (n_tiles <= 9)."""
    if not 2 <= n_tiles <= 9:
        raise ValueError(f"n_tiles must be in 2..9 (all n! permutations are searched), got {n_tiles}")
    total = math.factorial(n_tiles)
    if not 1 <= n_permutations <= total:
        raise ValueError(f"n_permutations must be in 1..{total} for {n_tiles} tiles, got {n_permutations}")
    rng = np.random.default_rng(seed)
    perms = np.array(list(itertools.permutations(range(n_tiles))), dtype=np.int8)  # (n!, n)
    chosen = [int(rng.integers(total))]
    min_dist = (perms != perms[chosen[0]]).sum(axis=1)  # (n!,)
    for _ in range(n_permutations - 1):
        best = np.flatnonzero(min_dist == min_dist.max())
        k = int(best[rng.integers(len(best))])
        chosen.append(k)
        min_dist = np.minimum(min_dist, (perms != perms[k]).sum(axis=1))
    return perms[chosen].astype(np.int64)


def jittered_tiles(cells: Tensor, tile_size: int, generator: torch.Generator | None = None) -> Tensor:
    """(B, n, C, c, c) cells -> (B, n, C, t, t): a t x t crop of every cell at its own uniform
    random offset (two gathers, no loop)."""
    B, n, C, c, _ = cells.shape
    if not 1 <= tile_size <= c:
        raise ValueError(f"tile_size must be in 1..{c} (the cell size), got {tile_size}")
    if tile_size == c:
        return cells
    device = generator.device if generator is not None else cells.device
    off = torch.randint(c - tile_size + 1, (2, B, n), generator=generator, device=device).to(cells.device)
    r = torch.arange(tile_size, device=cells.device)
    rows = (off[0][..., None] + r)[:, :, None, :, None].expand(B, n, C, tile_size, c)
    cols = (off[1][..., None] + r)[:, :, None, None, :].expand(B, n, C, tile_size, tile_size)
    return cells.gather(3, rows).gather(4, cols)


def image_tiles(x: Tensor, grid: int) -> Tensor:
    """(B, C, H, W) -> (B, grid^2, C, t, t) row-major tiles, t = min(H, W) // grid (the
    image's centre crop of grid * t pixels is cut; nothing is resized)."""
    B, C, H, W = x.shape
    t = min(H, W) // grid
    if t < 1:
        raise ValueError(f"images of {H} x {W} pixels are too small for a {grid} x {grid} grid")
    top, left = (H - grid * t) // 2, (W - grid * t) // 2
    x = x[:, :, top : top + grid * t, left : left + grid * t]
    tiles = x.reshape(B, C, grid, t, grid, t).permute(0, 2, 4, 1, 3, 5)  # (B, g, g, C, t, t)
    return tiles.reshape(B, grid * grid, C, t, t)


class Jigsaw(Method):
    """encoder: the shared tile encoder ((N, C, t, t) -> (N, out_dim)); ``trunk`` (optional):
    pretext-only layers on ``encoder.feature_map`` of each tile ((N, C', h, w) -> (N,
    trunk.out_dim)), e.g. a ``ConvEncoder(in_channels=C')``; ``grid`` x ``grid``
    cells; tiles of ``tile_size`` pixels cut at random inside each cell (default: the cell less
    one pixel); ``n_permutations`` classes chosen with ``seed``; ``image_size`` (optional)
    resizes the images (bilinear) first, e.g. 8 x 8 digits to 12 x 12 for a 3 x 3 grid of
    4 x 4 cells; ``view`` an optional augmentation applied before tiling; ``hidden`` units in
    the head's hidden layer."""

    def __init__(
        self,
        encoder: nn.Module,
        view: ViewFn | None = None,
        *,
        grid: int = 2,
        n_permutations: int = 24,
        seed: int = 0,
        image_size: int | None = None,
        tile_size: int | None = None,
        normalize_tiles: bool = True,
        hidden: int = 128,
        trunk: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if grid < 2:
            raise ValueError(f"Jigsaw: grid must be >= 2, got {grid}")
        if trunk is not None:
            if not callable(getattr(encoder, "feature_map", None)):
                raise ValueError(
                    f"Jigsaw: a trunk takes the encoder's feature map, but {type(encoder).__name__} "
                    "has no feature_map method (ConvEncoder has one); give trunk=None to use "
                    "the encoder's output"
                )
            if not isinstance(getattr(trunk, "out_dim", None), int):
                raise ValueError(
                    f"Jigsaw: the trunk ({type(trunk).__name__}) needs an integer out_dim, "
                    "the size of its output per tile"
                )
        self.encoder, self.trunk = encoder, trunk
        self.grid, self.image_size, self.tile_size, self.view = grid, image_size, tile_size, view
        self.normalize_tiles = normalize_tiles
        n = grid * grid
        self.register_buffer("permutations", torch.from_numpy(hamming_permutations(n, n_permutations, seed)))
        self.tile_dim = trunk.out_dim if trunk is not None else encoder.out_dim
        self.head = nn.Sequential(
            nn.Linear(n * self.tile_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, n_permutations)
        )

    @property
    def n_permutations(self) -> int:
        return int(self.permutations.shape[0])

    def prepare(self, x: Tensor) -> Tensor:
        if x.dim() != 4:
            raise ValueError(f"Jigsaw: needs images (B, C, H, W), got shape {tuple(x.shape)}")
        if self.image_size is not None and tuple(x.shape[-2:]) != (self.image_size,) * 2:
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
        return x

    def shuffle(self, x: Tensor, p: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """(B, n, C, t, t) tiles of images x put in the order of permutation p[i] for image i."""
        cells = image_tiles(self.prepare(x), self.grid)
        tiles = jittered_tiles(cells, self.tile_size or max(cells.shape[-1] - 1, 1), generator)
        if self.normalize_tiles:  # each tile to mean 0, std 1: its ink total no longer tells its place
            mean = tiles.mean(dim=(-3, -2, -1), keepdim=True)
            std = tiles.std(dim=(-3, -2, -1), keepdim=True)
            tiles = (tiles - mean) / (std + 1e-3)
        order = self.permutations[p]  # (B, n)
        return tiles[torch.arange(len(x), device=x.device)[:, None], order]

    def tile_features(self, tiles: Tensor) -> Tensor:
        """(N, C, t, t) tiles -> (N, tile_dim): the encoder, then the trunk if there is one."""
        if self.trunk is None:
            return self.encoder(tiles)
        return self.trunk(self.encoder.feature_map(tiles))

    def logits(self, shuffled: Tensor) -> Tensor:
        B, n = shuffled.shape[:2]
        h = self.tile_features(shuffled.flatten(0, 1)).reshape(B, n * self.tile_dim)
        return self.head(h)

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        x, _ = split_batch(batch)
        if self.view is not None:
            x = self.view(x)
        p = torch.randint(self.n_permutations, (x.shape[0],), device=x.device)
        return F.cross_entropy(self.logits(self.shuffle(x, p)), p)

    @torch.no_grad()
    def puzzle_accuracy(self, x: Tensor, seed: int = 0) -> float:
        """Share of images whose (seeded random) permutation the head names (eval mode)."""
        with eval_mode(self):
            g = torch.Generator().manual_seed(seed)
            p = torch.randint(self.n_permutations, (x.shape[0],), generator=g).to(x.device)
            return float((self.logits(self.shuffle(x, p, g)).argmax(1) == p).float().mean())
