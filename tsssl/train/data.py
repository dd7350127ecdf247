"""The Trainer's data: the accepted input forms, and batches cut on the device.

Accepted: a Tensor, a tuple / list of Tensors with equal first dimension, a tsssl
``WindowSet`` (-> ``(X, y)``), or a ``torch.utils.data.Dataset``. A WindowSet whose X is
views into its per-day array (``WindowViews``) is never materialised: ``ViewBatches`` gathers
each batch's windows, on the device when the days fit there. Tensors are kept resident on
the training device when they fit and batches are cut there by indexing with a per-epoch
permutation; a Dataset goes through a DataLoader with the same per-epoch order. Every epoch's
order comes from a ``torch.Generator`` seeded with (seed, epoch), so a run resumed in the middle
of an epoch cuts the same batches without saving the permutation.

Sample index (optional): a method whose class sets ``needs_sample_index = True`` (InstDisc's
memory bank: one entry per training sample) gets each row's index into the data, int64 in
0..n-1, as the LAST tensor of every batch (``make_batches(..., sample_index=True)``: a WindowSet
gives ``(X, y, idx)``, ``(X,)`` gives ``(X, idx)``), and the Trainer calls its
``set_num_samples(n)`` before training and before a checkpoint is loaded, so that per-sample
state is sized first. The index is cut by the same permutation as the data, so a resumed run
sees the same (row, index) pairs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from tsssl.train.distributed import shard_order


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """A CPU generator for epoch ``epoch`` of a run seeded ``seed`` (well mixed: distinct
    (seed, epoch) pairs give unrelated streams)."""
    state = np.random.SeedSequence([int(seed) % 2**63, int(epoch)]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state) & (2**63 - 1))


def epoch_order(n: int, seed: int, epoch: int) -> Tensor:
    """(n,) int64 permutation of the samples for ``epoch`` (CPU), identical on every rank."""
    return torch.randperm(n, generator=epoch_generator(seed, epoch))


def as_tensors(data: Any) -> tuple[Tensor, ...] | Dataset:
    """The tuple of tensors behind ``data``, or the Dataset itself. Raises ValueError naming
    what was wrong and what is accepted."""
    accepted = (
        "accepted: a Tensor, a tuple/list of Tensors with equal first dimension, "
        "a tsssl WindowSet or a torch.utils.data.Dataset"
    )
    if isinstance(data, Tensor):
        tensors: tuple[Tensor, ...] = (data,)
    elif _is_windowset(data):
        tensors = (_from_numpy(data.X, "WindowSet.X"), _from_numpy(data.y, "WindowSet.y"))
    elif isinstance(data, (tuple, list)):
        if not data:
            raise ValueError(f"data is an empty {type(data).__name__}; {accepted}")
        bad = [i for i, t in enumerate(data) if not isinstance(t, Tensor)]
        if bad:
            raise ValueError(f"data[{bad[0]}] is a {type(data[bad[0]]).__name__}, not a Tensor; {accepted}")
        tensors = tuple(data)
    elif isinstance(data, Dataset):
        return data
    else:
        raise ValueError(f"data of type {type(data).__name__} is not supported; {accepted}")
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise ValueError(f"data tensor {i} is 0-dimensional; tensors need a first (sample) dimension")
    lengths = [len(t) for t in tensors]
    if len(set(lengths)) > 1:
        raise ValueError(
            f"data tensors have different first dimensions {lengths}; they must all have one row per sample"
        )
    return tensors


def needs_sample_index(method: Any) -> bool:
    """Whether ``method``'s batches must end with each row's sample index (its class sets
    ``needs_sample_index = True``; see the module docstring)."""
    return bool(getattr(method, "needs_sample_index", False))


class _IndexedDataset(Dataset):
    """``dataset``'s items with their index appended: item i -> (*item, i)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> tuple[Any, ...]:
        item = self.dataset[i]
        item = tuple(item) if isinstance(item, (tuple, list)) else (item,)
        return (*item, torch.tensor(i, dtype=torch.long))


def with_sample_index(data: tuple[Tensor, ...] | Dataset) -> tuple[Tensor, ...] | Dataset:
    """``as_tensors`` output with the sample index as the last tensor: tensors + (arange(n),),
    or a Dataset whose items end with their index."""
    if isinstance(data, Dataset):
        return _IndexedDataset(data)
    return (*data, torch.arange(len(data[0]), dtype=torch.long))


def _is_windowset(data: Any) -> bool:
    # WindowSet lives in tsssl.data, which is not imported for plain-tensor runs: look it up
    # only if its module is loaded (a WindowSet instance implies it is).
    module = sys.modules.get("tsssl.data.windowset")
    return module is not None and isinstance(data, module.WindowSet)


def _from_numpy(a: np.ndarray, name: str) -> Tensor:
    a = np.asarray(a)
    if a.dtype == object:
        raise ValueError(f"{name} has dtype object; a numeric array is needed")
    if not a.flags.writeable:  # torch.from_numpy would warn: take a copy torch may own
        a = np.array(a, copy=True, order="C")
    return torch.from_numpy(np.ascontiguousarray(a))


def fits_on_device(tensors: Sequence[Tensor], device: torch.device, fraction: float = 0.5) -> bool:
    """True when the tensors take less than ``fraction`` of the device's free memory (always
    true for the CPU)."""
    return _fits(sum(t.numel() * t.element_size() for t in tensors if t.device != device), device, fraction)


def _fits(nbytes: int, device: torch.device, fraction: float = 0.5) -> bool:
    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    return nbytes < fraction * free


class TensorBatches:
    """Batches of ``batch_size`` rows for this rank, cut from tensors by index.

    ``resident`` tensors live on ``device`` and batches are cut there (one gather kernel per
    tensor, no host round trip); otherwise rows are gathered on the host, pinned and copied
    asynchronously.
    """

    def __init__(
        self,
        tensors: Sequence[Tensor],
        batch_size: int,
        device: torch.device,
        *,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = True,
        on_device: bool | str = "auto",
    ) -> None:
        self.n = len(tensors[0])
        self.batch_size, self.seed = batch_size, seed
        self.rank, self.world_size, self.drop_last = rank, world_size, drop_last
        self.device = device
        if on_device == "auto":
            on_device = fits_on_device(tensors, device)
        self.resident = bool(on_device)
        if self.resident:
            self.tensors = tuple(t.to(device, non_blocking=True) for t in tensors)
        else:
            self.tensors = tuple(t.cpu() for t in tensors)
        self.steps_per_epoch = steps_per_epoch(self.n, batch_size, world_size, drop_last)

    def epoch(self, epoch: int, start: int = 0) -> Iterator[tuple[Tensor, ...]]:
        """Batches ``start, start + 1, ...`` of epoch ``epoch`` for this rank."""
        order = shard_order(
            epoch_order(self.n, self.seed, epoch), self.batch_size, self.rank, self.world_size, self.drop_last
        )
        if self.resident:
            order = order.to(self.device, non_blocking=True)
        b = self.batch_size
        pin = self.device.type == "cuda"
        for pos in range(start, self.steps_per_epoch):
            idx = order[pos * b : (pos + 1) * b]
            if self.resident:
                yield tuple(t.index_select(0, idx) for t in self.tensors)
            else:
                rows = [t.index_select(0, idx) for t in self.tensors]
                yield tuple((r.pin_memory() if pin else r).to(self.device, non_blocking=True) for r in rows)


class ShardedOrderSampler(Sampler[int]):
    """The tensor path's order for a Dataset: epoch ``epoch``'s permutation from (seed, epoch),
    this rank's shard (``shard_order``), starting at sample ``start``. Used instead of
    ``DistributedSampler`` so that a Dataset and tensors see the same batches and a resume in
    mid-epoch can skip the batches already done."""

    def __init__(
        self,
        n: int,
        batch_size: int,
        seed: int,
        epoch: int,
        start_batch: int = 0,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = True,
    ) -> None:
        order = shard_order(epoch_order(n, seed, epoch), batch_size, rank, world_size, drop_last)
        self.indices = order[start_batch * batch_size :]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices.tolist())

    def __len__(self) -> int:
        return len(self.indices)


class DatasetBatches:
    """Batches of a map-style Dataset through a DataLoader (items: a tensor or a tuple of
    tensors / numbers, collated by the default collate), moved to ``device``."""

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        device: torch.device,
        *,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = True,
        num_workers: int = 0,
    ) -> None:
        try:
            self.n = len(dataset)  # type: ignore[arg-type]
        except TypeError:
            raise ValueError("data is a Dataset without __len__; the Trainer needs a map-style Dataset") from None
        self.dataset, self.batch_size, self.device, self.seed = dataset, batch_size, device, seed
        self.rank, self.world_size, self.drop_last = rank, world_size, drop_last
        self.num_workers = num_workers
        self.resident = False
        self.steps_per_epoch = steps_per_epoch(self.n, batch_size, world_size, drop_last)

    def epoch(self, epoch: int, start: int = 0) -> Iterator[tuple[Tensor, ...]]:
        sampler = ShardedOrderSampler(
            self.n, self.batch_size, self.seed, epoch, start, self.rank, self.world_size, self.drop_last
        )
        pin = self.device.type == "cuda"
        # Own generator: a DataLoader otherwise draws its base seed from the global RNG at every
        # iterator, which would make a resumed run's random stream differ from an uninterrupted one.
        loader = DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            drop_last=False,
            num_workers=self.num_workers,
            pin_memory=pin,
            generator=torch.Generator().manual_seed(self.seed),
        )
        for batch in loader:
            if isinstance(batch, Tensor):
                batch = (batch,)
            elif isinstance(batch, dict):
                raise ValueError("Dataset items are dicts; return a tensor or a tuple of tensors")
            yield tuple(b.to(self.device, non_blocking=True) for b in batch)


def steps_per_epoch(n: int, batch_size: int, world_size: int = 1, drop_last: bool = True) -> int:
    """Optimiser steps in one pass over ``n`` samples (remainder dropped under DDP or
    ``drop_last``). Raises ValueError when not even one batch can be cut."""
    if n == 0:
        raise ValueError("data has no samples: nothing to train on")
    per_step = batch_size * world_size
    steps = n // per_step if (drop_last or world_size > 1) else -(-n // batch_size)
    if steps == 0:
        raise ValueError(
            f"batch_size={batch_size}{f' x {world_size} processes' if world_size > 1 else ''} "
            f"is larger than the {n} training samples: no full batch can be cut; lower "
            "batch_size" + (" or pass drop_last=False" if world_size == 1 else "")
        )
    return steps


def _is_views(x: Any) -> bool:
    return bool(getattr(type(x), "is_window_views", False))


class DeviceViews:
    """A :class:`tsssl.data.windowviews.WindowViews`'s arrays as tensors on ``device``, and the
    same gather in torch (``gather``), so that batches of windows are cut where the days live."""

    def __init__(self, views: Any, device: torch.device) -> None:
        def put(a: np.ndarray | None, dtype: torch.dtype) -> Tensor | None:
            if a is None:
                return None
            a = np.asarray(a)  # shared with torch on the CPU; a read-only array (pandas') is copied
            return torch.from_numpy(a if a.flags.writeable else a.copy()).to(device, dtype)

        self.window, self.z_channel = views.window, views.z_channel
        self.per_day = put(views.per_day, torch.float32)
        self.ends = put(views.ends, torch.int64)
        self.zsource = put(views.zsource, torch.float64)
        self.closeness = put(views.closeness, torch.float32)
        self.offsets = torch.arange(self.window, device=device) - (self.window - 1)

    def gather(self, idx: Tensor) -> Tensor:
        """(B, window, C) float32 windows at positions ``idx`` (B,) int64 (on the same device):
        the numpy gather's channels, the per-window z-score in float64 as there."""
        ends = self.ends.index_select(0, idx)
        rows = ends[:, None] + self.offsets  # (B, window)
        x = self.per_day[rows]
        if self.z_channel is not None:
            v = self.zsource[rows]
            mean = v.mean(dim=1, keepdim=True)
            dev = v - mean
            std = (dev * dev).mean(dim=1, keepdim=True).sqrt()
            flat = std <= 1e-9 * mean.abs()
            x[:, :, self.z_channel] = torch.where(flat, 0.0, dev / torch.where(flat, 1.0, std)).float()
        if self.closeness is not None:
            p = self.closeness.shape[1]
            x[:, :, x.shape[2] - p :] = self.closeness.index_select(0, ends)[:, None, :]
        return x


class ViewBatches:
    """Batches of windows held as views (``WindowViews``) and their per-sample tensors
    (labels, sample index): the same per-epoch order as ``TensorBatches``, each batch's windows
    gathered when it is cut. ``resident``: the per-day arrays are copied to ``device`` (a CUDA
    device where they take under half the free memory, or ``on_device=True``) and gathered there
    in torch; otherwise gathered on the host by the numpy gather (bit-identical to the dense
    windows), pinned and copied."""

    def __init__(
        self,
        views: Any,
        tensors: Sequence[Tensor],
        batch_size: int,
        device: torch.device,
        *,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = True,
        on_device: bool | str = "auto",
    ) -> None:
        self.views, self.n = views, len(views)
        self.batch_size, self.seed, self.device = batch_size, seed, device
        self.rank, self.world_size, self.drop_last = rank, world_size, drop_last
        if on_device == "auto":
            extra = sum(t.numel() * t.element_size() for t in tensors)
            on_device = device.type == "cuda" and _fits(views.nbytes + extra, device)
        self.resident = bool(on_device)
        self.on_device = DeviceViews(views, device) if self.resident else None
        self.tensors = tuple(t.to(device) if self.resident else t.cpu() for t in tensors)
        self.steps_per_epoch = steps_per_epoch(self.n, batch_size, world_size, drop_last)

    def epoch(self, epoch: int, start: int = 0) -> Iterator[tuple[Tensor, ...]]:
        """Batches ``start, start + 1, ...`` of epoch ``epoch`` for this rank: (X, *tensors)."""
        order = shard_order(
            epoch_order(self.n, self.seed, epoch), self.batch_size, self.rank, self.world_size, self.drop_last
        )
        if self.resident:
            order = order.to(self.device, non_blocking=True)
        b, pin = self.batch_size, self.device.type == "cuda"
        for pos in range(start, self.steps_per_epoch):
            idx = order[pos * b : (pos + 1) * b]
            if self.resident:
                yield (self.on_device.gather(idx), *(t.index_select(0, idx) for t in self.tensors))
            else:
                rows = [torch.from_numpy(self.views[idx.numpy()])] + [t.index_select(0, idx) for t in self.tensors]
                yield tuple((r.pin_memory() if pin else r).to(self.device, non_blocking=True) for r in rows)


def make_batches(
    data: Any,
    batch_size: int,
    device: torch.device,
    *,
    seed: int,
    rank: int = 0,
    world_size: int = 1,
    drop_last: bool = True,
    on_device: bool | str = "auto",
    sample_index: bool = False,
):
    """``TensorBatches``, ``ViewBatches`` (a WindowSet whose X is views) or ``DatasetBatches``
    for any accepted data form; with ``sample_index`` every batch ends with its rows' sample
    indices (module docstring)."""
    if _is_windowset(data) and _is_views(data.X):
        extra = (_from_numpy(data.y, "WindowSet.y"),)
        if sample_index:
            extra += (torch.arange(len(data.X), dtype=torch.long),)
        return ViewBatches(
            data.X,
            extra,
            batch_size,
            device,
            seed=seed,
            rank=rank,
            world_size=world_size,
            drop_last=drop_last,
            on_device=on_device,
        )
    tensors = as_tensors(data)
    if sample_index:
        tensors = with_sample_index(tensors)
    if isinstance(tensors, Dataset):
        return DatasetBatches(
            tensors, batch_size, device, seed=seed, rank=rank, world_size=world_size, drop_last=drop_last
        )
    return TensorBatches(
        tensors,
        batch_size,
        device,
        seed=seed,
        rank=rank,
        world_size=world_size,
        drop_last=drop_last,
        on_device=on_device,
    )
