"""Window methods by name, and ``build_method`` to make one with its encoder.

    method = build_method("siamcl", in_channels=5, encoder="lstm", encoder_kwargs={"hidden": 32})
"""
from __future__ import annotations

import inspect
from typing import Any, Mapping, Optional, Union

from torch import nn

from tsssl.methods.barlow import BarlowTwins
from tsssl.methods.base import Method
from tsssl.methods.byol import BYOL
from tsssl.methods.cpc import CPC
from tsssl.methods.moco import MoCo
from tsssl.methods.siamcl import SiamCL
from tsssl.methods.simclr import SimCLR
from tsssl.methods.simsiam import SimSiam
from tsssl.methods.supervised import SupervisedBaseline

METHODS: dict[str, type[Method]] = {
    "siamcl": SiamCL,
    "cpc": CPC,
    "simclr": SimCLR,
    "moco": MoCo,
    "byol": BYOL,
    "simsiam": SimSiam,
    "barlow": BarlowTwins,
    "lstm": SupervisedBaseline,
}


def _accepted(cls: Any, skip: tuple[str, ...]) -> list[str]:
    return [p for p in inspect.signature(cls).parameters if p not in skip and p != "self"]


def _check_kwargs(what: str, cls: Any, kwargs: Mapping[str, Any], skip: tuple[str, ...]) -> None:
    params = inspect.signature(cls).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    unknown = sorted(set(kwargs) - set(_accepted(cls, skip)))
    if unknown:
        raise ValueError(
            f"{what} does not take {', '.join(map(repr, unknown))}; accepted: "
            + ", ".join(_accepted(cls, skip))
        )


def build_method(name: str, in_channels: int, encoder: Union[str, nn.Module] = "lstm",
                 encoder_kwargs: Optional[Mapping[str, Any]] = None, **method_kwargs: Any) -> Method:
    """The method ``name`` (a key of METHODS) around an encoder for ``in_channels`` features.

    encoder: a name for ``tsssl.encoders.build_encoder`` ("lstm", "cnn", "transformer") built
    with ``encoder_kwargs``, or a ready nn.Module (with ``out_dim``). method_kwargs go to the
    method's constructor (``views``, ``temperature``, ``class_weight``, ...).
    """
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; accepted: {', '.join(METHODS)}")
    cls = METHODS[name]
    _check_kwargs(f"method {name!r} ({cls.__name__})", cls, method_kwargs, skip=("encoder",))
    if isinstance(encoder, str):
        from tsssl.encoders import build_encoder

        try:
            enc = build_encoder(encoder, in_channels, **dict(encoder_kwargs or {}))
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
    return cls(enc, **method_kwargs)
