"""word2vec: skip-gram and CBOW steps are logistic NCE against unigram^0.75 noise; trained on
the Python help topics, related words end up closer than the same words re-paired."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tsssl.data.text import (
    RELATED_WORD_PAIRS,
    Tokenizer,
    load_pydoc_corpus,
    noise_distribution,
    word2vec_data,
)
from tsssl.evaluate.embedding import nearest_words, related_vs_random
from tsssl.methods.word2vec import Word2Vec
from tsssl.train import Trainer


def test_skipgram_step_is_negative_sampling():
    torch.manual_seed(0)
    noise = torch.tensor([0, 0, 0, 0, 0.5, 0.2, 0.2, 0.1])
    m = Word2Vec(8, noise, dim=3, n_negatives=4)
    with torch.no_grad():
        m.output.weight.normal_()
    center, context = torch.tensor([4, 5, 6]), torch.tensor([5, 7, 4])
    torch.manual_seed(1)
    loss = m.training_step((center, context))
    torch.manual_seed(1)
    neg = torch.multinomial(noise / noise.sum(), 12, replacement=True).view(3, 4)
    h, u = m.encoder.embedding.weight[center], m.output.weight
    ref = (-F.logsigmoid((h * u[context]).sum(-1)).sum() - F.logsigmoid(-(h[:, None] * u[neg]).sum(-1)).sum()) / 3
    assert torch.allclose(loss, ref, atol=1e-6)
    assert set(neg.flatten().tolist()) <= {4, 5, 6, 7}  # never a special token


def test_cbow_averages_the_context_without_padding():
    torch.manual_seed(0)
    m = Word2Vec(8, torch.ones(8), dim=3, mode="cbow")
    ctx = torch.tensor([[4, 5, 0, 0], [6, 0, 0, 7]])
    w = m.encoder.embedding.weight
    assert torch.allclose(m.encoder(ctx), torch.stack([(w[4] + w[5]) / 2, (w[6] + w[7]) / 2]))
    assert torch.isfinite(m.training_step((ctx, torch.tensor([6, 4]))))
    with pytest.raises(ValueError, match="mode"):
        Word2Vec(8, torch.ones(8), mode="glove")
    with pytest.raises(ValueError, match="noise"):
        Word2Vec(8, torch.ones(5))


@pytest.fixture(scope="module")
def corpus_and_vocab():
    corpus = load_pydoc_corpus()
    tok = Tokenizer.from_texts(corpus.sentences, min_count=5)
    pairs = np.array(
        [(tok.vocab.id(a), tok.vocab.id(b)) for a, b in RELATED_WORD_PAIRS if a in tok.vocab and b in tok.vocab]
    )
    return corpus, tok, pairs


@pytest.mark.parametrize("mode,steps,batch", [("skipgram", 400, 1024), ("cbow", 400, 512)])
def test_word2vec_puts_related_words_closer(mode, steps, batch, corpus_and_vocab):
    corpus, tok, pairs = corpus_and_vocab
    assert len(pairs) >= 18
    data = word2vec_data(tok, corpus.sentences, mode=mode, window=5, seed=0)
    torch.manual_seed(0)
    m = Word2Vec(len(tok), noise_distribution(tok.vocab.counts), dim=64, mode=mode)
    initial = copy.deepcopy(m)
    result = Trainer(
        max_steps=steps, batch_size=batch, lr=1e-2, weight_decay=0.0, seed=0, device="cpu", log_every=25, progress=False
    ).fit(m, data)
    losses = [h["loss"] for h in result.history]
    assert np.mean(losses[-2:]) < 0.8 * losses[0], losses
    trained = related_vs_random(m.encoder.vectors.numpy(), pairs)
    random = related_vs_random(initial.encoder.vectors.numpy(), pairs)
    assert trained["auc"] > 0.85 and trained["auc"] > random["auc"] + 0.2, (trained, random)
    near = nearest_words(m.encoder.vectors.numpy(), tok.vocab, ["int"], k=5)["int"]
    assert "float" in [w for w, _ in near], near
