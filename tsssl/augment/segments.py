"""Batched cutting, shuffling, reversing and sub-window sampling for the time pretext tasks.

The order, arrow-of-time, time-contrastive and autoregressive methods (``tsssl/methods/order.py``,
``arrow.py``, ``tcn.py``) build their inputs and targets with these pure functions. Each works
on a whole batch with a few tensor ops (gather / where / argmax), never a loop over samples, and
draws its randomness from ``generator`` (None: torch's global RNG), on the generator's device.

    take_subwindows(x, starts, length)       # (B, T, C) -> (B, length, C), x[b, s_b : s_b + length]
    take_subwindows(x, starts, length, rows) # (N, length, C), x[rows_i, s_i : s_i + length]
    cut_segments(x, n_segments, starts)      # (B, T, C) -> (B, n, L, C) consecutive segments
    random_permutations(B, n, ...)           # (B, n) one permutation per sample (identity excluded)
    permute_rows(seq, perm)                  # out[b, j] = seq[b, perm[b, j]]
    reverse_time(x, flip)                    # the windows with flip[b] played backwards
    sample_where(allowed)                    # (B,) a uniform random True column of each row
    time_contrastive_starts(B, T, ...)       # anchor / positive (near) / negative (far) starts
"""

from __future__ import annotations

import functools
import itertools

import torch
from torch import Tensor

__all__ = [
    "cut_segments",
    "permutation_table",
    "permute_rows",
    "random_permutations",
    "reverse_time",
    "sample_where",
    "take_subwindows",
    "time_contrastive_starts",
]

#: most segments ``random_permutations`` draws over: n! rows of the table (5,040 at 7)
MAX_SEGMENTS = 7


def _check_x(x: object, fn: str) -> Tensor:
    if not isinstance(x, Tensor) or x.dim() != 3:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{fn}: x must be a Tensor of shape (B, T, C), got {shape}")
    return x


def _rand(shape: tuple[int, ...], device: torch.device, generator: torch.Generator | None) -> Tensor:
    """Uniform [0, 1) numbers drawn on the generator's device, moved to ``device``."""
    where = generator.device if generator is not None else device
    return torch.rand(shape, generator=generator, device=where).to(device)


def take_subwindows(x: Tensor, starts: Tensor, length: int, rows: Tensor | None = None) -> Tensor:
    """The sub-window ``x[b, starts[b] : starts[b] + length]`` of every window: (B, length, C);
    with ``rows`` (N,), ``x[rows[i], starts[i] : starts[i] + length]``: (N, length, C), several
    cuts of one window without copying it.

    x: (B, T, C); starts: (B,) integer (or (N,) with rows), each in [0, T - length] (not checked
    against values: that would sync the device; an out-of-range start or row raises on indexing).
    """
    _check_x(x, "take_subwindows")
    B, T, C = x.shape
    if not 1 <= length <= T:
        raise ValueError(f"take_subwindows: length must be in [1, T={T}], got {length}")
    if rows is not None and (not isinstance(rows, Tensor) or rows.dim() != 1 or rows.is_floating_point()):
        raise ValueError(f"take_subwindows: rows must be a 1-D integer Tensor (N,), got {rows!r}")
    n = B if rows is None else len(rows)
    if not isinstance(starts, Tensor) or starts.shape != (n,) or starts.is_floating_point():
        shape = "(B,) = " if rows is None else "(N,) like rows: "
        raise ValueError(f"take_subwindows: starts must be an integer Tensor of shape {shape}({n},), got {starts!r}")
    idx = starts.to(x.device).long()[:, None] + torch.arange(length, device=x.device)  # (n, length)
    if rows is None:
        return torch.gather(x, 1, idx[..., None].expand(-1, -1, C))
    return x[rows.to(x.device).long()[:, None], idx]


def cut_segments(x: Tensor, n_segments: int, starts: Tensor | None = None) -> Tensor:
    """``n_segments`` consecutive segments of L = T // n_segments days each: (B, n, L, C).

    Segment j of window b covers days ``s_b + j L .. s_b + (j + 1) L - 1``. ``starts`` (B,): the
    first segment's day s_b in [0, T - n L]; None right-aligns the segments, so the last one ends
    on the window's last day (the T mod n oldest days are left out).
    """
    _check_x(x, "cut_segments")
    B, T, _ = x.shape
    if not 2 <= n_segments <= T:
        raise ValueError(f"cut_segments: n_segments must be in [2, T={T}], got {n_segments}")
    L = T // n_segments
    if starts is None:
        starts = torch.full((B,), T - n_segments * L, dtype=torch.long, device=x.device)
    return take_subwindows(x, starts, n_segments * L).unflatten(1, (n_segments, L))


@functools.lru_cache(maxsize=16)
def _table(n: int, exclude_identity: bool) -> Tensor:
    rows = list(itertools.permutations(range(n)))  # lexicographic: the identity is row 0
    return torch.tensor(rows[1:] if exclude_identity else rows, dtype=torch.long)


def permutation_table(n: int, exclude_identity: bool = True) -> Tensor:
    """Every permutation of range(n) in lexicographic order, (n! - 1, n) without the identity."""
    if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= MAX_SEGMENTS:
        raise ValueError(f"permutation_table: n must be an integer in [2, {MAX_SEGMENTS}], got {n!r}")
    return _table(n, exclude_identity).clone()


def random_permutations(
    batch_size: int,
    n: int,
    *,
    exclude_identity: bool = True,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """(B, n) long: one permutation of range(n) per sample, uniform over the n! - 1 non-identity
    permutations (``exclude_identity``) or all n!: a uniform random row of ``permutation_table``."""
    table = permutation_table(n, exclude_identity)
    device = torch.device(device) if device is not None else torch.device("cpu")
    pick = (_rand((batch_size,), device, generator) * len(table)).long().clamp_(max=len(table) - 1)
    return table.to(device)[pick]


def permute_rows(seq: Tensor, perm: Tensor) -> Tensor:
    """``out[b, j] = seq[b, perm[b, j]]``: seq (B, n, ...) reordered per sample; perm (B, n) long."""
    if not isinstance(seq, Tensor) or seq.dim() < 2:
        raise ValueError(f"permute_rows: seq must be a Tensor (B, n, ...), got {getattr(seq, 'shape', seq)!r}")
    if not isinstance(perm, Tensor) or tuple(perm.shape) != tuple(seq.shape[:2]) or perm.is_floating_point():
        raise ValueError(
            f"permute_rows: perm must be an integer Tensor of shape (B, n) = {tuple(seq.shape[:2])}, "
            f"got {getattr(perm, 'shape', perm)!r}"
        )
    idx = perm.to(seq.device).long().reshape(*perm.shape, *([1] * (seq.dim() - 2))).expand_as(seq)
    return torch.gather(seq, 1, idx)


def reverse_time(x: Tensor, flip: Tensor) -> Tensor:
    """x (B, T, C) with the windows where ``flip`` (B,) bool is True read backwards in time."""
    _check_x(x, "reverse_time")
    if not isinstance(flip, Tensor) or flip.shape != (x.shape[0],) or flip.dtype != torch.bool:
        raise ValueError(f"reverse_time: flip must be a bool Tensor of shape (B,) = ({x.shape[0]},), got {flip!r}")
    return torch.where(flip.to(x.device)[:, None, None], x.flip(1), x)


def sample_where(allowed: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """(B,) long: for each row of ``allowed`` (B, S) bool, a column drawn uniformly among its
    True entries (random keys, the disallowed ones set to -1, then argmax). Every row needs one
    True; a row without any gives an arbitrary column (not checked: that would sync the device)."""
    if not isinstance(allowed, Tensor) or allowed.dim() != 2 or allowed.dtype != torch.bool:
        raise ValueError(f"sample_where: allowed must be a 2-D bool Tensor (B, S), got {allowed!r}")
    keys = _rand(tuple(allowed.shape), allowed.device, generator)
    return torch.where(allowed, keys, torch.full_like(keys, -1.0)).argmax(dim=1)


def time_contrastive_starts(
    batch_size: int,
    T: int,
    length: int,
    max_shift: int,
    far_shift: int | None = None,
    *,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Starts (each (B,) long, in [0, T - length]) of the time-contrastive sub-windows of each window.

    anchor a: uniform over the starts that have a far partner (all starts when ``far_shift`` is
    None); positive p: uniform over ``1 <= |p - a| <= max_shift`` (never the anchor itself);
    negative n (only with ``far_shift``): uniform over ``|n - a| >= far_shift``, else None.
    """
    S = T - length + 1  # number of possible starts
    if not 1 <= length < T:
        raise ValueError(f"time_contrastive_starts: length must be in [1, T={T}), got {length}")
    if max_shift < 1:
        raise ValueError(f"time_contrastive_starts: max_shift must be >= 1, got {max_shift}")
    if far_shift is not None and not max_shift < far_shift <= S - 1:
        raise ValueError(
            f"time_contrastive_starts: far_shift must be in ({max_shift}, {S - 1}] for windows of {T} days "
            f"and sub-windows of {length} (max_shift={max_shift}), got {far_shift}"
        )
    device = torch.device(device) if device is not None else torch.device("cpu")
    s = torch.arange(S, device=device)
    gap = (s[None, :] - s[:, None]).abs()  # (S, S): |start_j - start_i|
    ok_anchor = torch.ones(S, dtype=torch.bool, device=device)
    if far_shift is not None:
        ok_anchor = (gap >= far_shift).any(dim=1)
    anchor = sample_where(ok_anchor.expand(batch_size, S), generator)
    near = (gap[anchor] >= 1) & (gap[anchor] <= max_shift)  # (B, S)
    positive = sample_where(near, generator)
    negative = sample_where(gap[anchor] >= far_shift, generator) if far_shift is not None else None
    return anchor, positive, negative
