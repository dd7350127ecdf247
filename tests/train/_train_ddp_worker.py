"""Worker for test_distributed.py: one rank of a 2-process gloo group on the CPU running the
Trainer (an importable module: spawn pickles the target by module and name)."""

from __future__ import annotations

import gc
import os
import signal
import sys
from pathlib import Path

import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).parent))
from _train_toys import LinearRegression, NoisyRegression, PairDataset, params  # noqa: E402

from tsssl.train import Trainer, TrainingInterrupted  # noqa: E402
from tsssl.train import trainer as trainer_module  # noqa: E402

WORLD = 2
PER_RANK = 8
TRAIN_KW = dict(max_steps=10, lr=0.05, weight_decay=0.01, log_every=2, seed=3, device="cpu", progress=False)
STOP_AT = 6


class Stop(Exception):
    pass


class StopAt:
    def __init__(self, step):
        self.step = step

    def on_checkpoint(self, path, step):
        if step == self.step:
            raise Stop


class SignalAt:
    """SIGINT to this process at the end of step ``step`` (None: never)."""

    def __init__(self, step):
        self.step = step

    def on_step_end(self, step):
        if step == self.step:
            signal.raise_signal(signal.SIGINT)


class FakeClock:
    """Replaces the Trainer's clock with one that advances ``per_step`` seconds a step (0: stands
    still) and records the checkpoints' steps."""

    def __init__(self, per_step):
        self.now, self.per_step, self.checkpoints = 0.0, per_step, []
        trainer_module._clock = lambda: self.now

    def on_step_end(self, step):
        self.now += self.per_step

    def on_checkpoint(self, path, step):
        self.checkpoints.append(step)


def _signal_and_clock(rank, x, y, init, out):
    """A SIGINT that reaches rank 1 only, at step 5, and a clock that runs on rank 0 only:
    every rank must take the same decisions."""
    m = NoisyRegression()
    m.load_state_dict(init)
    try:
        _fit(m, (x, y), out / "noisy_signal", callbacks=[SignalAt(5 if rank == 1 else None)])
        stopped = None
    except TrainingInterrupted as err:
        stopped = {"message": str(err), "step": err.step, "signal": err.signal}
    dist.barrier()
    resumed = NoisyRegression()
    Trainer(batch_size=PER_RANK, out_dir=out / "noisy_signal", **TRAIN_KW).fit(resumed, (x, y), resume=True)
    real_clock = trainer_module._clock
    clock = FakeClock(per_step=10.0 if rank == 0 else 0.0)  # due after 30 s on rank 0 only
    try:
        _fit(NoisyRegression(), (x, y), out / "timed", checkpoint_minutes=0.5, callbacks=[clock])
    finally:
        trainer_module._clock = real_clock
    return {"stopped": stopped, "resumed": params(resumed), "timed_checkpoints": clock.checkpoints}


def _fit(method, data, out_dir, **kw):
    result = Trainer(batch_size=PER_RANK, out_dir=out_dir, **{**TRAIN_KW, **kw}).fit(method, data)
    return {
        "params": params(method),
        "losses": [h["loss"] for h in result.history],
        "steps": [h["step"] for h in result.history],
    }


def run(rank: int, world: int, init_file: str, out_dir: str) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        out = Path(out_dir)
        inputs = torch.load(out / "inputs.pt")
        x, y = inputs["x"], inputs["y"]
        results = {}
        for name, data in (("tensors", (x, y)), ("dataset", PairDataset(x, y))):
            m = LinearRegression()
            m.load_state_dict(inputs["init"])
            # each rank gets its own out_dir here, to see which ranks write
            results[name] = _fit(m, data, out / name / f"rank{rank}")
            results[name]["rand_after"] = torch.rand(3)  # linear regression draws nothing itself
        # a run with randomness, interrupted and resumed from the shared out_dir
        torch.manual_seed(0)
        straight = NoisyRegression()
        init = params(straight)
        results["noisy_straight"] = _fit(straight, (x, y), out / "noisy_straight")
        interrupted = NoisyRegression()
        interrupted.load_state_dict(init)
        try:
            _fit(interrupted, (x, y), out / "noisy_resumed", checkpoint_every=STOP_AT, callbacks=[StopAt(STOP_AT)])
        except Stop:
            pass
        dist.barrier()
        torch.manual_seed(100 + rank)
        other = NoisyRegression()
        result = Trainer(batch_size=PER_RANK, out_dir=out / "noisy_resumed", checkpoint_every=STOP_AT, **TRAIN_KW).fit(
            other, (x, y), resume=True
        )
        results["noisy_resumed"] = {
            "params": params(other),
            "losses": [h["loss"] for h in result.history],
            "steps": [h["step"] for h in result.history],
        }
        results["interrupts"] = _signal_and_clock(rank, x, y, init, out)
        tmp = out / f"rank{rank}.pt.tmp"
        torch.save(results, tmp)
        tmp.rename(out / f"rank{rank}.pt")
    finally:
        gc.collect()  # free the DDP reducers before tearing the group down
        dist.barrier()
        dist.destroy_process_group()
