"""Cross-process gathering for losses whose negatives / statistics span the global batch.

When ``torch.distributed`` is available, initialised and has world size > 1, the in-batch
losses concatenate embeddings from every rank with an *autograd-aware* all-gather
(``torch.distributed.nn.functional.all_gather``; plain ``torch.distributed.all_gather``
carries no gradient). Per-rank batch sizes may differ: the sizes are all-gathered first, each
rank pads to the largest, and the padding is stripped after the gather, so rank r's rows sit at
``offset(r) = sum(sizes[:r])`` of the global batch.

Scaling convention (one rule for every gathering loss)
------------------------------------------------------
Let L be the loss on the global batch (what one process would compute on the concatenation of
all ranks' batches, in rank order). Each gathering loss

* returns the value **L on every rank** (so the logged loss is the global one), and
* back-propagates **world_size x dL/dz_r** into rank r's local embeddings z_r.

DistributedDataParallel (and FSDP) *average* parameter gradients over ranks, so after its
all-reduce every rank holds exactly dL/dtheta: the gradient of the global mean, also with
uneven per-rank batches. (Without the factor world_size, the gradient would be 1/world_size of
the right one; returning only the local mean would weight ranks by 1 instead of by their batch
size.) Losses that do not gather (per-sample losses, ``info_nce`` with an explicit mask) return
the local mean and follow DDP's usual convention.

Two ways a loss meets the rule, both implemented here:

* *partial sums*: each rank computes ``part_r`` (its local queries' sum divided by the global
  count) with ``sum_r part_r == L``, gradients reaching other ranks' rows through the gather;
  :func:`combine_partial` returns ``world_size * part_r`` with its value replaced by the
  all-reduced L;
* *replicated*: each rank computes L itself from the gathered batch (Barlow Twins, VICReg);
  the all-gather's backward sums the world_size identical gradients, which is the factor.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from torch import Tensor


def _dist():
    import torch.distributed as dist

    return dist


def is_distributed() -> bool:
    """True when torch.distributed is available, initialised and has world size > 1."""
    dist = _dist()
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    """Number of processes (1 when torch.distributed is not initialised)."""
    dist = _dist()
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This process's rank (0 when torch.distributed is not initialised)."""
    dist = _dist()
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def gather_sizes(n: int, device: torch.device | str) -> list[int]:
    """Every rank's ``n`` in rank order (``[n]`` when not distributed)."""
    if not is_distributed():
        return [int(n)]
    dist = _dist()
    mine = torch.tensor([int(n)], dtype=torch.long, device=device)
    out = [torch.zeros_like(mine) for _ in range(dist.get_world_size())]
    dist.all_gather(out, mine)
    return [int(s) for s in torch.cat(out).tolist()]


def _autograd_all_gather(x: Tensor) -> Sequence[Tensor]:
    from torch.distributed.nn.functional import all_gather

    with warnings.catch_warnings():
        # Deprecated in favour of a private functional-collectives API whose names change
        # between releases; this one is stable from torch 2.0 on and has the right backward.
        warnings.simplefilter("ignore", FutureWarning)
        return all_gather(x)


def gather(x: Tensor, sizes: Sequence[int] | None = None, *, grad: bool = True) -> tuple[Tensor, list[int]]:
    """Concatenate ``x`` (n_r, ...) of all ranks along dim 0 in rank order.

    Returns ``(x_all (sum(sizes), ...), sizes)``. ``sizes`` may be passed when already known
    (saves one collective). With ``grad=True`` the gather is autograd-aware: the gradient of
    rank r's rows, summed over all ranks, flows back to rank r's ``x``. Not distributed: returns
    ``(x, [len(x)])`` unchanged.
    """
    if not is_distributed():
        return x, [int(x.shape[0])]
    dist = _dist()
    sizes = list(sizes) if sizes is not None else gather_sizes(x.shape[0], x.device)
    if len(sizes) != dist.get_world_size() or sizes[dist.get_rank()] != x.shape[0]:
        raise ValueError(f"sizes {sizes} do not match world size {dist.get_world_size()} and local rows {x.shape[0]}")
    biggest = max(sizes)
    padded = x
    if x.shape[0] < biggest:
        padded = torch.cat([x, x.new_zeros((biggest - x.shape[0], *x.shape[1:]))])
    padded = padded.contiguous()
    if grad:
        parts = _autograd_all_gather(padded)
    else:
        parts = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(parts, padded.detach())
    return torch.cat([p[:s] for p, s in zip(parts, sizes)]), sizes


def offset(sizes: Sequence[int]) -> int:
    """Index of this rank's first row in the gathered batch."""
    return int(sum(sizes[: rank()])) if is_distributed() else 0


def all_reduce_sum(x: Tensor) -> Tensor:
    """Sum of a (detached) tensor over ranks; ``x`` itself when not distributed."""
    if not is_distributed():
        return x
    out = x.detach().clone()
    _dist().all_reduce(out)
    return out


def combine_partial(part: Tensor) -> Tensor:
    """``part`` with sum over ranks == the global loss L -> value L, gradient world_size x d part.

    See the module docstring for why; a no-op when not distributed.
    """
    if not is_distributed():
        return part
    total = all_reduce_sum(part)
    scaled = part * world_size()
    return scaled + (total - scaled).detach()
