"""MoCo's memory queue of negative keys, saved in the module's ``state_dict``."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from tsssl.checks import check_positive

from ._checks import check_tensor
from .gather import gather, is_distributed


class MemoryQueue(nn.Module):
    """A FIFO ring buffer of ``size`` keys of ``dim`` features (float32).

    Buffers (saved / restored with ``state_dict``, moved with ``.to(device)``): ``queue``
    (size, dim), ``ptr`` (next slot to write) and ``count`` (slots filled so far, <= size).

    ``enqueue(keys)`` is explicit (call it after the loss, MoCo's order): the keys are detached,
    cast to float32, and written at ``ptr``, wrapping around; a batch larger than the queue keeps
    its newest (last) ``size`` rows. Under torch.distributed with world size > 1 the keys of all
    ranks are gathered first (rank order, no gradient), so every rank holds the same queue.

    ``keys()`` returns the filled part, oldest to newest, shape (count, dim). MoCo::

        k_all = torch.cat([k, queue.keys()])                 # (B + Q, D)
        mask = torch.zeros(B, len(k_all), dtype=torch.bool); mask[:, :B].fill_diagonal_(True)
        loss = info_nce(q, k_all, mask, temperature)
        queue.enqueue(k)
    """

    queue: Tensor
    ptr: Tensor
    count: Tensor

    def __init__(self, size: int, dim: int) -> None:
        super().__init__()
        for name, value in (("size", size), ("dim", dim)):
            check_positive(value, name)
        self.size, self.dim = size, dim
        self.register_buffer("queue", torch.zeros(size, dim))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    def __len__(self) -> int:
        return int(self.count)

    def extra_repr(self) -> str:
        return f"size={self.size}, dim={self.dim}"

    @torch.no_grad()
    def enqueue(self, keys: Tensor) -> None:
        """Append ``keys`` (n, dim) (gathered over ranks when distributed), oldest overwritten."""
        check_tensor("keys", keys, 2, f"a 2-D Tensor (n, dim={self.dim})")
        if keys.shape[1] != self.dim:
            raise ValueError(f"keys must have dim={self.dim} features, got shape {tuple(keys.shape)}")
        keys = keys.detach()
        if is_distributed():
            keys, _ = gather(keys, grad=False)
        keys = keys.to(device=self.queue.device, dtype=self.queue.dtype)
        n = keys.shape[0]
        if n == 0:
            return
        if n >= self.size:
            self.queue.copy_(keys[-self.size :])
            self.ptr.zero_()
            self.count.fill_(self.size)
            return
        slots = (self.ptr + torch.arange(n, device=self.queue.device)) % self.size
        self.queue[slots] = keys
        self.ptr.copy_((self.ptr + n) % self.size)
        self.count.copy_(torch.clamp(self.count + n, max=self.size))

    def keys(self) -> Tensor:
        """The filled part of the queue, oldest to newest: (count, dim), no gradient."""
        count, ptr = int(self.count), int(self.ptr)
        if count < self.size:  # not yet wrapped: slots 0..count-1 in write order
            return self.queue[:count].detach()
        return torch.cat([self.queue[ptr:], self.queue[:ptr]]).detach()

    def reset(self) -> None:
        """Empty the queue."""
        self.queue.zero_()
        self.ptr.zero_()
        self.count.zero_()
