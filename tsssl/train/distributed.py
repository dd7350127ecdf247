"""Distributed data parallel plumbing: the process group, rank helpers, per-rank shards.

A run is distributed when ``torch.distributed`` is already initialised, or when ``torchrun``
set ``WORLD_SIZE > 1`` in the environment (then the group is initialised here from the env
variables: NCCL on CUDA, gloo on the CPU).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor


@dataclass(frozen=True)
class DistContext:
    """Where this process stands: ``rank`` of ``world_size`` processes, GPU ``local_rank``."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def is_initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    return dist.get_rank() if is_initialized() else 0


def get_world_size() -> int:
    return dist.get_world_size() if is_initialized() else 1


def env_world_size() -> int:
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def wants_distributed() -> bool:
    """True under an initialised process group or a ``torchrun`` launch with several processes."""
    return is_initialized() or env_world_size() > 1


def local_rank() -> int:
    """``LOCAL_RANK`` from torchrun, else the global rank modulo the visible GPUs."""
    if "LOCAL_RANK" in os.environ:
        return int(os.environ["LOCAL_RANK"])
    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return get_rank() % n if n else 0


def setup(device_type: str) -> DistContext:
    """Initialise the process group if needed (env://, NCCL for ``device_type`` "cuda", gloo
    otherwise) and describe this process. Single-process runs get the default context."""
    if not wants_distributed():
        return DistContext()
    if not is_initialized():
        if not dist.is_available():
            raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
        backend = "nccl" if device_type == "cuda" else "gloo"
        if device_type == "cuda":
            torch.cuda.set_device(local_rank())
        dist.init_process_group(backend=backend, init_method="env://")
    return DistContext(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local_rank())


def shard_order(order: Tensor, batch_size: int, rank: int, world_size: int, drop_last: bool = True) -> Tensor:
    """This rank's part of a global sample order, batch by batch.

    Global step k takes ``order[k*B*W : (k+1)*B*W]`` (B = per-rank ``batch_size``, W =
    ``world_size``) and rank r its r-th block of B, so the union over ranks of step k's batches
    is exactly the batch of B*W a single process would cut at step k. Ranks get equal counts:
    the remainder of the epoch (fewer than B*W samples) is dropped when ``world_size > 1`` or
    ``drop_last``; a single process with ``drop_last=False`` keeps the whole order.
    """
    if world_size == 1 and not drop_last:
        return order
    per_step = batch_size * world_size
    steps = len(order) // per_step
    return order[: steps * per_step].view(steps, world_size, batch_size)[:, rank].reshape(-1)


def all_reduce(t: Tensor, op: str = "sum") -> Tensor:
    """In-place all-reduce of ``t`` ("sum" | "min" | "max") when distributed; ``t`` otherwise."""
    if get_world_size() > 1:
        dist.all_reduce(t, op={"sum": dist.ReduceOp.SUM, "min": dist.ReduceOp.MIN, "max": dist.ReduceOp.MAX}[op])
    return t


def all_gather_object(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (rank order); ``[obj]`` in a single process."""
    if get_world_size() == 1:
        return [obj]
    out: list[Any] = [None] * get_world_size()
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    if get_world_size() > 1:
        dist.barrier()
