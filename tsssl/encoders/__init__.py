"""Encoders ((B, T, C) windows -> (B, D), or per-step (B, T, D)) and MLP heads.

Time series: ``LSTMEncoder``, ``CNNEncoder``, ``TransformerEncoder``, ``DilatedEncoder``, built by
name with ``build_encoder``; heads: ``ProjectionHead``, ``PredictionHead``, ``ClassifierHead``.
"""

from __future__ import annotations

from .base import SequenceEncoder
from .cnn import CNNEncoder
from .dilated import DilatedEncoder
from .factory import ENCODERS, build_encoder
from .heads import ClassifierHead, PredictionHead, ProjectionHead
from .lstm import LSTMEncoder
from .transformer import TransformerEncoder
