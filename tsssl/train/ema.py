"""Momentum (EMA) updates of target networks that a method declares with ``momentum_pairs``."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


class MomentumUpdater:
    """``target <- m * target + (1 - m) * online`` for every parameter of the (online, target)
    pairs (one ``torch._foreach_lerp_`` per dtype/device group, no host sync); the targets'
    buffers (e.g. BatchNorm statistics, in floating point or not) are copied from the online
    modules. Target parameters are frozen (``requires_grad=False``) at construction."""

    def __init__(self, pairs: Sequence[tuple[nn.Module, nn.Module]]) -> None:
        self.online: list[Tensor] = []
        self.target: list[Tensor] = []
        self.online_buffers: list[Tensor] = []
        self.target_buffers: list[Tensor] = []
        for i, (online, target) in enumerate(pairs):
            op, tp = list(online.parameters()), list(target.parameters())
            ob, tb = list(online.buffers()), list(target.buffers())
            if len(op) != len(tp) or any(a.shape != b.shape for a, b in zip(op, tp)):
                raise ValueError(
                    f"momentum_pairs()[{i}]: online and target modules have different "
                    "parameters; the target must be a copy of the online module"
                )
            if len(ob) != len(tb) or any(a.shape != b.shape for a, b in zip(ob, tb)):
                raise ValueError(f"momentum_pairs()[{i}]: online and target modules have different buffers")
            for p in tp:
                p.requires_grad_(False)
                p.grad = None
            self.online += [p.detach() for p in op]
            self.target += [p.detach() for p in tp]
            self.online_buffers += ob
            self.target_buffers += tb

    def __bool__(self) -> bool:
        return bool(self.target or self.target_buffers)

    def target_ids(self) -> set[int]:
        return {id(p) for p in self.target}

    @torch.no_grad()
    def update(self, momentum: float) -> None:
        if self.target:
            # lerp_(t, o, w) = t + w (o - t) = (1 - w) t + w o with w = 1 - m
            torch._foreach_lerp_(self.target, self.online, 1.0 - momentum)
        for t, o in zip(self.target_buffers, self.online_buffers):
            t.copy_(o)
