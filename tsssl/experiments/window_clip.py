"""CLIP on price windows: each window of the bundled sample against a generated description of
its returns ("overall up, strong, ..."), through the same Trainer and InfoNCE as the rest.

Evaluation: zero-shot trend accuracy on the test windows (5 prompts "overall <trend>") and
top-1 retrieval of a window's own description among 512, trained vs random initialisation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from tsssl import registry
from tsssl.data import build_windows, chronological_split, load_sample
from tsssl.data.text import TREND_PHRASES, Tokenizer, describe_returns
from tsssl.encoders import CNNEncoder
from tsssl.encoders.text import TextTransformerEncoder
from tsssl.evaluate.embedding import zero_shot_accuracy
from tsssl.experiments.base import SMALL_TEXT_TOWER, Experiment, kw_error
from tsssl.methods import StandardizedEncoder, channel_stats


def build(method: str, seed: int, mk: dict, ek: dict) -> Experiment:
    """CLIP between the sample's price windows and a generated description of each (torch seeded)."""
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
    text_kw = {**SMALL_TEXT_TOWER, "max_len": L, **ek.pop("text", {})}
    try:
        window_encoder = StandardizedEncoder(
            CNNEncoder(ws.X.shape[2], **{"channels": 32, "layers": 3, **ek}), *channel_stats(train.X)
        )
        m = registry.method_class("clip")(
            window_encoder, TextTransformerEncoder(len(tok), **text_kw), **{"embed_dim": 32, **mk}
        )
    except TypeError as err:
        raise kw_error("clip", err) from None
    describe = (
        f"bundled sample prices: {len(train):,} training / {len(test):,} test windows of 20 days "
        f"(chronological split) with a generated description each, e.g. {texts_train[0]!r}"
    )

    def evaluate(trained: Any, initial: Any) -> dict[str, Any]:
        dev = next(trained.parameters()).device
        X = torch.from_numpy(test.X).to(dev)

        def scores(model: Any) -> tuple[float, float]:
            was = model.training
            model.eval()
            try:
                with torch.no_grad():
                    a = torch.cat([model.encode_a(X[i : i + 1024]) for i in range(0, len(X), 1024)]).cpu()
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
        return {
            "zero_shot_trend_accuracy": {
                "trained": zs,
                "random_init": zs0,
                "majority_class": majority,
                "classes": [f"overall {p}" for p in TREND_PHRASES],
            },
            "text_retrieval_top1_of_512": {"trained": ret_t, "random_init": ret0},
            "headline": {
                "metric": "zero-shot trend accuracy on test windows (5 classes)",
                "trained": zs,
                "random_encoder": zs0,
                "majority_class": majority,
            },
        }

    return Experiment(method=m, data=(torch.from_numpy(train.X), ids_train), evaluate=evaluate, describe=describe)
