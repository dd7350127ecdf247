"""Text encoders: padding masked out of attention and pooling, pooling modes, bad input."""

import pytest
import torch

from tsssl.encoders.text import BagOfEmbeddings, TextTransformerEncoder, masked_mean


def test_padding_does_not_change_the_sentence_vector():
    torch.manual_seed(0)
    enc = TextTransformerEncoder(50, d_model=16, heads=2, layers=2, dim_feedforward=32, max_len=12).eval()
    ids = torch.tensor([[3, 7, 9, 11, 0, 0], [5, 6, 0, 0, 0, 0]])
    longer = torch.cat([ids, torch.zeros(2, 6, dtype=torch.long)], dim=1)
    assert torch.allclose(enc(ids), enc(longer), atol=1e-5)
    seq = enc(ids, return_sequence=True)
    assert seq.shape == (2, 6, 16)
    assert torch.allclose(enc(ids)[1], seq[1, :2].mean(0), atol=1e-6)  # mean over the real tokens only


def test_cls_pooling_and_a_padding_only_row():
    torch.manual_seed(0)
    enc = TextTransformerEncoder(20, d_model=8, heads=2, layers=1, dim_feedforward=16, max_len=8, pooling="cls").eval()
    ids = torch.tensor([[3, 4, 5, 0], [0, 0, 0, 0]])
    out = enc(ids)
    assert torch.allclose(out[0], enc(ids, return_sequence=True)[0, 0])
    assert torch.isfinite(out).all()


def test_dropout_makes_two_passes_differ_in_training_mode_only():
    torch.manual_seed(0)
    enc = TextTransformerEncoder(20, d_model=8, heads=2, layers=1, dim_feedforward=16, max_len=8, dropout=0.3)
    ids = torch.randint(4, 20, (3, 5))
    assert not torch.allclose(enc(ids), enc(ids))
    enc.eval()
    assert torch.equal(enc(ids), enc(ids))


def test_text_encoder_rejects_bad_input():
    enc = TextTransformerEncoder(20, d_model=8, heads=2, layers=1, dim_feedforward=16, max_len=4)
    with pytest.raises(ValueError, match="int64"):
        enc(torch.rand(2, 3))
    with pytest.raises(ValueError, match="max_len=4"):
        enc(torch.ones(2, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="divisible"):
        TextTransformerEncoder(20, d_model=10, heads=3)
    with pytest.raises(ValueError, match="pooling"):
        TextTransformerEncoder(20, d_model=8, heads=2, pooling="max")


def test_bag_of_embeddings_is_the_mean_word_vector():
    torch.manual_seed(0)
    enc = BagOfEmbeddings(10, dim=4)
    ids = torch.tensor([[4, 5, 6, 0], [7, 0, 0, 0]])
    w = enc.embedding.weight
    assert torch.allclose(enc(ids)[0], (w[4] + w[5] + w[6]) / 3)
    assert torch.allclose(enc(ids)[1], w[7])
    assert torch.equal(masked_mean(torch.ones(1, 3, 2), torch.zeros(1, 3, dtype=torch.bool)), torch.zeros(1, 2))
