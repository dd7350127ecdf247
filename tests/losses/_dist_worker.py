"""Worker for test_distributed.py: one rank of a gloo process group on the CPU.

Kept in its own importable module because torch.multiprocessing's spawn pickles the target by
module and name (pytest's importlib mode gives test modules names children cannot import).
The loss cases live here so that the parent's one-process reference uses the same calls.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

import torch
import torch.distributed as dist

import tsssl.losses as L

SIZES = [3, 5]  # uneven per-rank batches
D_IN, D = 4, 3


def make_inputs(seed: int = 0) -> dict:
    """The global batch (float64): two views, labels with repeats, a tiny linear model's init."""
    g = torch.Generator().manual_seed(seed)
    n = sum(SIZES)
    return {
        "z1": torch.randn(n, D, generator=g, dtype=torch.float64),
        "z2": torch.randn(n, D, generator=g, dtype=torch.float64),
        "labels": torch.tensor([0, 1, 2, 1, 0, 2, 1, 3]),
        "x1": torch.randn(n, D_IN, generator=g, dtype=torch.float64),
        "x2": torch.randn(n, D_IN, generator=g, dtype=torch.float64),
        "weight": torch.randn(D, D_IN, generator=g, dtype=torch.float64),
        "bias": torch.randn(D, generator=g, dtype=torch.float64),
    }


def _cases() -> dict:
    """name -> loss(z1, z2, labels) on whatever rows this process holds."""
    cases = {
        "nt_xent": lambda a, b, y: L.nt_xent(a, b, temperature=0.5),
        "info_nce": lambda a, b, y: L.info_nce(a, b, temperature=0.2),
        "n_pair": lambda a, b, y: L.n_pair(a, b, l2_reg=0.01),
        "barlow_twins": lambda a, b, y: L.barlow_twins(a, b, lambd=0.05),
        "vicreg": lambda a, b, y: L.vicreg(a, b),
        # rows ordered [a_r0, b_r0, a_r1, b_r1] here vs [A, B] in one process: order-free loss
        "supcon": lambda a, b, y: L.supcon(torch.cat([a, b]), torch.cat([y, y]), temperature=0.3),
        "soft_nearest_neighbors": lambda a, b, y: L.soft_nearest_neighbors(a, y, temperature=0.7),
        "lifted_structured": lambda a, b, y: L.lifted_structured(a, y, margin=1.0),
    }
    return cases


CASES = _cases()


def reference(inputs: dict) -> dict:
    """One process on the concatenated batch: loss, grads w.r.t. z1/z2, linear model's grads."""
    out = {}
    for name, fn in CASES.items():
        z1, z2 = inputs["z1"].clone().requires_grad_(), inputs["z2"].clone().requires_grad_()
        loss = fn(z1, z2, inputs["labels"])
        g1, g2 = torch.autograd.grad(loss, [z1, z2], allow_unused=True)
        model = _linear(inputs)
        loss_m = _model_loss(fn, model, inputs["x1"], inputs["x2"], inputs["labels"])
        loss_m.backward()
        out[name] = {
            "loss": loss.detach(),
            "g1": _zeros_if_none(g1, z1),
            "g2": _zeros_if_none(g2, z2),
            "gw": model.weight.grad.clone(),
            "gb": model.bias.grad.clone(),
        }
    return out


def _zeros_if_none(g, like):
    return torch.zeros_like(like) if g is None else g


def _linear(inputs: dict) -> torch.nn.Linear:
    model = torch.nn.Linear(D_IN, D).double()
    with torch.no_grad():
        model.weight.copy_(inputs["weight"])
        model.bias.copy_(inputs["bias"])
    return model


def _model_loss(fn, model, x1, x2, labels):
    # one forward per backward (DDP's rule): both views in one batch
    z = model(torch.cat([x1, x2]))
    return fn(z[: len(x1)], z[len(x1) :], labels)


def run(rank: int, world: int, init_file: str, out_dir: str) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        inputs = torch.load(Path(out_dir) / "inputs.pt")
        lo, hi = sum(SIZES[:rank]), sum(SIZES[: rank + 1])
        local = {k: inputs[k][lo:hi] for k in ("z1", "z2", "labels", "x1", "x2")}
        results = {"is_distributed": L.is_distributed(), "world_size": L.world_size(), "rank": L.rank()}
        for name, fn in CASES.items():
            z1, z2 = local["z1"].clone().requires_grad_(), local["z2"].clone().requires_grad_()
            loss = fn(z1, z2, local["labels"])
            g1, g2 = torch.autograd.grad(loss, [z1, z2], allow_unused=True)
            ddp = torch.nn.parallel.DistributedDataParallel(_linear(inputs))
            _model_loss(fn, ddp, local["x1"], local["x2"], local["labels"]).backward()
            results[name] = {
                "loss": loss.detach(),
                "g1": _zeros_if_none(g1, z1),
                "g2": _zeros_if_none(g2, z2),
                "gw": ddp.module.weight.grad.clone(),
                "gb": ddp.module.bias.grad.clone(),
            }
            del ddp
        # the mask form does not gather: local mean
        mask = torch.eye(hi - lo, dtype=torch.bool)
        results["info_nce_mask_local"] = L.info_nce(local["z1"], local["z2"], mask, temperature=0.2)
        # gather helper and the queue
        from tsssl.losses.gather import gather, offset

        gathered, sizes = gather(local["z1"])
        results["gathered"], results["sizes"], results["offset"] = gathered, sizes, offset(sizes)
        queue = L.MemoryQueue(10, D)
        queue.enqueue(local["z1"])
        results["queue_after_1"] = queue.keys().clone()
        queue.enqueue(local["z2"])
        results["queue_after_2"] = queue.keys().clone()
        tmp = Path(out_dir) / f"rank{rank}.pt.tmp"
        torch.save(results, tmp)
        tmp.rename(Path(out_dir) / f"rank{rank}.pt")
    finally:
        # Without freeing the DDP reducers and a barrier before tearing the group down, a rank
        # aborted at exit about one run in five ("terminate called without an active exception").
        gc.collect()
        dist.barrier()
        dist.destroy_process_group()
