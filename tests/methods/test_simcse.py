"""SimCSE: the step is InfoNCE between two dropout passes of the same sentences (in-batch
negatives), an encoder without dropout is refused, and training on the Python help topics
lowers the loss and gives sentence embeddings whose topic k-NN beats the untrained encoder."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tsssl.data.text import Tokenizer, load_pydoc_corpus, topic_split
from tsssl.encoders.text import BagOfEmbeddings, TextTransformerEncoder
from tsssl.evaluate import embed
from tsssl.evaluate.embedding import knn_accuracy
from tsssl.methods.simcse import SimCSE
from tsssl.train import Trainer


def small_encoder(vocab, max_len=16, dropout=0.1):
    return TextTransformerEncoder(
        vocab, d_model=32, heads=2, layers=1, dim_feedforward=64, max_len=max_len, dropout=dropout
    )


def test_step_is_info_nce_between_two_dropout_views():
    torch.manual_seed(0)
    m = SimCSE(small_encoder(30), temperature=0.05)
    ids = torch.randint(4, 30, (6, 10))
    torch.manual_seed(3)
    loss = m.training_step((ids,))
    torch.manual_seed(3)  # the same dropout masks
    z1, z2 = m.projector(m.encoder(torch.cat([ids, ids]))).chunk(2)
    assert not torch.allclose(z1, z2)  # dropout: two different views of each sentence
    # written out: row i's positive is its own second view, the other sentences are negatives
    logits = F.normalize(z1, dim=1) @ F.normalize(z2, dim=1).T / 0.05
    ref = torch.stack([-(logits[i, i] - torch.logsumexp(logits[i], 0)) for i in range(6)]).mean()
    assert torch.allclose(loss, ref, atol=1e-5)
    m.eval()  # without dropout the two views coincide
    e1, e2 = m.projector(m.encoder(torch.cat([ids, ids]))).chunk(2)
    assert torch.allclose(e1, e2, atol=1e-6)


def test_encoder_without_dropout_is_refused():
    with pytest.raises(ValueError, match="dropout"):
        SimCSE(small_encoder(30, dropout=0.0))
    with pytest.raises(ValueError, match="dropout"):
        SimCSE(BagOfEmbeddings(30, 8))


def test_simcse_on_help_topics_lowers_its_loss_and_beats_the_random_encoder():
    train, test = topic_split(load_pydoc_corpus(), test_frac=0.25, min_per_topic=30, seed=0)
    tok = Tokenizer.from_texts(train.sentences, min_count=2)
    ids_train, ids_test = tok(train.sentences, max_len=24), tok(test.sentences, max_len=24)
    torch.manual_seed(0)
    m = SimCSE(small_encoder(len(tok), max_len=24))
    initial = copy.deepcopy(m.encoder)
    result = Trainer(
        max_steps=120, batch_size=128, lr=3e-3, weight_decay=1e-2, seed=0, device="cpu", log_every=10, progress=False
    ).fit(m, ids_train)
    losses = [h["loss"] for h in result.history]
    assert np.mean(losses[-2:]) < 0.7 * losses[0], losses

    def knn(enc):
        return knn_accuracy(embed(enc, ids_train), train.topic, embed(enc, ids_test), test.topic)

    acc, acc0 = knn(m.encoder), knn(initial)
    print(losses[0], losses[-1], acc, acc0)
    assert acc > acc0 + 0.03, (acc, acc0)
