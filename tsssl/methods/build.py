"""``build_method``: a window method by its registry name (``tsssl.registry``), around an encoder.

method = build_method("siamcl", in_channels=5, encoder="lstm", encoder_kwargs={"hidden": 32})
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from tsssl import registry
from tsssl.methods.base import Method


class _WindowMethods(Mapping[str, type]):
    """Read-only view: name -> class of the methods that run on price windows (the registry's
    ``timeseries`` methods; each class is imported on first access)."""

    def __getitem__(self, name: str) -> type:
        if name not in registry.names("timeseries"):
            raise KeyError(name)
        return registry.method_class(name)

    def __iter__(self):
        return iter(registry.names("timeseries"))

    def __len__(self) -> int:
        return len(registry.names("timeseries"))


#: name -> class of every window method (derived from ``tsssl.registry.METHODS``)
METHODS: Mapping[str, type] = _WindowMethods()


class StandardizedEncoder(nn.Module):
    """``encoder((x - mean) / std)``: per-channel standardisation of the input (B, T, C) with
    statistics fitted on the training windows, kept as buffers so that the frozen encoder and
    its checkpoint carry them. Raw scale-free features are tiny (daily log returns ~0.01),
    which leaves a fresh LSTM's input weights nearly idle; standardised inputs train faster.
    """

    def __init__(self, encoder: nn.Module, mean: Any, std: Any) -> None:
        super().__init__()
        mean_t = torch.as_tensor(np.asarray(mean, dtype=np.float32)).flatten()
        std_t = torch.as_tensor(np.asarray(std, dtype=np.float32)).flatten()
        if mean_t.shape != std_t.shape:
            raise ValueError(
                f"mean and std must have one value per channel, got {tuple(mean_t.shape)} and {tuple(std_t.shape)}"
            )
        self.encoder = encoder
        self.register_buffer("mean", mean_t)
        # a constant channel (std 0) is only centred
        self.register_buffer("std", torch.where(std_t > 0, std_t, torch.ones_like(std_t)))
        self.out_dim = encoder.out_dim
        for name in ("in_channels", "causal", "bidirectional"):  # CPC checks these
            if hasattr(encoder, name):
                setattr(self, name, getattr(encoder, name))

    def forward(self, x: Tensor, **kwargs: Any) -> Tensor:
        return self.encoder((x - self.mean.to(x.dtype)) / self.std.to(x.dtype), **kwargs)


def channel_stats(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of windows X (N, T, C) over windows and days, in float64; NaN
    (missing steps of NaN-padded series) left out.

    Windows held as views (``WindowViews``) are gathered in blocks and the blocks' means and
    sums of squared deviations combined (Chan et al.'s pairwise update), never materialised.
    """
    if getattr(type(X), "is_window_views", False):
        return _blockwise_stats(X)
    X = np.asarray(X)
    if X.ndim != 3 or len(X) == 0:
        raise ValueError(f"channel_stats needs windows (N, T, C) with N > 0, got shape {X.shape}")
    flat = X.reshape(-1, X.shape[2]).astype(np.float64)
    if np.isnan(flat).any():  # missing (NaN-padded) steps are left out, never counted as zeros
        return np.nanmean(flat, axis=0), np.nanstd(flat, axis=0)
    return flat.mean(axis=0), flat.std(axis=0)


def _blockwise_stats(views: Any, block: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    """channel_stats of views (N, T, C), one block of windows at a time."""
    if len(views) == 0:
        raise ValueError(f"channel_stats needs windows (N, T, C) with N > 0, got shape {views.shape}")
    count, mean, m2 = 0, np.zeros(views.shape[2]), np.zeros(views.shape[2])
    for part in views.blocks(block):
        flat = part.reshape(-1, part.shape[2]).astype(np.float64)
        n_b, mean_b = len(flat), flat.mean(axis=0)
        m2_b = np.square(flat - mean_b).sum(axis=0)
        delta, total = mean_b - mean, count + n_b
        mean = mean + delta * (n_b / total)
        m2 = m2 + m2_b + delta * delta * (count * n_b / total)
        count = total
    return mean, np.sqrt(m2 / count)


def _accepted(cls: Any, skip: tuple[str, ...]) -> list[str]:
    return [p for p in inspect.signature(cls).parameters if p not in skip and p != "self"]


def _check_kwargs(what: str, cls: Any, kwargs: Mapping[str, Any], skip: tuple[str, ...]) -> None:
    params = inspect.signature(cls).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    unknown = sorted(set(kwargs) - set(_accepted(cls, skip)))
    if unknown:
        raise ValueError(
            f"{what} does not take {', '.join(map(repr, unknown))}; accepted: " + ", ".join(_accepted(cls, skip))
        )


def build_method(
    name: str,
    in_channels: int,
    encoder: str | nn.Module = "lstm",
    encoder_kwargs: Mapping[str, Any] | None = None,
    standardize: tuple[Sequence[float], Sequence[float]] | None = None,
    **method_kwargs: Any,
) -> Method:
    """The window method ``name`` (see ``tsssl.registry``) around an encoder for ``in_channels`` features.

    encoder: a name for ``tsssl.encoders.build_encoder`` ("lstm", "cnn", "transformer") built
    with ``encoder_kwargs``, or a ready nn.Module (with ``out_dim``). standardize: optional
    per-channel (mean, std) of the training windows (``channel_stats(X_train)``); the encoder
    is then wrapped in a :class:`StandardizedEncoder`. method_kwargs go to the method's
    constructor (``views``, ``temperature``, ``class_weight``, ...).
    """
    cls = registry.get(name, "timeseries").method_class()
    _check_kwargs(f"method {name!r} ({cls.__name__})", cls, method_kwargs, skip=("encoder",))
    if isinstance(encoder, str):
        from tsssl.encoders import build_encoder

        enc_kwargs = dict(encoder_kwargs or {})
        if getattr(cls, "causal_encoder", False) and encoder in ("cnn", "transformer"):
            enc_kwargs.setdefault("causal", True)  # e.g. CPC: z_t must not see the steps it predicts
        try:
            enc = build_encoder(encoder, in_channels, **enc_kwargs)
        except TypeError as err:  # an unknown size argument: say which are accepted
            raise ValueError(f"encoder {encoder!r}: {err}") from None
    elif isinstance(encoder, nn.Module):
        if encoder_kwargs:
            raise ValueError("encoder_kwargs apply to an encoder given by name, not to a module")
        enc = encoder
    else:
        raise ValueError(f"encoder must be a name or an nn.Module, got {type(encoder).__name__}")
    if not isinstance(getattr(enc, "out_dim", None), int):
        raise ValueError(f"encoder {type(enc).__name__} has no integer out_dim attribute")
    if standardize is not None:
        mean, std = standardize
        if len(mean) != in_channels:
            raise ValueError(f"standardize has {len(mean)} channel means but in_channels={in_channels}")
        enc = StandardizedEncoder(enc, mean, std)
    return cls(enc, **method_kwargs)
