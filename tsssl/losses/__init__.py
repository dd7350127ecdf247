"""Loss library: each family's maths as pure functions, thin nn.Module wrappers for config/state.

Every loss returns a scalar Tensor computed in float32 (float64 inputs stay float64) even under
bf16 / fp16 autocast, via log-softmax / cross-entropy / softplus, and checks its arguments with a
``ValueError`` naming the argument. Under torch.distributed (world size > 1) the in-batch
losses gather embeddings from all ranks with gradients; see :mod:`tsssl.losses.gather` for the
value / gradient convention (value = global-batch loss; DDP-averaged gradients = its gradient).
"""
from .gather import is_distributed, rank, world_size
from .info_nce import info_nce, n_pair, nt_xent
from .predictive import negative_cosine
from .queue import MemoryQueue
from .redundancy import barlow_twins, vicreg

__all__ = [
    "MemoryQueue",
    "barlow_twins",
    "info_nce",
    "is_distributed",
    "n_pair",
    "negative_cosine",
    "nt_xent",
    "rank",
    "vicreg",
    "world_size",
]
