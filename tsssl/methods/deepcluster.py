"""DeepCluster (Caron et al., 2018): "Deep Clustering for Unsupervised Learning of Visual
Features", on windows.

Algorithm (one step)::

    x = batch[0]                              # (B, T, C) windows; labels unused
    v = views(x)[0]                           # one random augmentation of every window
    z, z_v = g(f(x)), g(f(v))                 # encoder f, MLP projector g (one pass over [x; v])
    memory.enqueue(normalize(z))              # the last M projected windows, no gradient
    every N steps (refresh, step 0 included): # the paper re-clusters once per epoch
        init = centroids if warm_start and refreshed before else k-means++ seeds
        centroids, a = kmeans(memory, k, init)   # Lloyd; an empty cluster is reseeded from a
        sizes = bincount(a, k)                   #   perturbed copy of a non-empty one
        if init was k-means++: reset h        # new cluster ids: a fresh classifier (the paper)
    y = nearest centroid of normalize(z)      # pseudo-labels of the clean windows, no gradient
    loss = CE(h(z_v), y), sample i weighted by 1 / sizes[y_i]   # uniform over clusters

Adaptations to the Trainer's step interface:

* the paper clusters features of the whole dataset, computed in a pass before each epoch; here
  k-means runs on a memory of the last ``memory_size`` batch embeddings (a FIFO
  ``MemoryQueue``) every ``refresh_every`` steps. The defaults (4,096 of ~8,000 windows, every
  16 steps: an epoch at batch 512) are close to re-clustering the data once per epoch;
* the current batch is labelled by its nearest centroid, computed from its un-augmented windows
  as the paper computes features from centre crops; the classifier sees an augmented view;
* refreshes are frequent, so by default (``warm_start``) each one continues Lloyd from the
  previous centroids for a few iterations: the cluster ids carry over, and the classifier is
  kept instead of re-initialised. On the planted-motif task this beat the paper's cold restart
  with a fresh classifier (which makes the loss jump back to log k at every refresh);
* the paper's PCA whitening is replaced by the learned projector and an L2 normalisation.

``self.encoder`` (f) is the representation kept.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tsssl.augment import default_timeseries_views
from tsssl.checks import check_positive
from tsssl.encoders import ProjectionHead
from tsssl.losses.clustering import KMEANS_INITS, kmeans, kmeans_assign, pseudo_label_cross_entropy
from tsssl.losses.queue import MemoryQueue
from tsssl.methods.base import Method, TwoViewFn, split_batch

BALANCE = ("weight", "none")


class DeepCluster(Method):
    """k-means pseudo-labels on a memory of projected windows, and a classifier trained on them.

    encoder: (B, T, C) -> (B, encoder.out_dim); projector ``proj_hidden`` -> ``proj_dim`` (the
    clustered space, L2-normalised for k-means); classifier ``nn.Linear(proj_dim, n_clusters)``.
    k-means with ``n_clusters`` k on the last ``memory_size`` projections every
    ``refresh_every`` steps, ``kmeans_iters`` Lloyd iterations from ``kmeans_init``
    ("kmeans++" or "random") seeds, or from the previous centroids when ``warm_start``; seeded
    with ``seed`` and the refresh count. ``balance`` "weight" (loss weighted by 1 / cluster
    size, the paper's uniform sampling over clusters) or "none". ``views``: the first view is
    the augmentation the classifier sees (default ``default_timeseries_views()``).

    Buffers (saved with ``state_dict``, so a resumed run continues the same way): ``centroids``
    (k, proj_dim), ``cluster_sizes`` (k,), ``step``, ``n_refreshes`` and the ``memory``.
    """

    centroids: Tensor
    cluster_sizes: Tensor
    step: Tensor
    n_refreshes: Tensor

    def __init__(
        self,
        encoder: nn.Module,
        views: TwoViewFn | None = None,
        *,
        proj_hidden: int = 128,
        proj_dim: int = 32,
        n_clusters: int = 64,
        refresh_every: int = 16,
        memory_size: int = 4096,
        kmeans_iters: int = 3,
        kmeans_init: str = "kmeans++",
        warm_start: bool = True,
        balance: str = "weight",
        seed: int = 0,
    ) -> None:
        super().__init__()
        for name, value in (("n_clusters", n_clusters), ("refresh_every", refresh_every)):
            check_positive(value, name, "DeepCluster")
        if kmeans_init not in KMEANS_INITS:
            raise ValueError(f"DeepCluster: unknown kmeans_init {kmeans_init!r}; accepted: {', '.join(KMEANS_INITS)}")
        if balance not in BALANCE:
            raise ValueError(f"DeepCluster: unknown balance {balance!r}; accepted: {', '.join(BALANCE)}")
        self.encoder = encoder
        self.projector = ProjectionHead(encoder.out_dim, proj_hidden, proj_dim)
        self.classifier = nn.Linear(proj_dim, n_clusters)
        self.views = views if views is not None else default_timeseries_views()
        self.memory = MemoryQueue(memory_size, proj_dim)
        self.n_clusters, self.refresh_every = n_clusters, refresh_every
        self.kmeans_iters, self.kmeans_init, self.warm_start = kmeans_iters, kmeans_init, warm_start
        self.balance, self.seed = balance, seed
        self.register_buffer("centroids", torch.zeros(n_clusters, proj_dim))
        self.register_buffer("cluster_sizes", torch.ones(n_clusters))
        self.register_buffer("step", torch.zeros((), dtype=torch.long))
        self.register_buffer("n_refreshes", torch.zeros((), dtype=torch.long))

    def project(self, x: Tensor) -> Tensor:
        """z = g(f(x)): (B, T, C) -> (B, proj_dim), not normalised (the classifier's input)."""
        return self.projector(self.encoder(x))

    @torch.no_grad()
    def refresh(self) -> Tensor:
        """Re-cluster the memory: k-means on it, new ``centroids`` and ``cluster_sizes``, and a
        fresh classifier unless the run continues from the previous centroids (``warm_start``
        after the first refresh). Returns the memory's assignments (M,) long.

        Seeded by ``seed`` and the refresh count, so a run (and a resumed run) is reproducible.
        """
        points = self.memory.keys()
        if len(points) == 0:
            raise ValueError("DeepCluster.refresh: the memory is empty; enqueue embeddings first")
        gen = torch.Generator(device=points.device).manual_seed(self.seed * 1_000_003 + int(self.n_refreshes))
        warm = self.warm_start and int(self.n_refreshes) > 0
        init = self.centroids if warm else self.kmeans_init
        centroids, assign = kmeans(points, self.n_clusters, n_iters=self.kmeans_iters, init=init, generator=gen)
        self.centroids.copy_(centroids)
        self.cluster_sizes.copy_(torch.bincount(assign, minlength=self.n_clusters))
        if not warm:  # new, arbitrary cluster ids: the old classifier's rows mean nothing now
            self._reset_classifier(gen)
        self.n_refreshes += 1
        return assign

    def _reset_classifier(self, generator: torch.Generator) -> None:
        """nn.Linear's default initialisation, drawn from the refresh's generator: every rank
        of a distributed run (same memory, same seed) gets the same classifier."""
        w, b = self.classifier.weight, self.classifier.bias
        nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=generator)
        bound = 1 / math.sqrt(w.shape[1])
        nn.init.uniform_(b, -bound, bound, generator=generator)

    def pseudo_labels(self, z: Tensor) -> Tensor:
        """Nearest centroid of each projection: z (B, proj_dim) -> (B,) long, no gradient."""
        return kmeans_assign(F.normalize(z.detach().float(), dim=-1), self.centroids)

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        x, _ = split_batch(batch)
        v = self.views(x)[0]
        z, z_v = self.project(torch.cat([x, v])).chunk(2)  # one pass: shared batch-norm statistics
        self.memory.enqueue(F.normalize(z.detach().float(), dim=-1))
        if int(self.step) % self.refresh_every == 0:  # step 0 too: the first labels
            self.refresh()
        self.step += 1
        sizes = self.cluster_sizes if self.balance == "weight" else None
        return pseudo_label_cross_entropy(self.classifier(z_v), self.pseudo_labels(z), sizes)
