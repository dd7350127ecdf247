"""build_encoder: names, arguments, errors."""

from __future__ import annotations

import pytest
import torch

from tsssl.encoders import ENCODERS, CNNEncoder, DilatedEncoder, LSTMEncoder, TransformerEncoder, build_encoder


def test_registry_and_build_by_name():
    assert ENCODERS == {
        "lstm": LSTMEncoder,
        "cnn": CNNEncoder,
        "transformer": TransformerEncoder,
        "dilated": DilatedEncoder,
    }
    enc = build_encoder("lstm", 5, hidden=12, bidirectional=True)
    assert isinstance(enc, LSTMEncoder) and enc.out_dim == 24
    assert isinstance(build_encoder("CNN", 5, channels=8), CNNEncoder)
    enc = build_encoder("transformer", 5, d_model=8, heads=2)
    assert enc(torch.randn(2, 20, 5)).shape == (2, 8)


def test_unknown_name_and_argument_are_clear_errors():
    with pytest.raises(ValueError, match="unknown encoder 'gru'.*'lstm', 'cnn', 'transformer'"):
        build_encoder("gru", 5)
    with pytest.raises(ValueError, match="unknown argument.*d_model.*accepted: hidden"):
        build_encoder("lstm", 5, d_model=8)
