"""Evaluation of learned embeddings on labelled held-out data (images, sentences, words).

- ``calibrate_batchnorm`` gives a random baseline the data's normalisation statistics
  (representations themselves: ``tsssl.evaluate.embed``, for windows, images and token ids).
- ``linear_probe_accuracy`` / ``knn_accuracy``: multi-class accuracy of a logistic-regression
  probe / a cosine k-nearest-neighbour vote fitted on train embeddings, scored on test ones;
  ``probe_accuracies`` both at once.
- ``nearest_neighbours`` / ``nearest_words``: cosine neighbours of query vectors / words.
- ``related_vs_random``: are related pairs (e.g. hand-picked) more similar than control pairs
  (the same words re-paired, or random pairs)? Mean cosines and the AUC P(cos(related) >
  cos(control)), 0.5 = chance.
- ``zero_shot_accuracy`` / ``retrieval_accuracy``: CLIP-style evaluation from normalised
  embeddings of two modalities.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

ArrayLike = np.ndarray | Tensor


def _np(a: ArrayLike, name: str, ndim: int) -> np.ndarray:
    a = a.detach().cpu().numpy() if isinstance(a, Tensor) else np.asarray(a)
    if a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {a.shape}")
    return a


def _unit(Z: np.ndarray) -> np.ndarray:
    Z = np.asarray(Z, dtype=np.float64)
    n = np.linalg.norm(Z, axis=1, keepdims=True)
    return Z / np.where(n > 0, n, 1.0)


@torch.no_grad()
def calibrate_batchnorm(encoder: nn.Module, X: ArrayLike, batch_size: int = 1024) -> nn.Module:
    """Set the running statistics of every BatchNorm layer of ``encoder`` to the exact mean /
    variance over the inputs X (one pass in train mode, no gradient, weights untouched), then
    restore the layers' momentum and the encoder's mode. Returns the encoder.

    A randomly initialised encoder evaluated with its initial statistics (mean 0, variance 1)
    feeds un-normalised activations to its ReLUs; any training, even a few steps, replaces them
    with the data's statistics. Calibrating the random baseline the same way keeps that change
    from passing for learned features.
    """
    norms = [m for m in encoder.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return encoder
    x = X if isinstance(X, Tensor) else torch.as_tensor(np.asarray(X))
    device = next(iter(encoder.parameters())).device
    was, momenta = encoder.training, [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches
    encoder.train()
    try:
        for i in range(0, len(x), batch_size):
            encoder(x[i : i + batch_size].to(device))
    finally:
        for m, mom in zip(norms, momenta):
            m.momentum = mom
        encoder.train(was)
    return encoder


def _check_split(Z_train: ArrayLike, y_train: ArrayLike, Z_test: ArrayLike, y_test: ArrayLike):
    Ztr, Zte = _np(Z_train, "Z_train", 2), _np(Z_test, "Z_test", 2)
    ytr, yte = _np(y_train, "y_train", 1), _np(y_test, "y_test", 1)
    if len(Ztr) != len(ytr) or len(Zte) != len(yte):
        raise ValueError(f"Z and y lengths differ: train {len(Ztr)} vs {len(ytr)}, test {len(Zte)} vs {len(yte)}")
    if Ztr.shape[1] != Zte.shape[1]:
        raise ValueError(f"train and test embeddings differ in width: {Ztr.shape[1]} vs {Zte.shape[1]}")
    if len(Ztr) == 0 or len(Zte) == 0:
        raise ValueError("train and test embeddings must both be non-empty")
    return Ztr, ytr, Zte, yte


def linear_probe_accuracy(
    Z_train: ArrayLike,
    y_train: ArrayLike,
    Z_test: ArrayLike,
    y_test: ArrayLike,
    C: float = 1.0,
    max_iter: int = 2000,
    seed: int = 0,
) -> float:
    """Accuracy on test of a multinomial logistic regression (features standardised on train,
    L2 penalty 1/C) fitted on the train embeddings."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    Ztr, ytr, Zte, yte = _check_split(Z_train, y_train, Z_test, y_test)
    if len(np.unique(ytr)) < 2:
        raise ValueError("y_train holds a single class: a probe needs at least two")
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    probe = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter, random_state=seed))
    # One BLAS thread: the matrices are small ((N, D) with N ~ 2k, D ~ 64), and OpenBLAS threads
    # contending for shared cores made each fit 7-20x slower (measured: 1.0 s vs 0.05 s for the
    # digits probe on a loaded 2-core box).
    with warnings.catch_warnings(), threadpool_limits(1, user_api="blas"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        probe.fit(Ztr.astype(np.float64), ytr)
        return float(np.mean(probe.predict(Zte.astype(np.float64)) == yte))


def knn_predict(Z_train: ArrayLike, y_train: ArrayLike, Z_query: ArrayLike, k: int = 5) -> np.ndarray:
    """Labels of the queries by majority vote of their k most cosine-similar train embeddings
    (ties go to the label of the nearest neighbour among the tied ones)."""
    Ztr, ytr = _np(Z_train, "Z_train", 2), _np(y_train, "y_train", 1)
    Zq = _np(Z_query, "Z_query", 2)
    if not 1 <= k <= len(Ztr):
        raise ValueError(f"k must be in 1..{len(Ztr)} (the number of train embeddings), got {k}")
    classes, y_idx = np.unique(ytr, return_inverse=True)
    sim = _unit(Zq) @ _unit(Ztr).T  # (Q, N)
    top = np.argsort(-sim, axis=1, kind="stable")[:, :k]  # nearest first
    votes = np.zeros((len(Zq), len(classes)))
    # nearest neighbours weigh a hair more, which only breaks ties (k * 1e-6 < 1)
    w = 1.0 + 1e-6 * (k - np.arange(k))
    np.add.at(votes, (np.repeat(np.arange(len(Zq)), k), y_idx[top].ravel()), np.tile(w, len(Zq)))
    return classes[votes.argmax(axis=1)]


def knn_accuracy(Z_train: ArrayLike, y_train: ArrayLike, Z_test: ArrayLike, y_test: ArrayLike, k: int = 5) -> float:
    """Accuracy on test of the cosine k-NN vote over the train embeddings (``knn_predict``)."""
    Ztr, ytr, Zte, yte = _check_split(Z_train, y_train, Z_test, y_test)
    return float(np.mean(knn_predict(Ztr, ytr, Zte, k) == yte))


def few_label_probe_accuracy(
    Z_train: ArrayLike,
    y_train: ArrayLike,
    Z_test: ArrayLike,
    y_test: ArrayLike,
    per_class: int = 5,
    draws: int = 5,
    seed: int = 0,
) -> float:
    """Mean test accuracy of linear probes each fitted on only ``per_class`` labelled train
    embeddings per class (``draws`` seeded draws of the labelled subset): the label-efficient
    regime, where a representation that groups classes matters most."""
    Ztr, ytr, Zte, yte = _check_split(Z_train, y_train, Z_test, y_test)
    classes = np.unique(ytr)
    counts = np.array([np.sum(ytr == c) for c in classes])
    if per_class < 1 or (counts < per_class).any():
        raise ValueError(f"per_class must be in 1..{counts.min()} (the smallest class), got {per_class}")
    rng = np.random.default_rng(seed)
    accs = []
    for d in range(draws):
        pick = np.concatenate([rng.choice(np.flatnonzero(ytr == c), per_class, replace=False) for c in classes])
        accs.append(linear_probe_accuracy(Ztr[pick], ytr[pick], Zte, yte, seed=seed + d))
    return float(np.mean(accs))


def probe_accuracies(
    Z_train: ArrayLike,
    y_train: ArrayLike,
    Z_test: ArrayLike,
    y_test: ArrayLike,
    k: int = 5,
    seed: int = 0,
    few_label: int | None = 5,
) -> dict[str, float]:
    """{"linear_probe", "knn", and (unless ``few_label`` is None) "linear_probe_{n}_per_class"}:
    accuracies of the same embeddings (see the functions of those names)."""
    out = {
        "linear_probe": linear_probe_accuracy(Z_train, y_train, Z_test, y_test, seed=seed),
        "knn": knn_accuracy(Z_train, y_train, Z_test, y_test, k=k),
    }
    if few_label:
        out[f"linear_probe_{few_label}_per_class"] = few_label_probe_accuracy(
            Z_train, y_train, Z_test, y_test, per_class=few_label, seed=seed
        )
    return out


def nearest_neighbours(
    vectors: ArrayLike, queries: ArrayLike, k: int = 5, exclude: Sequence[int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(indices (Q, k), cosines (Q, k)) of the k rows of ``vectors`` most similar to each query
    vector, most similar first; ``exclude[q]`` (e.g. the query's own row) is never returned."""
    V, Q = _np(vectors, "vectors", 2), _np(queries, "queries", 2)
    if not 1 <= k < len(V) + (exclude is None):
        raise ValueError(f"k must be in 1..{len(V) - (exclude is not None)}, got {k}")
    sim = _unit(Q) @ _unit(V).T
    if exclude is not None:
        sim[np.arange(len(Q)), np.asarray(exclude)] = -np.inf
    idx = np.argsort(-sim, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(sim, idx, axis=1)


def nearest_words(
    vectors: ArrayLike, vocab: Any, words: Sequence[str], k: int = 5, skip: int = 4
) -> dict[str, list[tuple[str, float]]]:
    """For each word of ``words`` in ``vocab`` (a ``tsssl.data.text.Vocabulary``): its k nearest
    words by cosine, with the similarity; the first ``skip`` ids (special tokens) are never
    neighbours. Words not in the vocabulary are left out."""
    V = _np(vectors, "vectors", 2)[skip:]
    present = [w for w in words if w in vocab]
    if not present:
        return {}
    q = np.asarray([vocab.id(w) for w in present])
    idx, sim = nearest_neighbours(V, V[q - skip], k=k, exclude=q - skip)
    return {
        w: [(vocab.itos[i + skip], round(float(s), 4)) for i, s in zip(row_i, row_s)]
        for w, row_i, row_s in zip(present, idx, sim)
    }


def pair_cosines(vectors: ArrayLike, pairs: ArrayLike) -> np.ndarray:
    """(P,) cosine similarity of rows pairs[p, 0] and pairs[p, 1] of ``vectors``."""
    V = _unit(_np(vectors, "vectors", 2))
    P = _np(pairs, "pairs", 2).astype(np.int64)
    if P.shape[1] != 2:
        raise ValueError(f"pairs must be (P, 2) index pairs, got shape {P.shape}")
    return np.einsum("pd,pd->p", V[P[:, 0]], V[P[:, 1]])


def related_vs_random(
    vectors: ArrayLike,
    related: ArrayLike,
    control: str = "shuffled",
    n_random: int = 5000,
    candidates: ArrayLike | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """How much closer related pairs are than control pairs.

    related: (P, 2) index pairs. control "shuffled" (default): the same words re-paired, every
    (related[i, 0], related[j, 1]) with i != j and not itself a related pair - the control
    pairs then have the same word frequencies as the related ones (frequent words' vectors
    move more during training, and drift together, so pairs of random - mostly rare - words
    would flatter any trained embedding); "random": ``n_random`` pairs of distinct indices
    drawn (seeded) from ``candidates`` (default all rows). Returns the mean cosine of both
    sets and the AUC: the probability that a related pair is more similar than a control pair
    (Mann-Whitney; 0.5 = chance, 1 = every related pair beats every control pair).
    """
    V = _np(vectors, "vectors", 2)
    R = _np(related, "related", 2).astype(np.int64)
    rel = pair_cosines(V, R)
    if len(rel) == 0:
        raise ValueError("related holds no pair")
    if control == "shuffled":
        if len(R) < 2:
            raise ValueError("control='shuffled' needs at least 2 related pairs")
        i, j = np.meshgrid(np.arange(len(R)), np.arange(len(R)), indexing="ij")
        ctrl = np.stack([R[i.ravel(), 0], R[j.ravel(), 1]], axis=1)
        known = {tuple(p) for p in R} | {tuple(p[::-1]) for p in R}
        keep = np.array([a != b and (a, b) not in known for a, b in ctrl])
        ctrl = ctrl[keep]
    elif control == "random":
        cand = np.arange(len(V)) if candidates is None else np.asarray(candidates, dtype=np.int64)
        rng = np.random.default_rng(seed)
        a, b = rng.choice(cand, n_random), rng.choice(cand, n_random)
        ctrl = np.stack([a[a != b], b[a != b]], axis=1)
    else:
        raise ValueError(f"control must be 'shuffled' or 'random', got {control!r}")
    rnd = pair_cosines(V, ctrl)
    # AUC by ranks (Mann-Whitney U; tied cosines get their average rank, i.e. count half)
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([rel, rnd]))
    auc = (ranks[: len(rel)].sum() - len(rel) * (len(rel) + 1) / 2) / (len(rel) * len(rnd))
    return {
        "mean_related": float(rel.mean()),
        "mean_control": float(rnd.mean()),
        "auc": float(auc),
        "n_related": int(len(rel)),
        "n_control": int(len(rnd)),
        "control": control,
    }


def zero_shot_predict(query_emb: ArrayLike, class_emb: ArrayLike) -> np.ndarray:
    """(N,) index of the most cosine-similar class embedding for each query."""
    return (_unit(_np(query_emb, "query_emb", 2)) @ _unit(_np(class_emb, "class_emb", 2)).T).argmax(axis=1)


def zero_shot_accuracy(query_emb: ArrayLike, class_emb: ArrayLike, y: ArrayLike) -> float:
    """Share of queries whose most similar class embedding (row y[i] of class_emb) is right."""
    y = _np(y, "y", 1)
    pred = zero_shot_predict(query_emb, class_emb)
    if len(pred) != len(y):
        raise ValueError(f"{len(pred)} queries but {len(y)} labels")
    return float(np.mean(pred == y))


def retrieval_accuracy(a: ArrayLike, b: ArrayLike) -> float:
    """Top-1 retrieval: share of i for which b[i] is the most cosine-similar row of b to a[i]
    (chance: 1 / N)."""
    A, B = _np(a, "a", 2), _np(b, "b", 2)
    if A.shape != B.shape:
        raise ValueError(f"a and b must have the same shape, got {A.shape} and {B.shape}")
    return float(np.mean((_unit(A) @ _unit(B).T).argmax(axis=1) == np.arange(len(A))))
