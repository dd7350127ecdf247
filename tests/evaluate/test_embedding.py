"""Embedding evaluation: k-NN against scikit-learn, probes on separable data, neighbours and
the related-vs-control AUC against naive computations, CLIP-style scores on hand-made vectors."""

import numpy as np
import pytest
import torch
from sklearn.neighbors import KNeighborsClassifier
from torch import nn

from tsssl.data.text import Vocabulary
from tsssl.evaluate import embed
from tsssl.evaluate.embedding import (
    few_label_probe_accuracy,
    knn_accuracy,
    knn_predict,
    linear_probe_accuracy,
    nearest_neighbours,
    nearest_words,
    probe_accuracies,
    related_vs_random,
    retrieval_accuracy,
    zero_shot_accuracy,
)


def blobs(n=200, d=5, classes=3, spread=1.0, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, (classes, d))
    y = rng.integers(classes, size=n)
    return centres[y] + rng.normal(0, spread, (n, d)), y


def test_knn_matches_scikit_learn_cosine_vote():
    Z, y = blobs(300, spread=3.0)
    ref = KNeighborsClassifier(n_neighbors=7, metric="cosine", algorithm="brute").fit(Z[:200], y[:200])
    pred = knn_predict(Z[:200], y[:200], Z[200:], k=7)
    assert np.mean(pred == ref.predict(Z[200:])) > 0.97  # vote ties may break differently
    assert knn_accuracy(Z[:200], y[:200], Z[200:], y[200:], k=7) == pytest.approx(np.mean(pred == y[200:]))


def test_knn_ties_go_to_the_nearest_neighbour():
    Z = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert knn_predict(Z, np.array([5, 9]), np.array([[1.0, 0.2], [0.2, 1.0]]), k=2).tolist() == [5, 9]


def test_probes_separate_separable_classes_and_not_noise():
    Z, y = blobs(400, spread=0.5)
    acc = probe_accuracies(Z[:300], y[:300], Z[300:], y[300:], few_label=3)
    assert acc["linear_probe"] == 1.0 and acc["knn"] == 1.0 and acc["linear_probe_3_per_class"] > 0.95
    noise = np.random.default_rng(1).normal(size=(400, 5))
    assert linear_probe_accuracy(noise[:300], y[:300], noise[300:], y[300:]) < 0.55
    with pytest.raises(ValueError, match="per_class"):
        few_label_probe_accuracy(Z[:300], y[:300], Z[300:], y[300:], per_class=500)
    with pytest.raises(ValueError, match="lengths"):
        knn_accuracy(Z[:300], y[:299], Z[300:], y[300:])


def test_embed_keeps_integer_ids_and_the_training_mode():
    emb = nn.Embedding(10, 3)
    enc = nn.Sequential(emb, nn.Flatten())
    enc.train()
    ids = torch.tensor([[1, 2], [3, 4], [5, 6]])
    z = embed(enc, ids, batch_size=2)
    assert z.shape == (3, 6) and z.dtype == np.float32 and enc.training
    assert np.allclose(z[1], emb.weight[[3, 4]].detach().numpy().ravel())


def test_nearest_neighbours_and_words_against_a_loop():
    rng = np.random.default_rng(0)
    V = rng.normal(size=(30, 4))
    idx, sim = nearest_neighbours(V, V[[3, 7]], k=4, exclude=[3, 7])
    for q, row in zip((3, 7), idx):
        cos = [(V[q] @ V[j] / np.linalg.norm(V[q]) / np.linalg.norm(V[j]), j) for j in range(30) if j != q]
        assert row.tolist() == [j for _, j in sorted(cos, reverse=True)[:4]]
    assert (np.diff(sim, axis=1) <= 0).all()
    vocab = Vocabulary([f"w{i}" for i in range(26)])
    out = nearest_words(V, vocab, ["w0", "missing"], k=3)
    assert list(out) == ["w0"] and len(out["w0"]) == 3
    assert all(w != "w0" and not w.startswith("[") for w, _ in out["w0"])


def test_related_vs_random_auc_is_the_pairwise_win_rate():
    rng = np.random.default_rng(0)
    V = rng.normal(size=(40, 6))
    related = np.array([(2 * i, 2 * i + 1) for i in range(6)])
    V[related[:, 1]] = V[related[:, 0]] + 0.3 * rng.normal(size=(6, 6))  # related = nearly the same vector
    r = related_vs_random(V, related)
    U = V / np.linalg.norm(V, axis=1, keepdims=True)
    rel = [U[a] @ U[b] for a, b in related]
    ctrl = [U[related[i, 0]] @ U[related[j, 1]] for i in range(6) for j in range(6) if i != j]
    wins = np.mean([[(x > c) + 0.5 * (x == c) for c in ctrl] for x in rel])
    assert r["auc"] == pytest.approx(wins) and r["auc"] > 0.95 and r["n_control"] == 30
    assert r["mean_related"] == pytest.approx(np.mean(rel))
    noise = related_vs_random(rng.normal(size=(40, 6)), related, control="random", n_random=3000)
    assert 0.25 < noise["auc"] < 0.75  # unrelated vectors: chance level
    with pytest.raises(ValueError, match="control"):
        related_vs_random(V, related, control="other")


def test_zero_shot_and_retrieval_on_hand_made_embeddings():
    classes = np.eye(3)
    queries = np.array([[0.9, 0.1, 0.0], [0.0, 0.2, 0.8], [0.1, 0.7, 0.0], [0.6, 0.5, 0.0]])
    assert zero_shot_accuracy(queries, classes, np.array([0, 2, 1, 1])) == 0.75
    a = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert retrieval_accuracy(a, a) == 1.0
    assert retrieval_accuracy(a, a[[1, 0, 2]]) == pytest.approx(1 / 3)
