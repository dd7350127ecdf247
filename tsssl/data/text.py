"""Offline text data for the language methods: a word-level tokenizer, the CPython help topics
as a corpus, batched token tensors, and word2vec's training pairs.

- ``tokenize(text)``: lower-case words (``[a-z]+`` with inner ``_`` / ``'``) and numbers.
- ``Vocabulary``: the special tokens ``[PAD] [UNK] [MASK] [CLS]`` (ids 0..3), then the words
  seen at least ``min_count`` times, most frequent first; ``Tokenizer`` turns sentences into
  padded (N, L) int64 id tensors (what the Trainer batches).
- ``load_pydoc_corpus()``: the help topics of ``pydoc_data.topics`` (they ship with CPython)
  split into sentences, each with its topic (e.g. "typesseq", "lambda") as a label.
- word2vec: ``token_stream`` (the corpus as one id stream with sentence numbers),
  ``keep_probability`` / ``subsample`` (Mikolov's sub-sampling of frequent words),
  ``skipgram_pairs``, ``cbow_examples`` (dynamic windows inside sentences) and
  ``noise_distribution`` (unigram^0.75) - all vectorised over the stream.
- ``describe_returns``: a text description of price windows (for CLIP between windows and text).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[MASK]", "[CLS]")
PAD_ID, UNK_ID, MASK_ID, CLS_ID = 0, 1, 2, 3

_WORD = re.compile(r"[a-z]+(?:[_'][a-z]+)*|[0-9]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_TABLE_LINE = re.compile(r"^\s*(?:[|+]|[=*\-~^]{3,}\s*$)")


def tokenize(text: str) -> list[str]:
    """Lower-case word and number tokens: ``"Lists (see list())!"`` -> ``["lists", "see", "list"]``."""
    return _WORD.findall(text.lower())


class Vocabulary:
    """Token <-> id. Ids 0..3 are ``[PAD] [UNK] [MASK] [CLS]``; words follow.

    ``counts`` (len(vocab),) int64 holds each word's corpus count (0 for the specials): the
    frequencies that word2vec's sub-sampling and noise distribution use.
    """

    def __init__(self, words: Sequence[str], counts: Sequence[int] | None = None) -> None:
        words = list(words)
        clash = sorted(set(words) & set(SPECIAL_TOKENS))
        if clash:
            raise ValueError(f"Vocabulary: words may not include the special tokens {clash}")
        if len(set(words)) != len(words):
            raise ValueError("Vocabulary: words must be unique")
        if counts is not None and len(counts) != len(words):
            raise ValueError(f"Vocabulary: {len(counts)} counts for {len(words)} words")
        self.itos = list(SPECIAL_TOKENS) + words
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        c = np.zeros(len(self.itos), dtype=np.int64)
        if counts is not None:
            c[len(SPECIAL_TOKENS) :] = np.asarray(counts, dtype=np.int64)
        self.counts = c

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], min_count: int = 5, max_size: int | None = None) -> Vocabulary:
        """Words seen at least ``min_count`` times, most frequent first (ties alphabetical),
        at most ``max_size`` of them (specials not counted)."""
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count}")
        counter = Counter(w for tokens in token_lists for w in tokens if w not in SPECIAL_TOKENS)
        kept = sorted(((w, n) for w, n in counter.items() if n >= min_count), key=lambda wn: (-wn[1], wn[0]))
        if max_size is not None:
            kept = kept[:max_size]
        if not kept:
            raise ValueError(f"no word occurs at least min_count={min_count} times; lower min_count")
        return cls([w for w, _ in kept], [n for _, n in kept])

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, word: str) -> bool:
        return word in self.stoi

    def id(self, word: str) -> int:
        """The id of ``word`` ([UNK]'s id 1 if it is not in the vocabulary)."""
        return self.stoi.get(word, UNK_ID)

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """(len(tokens),) int64 ids; unknown words -> [UNK]."""
        return np.fromiter((self.stoi.get(w, UNK_ID) for w in tokens), dtype=np.int64, count=len(tokens))

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[int(i)] for i in ids]

    @property
    def n_special(self) -> int:
        return len(SPECIAL_TOKENS)


class Tokenizer:
    """``tokenize`` + a ``Vocabulary``: sentences -> padded id tensors.

    ``tok(texts, max_len=32, add_cls=False)`` -> (N, max_len) int64, each row the sentence's
    ids (with ``[CLS]`` first when ``add_cls``), cut to ``max_len`` and padded with ``[PAD]``.
    """

    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab

    @classmethod
    def from_texts(cls, texts: Iterable[str], min_count: int = 2, max_size: int | None = None) -> Tokenizer:
        return cls(Vocabulary.build((tokenize(t) for t in texts), min_count=min_count, max_size=max_size))

    def __len__(self) -> int:
        return len(self.vocab)

    def ids(self, text: str) -> np.ndarray:
        return self.vocab.encode(tokenize(text))

    def __call__(self, texts: Sequence[str], max_len: int = 32, add_cls: bool = False) -> Tensor:
        if isinstance(texts, str):
            raise ValueError("Tokenizer: pass a list of texts, not a single string")
        return pad_sequences([self.ids(t) for t in texts], max_len=max_len, prefix=CLS_ID if add_cls else None)


def pad_sequences(
    seqs: Sequence[Sequence[int]], max_len: int, pad_id: int = PAD_ID, prefix: int | None = None
) -> Tensor:
    """(N, max_len) int64: each sequence (after an optional ``prefix`` id) cut or padded."""
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    lead = [] if prefix is None else [prefix]
    rows = [(lead + [int(i) for i in s])[:max_len] for s in seqs]
    out = np.full((len(rows), max_len), pad_id, dtype=np.int64)
    lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
    if len(rows):
        flat = np.fromiter((i for r in rows for i in r), dtype=np.int64, count=int(lengths.sum()))
        row_idx = np.repeat(np.arange(len(rows)), lengths)
        col_idx = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        out[row_idx, col_idx] = flat
    return torch.from_numpy(out)


# --------------------------------------------------------------------------- the corpus
@dataclass
class TextCorpus:
    """Sentences with an integer label each (their topic), the label names, and each sentence's
    place in the corpus (``position``, 0..N-1 unless given: subsets keep it, so sentences adjacent
    in the corpus can be found again, e.g. for next-sentence prediction)."""

    sentences: list[str]
    topic: np.ndarray  # (N,) int64 index into topic_names
    topic_names: list[str]
    source: str
    position: np.ndarray | None = None  # (N,) int64

    def __post_init__(self) -> None:
        if self.position is None:
            self.position = np.arange(len(self.sentences), dtype=np.int64)

    def __len__(self) -> int:
        return len(self.sentences)

    def subset(self, idx: np.ndarray) -> TextCorpus:
        idx = np.asarray(idx)
        sentences = [self.sentences[i] for i in idx]
        return TextCorpus(sentences, self.topic[idx], self.topic_names, self.source, self.position[idx])


def split_sentences(text: str, min_words: int = 3) -> list[str]:
    """Paragraphs (blank-line separated) cut at sentence ends; table rules and heading
    underlines are dropped; sentences of fewer than ``min_words`` tokens are left out."""
    out = []
    for para in re.split(r"\n\s*\n", text):
        lines = [ln for ln in para.splitlines() if not _TABLE_LINE.match(ln)]
        joined = " ".join(ln.strip() for ln in lines if ln.strip())
        out += [s for s in _SENTENCE_END.split(joined) if len(tokenize(s)) >= min_words]
    return out


def load_pydoc_corpus(min_words: int = 3) -> TextCorpus:
    """The CPython help topics (``pydoc_data.topics.topics``, ~65k words in ~80 topics) as
    sentences labelled by topic, topics in sorted order (deterministic). Topics share passages
    (e.g. "assignment" contains "augassign"): a sentence seen before is left out, so that no
    sentence can sit in both the training and the test part of a split."""
    from pydoc_data.topics import topics

    names = sorted(topics)
    sentences, labels, seen = [], [], set()
    for i, name in enumerate(names):
        s = [x for x in dict.fromkeys(split_sentences(topics[name], min_words)) if x not in seen]
        seen.update(s)
        sentences += s
        labels += [i] * len(s)
    return TextCorpus(sentences, np.asarray(labels, dtype=np.int64), names, "pydoc_data.topics")


def topic_split(
    corpus: TextCorpus, test_frac: float = 0.25, min_per_topic: int = 30, seed: int = 0
) -> tuple[TextCorpus, TextCorpus]:
    """(train, test): the sentences of topics with at least ``min_per_topic`` sentences, split
    stratified by topic (seeded) - the labelled data of the sentence-embedding probes."""
    from tsssl.data.image import stratified_split_indices

    n = np.bincount(corpus.topic, minlength=len(corpus.topic_names))
    keep = np.flatnonzero(n[corpus.topic] >= min_per_topic)
    if len(np.unique(corpus.topic[keep])) < 2:
        raise ValueError(f"fewer than 2 topics have min_per_topic={min_per_topic} sentences; lower it")
    tr, te = stratified_split_indices(corpus.topic[keep], test_frac, seed)
    return corpus.subset(keep[tr]), corpus.subset(keep[te])


#: Word pairs of the Python docs' vocabulary that a useful embedding should place close together
#: (fixed before any training run; two pairs whose words miss min_count 5 were replaced).
RELATED_WORD_PAIRS = (
    ("list", "tuple"),
    ("true", "false"),
    ("int", "float"),
    ("keys", "values"),
    ("read", "write"),
    ("and", "or"),
    ("first", "last"),
    ("positional", "keyword"),
    ("try", "except"),
    ("if", "else"),
    ("for", "while"),
    ("integer", "float"),
    ("string", "bytes"),
    ("left", "right"),
    ("local", "global"),
    ("start", "end"),
    ("class", "instance"),
    ("import", "module"),
    ("exception", "raised"),
    ("get", "set"),
)


# --------------------------------------------------------------------------- word2vec data
def token_stream(tokenizer: Tokenizer, sentences: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(ids, sentence): the in-vocabulary tokens of all sentences as one int64 stream and the
    sentence number of each (out-of-vocabulary words are dropped, as word2vec does)."""
    ids = [tokenizer.ids(s) for s in sentences]
    lengths = np.fromiter((len(a) for a in ids), dtype=np.int64, count=len(ids))
    flat = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
    sent = np.repeat(np.arange(len(ids), dtype=np.int64), lengths)
    keep = flat >= len(SPECIAL_TOKENS)
    return flat[keep], sent[keep]


def keep_probability(counts: np.ndarray, t: float = 1e-3) -> np.ndarray:
    """word2vec's sub-sampling: a token of a word with corpus frequency f is kept with
    probability ``min(1, (sqrt(f / t) + 1) * t / f)`` (the reference C code's formula; the
    paper's ``1 - sqrt(t / f)`` is its discard probability's leading term). Frequent words
    ("the", "a") are mostly dropped; words rarer than ~2.6 t are always kept. 0 for count 0."""
    counts = np.asarray(counts, dtype=np.float64)
    if t <= 0:
        raise ValueError(f"sub-sampling threshold t must be > 0, got {t}")
    total = counts.sum()
    if total <= 0:
        raise ValueError("counts sum to 0: no word to sub-sample")
    f = counts / total
    with np.errstate(divide="ignore", invalid="ignore"):
        p = (np.sqrt(f / t) + 1.0) * t / f
    return np.where(counts > 0, np.minimum(p, 1.0), 0.0)


def subsample(ids: np.ndarray, keep_prob: np.ndarray, seed: int = 0) -> np.ndarray:
    """(N,) bool: which tokens of the stream survive sub-sampling (one Bernoulli each)."""
    rng = np.random.default_rng(seed)
    return rng.random(len(ids)) < keep_prob[ids]


def skipgram_pairs(
    ids: np.ndarray, sentence: np.ndarray, window: int = 5, seed: int = 0, dynamic: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """(center, context) int64 arrays: every pair of tokens of one sentence at distance
    1..b, where b = ``window`` or (``dynamic``, word2vec's default) b ~ U{1..window} drawn per
    center token, so near words are sampled more often. A loop over the 2 * window offsets,
    vectorised over the stream."""
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    ids, sentence = np.asarray(ids), np.asarray(sentence)
    n = len(ids)
    b = np.random.default_rng(seed).integers(1, window + 1, size=n) if dynamic else np.full(n, window)
    centers, contexts = [], []
    for d in range(1, window + 1):
        i = np.arange(n - d)
        j = i + d
        same = sentence[i] == sentence[j]
        fwd = same & (d <= b[i])  # context to the right of center i
        bwd = same & (d <= b[j])  # center j, context to its left
        centers += [ids[i[fwd]], ids[j[bwd]]]
        contexts += [ids[j[fwd]], ids[i[bwd]]]
    return np.concatenate(centers), np.concatenate(contexts)


def cbow_examples(
    ids: np.ndarray, sentence: np.ndarray, window: int = 5, seed: int = 0, dynamic: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """(context, center): context (N, 2 * window) int64 ids of the words around each token
    within its sentence and within b (as in ``skipgram_pairs``), [PAD] elsewhere; tokens with
    no context at all are dropped."""
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    ids, sentence = np.asarray(ids), np.asarray(sentence)
    n = len(ids)
    b = np.random.default_rng(seed).integers(1, window + 1, size=n) if dynamic else np.full(n, window)
    offsets = np.concatenate([np.arange(-window, 0), np.arange(1, window + 1)])  # (2W,)
    pos = np.arange(n)[:, None] + offsets[None, :]  # (N, 2W)
    inside = (pos >= 0) & (pos < n)
    pos_c = np.clip(pos, 0, max(n - 1, 0))
    ok = inside & (sentence[pos_c] == sentence[:, None]) & (np.abs(offsets)[None, :] <= b[:, None])
    context = np.where(ok, ids[pos_c], PAD_ID)
    has = ok.any(axis=1)
    return context[has], ids[has]


def noise_distribution(counts: np.ndarray, power: float = 0.75) -> Tensor:
    """(V,) float32 probabilities of negative samples: count^power, normalised (word2vec uses
    0.75, between the unigram (1) and uniform (0) distributions); 0 for the special tokens."""
    c = np.asarray(counts, dtype=np.float64)
    if (c < 0).any() or c.sum() <= 0:
        raise ValueError("counts must be >= 0 with a positive sum")
    p = np.power(c, power, where=c > 0, out=np.zeros_like(c))
    return torch.as_tensor(p / p.sum(), dtype=torch.float32)


def word2vec_data(
    tokenizer: Tokenizer,
    sentences: Sequence[str],
    mode: str = "skipgram",
    window: int = 5,
    t: float = 1e-3,
    seed: int = 0,
    draws: int = 1,
) -> tuple[Tensor, Tensor]:
    """Training tensors for ``tsssl.methods.word2vec.Word2Vec``: ``draws`` independent draws of
    sub-sampling + dynamic windows over the corpus, concatenated (word2vec re-draws both every
    epoch; ``draws`` epochs' worth fixed up front).

    skipgram -> (center (N,), context (N,)); cbow -> (context (N, 2 * window), center (N,)).
    """
    if mode not in ("skipgram", "cbow"):
        raise ValueError(f"mode must be 'skipgram' or 'cbow', got {mode!r}")
    ids, sent = token_stream(tokenizer, sentences)
    keep_p = keep_probability(tokenizer.vocab.counts, t)
    parts_a, parts_b = [], []
    for k in range(draws):
        s = seed * 1000 + k
        keep = subsample(ids, keep_p, seed=s)
        make = skipgram_pairs if mode == "skipgram" else cbow_examples
        a, b = make(ids[keep], sent[keep], window=window, seed=s + 1)
        parts_a.append(a)
        parts_b.append(b)
    return torch.from_numpy(np.concatenate(parts_a)), torch.from_numpy(np.concatenate(parts_b))


# --------------------------------------------------------------------------- price windows as text
TREND_PHRASES = ("strong fall", "fall", "flat", "rise", "strong rise")
DAY_WORDS = ("down", "flat", "up")


def describe_returns(
    returns: np.ndarray,
    last_days: int = 5,
    dead_band: float = 0.25,
    trend_cuts: Sequence[float] = (-1.5, -0.5, 0.5, 1.5),
) -> tuple[list[str], np.ndarray]:
    """A short description of each window of daily returns, and its trend class.

    returns: (N, T) daily log returns. Scale-free: each window's returns are divided by its own
    standard deviation s. Text = the last ``last_days`` days as "up" / "down" / "flat" (|r| <
    ``dead_band`` * s is flat), then "overall <trend>" with trend from z = sum(r) / (s sqrt(T))
    cut at ``trend_cuts`` into ``TREND_PHRASES``, then "calm" / "volatile" (the window's largest
    |r| / s below / above 2.5). E.g. "up up down flat up overall strong rise volatile".
    Returns (texts, trend (N,) int64 index into TREND_PHRASES).
    """
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 2 or r.shape[1] < 2:
        raise ValueError(f"returns must be (N, T) with T >= 2 days, got shape {r.shape}")
    if not 1 <= last_days <= r.shape[1]:
        raise ValueError(f"last_days must be in 1..{r.shape[1]}, got {last_days}")
    s = r.std(axis=1, keepdims=True)
    s = np.where(s > 0, s, 1.0)
    u = r / s
    day = np.where(u[:, -last_days:] > dead_band, 2, np.where(u[:, -last_days:] < -dead_band, 0, 1))
    z = r.sum(axis=1) / (s[:, 0] * np.sqrt(r.shape[1]))
    trend = np.searchsorted(np.asarray(trend_cuts), z).astype(np.int64)
    vol = np.where((np.abs(r - r.mean(axis=1, keepdims=True)) / s).max(axis=1) > 2.5, "volatile", "calm")
    words = np.asarray(DAY_WORDS)[day]
    texts = [" ".join(w) + f" overall {TREND_PHRASES[k]} {v}" for w, k, v in zip(words, trend, vol)]
    return texts, trend
