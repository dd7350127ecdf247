"""Clustering losses and their assignment steps: DeepCluster (k-means pseudo-labels) and SwAV
(Sinkhorn-Knopp codes, swapped prediction).

Pure functions on tensors:

* :func:`kmeans_assign` - nearest centroid of every point (squared Euclidean);
* :func:`kmeans_plusplus` - k-means++ seeding (Arthur & Vassilvitskii, 2007);
* :func:`reseed_empty` - DeepCluster's empty-cluster fix: an empty centroid becomes a perturbed
  copy of a non-empty one, the donor perturbed the opposite way, so the two split its points;
* :func:`kmeans` - a few vectorised Lloyd iterations with those pieces, seeded by a generator;
* :func:`pseudo_label_cross_entropy` - DeepCluster's loss: cross-entropy on the pseudo-labels,
  each sample weighted by the inverse size of its cluster (uniform sampling over clusters);
* :func:`sinkhorn` - SwAV's equal-partition codes (no gradient, float32);
* :func:`swapped_prediction` - SwAV's loss: predict one view's codes from the other views.

Everything runs in float32 (float64 inputs stay float64) even under autocast; argument errors
are one-line ``ValueError``s naming the argument. None of these gathers across ranks: under
DDP a caller that wants the global batch passes it (e.g. through a gathered ``MemoryQueue``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ._checks import as_float, check_labels, check_nonempty, check_temperature, check_tensor, float32_region

KMEANS_INITS = ("kmeans++", "random")


def _check_count(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def _check_points(x: object, name: str = "x") -> Tensor:
    x = check_tensor(name, x, 2, "a 2-D Tensor (N, D) of points")
    check_nonempty(name, x, "2-D Tensor (N, D) of points")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating Tensor, got dtype {x.dtype}")
    return x


# --------------------------------------------------------------------------- k-means
def kmeans_assign(x: Tensor, centroids: Tensor) -> Tensor:
    """Index of the nearest centroid of every point: x (N, D), centroids (K, D) -> (N,) long.

    Squared Euclidean distance ||x||^2 - 2 x.c + ||c||^2 (one matrix product, no (N, K, D)
    tensor); ties go to the lowest index, as ``argmin`` does.
    """
    _check_points(x)
    _check_points(centroids, "centroids")
    if centroids.shape[1] != x.shape[1]:
        raise ValueError(f"centroids must have x's {x.shape[1]} features, got shape {tuple(centroids.shape)}")
    with torch.no_grad(), float32_region(x):
        x, c = as_float(x.detach(), centroids.detach())
        d = (x * x).sum(1, keepdim=True) - 2 * x @ c.T + (c * c).sum(1)
        return d.argmin(dim=1)


def kmeans_plusplus(x: Tensor, k: int, *, generator: torch.Generator | None = None) -> Tensor:
    """k-means++ seeds: (N, D) -> (k, D) rows of x.

    The first seed is uniform; each next one is drawn with probability proportional to the
    squared distance to the nearest seed so far. Once every point is a seed (k > distinct
    points) the distances are all 0 and the draw falls back to uniform: the duplicates are
    empty clusters for :func:`reseed_empty`. One loop over the k seeds, none over points.
    """
    _check_points(x)
    _check_count(k, "k", 1)
    with torch.no_grad(), float32_region(x):
        x = as_float(x.detach())
        n = x.shape[0]
        idx = torch.empty(k, dtype=torch.long, device=x.device)
        idx[0] = torch.randint(n, (1,), device=x.device, generator=generator)[0]
        d2 = ((x - x[idx[0]]) ** 2).sum(1)  # (N,) squared distance to the nearest seed
        for j in range(1, k):
            weights = torch.where(d2.sum() > 0, d2, torch.ones_like(d2))
            idx[j] = torch.multinomial(weights, 1, generator=generator)[0]
            d2 = torch.minimum(d2, ((x - x[idx[j]]) ** 2).sum(1))
        return x[idx].clone()


def reseed_empty(
    centroids: Tensor, counts: Tensor, *, eps: float = 1.0 / 1024, generator: torch.Generator | None = None
) -> Tensor:
    """DeepCluster's empty-cluster fix (Caron et al., 2018, sec. 3.4, after Faiss's k-means).

    centroids (K, D), counts (K,) points per cluster -> new centroids (K, D). Each empty
    centroid becomes a perturbed copy of a non-empty one: the donor is drawn with probability
    proportional to its size (big clusters are split first) and the copy is the donor times
    ``1 + eps * s``, s a random +-1 sign per feature and per copy, so two copies of one donor
    differ and the next assignment step splits the donor's points between them. Non-empty
    centroids are returned unchanged, and nothing changes when no cluster is empty.
    """
    _check_points(centroids, "centroids")
    check_tensor("counts", counts, 1, f"a 1-D Tensor (K,) = ({centroids.shape[0]},) of cluster sizes")
    if counts.shape[0] != centroids.shape[0]:
        raise ValueError(f"counts must have one entry per centroid ({centroids.shape[0]}), got {counts.shape[0]}")
    empty = torch.nonzero(counts == 0).flatten()
    if len(empty) == 0:
        return centroids
    if not bool((counts > 0).any()):
        raise ValueError("counts must have at least one non-empty cluster to reseed from")
    donors = torch.multinomial(counts.to(centroids.dtype), len(empty), replacement=True, generator=generator)
    coin = torch.rand(len(empty), centroids.shape[1], device=centroids.device, generator=generator)
    sign = torch.where(coin < 0.5, -1.0, 1.0).to(centroids.dtype)
    out = centroids.clone()
    out[empty] = centroids[donors] * (1 + eps * sign)
    return out


def kmeans(
    x: Tensor,
    k: int,
    *,
    n_iters: int = 10,
    init: str | Tensor = "kmeans++",
    eps: float = 1.0 / 1024,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Lloyd's k-means on x (N, D): ``(centroids (k, D), assignments (N,) long)``, no gradient.

    ``init``: "kmeans++", "random" (k distinct points when N >= k) or a (k, D) Tensor of
    starting centroids. Each of ``n_iters`` iterations assigns every point to its nearest
    centroid, moves each centroid to the mean of its points (one ``index_add_``), then reseeds
    the empty ones (:func:`reseed_empty`). The returned assignments are those of the returned
    centroids (a last assignment step), so ``kmeans_assign(x, centroids)`` reproduces them.
    Computed in float32 (float64 for float64 x); the same generator state gives the same result.
    """
    _check_points(x)
    _check_count(k, "k", 1)
    _check_count(n_iters, "n_iters", 0)
    if isinstance(init, str) and init not in KMEANS_INITS:
        raise ValueError(f"init must be one of {', '.join(KMEANS_INITS)} or a (k, D) Tensor, got {init!r}")
    if isinstance(init, Tensor) and tuple(init.shape) != (k, x.shape[1]):
        raise ValueError(f"init must have shape (k, D) = ({k}, {x.shape[1]}), got {tuple(init.shape)}")
    with torch.no_grad(), float32_region(x):
        x = as_float(x.detach())
        if isinstance(init, Tensor):
            c = init.detach().to(x.dtype).clone()
        elif init == "random":
            n = x.shape[0]
            pick = torch.randperm(n, device=x.device, generator=generator)[:k]
            if n < k:  # fewer points than clusters: the extra seeds repeat points (then reseeded)
                pick = pick[torch.arange(k, device=x.device) % n]
            c = x[pick].clone()
        else:
            c = kmeans_plusplus(x, k, generator=generator)
        for _ in range(n_iters):
            a = kmeans_assign(x, c)
            counts = torch.bincount(a, minlength=k)
            sums = torch.zeros_like(c).index_add_(0, a, x)
            c = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None].to(x.dtype), c)
            c = reseed_empty(c, counts, eps=eps, generator=generator)
        return c, kmeans_assign(x, c)


def pseudo_label_cross_entropy(logits: Tensor, labels: Tensor, cluster_sizes: Tensor | None = None) -> Tensor:
    """DeepCluster's loss: cross-entropy of ``logits`` (B, K) on the pseudo-labels (B,); scalar.

    With ``cluster_sizes`` (K,) each sample is weighted by 1 / size of its cluster (an empty
    cluster counts as size 1), the weighted mean ``sum_i w_i CE_i / sum_i w_i``: the paper's
    uniform sampling over clusters, which keeps one big cluster from dominating the loss (a
    trivial solution). Without, the plain mean.
    """
    check_tensor("logits", logits, 2, "a 2-D Tensor (B, K) of class scores")
    check_nonempty("logits", logits, "2-D Tensor (B, K) of class scores")
    labels = check_labels(labels, logits.shape[0], against="logits")
    if labels.is_floating_point() or labels.dtype == torch.bool:
        raise ValueError(f"labels must be an integer Tensor of cluster indices, got dtype {labels.dtype}")
    K = logits.shape[1]
    if cluster_sizes is not None:
        check_tensor("cluster_sizes", cluster_sizes, 1, f"a 1-D Tensor (K,) = ({K},) of cluster sizes")
        if cluster_sizes.shape[0] != K:
            raise ValueError(f"cluster_sizes must have one entry per logit column ({K}), got {cluster_sizes.shape[0]}")
    with float32_region(logits):
        z = as_float(logits)
        weight = None if cluster_sizes is None else 1.0 / cluster_sizes.to(z).clamp_min(1)
        return F.cross_entropy(z, labels.long(), weight=weight)


# --------------------------------------------------------------------------- SwAV
def sinkhorn(scores: Tensor, epsilon: float = 0.05, n_iters: int = 3) -> Tensor:
    """SwAV's codes: Sinkhorn-Knopp on exp(scores / epsilon); (B, K) -> (B, K), no gradient.

    Q = exp(scores / epsilon)^T (K, B), scaled to sum 1; each iteration makes the rows
    (prototypes) sum to 1/K, then the columns (samples) sum to 1/B: the equal-partition
    constraint, every prototype used by B/K samples of the batch. The result is Q^T * B, so
    every sample's code sums to 1 exactly and every prototype's column to about B/K (exactly
    in the limit of iterations). The same updates run on log Q (``logsumexp`` instead of sums,
    the paper's exp form would underflow to 0 / 0 for scores far below the maximum at a small
    epsilon); float32 always (float64 stays float64). ``n_iters=0`` gives the softmax of
    scores / epsilon over the prototypes.
    """
    check_tensor("scores", scores, 2, "a 2-D Tensor (B, K) of prototype scores")
    check_nonempty("scores", scores, "2-D Tensor (B, K) of prototype scores")
    check_temperature(epsilon, "epsilon")
    _check_count(n_iters, "n_iters", 0)
    with torch.no_grad(), float32_region(scores):
        log_q = as_float(scores.detach()).T / epsilon  # (K, B)
        K, B = log_q.shape
        log_k, log_b = math.log(K), math.log(B)
        log_q = log_q - torch.logsumexp(log_q.flatten(), dim=0)  # total mass 1
        for _ in range(n_iters):
            log_q = log_q - torch.logsumexp(log_q, dim=1, keepdim=True) - log_k  # each prototype: 1/K
            log_q = log_q - torch.logsumexp(log_q, dim=0, keepdim=True) - log_b  # each sample: 1/B
        if n_iters == 0:
            log_q = log_q - torch.logsumexp(log_q, dim=0, keepdim=True) - log_b
        return torch.exp(log_q + log_b).T


def swapped_prediction(scores: Tensor, codes: Tensor, temperature: float = 0.1) -> Tensor:
    """SwAV's swapped prediction; scalar float32.

    scores: (V, B, K) prototype scores of V views of the same B samples; codes: (A, B, K)
    targets (Sinkhorn codes, rows summing to 1) of the first A <= V views. Every code view a
    is predicted from every other view v != a::

        loss = mean_a mean_{v != a} mean_b  - sum_k codes[a, b, k] * log softmax(scores[v, b] / t)_k

    With two views: (CE(q1, p2) + CE(q2, p1)) / 2. The codes are detached (targets); views A..V-1
    (SwAV's small crops) are only predicted from, never predicted.
    """
    check_tensor("scores", scores, 3, "a 3-D Tensor (V, B, K) of prototype scores per view")
    check_tensor("codes", codes, 3, "a 3-D Tensor (A, B, K) of codes of the first A views")
    check_nonempty("scores", scores, "3-D Tensor (V, B, K)")
    V, A = scores.shape[0], codes.shape[0]
    if codes.shape[1:] != scores.shape[1:]:
        raise ValueError(f"codes must have scores' (B, K) = {tuple(scores.shape[1:])}, got {tuple(codes.shape)}")
    if not 1 <= A <= V or V < 2:
        raise ValueError(f"codes must cover 1..V of the V >= 2 views, got A={A} code views for V={V} views")
    check_temperature(temperature)
    with float32_region(scores):
        s, q = as_float(scores, codes.detach())
        logp = F.log_softmax(s / temperature, dim=2)  # (V, B, K)
        ce = -torch.einsum("abk,vbk->avb", q, logp).mean(dim=2)  # (A, V): code view a from view v
        off_diagonal = ~torch.eye(A, V, dtype=torch.bool, device=ce.device)
        return ce[off_diagonal].sum() / (A * (V - 1))
