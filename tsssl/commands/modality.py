"""`tsssl train --modality image | text`: the classic vision and language methods on bundled
offline data, through the same Trainer and loss library as the price windows.

    train_modality("image", "simclr", args)   # digits -> SimCLR -> probes -> args.out
    train_modality("text", "word2vec", args)  # Python help topics -> skip-gram -> word checks

image (scikit-learn's 8 x 8 digits, stratified 75/25 split): simclr moco byol simsiam barlow
(the window method classes with a conv encoder and image views), rotnet, jigsaw, cpc (pixel
rows as the sequence), clip (digits <-> "the digit seven"); rotnet and jigsaw run on the digits
upsampled to 16 x 16 (``method_kwargs = {digit_size = 8}`` for the originals). Evaluation:
linear-probe, k-NN and 5-labels-per-class probe accuracy on the held-out digits for the trained
encoder, the same encoder at its random initialisation, and the raw pixels; both encoders'
BatchNorm statistics are set from the training digits first; CLIP: zero-shot accuracy.

text (``pydoc_data.topics``, sentences labelled by help topic, stratified split): word2vec
(skip-gram; ``method_kwargs = {mode = "cbow"}`` for CBOW), mlm, simcse, and clip between price
windows of the bundled sample and a generated description of each window. Evaluation:
related-vs-random word pairs and nearest words (word2vec), masked-token accuracy (mlm), topic
probes of sentence embeddings (all), zero-shot trend accuracy (clip).

Settings: per-method defaults (``DEFAULTS``), then the keys of ``--config FILE`` (epochs,
max_steps, batch_size, lr, weight_decay, device, precision, seed, method_kwargs,
encoder_kwargs), then the flags given. Outputs in ``--out``: checkpoint.pt and log.csv (the
Trainer), metrics.json, config.toml.
"""
from __future__ import annotations

import copy
import datetime as _dt
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Mapping, Optional

import numpy as np

from tsssl.atomic import finite_or_none, write_json

IMAGE_METHODS = ("simclr", "moco", "byol", "simsiam", "barlow", "rotnet", "jigsaw", "cpc", "clip")
TEXT_METHODS = ("word2vec", "mlm", "simcse", "clip")
MODALITY_METHODS = {"image": IMAGE_METHODS, "text": TEXT_METHODS}

#: the loss of each method, for reports
LOSSES = {
    ("image", "simclr"): "nt_xent", ("image", "moco"): "info_nce (queue of momentum keys)",
    ("image", "byol"): "negative_cosine (EMA target)", ("image", "simsiam"): "negative_cosine (stop-gradient)",
    ("image", "barlow"): "barlow_twins", ("image", "rotnet"): "cross-entropy over 4 rotations",
    ("image", "jigsaw"): "cross-entropy over the permutation set",
    ("image", "cpc"): "info_nce (future pixel rows)", ("image", "clip"): "symmetric info_nce (image <-> caption)",
    ("text", "word2vec"): "nce (negative sampling)", ("text", "mlm"): "cross-entropy on masked tokens",
    ("text", "simcse"): "info_nce (in-batch negatives)", ("text", "clip"): "symmetric info_nce (window <-> description)",
}

_TRAIN_KEYS = ("epochs", "max_steps", "batch_size", "lr", "weight_decay", "device", "precision", "seed")
_IMAGE_SSL = {"max_steps": 300, "batch_size": 256, "lr": 3e-3, "weight_decay": 1e-4}
#: training settings of each method (override with --config / flags)
DEFAULTS: dict[tuple[str, str], dict[str, Any]] = {
    **{("image", m): dict(_IMAGE_SSL) for m in IMAGE_METHODS},
    ("image", "clip"): {**_IMAGE_SSL, "max_steps": 200},
    ("image", "jigsaw"): {**_IMAGE_SSL, "max_steps": 600},
    ("text", "word2vec"): {"max_steps": 400, "batch_size": 1024, "lr": 1e-2, "weight_decay": 0.0},
    ("text", "mlm"): {"max_steps": 600, "batch_size": 128, "lr": 3e-3, "weight_decay": 1e-2},
    ("text", "simcse"): {"max_steps": 300, "batch_size": 128, "lr": 1e-3, "weight_decay": 1e-2},
    ("text", "clip"): {"max_steps": 300, "batch_size": 256, "lr": 3e-3, "weight_decay": 1e-4},
}
_COMMON = {"epochs": None, "device": "auto", "precision": "fp32", "seed": 0}


# --------------------------------------------------------------------------- settings
def resolve_settings(modality: str, method: str, args: Any = None) -> dict[str, Any]:
    """Training settings, method_kwargs and encoder_kwargs: DEFAULTS < --config file < flags.

    ``args``: an argparse Namespace of ``tsssl train`` (None = not given), a mapping (which may
    also hold ``method_kwargs`` / ``encoder_kwargs`` and ``config``), or None.
    Flags / keys not used by these modalities (window, tickers, ...) are ignored. Giving
    ``epochs`` without ``max_steps`` trains for those epochs.
    """
    if modality not in MODALITY_METHODS:
        raise ValueError(f"modality {modality!r} is not one of {', '.join(MODALITY_METHODS)}")
    if method not in MODALITY_METHODS[modality]:
        raise ValueError(f"method {method!r} does not run on --modality {modality}; accepted: "
                         + ", ".join(MODALITY_METHODS[modality]))
    a = _as_namespace(args)
    s: dict[str, Any] = {**_COMMON, **DEFAULTS[(modality, method)], "method_kwargs": {}, "encoder_kwargs": {}}
    layers: list[tuple[str, Mapping[str, Any]]] = []
    if getattr(a, "config", None):
        from tsssl.config import load_toml

        layers.append((f"config file {a.config!r}", load_toml(a.config)))
    # flags (an argparse Namespace) or, from Python, a mapping that may also hold the kwargs
    layers.append(("arguments", {k: getattr(a, k, None)
                                 for k in _TRAIN_KEYS + ("out", "method_kwargs", "encoder_kwargs")}))
    for origin, values in layers:
        given = {k: v for k, v in values.items() if v is not None}
        if "epochs" in given and "max_steps" not in given:
            s["max_steps"] = None
        for k in _TRAIN_KEYS:
            if k in given:
                s[k] = given[k]
        for k in ("method_kwargs", "encoder_kwargs"):
            if k in given:
                if not isinstance(given[k], Mapping):
                    raise ValueError(f"{origin}: {k} must be a table of settings, got {given[k]!r}")
                s[k] = {**s[k], **given[k]}
        if given.get("out"):
            s["out"] = str(given["out"])
    s["resume"] = bool(getattr(a, "resume", False))
    return s


def _as_namespace(args: Any) -> Any:
    if args is None:
        return SimpleNamespace()
    if isinstance(args, Mapping):
        return SimpleNamespace(**args)
    return args


# --------------------------------------------------------------------------- experiments
class Experiment(SimpleNamespace):
    """What a run needs: ``method`` (untrained), ``data`` (for Trainer.fit), ``evaluate``
    (trained method, its initial copy -> metrics dict), ``describe`` (the data, in words)."""

    method: Any
    data: Any
    evaluate: Callable[[Any, Any], dict[str, Any]]
    describe: str


def build_experiment(modality: str, method: str, seed: int = 0, method_kwargs: Optional[Mapping] = None,
                     encoder_kwargs: Optional[Mapping] = None) -> Experiment:
    """The model, data and evaluation of ``modality`` / ``method`` (torch seeded with ``seed``)."""
    import torch

    torch.manual_seed(seed)
    mk, ek = dict(method_kwargs or {}), dict(encoder_kwargs or {})
    if modality == "image":
        return _image_experiment(method, seed, mk, ek)
    if method == "clip":
        return _window_clip_experiment(seed, mk, ek)
    return _text_experiment(method, seed, mk, ek)


def _kw_error(what: str, err: TypeError) -> ValueError:
    return ValueError(f"{what}: {err} (check method_kwargs / encoder_kwargs in the config)")


def image_probe_metrics(encoder: Any, initial_encoder: Any, split: Any, seed: int = 0) -> dict[str, Any]:
    """Probe accuracies on the held-out digits for the trained encoder, its random
    initialisation and the raw pixels (same probes, same split).

    Both encoders get their BatchNorm statistics from the training digits first (copies,
    ``calibrate_batchnorm``): the random one has none of its own, and a pretext task may train
    on other inputs than whole digits (Jigsaw's standardised tiles), so the probe compares the
    weights, not statistics of different inputs.
    """
    from tsssl.evaluate.embedding import calibrate_batchnorm, encode, probe_accuracies

    encoder = calibrate_batchnorm(copy.deepcopy(encoder), split.X_train)
    initial_encoder = calibrate_batchnorm(copy.deepcopy(initial_encoder), split.X_train)

    def probes(Z_train: np.ndarray, Z_test: np.ndarray) -> dict[str, float]:
        return {k: round(v, 4) for k, v in probe_accuracies(Z_train, split.y_train, Z_test, split.y_test,
                                                             seed=seed).items()}

    return {
        "trained": probes(encode(encoder, split.X_train), encode(encoder, split.X_test)),
        "random_encoder": probes(encode(initial_encoder, split.X_train), encode(initial_encoder, split.X_test)),
        "raw_pixels": probes(split.X_train.reshape(len(split.X_train), -1),
                             split.X_test.reshape(len(split.X_test), -1)),
    }


def _image_experiment(method: str, seed: int, mk: dict, ek: dict) -> Experiment:
    import torch

    from tsssl.augment.image import RandomResizedCrop, default_image_views
    from tsssl.data.image import digits_split
    from tsssl.encoders.image import ConvEncoder, ImageRowEncoder

    # RotNet and Jigsaw on the 8 x 8 digits did not beat the random encoder; upsampled to
    # 16 x 16 they did (measured, experiments/image_text/RESULTS.md): their runs use 16 x 16
    # digits, the others the originals
    size = int(mk.pop("digit_size", 16 if method in ("rotnet", "jigsaw") else 8))
    split = digits_split(test_frac=0.25, seed=seed, size=size)
    X_train = torch.from_numpy(split.X_train)
    describe = f"scikit-learn digits: {split.describe()}" + (" (upsampled from 8 x 8)" if size != 8 else "")

    if method == "clip":
        return _digits_clip_experiment(split, seed, mk, ek, describe)
    if method == "cpc":
        from tsssl.methods import CPC

        enc_kw = {"in_channels": 1, "width": size, "height": size, "row_height": size // 8, "hidden": 64,
                  "out_dim": 32, **ek}
        kw = {"context_dim": 64, "n_predictions": 2, "n_context": 3, "min_context": 2, **mk}
        try:
            m = CPC(ImageRowEncoder(**enc_kw), **kw)
        except TypeError as err:
            raise _kw_error("cpc", err) from None
    else:
        # The last blocks of a pretext network specialise to its task (Gidaris et al. found
        # RotNet's middle blocks best, Goyal et al. Jigsaw's lower / middle ones): RotNet keeps
        # two blocks as the representation and learns its task in an MLP head; Jigsaw keeps
        # the first block (pooled to 2 x 2) and solves the puzzle with two more conv blocks on
        # each tile (its trunk, ``trunk_channels``), which the probe does not use.
        channels, pool = {"rotnet": ((32, 64), 1), "jigsaw": ((32,), 2)}.get(method, ((32, 64, 64), 1))
        enc_kw = {"in_channels": 1, "channels": channels, "pool": pool, **ek}
        try:
            encoder = ConvEncoder(**enc_kw)
        except TypeError as err:
            raise _kw_error("ConvEncoder", err) from None
        # a random shift / crop first: the digits' first pixel column is always empty, which
        # would give away a rotation or a tile's place without looking at the digit
        shift = RandomResizedCrop(scale=(0.7, 1.0))
        try:
            if method == "rotnet":
                from tsssl.methods.rotnet import RotNet

                m = RotNet(encoder, shift, **{"hidden": 256, **mk})
            elif method == "jigsaw":
                from tsssl.methods.jigsaw import Jigsaw

                trunk_channels = tuple(mk.pop("trunk_channels", (64, 128)))
                trunk = ConvEncoder(encoder.map_channels, trunk_channels) if trunk_channels else None
                grid = mk.get("grid", 2)
                cell = size // grid if isinstance(grid, int) and grid >= 2 else None  # Jigsaw names a bad grid
                # tiles of 3/4 of their cell (6 of 8 pixels at 16 x 16): gaps of up to 2 pixels
                # between neighbouring tiles hide the strokes' continuity across cell edges
                tile = max(cell - cell // 4, 1) if cell else None
                m = Jigsaw(encoder, shift, **{"grid": 2, "n_permutations": 24, "seed": seed, "tile_size": tile,
                                              "trunk": trunk, **mk})
            else:
                from tsssl.methods.registry import METHODS

                m = METHODS[method](encoder, default_image_views(), **mk)
        except TypeError as err:
            raise _kw_error(method, err) from None

    def evaluate(trained: Any, initial: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"probes": image_probe_metrics(trained.encoder, initial.encoder, split, seed)}
        X_test = torch.from_numpy(split.X_test).to(next(trained.parameters()).device)
        if method == "rotnet":
            out["rotation_accuracy"] = {"trained": round(trained.rotation_accuracy(X_test), 4), "chance": 0.25}
        if method == "jigsaw":
            out["puzzle_accuracy"] = {"trained": round(trained.puzzle_accuracy(X_test, seed), 4),
                                      "chance": round(1 / trained.n_permutations, 4)}
        p = out["probes"]
        out["headline"] = {"metric": "linear-probe accuracy on held-out digits",
                           "trained": p["trained"]["linear_probe"],
                           "random_encoder": p["random_encoder"]["linear_probe"],
                           "raw_pixels": p["raw_pixels"]["linear_probe"]}
        return out

    return Experiment(method=m, data=X_train, evaluate=evaluate, describe=describe)


def digit_captions(template_index: np.ndarray, labels: np.ndarray) -> list[str]:
    """The caption of each digit: DIGIT_TEMPLATES[template_index[i]] with the spelled-out digit."""
    from tsssl.data.image import DIGIT_NAMES, DIGIT_TEMPLATES

    return [DIGIT_TEMPLATES[t].format(DIGIT_NAMES[y]) for t, y in zip(template_index, labels)]


def _digits_clip_experiment(split: Any, seed: int, mk: dict, ek: dict, describe: str) -> Experiment:
    import torch

    from tsssl.augment.image import default_image_views
    from tsssl.data.image import DIGIT_NAMES, DIGIT_TEMPLATES
    from tsssl.data.text import Tokenizer
    from tsssl.encoders.image import ConvEncoder
    from tsssl.encoders.text import TextTransformerEncoder
    from tsssl.evaluate.embedding import zero_shot_accuracy
    from tsssl.methods.clip import CLIP

    all_captions = [t.format(n) for n in DIGIT_NAMES for t in DIGIT_TEMPLATES]
    tok = Tokenizer.from_texts(all_captions, min_count=1)
    L = 8
    class_ids = tok(all_captions, max_len=L).reshape(len(DIGIT_NAMES), len(DIGIT_TEMPLATES), L)
    # each training digit gets one caption, its template drawn at random (seeded)
    template = np.random.default_rng(seed).integers(len(DIGIT_TEMPLATES), size=len(split.y_train))
    text_ids = tok(digit_captions(template, split.y_train), max_len=L)
    text_kw = {"d_model": 32, "heads": 2, "layers": 1, "dim_feedforward": 64, "max_len": L, "dropout": 0.1,
               **ek.pop("text", {})}
    try:
        m = CLIP(ConvEncoder(**{"in_channels": 1, "channels": (32, 64, 64), **ek}),
                 TextTransformerEncoder(len(tok), **text_kw), view=default_image_views().t1,
                 **{"embed_dim": 32, **mk})
    except TypeError as err:
        raise _kw_error("clip", err) from None

    def evaluate(trained: Any, initial: Any) -> dict[str, Any]:
        dev = next(trained.parameters()).device
        X_test = torch.from_numpy(split.X_test).to(dev)

        def zero_shot(model: Any) -> float:
            was = model.training
            model.eval()
            try:
                with torch.no_grad():
                    a = model.encode_a(X_test).cpu()
                    c = model.class_embeddings(class_ids.to(dev)).cpu()
            finally:
                model.train(was)
            return round(zero_shot_accuracy(a, c, split.y_test), 4)

        zs = {"trained": zero_shot(trained), "random_init": zero_shot(initial.to(dev)), "chance": 0.1}
        return {"zero_shot_accuracy": zs,
                "class_texts": {n: [t.format(n) for t in DIGIT_TEMPLATES] for n in DIGIT_NAMES},
                "probes": image_probe_metrics(trained.encoder, initial.encoder, split, seed),
                "headline": {"metric": "zero-shot accuracy on held-out digits (10 classes)",
                             "trained": zs["trained"], "random_encoder": zs["random_init"], "chance": 0.1}}

    return Experiment(method=m, data=(torch.from_numpy(split.X_train), text_ids), evaluate=evaluate,
                      describe=describe + f"; captions from {len(DIGIT_TEMPLATES)} templates")


def _text_experiment(method: str, seed: int, mk: dict, ek: dict) -> Experiment:
    from tsssl.data.text import Tokenizer, load_pydoc_corpus, topic_split

    corpus = load_pydoc_corpus()
    train, test = topic_split(corpus, test_frac=0.25, min_per_topic=30, seed=seed)
    describe = (f"pydoc_data.topics: {len(corpus):,} sentences; topic probes on {len(train):,} train / "
                f"{len(test):,} test sentences of {len(np.unique(train.topic))} topics")
    if method == "word2vec":
        return _word2vec_experiment(corpus, train, test, seed, mk, ek, describe)

    from tsssl.encoders.text import TextTransformerEncoder

    tok = Tokenizer.from_texts(train.sentences, min_count=2)  # vocabulary from training sentences only
    L = 32
    ids_train = tok(train.sentences, max_len=L, add_cls=True)
    ids_test = tok(test.sentences, max_len=L, add_cls=True)
    enc_kw = {"d_model": 64, "heads": 4, "layers": 2, "dim_feedforward": 128, "max_len": L, "dropout": 0.1, **ek}
    try:
        encoder = TextTransformerEncoder(len(tok), **enc_kw)
        if method == "mlm":
            from tsssl.methods.mlm import MaskedLM

            m = MaskedLM(encoder, len(tok), **mk)
        else:
            from tsssl.methods.simcse import SimCSE

            m = SimCSE(encoder, **mk)
    except TypeError as err:
        raise _kw_error(method, err) from None
    describe += f"; vocabulary {len(tok):,} (min count 2, training sentences), {L} tokens per sentence"

    def evaluate(trained: Any, initial: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"topic_probes": _topic_probes(trained.encoder, initial.encoder, ids_train,
                                                             ids_test, train.topic, test.topic, seed)}
        if method == "mlm":
            dev = next(trained.parameters()).device
            acc = {"trained": round(trained.masked_accuracy(ids_test.to(dev), seed), 4),
                   "random_init": round(initial.to(dev).masked_accuracy(ids_test.to(dev), seed), 4),
                   "most_frequent_word": round(_most_frequent_word_accuracy(ids_train, ids_test, trained, seed), 4)}
            out["masked_token_accuracy"] = acc
            out["headline"] = {"metric": "masked-token accuracy on held-out sentences",
                               "trained": acc["trained"], "random_encoder": acc["random_init"],
                               "most_frequent_word": acc["most_frequent_word"]}
        else:
            t = out["topic_probes"]
            out["headline"] = {"metric": f"k-NN topic accuracy of sentence embeddings ({len(np.unique(train.topic))} topics)",
                               "trained": t["trained"]["knn"], "random_encoder": t["random_encoder"]["knn"]}
        return out

    return Experiment(method=m, data=ids_train, evaluate=evaluate, describe=describe)


def _topic_probes(encoder: Any, initial: Any, ids_train: Any, ids_test: Any, y_train: np.ndarray,
                  y_test: np.ndarray, seed: int) -> dict[str, Any]:
    from tsssl.evaluate.embedding import encode, probe_accuracies

    def probes(enc: Any) -> dict[str, float]:
        r = probe_accuracies(encode(enc, ids_train), y_train, encode(enc, ids_test), y_test, seed=seed, few_label=None)
        return {k: round(v, 4) for k, v in r.items()}

    return {"trained": probes(encoder), "random_encoder": probes(initial),
            "majority_class": round(float(np.mean(y_test == np.bincount(y_train).argmax())), 4)}


def _most_frequent_word_accuracy(ids_train: Any, ids_test: Any, method: Any, seed: int) -> float:
    """Masked-token accuracy of always guessing the most frequent training word (same masks)."""
    import torch

    from tsssl.data.text import SPECIAL_TOKENS
    from tsssl.methods.mlm import IGNORE, bert_mask

    counts = torch.bincount(ids_train.flatten(), minlength=method.vocab_size)
    counts[: len(SPECIAL_TOKENS)] = 0
    top = int(counts.argmax())
    _, labels = bert_mask(ids_test, method.vocab_size, method.mask_prob, generator=torch.Generator().manual_seed(seed))
    keep = labels != IGNORE
    return float((labels[keep] == top).float().mean())


def _word2vec_experiment(corpus: Any, train: Any, test: Any, seed: int, mk: dict, ek: dict,
                         describe: str) -> Experiment:
    from tsssl.data.text import (
        RELATED_WORD_PAIRS,
        Tokenizer,
        noise_distribution,
        word2vec_data,
    )
    from tsssl.evaluate.embedding import (
        encode,
        nearest_words,
        probe_accuracies,
        related_vs_random,
    )
    from tsssl.methods.word2vec import Word2Vec

    if ek:
        raise ValueError(f"word2vec takes no encoder_kwargs (its size is method_kwargs dim), got {sorted(ek)}")
    data_kw = {k: mk.pop(k) for k in ("window", "t", "draws", "min_count") if k in mk}
    min_count = int(data_kw.pop("min_count", 5))
    # the vectors are learned from the training sentences only (the test ones are probed)
    tok = Tokenizer.from_texts(train.sentences, min_count=min_count)
    mode = mk.get("mode", "skipgram")
    a, b = word2vec_data(tok, train.sentences, mode=mode, seed=seed, **{"window": 5, "t": 1e-3, "draws": 1, **data_kw})
    try:
        m = Word2Vec(len(tok), noise_distribution(tok.vocab.counts), **{"dim": 64, **mk})
    except TypeError as err:
        raise _kw_error("word2vec", err) from None
    vocab = tok.vocab
    pairs = np.array([(vocab.id(x), vocab.id(y)) for x, y in RELATED_WORD_PAIRS if x in vocab and y in vocab])
    queries = ["list", "true", "int", "exception", "class", "loop", "string", "import"]
    L = 32
    ids_train, ids_test = tok(train.sentences, max_len=L), tok(test.sentences, max_len=L)
    describe += (f"; {mode} on the training sentences: vocabulary {len(tok):,} words (min count {min_count}), "
                 f"{len(b):,} examples after sub-sampling")

    def evaluate(trained: Any, initial: Any) -> dict[str, Any]:
        V, V0 = trained.encoder.vectors.cpu().numpy(), initial.encoder.vectors.cpu().numpy()
        words = np.arange(vocab.n_special, len(vocab))
        rel = {"trained": related_vs_random(V, pairs), "random_init": related_vs_random(V0, pairs),
               "trained_vs_random_word_pairs": related_vs_random(V, pairs, "random", candidates=words, seed=seed),
               "pairs": [f"{x}-{y}" for x, y in RELATED_WORD_PAIRS if x in vocab and y in vocab]}

        def probes(enc: Any) -> dict[str, float]:
            r = probe_accuracies(encode(enc, ids_train), train.topic, encode(enc, ids_test), test.topic,
                                 seed=seed, few_label=None)
            return {k: round(v, 4) for k, v in r.items()}

        return {"related_vs_random": rel,
                "nearest_words": nearest_words(V, vocab, queries, k=5),
                "topic_probes": {"trained": probes(trained.encoder), "random_encoder": probes(initial.encoder),
                                 "note": "sentence = mean word vector"},
                "headline": {"metric": f"AUC of {len(pairs)} related word pairs vs the same words re-paired",
                             "trained": round(rel["trained"]["auc"], 4),
                             "random_encoder": round(rel["random_init"]["auc"], 4), "chance": 0.5}}

    return Experiment(method=m, data=(a, b), evaluate=evaluate, describe=describe)


def _window_clip_experiment(seed: int, mk: dict, ek: dict) -> Experiment:
    import torch

    from tsssl.data import build_windows, chronological_split, load_sample
    from tsssl.data.text import TREND_PHRASES, Tokenizer, describe_returns
    from tsssl.encoders import CNNEncoder
    from tsssl.encoders.text import TextTransformerEncoder
    from tsssl.evaluate.embedding import zero_shot_accuracy
    from tsssl.methods.clip import CLIP
    from tsssl.methods.registry import StandardizedEncoder, channel_stats

    ws = build_windows(load_sample(), window=20, horizon=5)
    split = chronological_split(ws)
    train, test = split.train, split.test
    ret = ws.feature_names.index("log_ret")
    texts_train, _ = describe_returns(train.X[:, :, ret])
    texts_test, trend_test = describe_returns(test.X[:, :, ret])
    tok = Tokenizer.from_texts(texts_train, min_count=1)
    L = 12
    ids_train, ids_test = tok(texts_train, max_len=L), tok(texts_test, max_len=L)
    prompts = tok([f"overall {p}" for p in TREND_PHRASES], max_len=L)
    text_kw = {"d_model": 32, "heads": 2, "layers": 1, "dim_feedforward": 64, "max_len": L, "dropout": 0.1,
               **ek.pop("text", {})}
    try:
        window_encoder = StandardizedEncoder(CNNEncoder(ws.X.shape[2], **{"channels": 32, "layers": 3, **ek}),
                                             *channel_stats(train.X))
        m = CLIP(window_encoder, TextTransformerEncoder(len(tok), **text_kw), **{"embed_dim": 32, **mk})
    except TypeError as err:
        raise _kw_error("clip", err) from None
    describe = (f"bundled sample prices: {len(train):,} training / {len(test):,} test windows of 20 days "
                f"(chronological split) with a generated description each, e.g. {texts_train[0]!r}")

    def evaluate(trained: Any, initial: Any) -> dict[str, Any]:
        dev = next(trained.parameters()).device
        X = torch.from_numpy(test.X).to(dev)

        def scores(model: Any) -> tuple[float, float]:
            was = model.training
            model.eval()
            try:
                with torch.no_grad():
                    a = torch.cat([model.encode_a(X[i:i + 1024]) for i in range(0, len(X), 1024)]).cpu()
                    c = model.class_embeddings(prompts.to(dev)).cpu()
                    n = min(512, len(X))
                    b = model.encode_text(ids_test[:n].to(dev)).cpu()
            finally:
                model.train(was)
            # retrieval counts a hit when the retrieved description is the window's own text
            # (many windows share one)
            hit = np.asarray(texts_test[:n])[(a[:n] @ b.T).argmax(1).numpy()] == np.asarray(texts_test[:n])
            return round(zero_shot_accuracy(a, c, trend_test), 4), round(float(hit.mean()), 4)

        (zs, ret_t), (zs0, ret0) = scores(trained), scores(initial.to(dev))
        majority = round(float(np.max(np.bincount(trend_test, minlength=len(TREND_PHRASES))) / len(trend_test)), 4)
        return {"zero_shot_trend_accuracy": {"trained": zs, "random_init": zs0, "majority_class": majority,
                                             "classes": [f"overall {p}" for p in TREND_PHRASES]},
                "text_retrieval_top1_of_512": {"trained": ret_t, "random_init": ret0},
                "headline": {"metric": "zero-shot trend accuracy on test windows (5 classes)", "trained": zs,
                             "random_encoder": zs0, "majority_class": majority}}

    return Experiment(method=m, data=(torch.from_numpy(train.X), ids_train), evaluate=evaluate, describe=describe)


# --------------------------------------------------------------------------- the command
def train_modality(modality: str, method: str, args: Any = None) -> dict[str, Any]:
    """Build the data and method, train with the Trainer, evaluate, write the outputs to
    ``args.out`` (checkpoint.pt, log.csv, metrics.json, config.toml) and return the metrics."""
    from tsssl.train import Trainer

    s = resolve_settings(modality, method, args)
    out = Path(s.get("out") or Path("runs") / f"{modality}-{method}-{_dt.datetime.now():%Y%m%d-%H%M%S}")
    if not s["resume"] and (out / "checkpoint.pt").exists():
        raise ValueError(f"{out} already holds a run (checkpoint.pt); pass --resume to continue it "
                         "or choose another --out")
    if s["resume"] and not (out / "checkpoint.pt").exists():
        raise ValueError(f"--resume: no checkpoint.pt in {out} to continue from")
    t_start = time.perf_counter()
    trainer = Trainer(epochs=s["epochs"], max_steps=s["max_steps"], batch_size=s["batch_size"], lr=s["lr"],
                      weight_decay=s["weight_decay"], device=s["device"], precision=s["precision"],
                      seed=s["seed"], out_dir=out, log_every=max(1, min(20, (s["max_steps"] or 100) // 10)))
    exp = build_experiment(modality, method, s["seed"], s["method_kwargs"], s["encoder_kwargs"])
    initial = copy.deepcopy(exp.method)  # the random-initialisation baseline: same weights before training
    out.mkdir(parents=True, exist_ok=True)
    _save_config(out / "config.toml", modality, method, s)

    t0 = time.perf_counter()
    result = trainer.fit(exp.method, exp.data, resume=s["resume"])
    t_train = time.perf_counter() - t0
    exp.method.eval()
    t0 = time.perf_counter()
    evaluation = exp.evaluate(exp.method, initial)
    t_eval = time.perf_counter() - t0
    first_loss = result.history[0]["loss"] if result.history else None
    metrics = {
        "modality": modality,
        "method": method,
        "loss": LOSSES[(modality, method)],
        "data": exp.describe,
        "first_logged_loss": finite_or_none(first_loss),
        "final_loss": finite_or_none(result.final_loss),
        "steps": int(result.steps),
        "samples_per_s": finite_or_none(result.samples_per_s),
        "device": result.device,
        **evaluation,
        "seconds": {"train": round(t_train, 2), "evaluate": round(t_eval, 2),
                    "total": round(time.perf_counter() - t_start, 2)},
        "settings": {k: s[k] for k in _TRAIN_KEYS + ("method_kwargs", "encoder_kwargs")},
    }
    write_json(out / "metrics.json", metrics)
    print(summary(metrics, out))
    return metrics


def summary(m: Mapping[str, Any], out: Path) -> str:
    h = m["headline"]
    others = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in h.items() if k not in ("metric", "trained"))
    return "\n".join([
        f"tsssl train --modality {m['modality']} --method {m['method']} ({m['loss']})",
        f"  data: {m['data']}",
        f"  trained {m['steps']} steps on {m['device']} in {m['seconds']['train']:.1f} s: loss "
        f"{_fmt(m['first_logged_loss'])} -> {_fmt(m['final_loss'])}",
        f"  {h['metric']}: {h['trained']} ({others})",
        f"  outputs in {out}/: checkpoint.pt, log.csv, metrics.json, config.toml",
    ])


def _fmt(x: Optional[float]) -> str:
    """A loss for the summary: 4 significant digits (the full value is in metrics.json)."""
    return "n/a" if x is None else f"{x:.4g}"


def _save_config(path: Path, modality: str, method: str, s: Mapping[str, Any]) -> None:
    """config.toml: the settings that repeat this run with ``tsssl train --config``."""
    values = {"modality": modality, "method": method, **{k: s[k] for k in _TRAIN_KEYS},
              "method_kwargs": dict(s["method_kwargs"]), "encoder_kwargs": dict(s["encoder_kwargs"]),
              "out": str(path.parent)}
    from tsssl.config import write_toml

    write_toml(path, values)
