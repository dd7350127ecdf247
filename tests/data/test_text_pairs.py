"""NSP / SOP pairs on a hand-made corpus: positives are adjacent sentences of one topic, NSP
negatives pair a sentence with another topic's, SOP negatives swap the two; packing
``[CLS] a [CLS] b``."""

import numpy as np
import pytest
import torch

from tsssl.data.text import CLS_ID, PAD_ID
from tsssl.data.text_pairs import adjacent_pairs, other_topic_sample, pack_pairs, sentence_pairs

# 9 sentences, stored out of corpus order; positions 0-2 topic 0, 3-4 topic 1, 5 topic 2,
# 7-8 topic 2 (position 6 missing: 5 and 7 are not adjacent)
POSITION = np.array([4, 0, 8, 2, 5, 1, 3, 7, 10])
TOPIC = np.array([1, 0, 2, 0, 2, 0, 1, 2, 2])
# the adjacent pairs by position: (0,1), (1,2) topic 0; (3,4) topic 1; (7,8) topic 2
# (2,3) and (4,5) cross topics, (5,7) and (8,10) are not consecutive
EXPECTED = {(0, 1), (1, 2), (3, 4), (7, 8)}


def as_positions(first, second):
    return {(int(POSITION[a]), int(POSITION[b])) for a, b in zip(first, second)}


def test_adjacent_pairs_are_consecutive_and_of_one_topic():
    i, j = adjacent_pairs(TOPIC, POSITION)
    assert as_positions(i, j) == EXPECTED and len(i) == len(EXPECTED)
    assert (TOPIC[i] == TOPIC[j]).all() and (POSITION[j] == POSITION[i] + 1).all()


def test_nsp_negatives_come_from_another_topic():
    first, second, label = sentence_pairs(TOPIC, POSITION, "nsp", seed=0)
    assert label.tolist() == [1] * 4 + [0] * 4
    pos, neg = label == 1, label == 0
    assert as_positions(first[pos], second[pos]) == EXPECTED
    np.testing.assert_array_equal(first[neg], first[pos])  # each positive's first sentence, once
    assert (TOPIC[second[neg]] != TOPIC[first[neg]]).all()
    # over many draws every other-topic sentence is drawn, uniformly; never one of the same topic
    anchors = np.zeros(30_000, dtype=np.int64)  # sentence 0, topic 1: 7 sentences of other topics
    drawn = other_topic_sample(TOPIC, anchors, np.random.default_rng(1))
    counts = np.bincount(drawn, minlength=len(TOPIC))
    others = np.flatnonzero(TOPIC != TOPIC[0])
    assert counts[TOPIC == TOPIC[0]].sum() == 0
    assert np.allclose(counts[others] / len(anchors), 1 / len(others), atol=0.01)


def test_sop_negatives_are_the_same_pair_swapped():
    first, second, label = sentence_pairs(TOPIC, POSITION, "sop", seed=0)
    pos, neg = label == 1, label == 0
    assert pos.sum() == neg.sum() == 4
    np.testing.assert_array_equal(first[neg], second[pos])
    np.testing.assert_array_equal(second[neg], first[pos])
    assert as_positions(first[pos], second[pos]) == EXPECTED


def test_pack_pairs_puts_cls_between_the_segments():
    a = torch.tensor([[5, 6, PAD_ID], [7, 8, 9]])
    b = torch.tensor([[10, PAD_ID, PAD_ID], [11, 12, 13]])
    out = pack_pairs(a, b, max_len=8)
    C, P = CLS_ID, PAD_ID
    assert out.tolist() == [[C, 5, 6, C, 10, P, P, P], [C, 7, 8, 9, C, 11, 12, 13]]
    assert pack_pairs(a, b, max_len=6)[1].tolist() == [C, 7, 8, 9, C, 11]  # b cut at max_len


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="nsp, sop"):
        sentence_pairs(TOPIC, POSITION, "rtd")
    with pytest.raises(ValueError, match="unique"):
        adjacent_pairs(TOPIC, np.zeros(9, dtype=int))
    with pytest.raises(ValueError, match="no two sentences"):
        sentence_pairs(np.array([0, 1]), np.array([0, 1]), "sop")
    with pytest.raises(ValueError, match="max_len"):
        pack_pairs(torch.ones(2, 5, dtype=torch.long), torch.ones(2, 5, dtype=torch.long), max_len=6)


def test_a_corpus_subset_keeps_the_sentences_places():
    from tsssl.data.text import TextCorpus

    corpus = TextCorpus([f"s{i}" for i in range(9)], np.array([0, 0, 0, 1, 1, 1, 2, 2, 2]), ["a", "b", "c"], "hand")
    part = corpus.subset(np.array([8, 1, 2, 4, 5]))
    assert part.position.tolist() == [8, 1, 2, 4, 5]
    i, j = adjacent_pairs(part.topic, part.position)
    assert {(part.sentences[a], part.sentences[b]) for a, b in zip(i, j)} == {("s1", "s2"), ("s4", "s5")}
