"""Argument checks and the float32 region shared by every loss.

Each check raises a ``ValueError`` that names the argument at fault and says what is accepted.
None of them reads tensor *values* (that would force a device sync on an accelerator); they
check ranks, shapes and Python-number hyper-parameters only.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor

# Device types on which ``torch.autocast`` can be entered (disabled) without a warning.
_AUTOCAST_DEVICES = {"cpu", "cuda", "xpu", "mps", "hpu", "xla"}


@contextmanager
def float32_region(x: Tensor) -> Iterator[None]:
    """Turn autocast off for ``x``'s device: a loss computes in float32 even under bf16/fp16."""
    if x.device.type in _AUTOCAST_DEVICES:
        with torch.autocast(device_type=x.device.type, enabled=False):
            yield
    else:  # pragma: no cover - exotic devices have no autocast to turn off
        yield


def check_tensor(name: str, x: object, ndim: int | tuple[int, ...], what: str) -> Tensor:
    """``x`` is a Tensor of rank ``ndim`` (one of them, if a tuple); ``what`` names its layout."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor {what}, got {type(x).__name__}")
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if x.ndim not in allowed:
        raise ValueError(f"{name} must be {what}, got shape {tuple(x.shape)}")
    return x


def check_nonempty(name: str, x: Tensor, what: str) -> None:
    if x.numel() == 0:
        raise ValueError(f"{name} must be a non-empty {what}, got shape {tuple(x.shape)}")


def check_same_shape(name_a: str, a: Tensor, name_b: str, b: Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{name_a} and {name_b} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")


def check_temperature(temperature: object, name: str = "temperature") -> None:
    """A positive finite number; a 0-dim Tensor (learnable temperature) is accepted unchecked."""
    if isinstance(temperature, Tensor):
        if temperature.ndim != 0:
            raise ValueError(
                f"{name} must be a positive number or a 0-dim Tensor, got shape {tuple(temperature.shape)}"
            )
        return
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise ValueError(f"{name} must be a positive number, got {temperature!r}")
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"{name} must be a positive finite number (> 0), got {temperature!r}")


def check_nonnegative(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a non-negative finite number (>= 0), got {value!r}")


def check_labels(labels: object, n: int, name: str = "labels", against: str = "embeddings") -> Tensor:
    """``labels`` is a 1-D Tensor with one entry per row of ``against`` (n rows)."""
    labels = check_tensor(name, labels, 1, f"a 1-D Tensor (B,) with one label per row of {against}")
    if labels.shape[0] != n:
        raise ValueError(f"{name} must have one entry per row of {against} ({n}), got {labels.shape[0]}")
    if labels.is_complex():
        raise ValueError(f"{name} must be integer, bool or real, got dtype {labels.dtype}")
    return labels


def as_float(*xs: Tensor) -> Tensor | tuple[Tensor, ...]:
    """The tensors in one dtype of at least float32.

    Half / bfloat16 / integer inputs become float32; if any input is float64 all become float64
    (so float64 references and gradient checks stay exact).
    """
    dtype = torch.float64 if any(x.dtype == torch.float64 for x in xs) else torch.float32
    out = tuple(x.to(dtype) for x in xs)
    return out[0] if len(out) == 1 else out
