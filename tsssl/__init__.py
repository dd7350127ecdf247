"""tsssl: self-supervised and contrastive learning on financial time series.

The public API (see README): ``tsssl.data``, ``tsssl.augment``, ``tsssl.encoders``,
``tsssl.losses``, ``tsssl.methods``, ``tsssl.evaluate``, ``tsssl.Trainer`` and
``tsssl.TSSSLEncoder``. Submodules load on first use so that ``import tsssl`` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = {"data", "augment", "encoders", "losses", "methods", "train", "evaluate", "sklearn"}
_ATTRIBUTES = {
    "Trainer": "tsssl.train",
    "TSSSLEncoder": "tsssl.sklearn",
    "WindowSet": "tsssl.data",
}

__all__ = sorted(_SUBMODULES | set(_ATTRIBUTES) | {"__version__"})


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return import_module(f"tsssl.{name}")
    if name in _ATTRIBUTES:
        return getattr(import_module(_ATTRIBUTES[name]), name)
    raise AttributeError(f"module 'tsssl' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
