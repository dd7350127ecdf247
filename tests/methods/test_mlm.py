"""Masked-LM (masking statistics: tests/augment/test_text.py): the loss on the chosen positions only, tied
output weights, and pre-training that learns to fill in words from their context."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tsssl.data.text import CLS_ID, PAD_ID
from tsssl.encoders.text import TextTransformerEncoder
from tsssl.methods.mlm import IGNORE, MaskedLM, bert_mask
from tsssl.train import Trainer


def small_encoder(vocab):
    return TextTransformerEncoder(vocab, d_model=32, heads=2, layers=1, dim_feedforward=64, max_len=16, dropout=0.0)


def test_step_is_cross_entropy_on_the_chosen_positions_with_tied_weights():
    torch.manual_seed(0)
    m = MaskedLM(small_encoder(30), 30)
    assert m.decoder.weight is m.encoder.token_embedding.weight
    ids = torch.randint(4, 30, (6, 10))
    torch.manual_seed(5)
    loss = m.training_step((ids,))
    torch.manual_seed(5)
    inputs, labels = bert_mask(ids, 30)
    logits = m.token_logits(inputs)
    assert torch.allclose(loss, F.cross_entropy(logits.reshape(-1, 30), labels.reshape(-1), ignore_index=IGNORE))
    with pytest.raises(ValueError, match="tie_weights"):
        MaskedLM(small_encoder(30), 31)


def counting_language(n, vocab_words=20, seed=0):
    """Sentences [CLS] w_s w_{s+k} w_{s+2k} ... (ids mod vocab_words, k in 1..3 per sentence,
    6 to 14 words, then padding): each word follows from its neighbours, not from its frequency."""
    rng = np.random.default_rng(seed)
    start, step = rng.integers(vocab_words, size=(n, 1)), rng.integers(1, 4, size=(n, 1))
    words = 4 + (start + step * np.arange(14)) % vocab_words
    lengths = rng.integers(6, 15, size=n)
    words[np.arange(14)[None, :] >= lengths[:, None]] = PAD_ID
    return torch.from_numpy(np.concatenate([np.full((n, 1), CLS_ID), words], axis=1))


def test_mlm_learns_to_fill_in_words_from_context():
    train, test = counting_language(3000, seed=0), counting_language(500, seed=1)
    torch.manual_seed(0)
    m = MaskedLM(small_encoder(24), 24)
    initial = copy.deepcopy(m)
    result = Trainer(max_steps=300, batch_size=128, lr=3e-3, seed=0, device="cpu", log_every=30, progress=False).fit(
        m, train
    )
    losses = [h["loss"] for h in result.history]
    assert np.mean(losses[-2:]) < 0.7 * losses[0], losses
    print(m.masked_accuracy(test), initial.masked_accuracy(test))
    acc, acc0 = m.masked_accuracy(test), initial.masked_accuracy(test)
    assert acc > 0.6 and acc > acc0 + 0.5, (acc, acc0)  # a frequency guess gets ~1/20


def test_pair_task_step_adds_the_pair_cross_entropy_of_the_first_cls():
    torch.manual_seed(0)
    m = MaskedLM(small_encoder(30), 30, pair_task="sop")
    ids = torch.randint(4, 30, (6, 10))
    ids[:, 0] = ids[:, 5] = CLS_ID
    label = torch.tensor([1, 0, 1, 1, 0, 0])
    torch.manual_seed(5)
    loss = m.training_step((ids, label))
    torch.manual_seed(5)
    inputs, labels = bert_mask(ids, 30)
    h = m.encoder(inputs, return_sequence=True)
    mlm = F.cross_entropy(m.decoder(m.transform(h)).reshape(-1, 30), labels.reshape(-1), ignore_index=IGNORE)
    pair = F.cross_entropy(m.pair_head(h[:, 0]), label)
    assert torch.allclose(loss, mlm + pair)
    with pytest.raises(ValueError, match="pair label"):
        m.training_step((ids,))
    with pytest.raises(ValueError, match="none, nsp, sop"):
        MaskedLM(small_encoder(30), 30, pair_task="rtd")


def test_sop_learns_the_order_of_two_segments():
    """[CLS] first half [CLS] second half of a counting sentence, or the halves swapped: the order
    shows in the arithmetic across the boundary only."""
    from tsssl.data.text_pairs import pack_pairs

    def pairs(n, seed):
        words = counting_language(n, seed=seed)[:, 1:7]  # every sentence has at least 6 words
        a, b = words[:, :3], words[:, 3:]
        swap = torch.from_numpy(np.random.default_rng(seed).random(n) < 0.5)
        first, second = torch.where(swap[:, None], b, a), torch.where(swap[:, None], a, b)
        return pack_pairs(first, second, 8), (~swap).long()

    (x, y), (x_test, y_test) = pairs(3000, 0), pairs(500, 1)
    torch.manual_seed(0)
    m = MaskedLM(small_encoder(24), 24, pair_task="sop")
    initial = copy.deepcopy(m)
    Trainer(max_steps=60, batch_size=128, lr=3e-3, seed=0, device="cpu", log_every=20, progress=False).fit(m, (x, y))
    acc, acc0 = m.pair_accuracy(x_test, y_test), initial.pair_accuracy(x_test, y_test)
    assert acc > 0.8 and acc > acc0 + 0.25, (acc, acc0)
