"""ELECTRA: the step is generator MLM + 50 x the discriminator's BCE (naive reference), a sample
equal to the original token counts as original, no gradient flows through the sampling, and
training teaches the discriminator to spot replaced tokens."""

import copy
import math

import numpy as np
import torch

from tsssl.data.text import CLS_ID, PAD_ID
from tsssl.encoders.text import TextTransformerEncoder
from tsssl.methods.electra import Electra
from tsssl.methods.mlm import IGNORE, MaskedLM, bert_mask
from tsssl.train import Trainer


def electra(vocab, **kw):
    def enc(d, heads):
        return TextTransformerEncoder(
            vocab, d_model=d, heads=heads, layers=1, dim_feedforward=2 * d, max_len=16, dropout=0.0
        )

    return Electra(enc(32, 2), MaskedLM(enc(16, 1), vocab), vocab, **kw)


def test_step_is_generator_mlm_plus_weighted_naive_bce():
    torch.manual_seed(0)
    m = electra(30)
    ids = torch.randint(4, 30, (6, 10))
    ids[:, 0], ids[:3, 7:] = CLS_ID, PAD_ID
    torch.manual_seed(5)
    loss = m.training_step((ids,))
    torch.manual_seed(5)
    corrupted, gen_loss, chosen = m.corrupt(ids)
    assert ((corrupted != ids) <= chosen).all()  # only chosen positions change
    s = m.discriminator_logits(corrupted).detach()
    terms = []
    for b in range(6):
        for t in range(10):
            if ids[b, t] != PAD_ID:
                p = 1 / (1 + math.exp(-float(s[b, t])))
                terms.append(-math.log(p) if corrupted[b, t] != ids[b, t] else -math.log(1 - p))
    assert math.isclose(loss.item(), gen_loss.item() + 50 * np.mean(terms), rel_tol=1e-5)


def test_a_sample_equal_to_the_original_is_not_replaced():
    # one word (id 4) in the vocabulary: the generator can only draw the original token back
    torch.manual_seed(0)
    m = electra(5)
    ids = torch.full((4, 8), 4)
    ids[:, 0] = CLS_ID
    corrupted, _, chosen = m.corrupt(ids)
    assert chosen.any() and torch.equal(corrupted, ids)
    acc = m.detection_accuracy(ids, corrupted)
    assert math.isnan(acc["replaced"]) and 0.0 <= acc["original"] <= 1.0  # nothing counts as replaced


def test_no_gradient_flows_through_the_sampling():
    torch.manual_seed(0)
    m = electra(30)
    ids = torch.randint(4, 30, (8, 12))
    torch.manual_seed(3)
    m.training_step((ids,)).backward()
    full = [p.grad.clone() for p in m.generator.parameters()]
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.encoder.parameters())
    m.zero_grad()
    torch.manual_seed(3)
    m.corrupt(ids)[1].backward()  # the generator's own MLM loss alone
    for g_full, p in zip(full, m.generator.parameters()):
        assert torch.allclose(g_full, p.grad, atol=1e-6)


def repeated_word_language(n, seed=0):
    """Sentences [CLS] w w w ... (one of 20 words repeated 6 to 14 times, then padding): a
    replaced token is the one that differs from the rest of its sentence."""
    rng = np.random.default_rng(seed)
    words = 4 + rng.integers(20, size=(n, 1)) + np.zeros((1, 14), dtype=np.int64)
    words[np.arange(14)[None, :] >= rng.integers(6, 15, size=(n, 1))] = PAD_ID
    return torch.from_numpy(np.concatenate([np.full((n, 1), CLS_ID), words], axis=1))


def test_training_teaches_the_discriminator_to_spot_replaced_tokens():
    train, test = repeated_word_language(2000, seed=0), repeated_word_language(400, seed=1)
    g = torch.Generator().manual_seed(0)  # held-out corruption: 15% of the words -> random words
    _, labels = bert_mask(test, 24, 0.15, generator=g)
    corrupted = torch.where(labels != IGNORE, torch.randint(4, 24, test.shape, generator=g), test)
    torch.manual_seed(0)
    m = electra(24)
    initial = copy.deepcopy(m)
    result = Trainer(max_steps=100, batch_size=128, lr=3e-3, seed=0, device="cpu", log_every=10, progress=False).fit(
        m, train
    )
    losses = [h["loss"] for h in result.history]
    assert np.mean(losses[-2:]) < 0.6 * losses[0], losses
    acc, acc0 = m.detection_accuracy(test, corrupted), initial.detection_accuracy(test, corrupted)
    assert acc["auc"] > 0.85 and acc["auc"] > acc0["auc"] + 0.3, (acc, acc0)
