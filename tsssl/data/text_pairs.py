"""Sentence pairs for BERT's next-sentence prediction (NSP) and ALBERT's sentence-order
prediction (SOP), from a corpus of sentences that each carry a topic and a position.

- ``adjacent_pairs(topic, position)``: every (i, j) with the same topic and
  ``position[j] == position[i] + 1`` (j follows i in the same help topic).
- ``sentence_pairs(topic, position, task)``: (first, second, label) index arrays: each adjacent
  pair once as a positive (label 1) and once as a negative (label 0), so the classes are
  balanced exactly. NSP negative: (i, a sentence of another topic, drawn uniformly); SOP
  negative: (j, i), the same two sentences swapped.
- ``pack_pairs(a, b, max_len)``: ``[CLS] a [CLS] b [PAD] ...`` token rows. The vocabulary has
  no ``[SEP]``: the second ``[CLS]`` separates the segments (masking never touches ``[CLS]``),
  and the learned position embeddings tell where it sits.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from tsssl.data.text import CLS_ID, PAD_ID

PAIR_TASKS = ("nsp", "sop")


def adjacent_pairs(topic: np.ndarray, position: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first, second) int64 indices into the N sentences: same topic, second's position one
    after first's. topic, position: (N,) ints; positions must be unique."""
    topic, position = np.asarray(topic), np.asarray(position)
    if topic.ndim != 1 or topic.shape != position.shape:
        raise ValueError(f"topic and position must be 1-D of equal length, got {topic.shape} and {position.shape}")
    if len(np.unique(position)) != len(position):
        raise ValueError("position must be unique (one place in the corpus per sentence)")
    order = np.argsort(position, kind="stable")
    i, j = order[:-1], order[1:]
    keep = (position[j] == position[i] + 1) & (topic[j] == topic[i])
    return i[keep].astype(np.int64), j[keep].astype(np.int64)


def other_topic_sample(topic: np.ndarray, anchors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(len(anchors),) int64: for each anchor a sentence drawn uniformly among those whose topic
    differs from the anchor's. Vectorised: a draw u in [0, N - n_t) over the sentences sorted by
    topic skips the anchor topic's block (start s_t, size n_t): index u if u < s_t else u + n_t."""
    by_topic = np.argsort(topic, kind="stable")
    sorted_topic = topic[by_topic]
    t = topic[anchors]
    start = np.searchsorted(sorted_topic, t, side="left")
    size = np.searchsorted(sorted_topic, t, side="right") - start
    n_other = len(topic) - size
    if (n_other == 0).any():
        raise ValueError("NSP negatives need sentences of at least 2 topics")
    u = (rng.random(len(anchors)) * n_other).astype(np.int64).clip(max=n_other - 1)
    return by_topic[np.where(u < start, u, u + size)]


def sentence_pairs(
    topic: np.ndarray, position: np.ndarray, task: str, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first, second, label) int64 (2P,) arrays for the P adjacent pairs: positives (i, j,
    1) first, then one negative per positive (``task`` "nsp": (i, other-topic sentence, 0);
    "sop": (j, i, 0))."""
    if task not in PAIR_TASKS:
        raise ValueError(f"pair task must be one of {', '.join(PAIR_TASKS)}, got {task!r}")
    topic = np.asarray(topic)
    i, j = adjacent_pairs(topic, position)
    if len(i) == 0:
        raise ValueError("no two sentences of the same topic are adjacent: no pairs to build")
    if task == "sop":
        neg_first, neg_second = j, i
    else:
        neg_first, neg_second = i, other_topic_sample(topic, i, np.random.default_rng(seed))
    label = np.concatenate([np.ones(len(i), np.int64), np.zeros(len(i), np.int64)])
    return np.concatenate([i, neg_first]), np.concatenate([j, neg_second]), label


def pack_pairs(a: Tensor, b: Tensor, max_len: int) -> Tensor:
    """(M, max_len) int64 rows ``[CLS] a [CLS] b`` then ``[PAD]``, from a (M, La) and b (M, Lb)
    token ids without ``[CLS]``, each padded after its tokens; b is cut at ``max_len``."""
    if a.dim() != 2 or b.dim() != 2 or len(a) != len(b):
        raise ValueError(f"a and b must be (M, L) id tensors of equal M, got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.shape[1] + 2 > max_len:
        raise ValueError(f"max_len {max_len} leaves no room after the first segment of {a.shape[1]} tokens")
    M = len(a)
    out = torch.full((M, max_len), PAD_ID, dtype=torch.int64)
    out[:, 0] = CLS_ID
    out[:, 1 : 1 + a.shape[1]] = a
    la = (a != PAD_ID).sum(dim=1)
    rows = torch.arange(M)
    out[rows, 1 + la] = CLS_ID
    col = 2 + la[:, None] + torch.arange(b.shape[1])[None, :]
    keep = (b != PAD_ID) & (col < max_len)
    out[rows[:, None].expand_as(col)[keep], col[keep]] = b[keep]
    return out
