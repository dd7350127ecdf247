"""Tokenizer, corpus, word2vec's sub-sampling and training pairs, window descriptions:
against naive references and the statistics they promise."""

import numpy as np
import pytest
import torch

from tsssl.data.text import (
    CLS_ID,
    PAD_ID,
    RELATED_WORD_PAIRS,
    SPECIAL_TOKENS,
    TREND_PHRASES,
    UNK_ID,
    Tokenizer,
    Vocabulary,
    cbow_examples,
    describe_returns,
    keep_probability,
    load_pydoc_corpus,
    noise_distribution,
    pad_sequences,
    skipgram_pairs,
    split_sentences,
    subsample,
    token_stream,
    tokenize,
    topic_split,
    word2vec_data,
)


def test_tokenize_lowercases_words_and_numbers():
    assert tokenize("Lists (see list())! It's 3.14 __init__ x_y") == [
        "lists",
        "see",
        "list",
        "it's",
        "3",
        "14",
        "init",
        "x_y",
    ]


def test_vocabulary_specials_min_count_and_order():
    v = Vocabulary.build([["b", "a", "b"], ["c", "b", "a", "d"]], min_count=2)
    assert v.itos == list(SPECIAL_TOKENS) + ["b", "a"]
    assert v.counts.tolist() == [0, 0, 0, 0, 3, 2]
    assert v.encode(["a", "zzz", "b"]).tolist() == [5, UNK_ID, 4]
    assert v.decode([4, 5]) == ["b", "a"] and "a" in v and "c" not in v
    with pytest.raises(ValueError, match="min_count"):
        Vocabulary.build([["a"]], min_count=2)
    with pytest.raises(ValueError, match="special"):
        Vocabulary(["[PAD]"])


def test_tokenizer_pads_truncates_and_prefixes_cls():
    tok = Tokenizer.from_texts(["the cat sat", "the dog sat down"], min_count=1)
    ids = tok(["the cat sat", "dog unknownword"], max_len=5, add_cls=True)
    the, cat, sat, dog = (tok.vocab.id(w) for w in ("the", "cat", "sat", "dog"))
    assert ids.tolist() == [[CLS_ID, the, cat, sat, PAD_ID], [CLS_ID, dog, UNK_ID, PAD_ID, PAD_ID]]
    assert tok(["the cat sat down"], max_len=2).tolist() == [[the, cat]]
    with pytest.raises(ValueError, match="list of texts"):
        tok("the cat")


def test_pad_sequences_matches_a_loop():
    rng = np.random.default_rng(0)
    seqs = [rng.integers(1, 9, size=n).tolist() for n in (0, 3, 7, 5)]
    out = pad_sequences(seqs, max_len=5)
    ref = torch.zeros(4, 5, dtype=torch.long)
    for i, s in enumerate(seqs):
        s = s[:5]
        ref[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    assert torch.equal(out, ref)


def test_pydoc_corpus_sentences_topics_and_split():
    c = load_pydoc_corpus()
    assert len(c) > 2500 and len(c.topic) == len(c)
    assert c.source == "pydoc_data.topics" and "lambda" in c.topic_names
    assert all(len(tokenize(s)) >= 3 for s in c.sentences[:500])
    lam = [s for s, t in zip(c.sentences, c.topic) if c.topic_names[t] == "lambda"]
    assert any("anonymous functions" in s for s in lam)
    train, test = topic_split(c, test_frac=0.25, min_per_topic=30, seed=0)
    assert set(np.unique(train.topic)) == set(np.unique(test.topic))
    assert np.bincount(c.topic)[np.unique(train.topic)].min() >= 30
    assert len(set(c.sentences)) == len(c)  # topics share passages: each sentence kept once
    assert not set(train.sentences) & set(test.sentences)
    assert len(RELATED_WORD_PAIRS) == 20


def test_split_sentences_drops_tables_and_headings():
    text = "Title\n*****\n\nFirst one here. Second one here!\n+----+\n| a | b |\n\nToo short."
    assert split_sentences(text) == ["First one here.", "Second one here!"]


def test_keep_probability_is_the_reference_formula():
    counts = np.array([0, 0, 0, 0, 500, 100, 10, 1])
    t = 1e-2
    f = counts[4:] / counts.sum()
    ref = np.minimum(1.0, (np.sqrt(f / t) + 1) * t / f)
    p = keep_probability(counts, t)
    assert np.allclose(p[4:], ref) and (p[:4] == 0).all()
    assert p[4] < p[5] < p[6] and p[7] == 1.0  # frequent words are dropped more


def test_subsampling_keeps_each_word_at_its_rate():
    ids = np.repeat([4, 5, 6], [20000, 5000, 500])
    counts = np.bincount(ids, minlength=7)
    p = keep_probability(counts, 1e-2)
    keep = subsample(ids, p, seed=0)
    for w in (4, 5, 6):
        assert abs(keep[ids == w].mean() - p[w]) < 4 * np.sqrt(p[w] * (1 - p[w]) / (ids == w).sum()) + 1e-9


def naive_pairs(ids, sent, window):
    pairs = []
    for i in range(len(ids)):
        for j in range(max(0, i - window), min(len(ids), i + window + 1)):
            if j != i and sent[j] == sent[i]:
                pairs.append((ids[i], ids[j]))
    return sorted(pairs)


def test_skipgram_pairs_fixed_window_match_a_naive_loop():
    rng = np.random.default_rng(0)
    ids = rng.integers(4, 30, size=60)
    sent = np.repeat(np.arange(6), [5, 15, 1, 10, 20, 9])
    c, o = skipgram_pairs(ids, sent, window=3, dynamic=False)
    assert sorted(zip(c.tolist(), o.tolist())) == naive_pairs(ids.tolist(), sent.tolist(), 3)


def test_dynamic_window_samples_near_words_more_often():
    n, window = 20000, 4
    ids = np.arange(n) + 4  # the id says the position
    c, o = skipgram_pairs(ids, np.zeros(n, dtype=int), window=window, seed=1)
    d = np.abs(c - o)
    assert d.min() >= 1 and d.max() <= window
    share = np.bincount(d, minlength=window + 1)[1:] / len(d)
    expected = np.array([window - k + 1 for k in range(1, window + 1)], dtype=float)  # P(d <= b) with b ~ U{1..W}
    assert np.allclose(share, expected / expected.sum(), atol=0.01)


def test_cbow_examples_match_a_naive_loop():
    rng = np.random.default_rng(2)
    ids = rng.integers(4, 30, size=40)
    sent = np.repeat(np.arange(4), [1, 12, 7, 20])
    ctx, center = cbow_examples(ids, sent, window=2, dynamic=False)
    rows = []
    for i in range(len(ids)):
        row = [ids[j] if 0 <= j < len(ids) and sent[j] == sent[i] else PAD_ID for j in (i - 2, i - 1, i + 1, i + 2)]
        if any(r != PAD_ID for r in row):
            rows.append((row, ids[i]))
    assert ctx.tolist() == [r for r, _ in rows] and center.tolist() == [c for _, c in rows]


def test_noise_distribution_is_unigram_to_the_three_quarters():
    counts = np.array([0, 0, 0, 0, 16, 1, 81])
    p = noise_distribution(counts)
    ref = np.array([0, 0, 0, 0, 8, 1, 27]) / 36
    assert torch.allclose(p, torch.tensor(ref, dtype=torch.float32))


def test_word2vec_data_is_seeded_and_inside_sentences():
    sents = ["the cat sat on the mat", "a dog ran far away", "the cat ran on"]
    tok = Tokenizer.from_texts(sents, min_count=1)
    a, b = word2vec_data(tok, sents, mode="skipgram", window=2, t=1.0, seed=0)  # t = 1: nothing dropped
    a2, b2 = word2vec_data(tok, sents, mode="skipgram", window=2, t=1.0, seed=0)
    assert torch.equal(a, a2) and torch.equal(b, b2) and len(a) > 0
    ids, sent = token_stream(tok, sents)
    allowed = set(naive_pairs(ids.tolist(), sent.tolist(), 2))
    assert set(zip(a.tolist(), b.tolist())) <= allowed
    ctx, center = word2vec_data(tok, sents, mode="cbow", window=2, t=1.0, seed=0, draws=2)
    assert ctx.shape[1] == 4 and len(center) == len(ctx)
    with pytest.raises(ValueError, match="mode"):
        word2vec_data(tok, sents, mode="glove")


def test_describe_returns_on_hand_made_windows():
    up = np.array([0.01, 0.012, 0.009, 0.011, 0.01, 0.012, 0.011, 0.01, 0.009, 0.012])
    texts, trend = describe_returns(np.stack([up, -up, np.tile([0.01, -0.01], 5)]), last_days=3)
    assert texts[0] == "up up up overall strong rise calm" and trend[0] == TREND_PHRASES.index("strong rise")
    assert texts[1] == "down down down overall strong fall calm" and trend[1] == 0
    assert texts[2].startswith("down up down overall flat")
    spike = np.r_[np.zeros(19) + 0.001 * (-1) ** np.arange(19), 0.2]
    assert describe_returns(spike[None])[0][0].endswith("volatile")
    with pytest.raises(ValueError, match="returns"):
        describe_returns(np.zeros(5))
