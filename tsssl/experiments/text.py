"""Text experiments on ``pydoc_data.topics`` (Python's help topics: sentences labelled by topic).

word2vec (skip-gram; ``method_kwargs = {mode = "cbow"}`` for CBOW), mlm (``method_kwargs =
{pair_task = "nsp" | "sop"}`` adds next-sentence / sentence-order prediction on pairs of
adjacent sentences of one topic), electra and simcse, the vocabulary always from the training
sentences only. Evaluation: related-vs-random word pairs and nearest words (word2vec),
masked-token accuracy (mlm; electra's generator), pair-task accuracy on held-out pairs (mlm with
a pair task), replaced-token detection (electra), topic probes of sentence embeddings (all),
each against the same model at its random initialisation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from tsssl import registry
from tsssl.data.text import (
    RELATED_WORD_PAIRS,
    SPECIAL_TOKENS,
    Tokenizer,
    load_pydoc_corpus,
    noise_distribution,
    topic_split,
    word2vec_data,
)
from tsssl.data.text_pairs import pack_pairs, sentence_pairs
from tsssl.encoders.text import TextTransformerEncoder
from tsssl.evaluate import embed
from tsssl.evaluate.embedding import nearest_words, probe_accuracies, related_vs_random
from tsssl.experiments.base import Experiment, kw_error, rounded
from tsssl.methods.base import eval_mode

_SENTENCE_TOKENS = 32
_NEAREST_QUERIES = ["list", "true", "int", "exception", "class", "loop", "string", "import"]


def build(method: str, seed: int, mk: dict, ek: dict) -> Experiment:
    """The pydoc-topics experiment of ``method`` (torch already seeded by the caller)."""
    corpus = load_pydoc_corpus()
    train, test = topic_split(corpus, test_frac=0.25, min_per_topic=30, seed=seed)
    describe = (
        f"pydoc_data.topics: {len(corpus):,} sentences; topic probes on {len(train):,} train / "
        f"{len(test):,} test sentences of {len(np.unique(train.topic))} topics"
    )
    if method == "word2vec":  # word vectors, not a sentence encoder
        return _word2vec_experiment(train, test, seed, mk, ek, describe)
    return _sentence_experiment(method, train, test, seed, mk, ek, describe)


def topic_probes(
    encoder: nn.Module,
    initial: nn.Module,
    ids_train: Any,
    ids_test: Any,
    y_train: np.ndarray,
    y_test: np.ndarray,
    seed: int,
) -> dict[str, Any]:
    """Topic probes (linear, k-NN) of sentence embeddings: trained, random init, majority class."""

    def probes(enc: nn.Module) -> dict[str, float]:
        return rounded(
            probe_accuracies(
                embed(enc, ids_train, batch_size=1024),
                y_train,
                embed(enc, ids_test, batch_size=1024),
                y_test,
                seed=seed,
                few_label=None,
            )
        )

    return {
        "trained": probes(encoder),
        "random_encoder": probes(initial),
        "majority_class": round(float(np.mean(y_test == np.bincount(y_train).argmax())), 4),
    }


def most_frequent_word_accuracy(ids_train: torch.Tensor, ids_test: torch.Tensor, method: Any, seed: int) -> float:
    """Masked-token accuracy of always guessing the most frequent training word (same masks)."""
    from tsssl.augment.text import IGNORE, bert_mask

    counts = torch.bincount(ids_train.flatten(), minlength=method.vocab_size)
    counts[: len(SPECIAL_TOKENS)] = 0
    top = int(counts.argmax())
    _, labels = bert_mask(ids_test, method.vocab_size, method.mask_prob, generator=torch.Generator().manual_seed(seed))
    keep = labels != IGNORE
    return float((labels[keep] == top).float().mean())


def _sentence_model(method: str, vocab_size: int, enc_kw: dict, mk: dict) -> nn.Module:
    cls = registry.method_class(method)
    encoder = TextTransformerEncoder(vocab_size, **enc_kw)
    if method == "mlm":
        return cls(encoder, vocab_size, **mk)
    if method == "electra":  # the generator: the same depth at a fraction of the width
        f = float(mk.pop("generator_fraction", 0.5))
        if not 0.0 < f <= 1.0:
            raise ValueError(f"electra: generator_fraction must be in (0, 1], got {f}")
        heads = max(1, round(enc_kw["heads"] * f))
        d_gen = max(heads, round(enc_kw["d_model"] * f / heads) * heads)
        gen_kw = {
            **enc_kw,
            "d_model": d_gen,
            "heads": heads,
            "dim_feedforward": max(1, round(enc_kw["dim_feedforward"] * f)),
        }
        mlm = registry.method_class("mlm")
        generator = mlm(TextTransformerEncoder(vocab_size, **gen_kw), vocab_size, mask_prob=mk.get("mask_prob", 0.15))
        return cls(encoder, generator, vocab_size, **mk)
    return cls(encoder, **mk)


def pair_data(
    tok: Tokenizer, part: Any, task: str, max_len: int, seed: int, draws: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """(pairs ``[CLS] a [CLS] b`` (M, max_len), label (M,)) of adjacent sentences of ``part``
    (its ``position`` in the corpus), each segment cut to (max_len - 2) // 2 tokens; ``draws``
    independent draws of NSP negatives (each with the positives again), concatenated."""
    if draws < 1:
        raise ValueError(f"pair_draws must be >= 1, got {draws}")
    parts = [sentence_pairs(part.topic, part.position, task, seed=seed * 1000 + k) for k in range(draws)]
    first, second, label = (np.concatenate(x) for x in zip(*parts))
    seg = tok(part.sentences, max_len=(max_len - 2) // 2)
    return pack_pairs(seg[first], seg[second], max_len), torch.from_numpy(label)


def _pair_draws(mk: dict) -> int:
    """``pair_draws`` taken out of the method kwargs: 8 for NSP by default (its negatives are
    drawn up front; 8 draws make 600 steps ~3 passes over them, not 26 over one set), else 1."""
    task = mk.get("pair_task", "none")
    if "pair_draws" in mk and task == "none":
        raise ValueError("method_kwargs pair_draws needs pair_task 'nsp' or 'sop'")
    return int(mk.pop("pair_draws", 8 if task == "nsp" else 1))


def _sentence_experiment(
    method: str, train: Any, test: Any, seed: int, mk: dict, ek: dict, describe: str
) -> Experiment:
    """mlm / electra / simcse: a small Transformer over the first 32 tokens of each sentence."""
    tok = Tokenizer.from_texts(train.sentences, min_count=2)  # vocabulary from training sentences only
    L = _SENTENCE_TOKENS
    draws = _pair_draws(mk)
    ids_train = tok(train.sentences, max_len=L, add_cls=True)
    ids_test = tok(test.sentences, max_len=L, add_cls=True)
    enc_kw = {"d_model": 64, "heads": 4, "layers": 2, "dim_feedforward": 128, "max_len": L, "dropout": 0.1, **ek}
    try:
        m = _sentence_model(method, len(tok), enc_kw, mk)
    except TypeError as err:
        raise kw_error(method, err) from None
    describe += f"; vocabulary {len(tok):,} (min count 2, training sentences), {L} tokens per sentence"
    n_topics = len(np.unique(train.topic))
    pair_task = getattr(m, "pair_task", "none")
    data: Any = ids_train
    if pair_task != "none":
        data = pair_data(tok, train, pair_task, L, seed, draws)
        held_out = pair_data(tok, test, pair_task, L, seed + 1)
        train_pairs = tuple(t[: len(data[1]) // draws] for t in data)  # one draw, for the training accuracy
        describe += (
            f"; {pair_task} on [CLS] a [CLS] b pairs of adjacent sentences of one topic (segments of "
            f"{(L - 2) // 2} tokens): {len(train_pairs[1]):,} training pairs x {draws} draw(s), "
            f"{len(held_out[1]):,} held-out pairs, half negatives"
        )

    def evaluate(trained: Any, initial: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "topic_probes": topic_probes(
                trained.encoder, initial.encoder, ids_train, ids_test, train.topic, test.topic, seed
            )
        }
        if method == "mlm":
            out.update(_masked_token_metrics(trained, initial, ids_train, ids_test, seed))
            if pair_task != "none":
                out["pair_task_accuracy"] = _pair_metrics(trained, initial, held_out, train_pairs)
        elif method == "electra":
            out.update(_electra_metrics(trained, initial, ids_train, ids_test, seed, n_topics, out["topic_probes"]))
        else:
            t = out["topic_probes"]
            out["headline"] = {
                "metric": f"k-NN topic accuracy of sentence embeddings ({n_topics} topics)",
                "trained": t["trained"]["knn"],
                "random_encoder": t["random_encoder"]["knn"],
            }
        return out

    return Experiment(method=m, data=data, evaluate=evaluate, describe=describe)


def _pair_metrics(trained: Any, initial: Any, held_out: tuple, train_pairs: tuple) -> dict[str, Any]:
    """Pair-task accuracy on held-out pairs (trained, random init, chance) and on training pairs."""
    dev = next(trained.parameters()).device
    pairs, label = held_out
    return {
        "task": trained.pair_task,
        "held_out_pairs": len(label),
        "trained": round(trained.pair_accuracy(pairs.to(dev), label), 4),
        "random_init": round(initial.to(dev).pair_accuracy(pairs.to(dev), label), 4),
        "chance": 0.5,
        "trained_on_training_pairs": round(trained.pair_accuracy(train_pairs[0].to(dev), train_pairs[1]), 4),
    }


def _electra_metrics(
    trained: Any, initial: Any, ids_train: torch.Tensor, ids_test: torch.Tensor, seed: int, n_topics: int, probes: dict
) -> dict[str, Any]:
    """The generator's masked-token accuracy, replaced-token detection on held-out sentences
    corrupted by the trained generator (both discriminators see the same corruption), and the
    discriminator encoder's topic k-NN as the headline."""
    dev = next(trained.parameters()).device
    ids = ids_test.to(dev)
    with torch.no_grad(), eval_mode(trained):
        corrupted, _, _ = trained.corrupt(ids, generator=torch.Generator(device=dev).manual_seed(seed))
    acc = {
        "trained": round(trained.generator.masked_accuracy(ids, seed), 4),
        "random_init": round(initial.to(dev).generator.masked_accuracy(ids, seed), 4),
        "most_frequent_word": round(most_frequent_word_accuracy(ids_train, ids_test, trained, seed), 4),
    }
    return {
        "generator_masked_token_accuracy": acc,
        "replaced_token_detection": {
            "trained": {k: round(v, 4) for k, v in trained.detection_accuracy(ids, corrupted).items()},
            "random_init": {k: round(v, 4) for k, v in initial.detection_accuracy(ids, corrupted).items()},
            "replaced_share": round(float((corrupted != ids).float().sum() / (ids != 0).sum()), 4),
        },
        "headline": {
            "metric": f"k-NN topic accuracy of sentence embeddings ({n_topics} topics)",
            "trained": probes["trained"]["knn"],
            "random_encoder": probes["random_encoder"]["knn"],
            "majority_topic": probes["majority_class"],
        },
    }


def _masked_token_metrics(
    trained: Any, initial: Any, ids_train: torch.Tensor, ids_test: torch.Tensor, seed: int
) -> dict[str, Any]:
    dev = next(trained.parameters()).device
    acc = {
        "trained": round(trained.masked_accuracy(ids_test.to(dev), seed), 4),
        "random_init": round(initial.to(dev).masked_accuracy(ids_test.to(dev), seed), 4),
        "most_frequent_word": round(most_frequent_word_accuracy(ids_train, ids_test, trained, seed), 4),
    }
    return {
        "masked_token_accuracy": acc,
        "headline": {
            "metric": "masked-token accuracy on held-out sentences",
            "trained": acc["trained"],
            "random_encoder": acc["random_init"],
            "most_frequent_word": acc["most_frequent_word"],
        },
    }


def _word2vec_experiment(train: Any, test: Any, seed: int, mk: dict, ek: dict, describe: str) -> Experiment:
    """Skip-gram / CBOW with negative sampling on the training sentences."""
    if ek:
        raise ValueError(f"word2vec takes no encoder_kwargs (its size is method_kwargs dim), got {sorted(ek)}")
    data_kw = {k: mk.pop(k) for k in ("window", "t", "draws", "min_count") if k in mk}
    min_count = int(data_kw.pop("min_count", 5))
    # the vectors are learned from the training sentences only (the test ones are probed)
    tok = Tokenizer.from_texts(train.sentences, min_count=min_count)
    mode = mk.get("mode", "skipgram")
    a, b = word2vec_data(tok, train.sentences, mode=mode, seed=seed, **{"window": 5, "t": 1e-3, "draws": 1, **data_kw})
    try:
        m = registry.method_class("word2vec")(len(tok), noise_distribution(tok.vocab.counts), **{"dim": 64, **mk})
    except TypeError as err:
        raise kw_error("word2vec", err) from None
    vocab = tok.vocab
    pairs = np.array([(vocab.id(x), vocab.id(y)) for x, y in RELATED_WORD_PAIRS if x in vocab and y in vocab])
    ids_train = tok(train.sentences, max_len=_SENTENCE_TOKENS)
    ids_test = tok(test.sentences, max_len=_SENTENCE_TOKENS)
    describe += (
        f"; {mode} on the training sentences: vocabulary {len(tok):,} words (min count {min_count}), "
        f"{len(b):,} examples after sub-sampling"
    )

    def evaluate(trained: Any, initial: Any) -> dict[str, Any]:
        V, V0 = trained.encoder.vectors.cpu().numpy(), initial.encoder.vectors.cpu().numpy()
        words = np.arange(vocab.n_special, len(vocab))
        rel = {
            "trained": related_vs_random(V, pairs),
            "random_init": related_vs_random(V0, pairs),
            "trained_vs_random_word_pairs": related_vs_random(V, pairs, "random", candidates=words, seed=seed),
            "pairs": [f"{x}-{y}" for x, y in RELATED_WORD_PAIRS if x in vocab and y in vocab],
        }
        probes = topic_probes(trained.encoder, initial.encoder, ids_train, ids_test, train.topic, test.topic, seed)
        probes.pop("majority_class")
        return {
            "related_vs_random": rel,
            "nearest_words": nearest_words(V, vocab, _NEAREST_QUERIES, k=5),
            "topic_probes": {**probes, "note": "sentence = mean word vector"},
            "headline": {
                "metric": f"AUC of {len(pairs)} related word pairs vs the same words re-paired",
                "trained": round(rel["trained"]["auc"], 4),
                "random_encoder": round(rel["random_init"]["auc"], 4),
                "chance": 0.5,
            },
        }

    return Experiment(method=m, data=(a, b), evaluate=evaluate, describe=describe)
