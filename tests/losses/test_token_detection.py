"""ELECTRA's replaced-token labels and discriminator loss against a naive reference."""

import math

import pytest
import torch

from tsssl.losses import replaced_token_detection, replaced_token_labels


def test_a_sample_equal_to_the_original_is_labelled_original():
    original = torch.tensor([[3, 10, 11, 12, 0], [3, 20, 21, 0, 0]])
    # position (0, 1) "replaced" by the generator with the same word 10; (0, 2) and (1, 2) changed
    corrupted = torch.tensor([[3, 10, 15, 12, 0], [3, 20, 22, 0, 0]])
    assert replaced_token_labels(original, corrupted).tolist() == [
        [False, False, True, False, False],
        [False, False, True, False, False],
    ]


def test_detection_loss_matches_a_naive_reference():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 6, generator=g) * 3
    replaced = torch.rand(3, 6, generator=g) < 0.3
    keep = torch.rand(3, 6, generator=g) < 0.8
    total, n = 0.0, 0
    for b in range(3):
        for t in range(6):
            if keep[b, t]:
                p = 1 / (1 + math.exp(-float(logits[b, t])))
                total += -math.log(p) if replaced[b, t] else -math.log(1 - p)
                n += 1
    assert replaced_token_detection(logits, replaced, keep).item() == pytest.approx(total / n, rel=1e-5)


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="same shape"):
        replaced_token_detection(torch.zeros(2, 3), torch.zeros(2, 4, dtype=torch.bool), torch.ones(2, 3).bool())
    with pytest.raises(ValueError, match="at least one token"):
        replaced_token_detection(torch.zeros(2, 3), torch.zeros(2, 3).bool(), torch.zeros(2, 3).bool())
