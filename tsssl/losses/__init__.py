"""Loss library: each family's maths as pure functions, thin nn.Module wrappers for config/state.

Every loss returns a scalar Tensor computed in float32 (float64 inputs stay float64) even under
bf16 / fp16 autocast, via log-softmax / cross-entropy / softplus / log-sum-exp, and checks its
arguments with a ``ValueError`` naming the argument. Under torch.distributed (world size > 1)
the in-batch losses gather embeddings from all ranks with gradients, uneven batches allowed;
see :mod:`tsssl.losses.gather` for the convention (value = global-batch loss on every rank;
DDP-averaged gradients = its exact gradient).

Families: :mod:`.info_nce` (info_nce, nt_xent, n_pair), :mod:`.supervised` (supcon,
soft_nearest_neighbors), :mod:`.pairwise` (contrastive_pair, triplet_margin,
lifted_structured, triplet_logistic), :mod:`.nce`, :mod:`.predictive` (negative_cosine), :mod:`.redundancy`
(barlow_twins, vicreg), :mod:`.clustering` (sinkhorn, swapped_prediction, kmeans,
pseudo_label_cross_entropy), :mod:`.neighbours` (nearest_neighbour, nnclr_loss),
:mod:`.memory_bank` (MemoryBank, instdisc_nce, memory_bank_softmax), :mod:`.pretext` (binary_pretext, next_step_prediction),
:mod:`.token_detection` (replaced_token_labels, replaced_token_detection), :mod:`.queue` (MemoryQueue),
:mod:`.temporal` (stepwise_info_nce), :mod:`.neighbourhood` (TNC's tnc_loss),
:mod:`.reconstruction` (region_mse, bernoulli_nll, gaussian_kl, negative_elbo),
:mod:`.hierarchical` (TS2Vec's hierarchical_contrastive, instance_contrastive,
temporal_contrastive; per-rank, not gathered),
:mod:`.modules` (nn.Module wrappers). Hard negatives: ``tau_plus`` (debiased) and ``beta``
(hardness-weighted) options of info_nce / nt_xent.
"""

from .clustering import kmeans, kmeans_assign, pseudo_label_cross_entropy, sinkhorn, swapped_prediction
from .gather import is_distributed, rank, world_size
from .hierarchical import hierarchical_contrastive, instance_contrastive, temporal_contrastive
from .info_nce import hard_negative_log_partition, info_nce, n_pair, nt_xent
from .memory_bank import MemoryBank, instdisc_nce, memory_bank_softmax
from .modules import (
    NCE,
    BarlowTwins,
    ContrastivePair,
    InfoNCE,
    LiftedStructured,
    NegativeCosine,
    NPair,
    NTXent,
    SoftNearestNeighbors,
    SupCon,
    TripletMargin,
    VICReg,
)
from .nce import nce
from .neighbourhood import tnc_loss
from .neighbours import nearest_neighbour, nnclr_loss
from .pairwise import contrastive_pair, lifted_structured, triplet_logistic, triplet_margin
from .predictive import negative_cosine
from .pretext import binary_pretext, next_step_prediction
from .queue import MemoryQueue
from .reconstruction import bernoulli_nll, gaussian_kl, negative_elbo, region_mse
from .redundancy import barlow_twins, vicreg
from .supervised import soft_nearest_neighbors, supcon
from .temporal import stepwise_info_nce
from .token_detection import replaced_token_detection, replaced_token_labels

__all__ = [
    "tnc_loss",
    "replaced_token_detection",
    "replaced_token_labels",
    "region_mse",
    "bernoulli_nll",
    "gaussian_kl",
    "negative_elbo",
    "binary_pretext",
    "next_step_prediction",
    "hierarchical_contrastive",
    "instance_contrastive",
    "temporal_contrastive",
    "kmeans",
    "kmeans_assign",
    "pseudo_label_cross_entropy",
    "sinkhorn",
    "swapped_prediction",
    "hard_negative_log_partition",
    "MemoryBank",
    "instdisc_nce",
    "memory_bank_softmax",
    "nearest_neighbour",
    "nnclr_loss",
    "NCE",
    "BarlowTwins",
    "ContrastivePair",
    "InfoNCE",
    "LiftedStructured",
    "MemoryQueue",
    "NPair",
    "NTXent",
    "NegativeCosine",
    "SoftNearestNeighbors",
    "SupCon",
    "TripletMargin",
    "VICReg",
    "barlow_twins",
    "contrastive_pair",
    "info_nce",
    "is_distributed",
    "lifted_structured",
    "n_pair",
    "nce",
    "negative_cosine",
    "nt_xent",
    "rank",
    "soft_nearest_neighbors",
    "supcon",
    "stepwise_info_nce",
    "triplet_logistic",
    "triplet_margin",
    "vicreg",
    "world_size",
]
