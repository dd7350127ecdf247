"""Build a window encoder by name (for configs and the CLI); the names are ``tsssl.registry.ENCODERS``."""

from __future__ import annotations

import inspect
from typing import Any

from torch import nn

from tsssl import registry

#: name -> class of the window encoders
ENCODERS: dict[str, type[nn.Module]] = {n: registry.encoder_class(n) for n in registry.ENCODERS}


def build_encoder(name: str, in_channels: int, **kwargs: Any) -> nn.Module:
    """``build_encoder("lstm", 5, hidden=32)`` -> ``LSTMEncoder(5, hidden=32)``.

    Unknown names and unknown keyword arguments raise a ValueError listing what is accepted.
    """
    key = name.lower() if isinstance(name, str) else name
    if key not in ENCODERS:
        raise ValueError(f"unknown encoder {name!r}; accepted: {', '.join(map(repr, ENCODERS))}")
    cls = ENCODERS[key]
    params = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "in_channels")]
    unknown = sorted(set(kwargs) - set(params))
    if unknown:
        raise ValueError(
            f"encoder {key!r} ({cls.__name__}) got unknown argument(s) {', '.join(unknown)}; "
            f"accepted: {', '.join(params)}"
        )
    return cls(in_channels, **kwargs)
