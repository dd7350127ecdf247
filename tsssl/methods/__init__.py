"""Self-supervised and supervised methods: each names its encoder(s), heads, views and loss and
implements ``training_step(batch) -> loss`` for the one Trainer.

Windows: ``SiamCL``, ``CPC``, ``SimCLR``, ``MoCo``, ``BYOL``, ``SimSiam``, ``BarlowTwins``,
``SupervisedBaseline``; by name: ``METHODS`` and ``build_method``.
"""
from __future__ import annotations

from .barlow import BarlowTwins
from .base import Method
from .byol import BYOL
from .cpc import CPC, CPCContextEncoder
from .moco import MoCo
from .registry import METHODS, StandardizedEncoder, build_method, channel_stats
from .siamcl import SiamCL
from .simclr import SimCLR
from .simsiam import SimSiam
from .supervised import SupervisedBaseline

__all__ = [
    "Method", "METHODS", "build_method", "channel_stats", "StandardizedEncoder",
    "SiamCL", "CPC", "CPCContextEncoder", "SimCLR", "MoCo", "BYOL", "SimSiam", "BarlowTwins",
    "SupervisedBaseline",
]
