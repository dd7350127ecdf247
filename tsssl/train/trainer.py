"""The one Trainer: every method, every device, one loop.

Per optimiser step (the hot loop never waits for the device)::

    batch = rows[order[k*B:(k+1)*B]] for each data tensor     # cut on the device
    with autocast(precision): loss = method(batch)            # Method.forward = training_step
    backward (GradScaler for fp16); clip the global grad norm; AdamW step; lr schedule step
    for (online, target) in method.momentum_pairs(): target <- m target + (1 - m) online
    loss_sum += loss; first_bad_step <- step if loss is not finite  (device tensors)

Every ``log_every`` steps (and at the end) the device is synchronised once: the mean loss since
the last log (averaged over ranks), the learning rate and the throughput are logged, and a
non-finite loss raises ``TrainingDivergedError`` before any checkpoint could store bad weights.
"""
from __future__ import annotations

import math
import os
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

import torch
from torch import Tensor, nn

from tsssl.train import distributed
from tsssl.train.callbacks import (CallbackList, CSVLogger, ProgressBar, TensorBoardLogger, progress_enabled,
                                   tensorboard_available)
from tsssl.train.checkpoint import (CHECKPOINT_NAME, capture_rng_state, load_checkpoint, resolve_resume,
                                    restore_rng_state, save_checkpoint, seed_everything)
from tsssl.train.data import make_batches
from tsssl.train.ema import MomentumUpdater
from tsssl.train.schedule import WarmupCosine, ema_momentum, warmup_steps

PRECISIONS = ("fp32", "bf16", "fp16")
_NOT_BAD = 2**62  # "no non-finite loss yet" in the device-side first-bad-step flag
_CHECKPOINT_FORMAT = 1


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite. ``step`` is the 1-based optimiser step whose loss was
    not finite, ``epoch`` its 0-based epoch; the last good checkpoint on disk is left as it was."""

    def __init__(self, message: str, step: int, epoch: int) -> None:
        super().__init__(message)
        self.step, self.epoch = step, epoch


@dataclass
class TrainResult:
    """What ``Trainer.fit`` returns.

    history: log rows (dicts: step = optimiser steps done, epoch = 0-based epoch of the row's
    last step, loss = mean loss since the previous row (averaged over ranks), lr = learning rate
    of the row's last step, samples_per_s since the previous row (all ranks), elapsed_s since
    the run began, resumed runs included), the resumed run's earlier rows included; final_loss: the last row's loss (mean over its log window);
    samples_per_s: training samples (all ranks) per second of this call's loop; steps: optimiser
    steps done in total; epochs: passes over the data (steps / steps per epoch); elapsed_s: wall
    seconds of this call's loop; checkpoint_path: the final checkpoint (None without out_dir);
    device: where it trained ("cpu", "cuda:0").
    """

    history: list[dict[str, Any]]
    final_loss: float
    samples_per_s: float
    steps: int
    epochs: float
    elapsed_s: float
    checkpoint_path: Optional[Path]
    device: str


def resolve_device(device: str | torch.device) -> torch.device:
    """"auto" -> CUDA when available, else the CPU; anything else as torch.device, checked."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device={device!r} is not a device; use 'auto', 'cpu', 'cuda' or 'cuda:N'") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but CUDA is not available here; use device='cpu' or 'auto'")
    return dev


def parameter_groups(method: nn.Module, weight_decay: float, exclude: set[int] = frozenset()) -> list[dict]:
    """AdamW groups over the trainable parameters (``requires_grad``, not in ``exclude``): weight
    decay on weight matrices / kernels; none on biases, norm-layer parameters and other
    parameters of one dimension or less (temperatures, scales)."""
    norm_types: tuple[type, ...] = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm,
                                    nn.LocalResponseNorm)
    if hasattr(nn, "RMSNorm"):
        norm_types += (nn.RMSNorm,)
    in_norm = {id(p) for m in method.modules() if isinstance(m, norm_types) for p in m.parameters(recurse=False)}
    decay, no_decay = [], []
    for name, p in method.named_parameters():
        if not p.requires_grad or id(p) in exclude:
            continue
        if p.ndim <= 1 or id(p) in in_norm or name.endswith("bias"):
            no_decay.append(p)
        else:
            decay.append(p)
    if not decay and not no_decay:
        raise ValueError(f"{type(method).__name__} has no trainable parameters (none with requires_grad)")
    return [g for g in ({"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0})
            if g["params"]]


def _check_each_step(device: torch.device, ctx: distributed.DistContext) -> bool:
    """Check the loss for NaN / inf at every step (a host sync) only where a sync costs nothing:
    a single CPU process. Elsewhere a device-side flag is read at log / checkpoint boundaries
    (under DDP all ranks read it together, so they stop together)."""
    return device.type == "cpu" and not ctx.enabled


def _positive_int(name: str, value: Any, allow_none: bool = False) -> Optional[int]:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int{' or None' if allow_none else ''}, got {value!r}")
    return value


class Trainer:
    """Trains any ``tsssl`` method (an ``nn.Module`` with ``training_step(batch) -> loss``).

    Length: ``epochs`` passes over the data, or ``max_steps`` optimiser steps; with both, the run
    stops at whichever comes first; with neither, one epoch. ``batch_size`` is per process
    (under DDP the global batch is batch_size x world size, and the last incomplete global
    batch of an epoch is always dropped so that ranks take equal steps); ``drop_last=False``
    keeps a single process's last, smaller batch.

    Optimisation: AdamW (``lr`` peak, ``weight_decay`` on weight matrices only; fused on CUDA,
    foreach on the CPU), linear warm-up over ``warmup_frac`` of the steps then cosine to
    ``min_lr_ratio * lr``, global gradient-norm clipping at ``grad_clip`` (None/0: off), and the
    momentum (EMA) updates of ``method.momentum_pairs()`` with BYOL's cosine schedule from
    ``method.base_momentum`` to 1.

    Hardware: ``device`` "auto" (CUDA when available) / "cpu" / "cuda[:N]"; ``precision``
    "fp32", "bf16" (autocast, CPU and CUDA) or "fp16" (autocast + GradScaler, CUDA only);
    ``compile=True`` runs the step through ``torch.compile``. ``on_device`` "auto" keeps tensor
    data resident on the device when it takes less than half the free memory (always on the
    CPU); True / False force it. Under ``torchrun`` (WORLD_SIZE > 1) or an initialised process
    group the method is wrapped in DistributedDataParallel and each rank trains on its shard.

    Output (``out_dir``, rank 0 only): ``checkpoint.pt`` every ``checkpoint_every`` steps and at
    the end, ``log.csv`` (a row every ``log_every`` steps), TensorBoard events in ``tb/`` when
    ``tensorboard`` is installed. ``progress``: tqdm bar (None: only when stderr is a terminal).
    ``callbacks``: extra objects with any of the hooks of ``tsssl.train.callbacks`` (called on
    every rank). ``seed`` seeds torch / numpy / random (plus the rank) at the start of a fresh
    run and every epoch's data order: the same seed repeats a run on the same device.

    Under DDP the Trainer initialises the process group when torchrun's env asks for one and
    leaves it initialised after ``fit`` (the script may train again); methods with parameters
    unused in some steps set ``find_unused_parameters = True`` as a class attribute.
    """

    def __init__(self, epochs: Optional[int] = None, max_steps: Optional[int] = None, batch_size: int = 256,
                 lr: float = 1e-3, weight_decay: float = 1e-4, warmup_frac: float = 0.05,
                 min_lr_ratio: float = 0.0, grad_clip: Optional[float] = 1.0, device: str | torch.device = "auto",
                 precision: str = "fp32", seed: int = 0, out_dir: Optional[str | os.PathLike] = None,
                 checkpoint_every: Optional[int] = None, log_every: int = 20, progress: Optional[bool] = None,
                 compile: bool = False, drop_last: bool = True, on_device: bool | str = "auto",
                 callbacks: Iterable[Any] = ()) -> None:
        self.epochs = _positive_int("epochs", epochs, allow_none=True)
        self.max_steps = _positive_int("max_steps", max_steps, allow_none=True)
        self.batch_size = _positive_int("batch_size", batch_size)
        self.log_every = _positive_int("log_every", log_every)
        self.checkpoint_every = _positive_int("checkpoint_every", checkpoint_every, allow_none=True)
        for name, value, ok, accepted in (
            ("lr", lr, lambda v: v > 0, "> 0"),
            ("weight_decay", weight_decay, lambda v: v >= 0, ">= 0"),
            ("warmup_frac", warmup_frac, lambda v: 0 <= v < 1, "in [0, 1)"),
            ("min_lr_ratio", min_lr_ratio, lambda v: 0 <= v <= 1, "in [0, 1]"),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or not ok(value):
                raise ValueError(f"{name} must be a number {accepted}, got {value!r}")
        if grad_clip is not None and (isinstance(grad_clip, bool) or not isinstance(grad_clip, (int, float))
                                      or not grad_clip >= 0):
            raise ValueError(f"grad_clip must be a number > 0 (or None / 0 to turn clipping off), got {grad_clip!r}")
        if precision not in PRECISIONS:
            raise ValueError(f"precision={precision!r}; accepted: {', '.join(PRECISIONS)}")
        if on_device not in ("auto", True, False):
            raise ValueError(f"on_device={on_device!r}; accepted: 'auto', True, False")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed must be an int, got {seed!r}")
        self.device = resolve_device(device)
        if precision == "fp16" and self.device.type != "cuda":
            raise ValueError(f"precision='fp16' needs CUDA (autocast + GradScaler) but the device is "
                             f"{self.device.type!r}; on the CPU use precision='bf16' or 'fp32'")
        if checkpoint_every is not None and out_dir is None:
            raise ValueError("checkpoint_every needs out_dir (where checkpoint.pt is written)")
        self.lr, self.weight_decay = float(lr), float(weight_decay)
        self.warmup_frac, self.min_lr_ratio = float(warmup_frac), float(min_lr_ratio)
        self.grad_clip = float(grad_clip) if grad_clip else None
        self.precision, self.seed = precision, seed
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.progress, self.compile, self.drop_last, self.on_device = progress, bool(compile), bool(drop_last), on_device
        self.callbacks = list(callbacks)

    # -- configuration ---------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """The settings as plain values (stored in checkpoints)."""
        return {"epochs": self.epochs, "max_steps": self.max_steps, "batch_size": self.batch_size, "lr": self.lr,
                "weight_decay": self.weight_decay, "warmup_frac": self.warmup_frac,
                "min_lr_ratio": self.min_lr_ratio, "grad_clip": self.grad_clip, "device": str(self.device),
                "precision": self.precision, "seed": self.seed,
                "out_dir": None if self.out_dir is None else str(self.out_dir),
                "checkpoint_every": self.checkpoint_every, "log_every": self.log_every, "compile": self.compile,
                "drop_last": self.drop_last, "on_device": self.on_device}

    def total_steps(self, steps_per_epoch: int) -> int:
        """Steps of the run: epochs x steps per epoch, capped by max_steps (one epoch if neither)."""
        if self.epochs is None and self.max_steps is None:
            return steps_per_epoch
        by_epochs = self.epochs * steps_per_epoch if self.epochs is not None else None
        if by_epochs is None:
            return self.max_steps  # type: ignore[return-value]
        return by_epochs if self.max_steps is None else min(by_epochs, self.max_steps)

    def _autocast(self, device: torch.device):
        if self.precision == "fp32":
            return nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(device_type=device.type, dtype=dtype)

    # -- the run -----------------------------------------------------------------------------
    def fit(self, method: nn.Module, data: Any, resume: bool | str | os.PathLike = False) -> TrainResult:
        """Train ``method`` on ``data`` (a Tensor, a tuple/list of Tensors, a WindowSet or a
        Dataset); ``resume=True`` continues from ``out_dir/checkpoint.pt`` (or ``resume=path``)."""
        if not isinstance(method, nn.Module) or not callable(getattr(method, "training_step", None)):
            raise ValueError(f"method must be an nn.Module with training_step(batch) (a tsssl Method), "
                             f"got {type(method).__name__}")
        ctx = distributed.setup(self.device.type)
        device = self.device
        if ctx.enabled and device.type == "cuda":
            device = torch.device("cuda", ctx.local_rank)
        elif device.type == "cuda" and device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        if device.type == "cuda":
            torch.cuda.set_device(device)
        ckpt_path = resolve_resume(resume, self.out_dir)
        ckpt = load_checkpoint(ckpt_path) if ckpt_path is not None else None

        was_training = method.training
        method.to(device)
        method.train()
        if ckpt is not None:
            method.load_state_dict(ckpt["method"])
        else:
            seed_everything(self.seed + ctx.rank)
        batches = make_batches(data, self.batch_size, device, seed=self.seed, rank=ctx.rank,
                               world_size=ctx.world_size, drop_last=self.drop_last, on_device=self.on_device)
        spe = batches.steps_per_epoch
        total = self.total_steps(spe)

        ema = MomentumUpdater(method.momentum_pairs())
        base_momentum = float(getattr(method, "base_momentum", 0.99))
        groups = parameter_groups(method, self.weight_decay, ema.target_ids())
        params = [p for g in groups for p in g["params"]]
        fused = device.type == "cuda" and all(p.is_cuda and p.is_floating_point() for p in params)
        optimizer = torch.optim.AdamW(groups, lr=self.lr, **({"fused": True} if fused else {"foreach": True}))
        schedule = WarmupCosine(total, warmup_steps(total, self.warmup_frac), self.min_lr_ratio)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        scaler = torch.amp.GradScaler("cuda") if self.precision == "fp16" else None

        step = epoch = pos = 0
        history: list[dict[str, Any]] = []
        elapsed_before, loss_carry, n_acc = 0.0, 0.0, 0
        if ckpt is not None:
            self._check_compatible(ckpt, batches.n, ctx.world_size, ckpt_path)
            optimizer.load_state_dict(ckpt["optimizer"])
            scheduler.load_state_dict(ckpt["scheduler"])
            # The schedule is this Trainer's (same settings: the same curve; a longer max_steps
            # on resume: the curve of the longer run from here on).
            scheduler.lr_lambdas = [schedule] * len(optimizer.param_groups)
            scheduler.base_lrs = [self.lr] * len(optimizer.param_groups)
            for g in optimizer.param_groups:
                g["initial_lr"], g["lr"] = self.lr, self.lr * schedule(ckpt["step"])
            scheduler._last_lr = [g["lr"] for g in optimizer.param_groups]
            if scaler is not None and ckpt.get("scaler"):
                scaler.load_state_dict(ckpt["scaler"])
            rngs = ckpt["rng"]
            restore_rng_state(rngs[ctx.rank] if len(rngs) == ctx.world_size else rngs[0])
            step, epoch, pos = ckpt["step"], ckpt["epoch"], ckpt["pos"]
            history = list(ckpt["history"])
            elapsed_before = float(ckpt["elapsed_s"])
            carries = ckpt["loss_carry"]
            loss_carry = carries[ctx.rank] if len(carries) == ctx.world_size else 0.0
            n_acc = int(ckpt["acc_count"])

        if ctx.enabled:
            model: nn.Module = nn.parallel.DistributedDataParallel(
                method, device_ids=[device.index] if device.type == "cuda" else None,
                find_unused_parameters=bool(getattr(method, "find_unused_parameters", False)))
        else:
            model = method
        if self.compile:
            model = torch.compile(model)

        cbs = self._callbacks(ctx)
        ckpt_file = self.out_dir / CHECKPOINT_NAME if self.out_dir is not None else None
        state = _RunState(step=step, epoch=epoch, pos=pos, history=history, elapsed_before=elapsed_before,
                          n_acc=n_acc, last_checkpoint=ckpt_path if ckpt_path is not None else None,
                          last_checkpoint_step=ckpt["step"] if ckpt is not None else None)
        start_step = step
        loss_sum = torch.full((), loss_carry, dtype=torch.float32, device=device)
        bad_at = torch.full((), _NOT_BAD, dtype=torch.int64, device=device)
        check_each_step = _check_each_step(device, ctx)
        world, B = ctx.world_size, self.batch_size
        autocast = self._autocast(device)
        run = dict(method=method, optimizer=optimizer, scheduler=scheduler, scaler=scaler, spe=spe,
                   n=batches.n, ctx=ctx, cbs=cbs, ckpt_file=ckpt_file)
        try:
            cbs("on_fit_start", {"total_steps": total, "start_step": step, "steps_per_epoch": spe,
                                 "world_size": world, "device": str(device), "out_dir": self.out_dir,
                                 "history": list(history), "method": method, "optimizer": optimizer,
                                 "scheduler": scheduler})
            t0 = time.perf_counter()
            state.t_start = state.t_last = t0
            state.step_at_last_log = step
            while state.step < total:
                for batch in batches.epoch(state.epoch, state.pos):
                    with autocast:
                        loss = model(batch)
                    if not isinstance(loss, Tensor) or loss.numel() != 1:
                        raise ValueError(f"{type(method).__name__}.training_step must return a scalar loss "
                                         f"Tensor, got {type(loss).__name__}"
                                         f"{tuple(loss.shape) if isinstance(loss, Tensor) else ''}")
                    if check_each_step and not torch.isfinite(loss):
                        # caught before backward: the weights in memory stay the last good ones
                        self._diverged(state.step + 1, spe, float(loss.detach()), state)
                    if scaler is not None:
                        scaler.scale(loss).backward()
                        scaler.unscale_(optimizer)
                    else:
                        loss.backward()
                    if self.grad_clip is not None:
                        torch.nn.utils.clip_grad_norm_(params, self.grad_clip, foreach=True)
                    if scaler is not None:
                        scaler.step(optimizer)
                        scaler.update()
                    else:
                        optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                    scheduler.step()
                    if ema:
                        ema.update(ema_momentum(state.step, total, base_momentum))
                    loss = loss.detach().float().reshape(())
                    loss_sum += loss
                    if not check_each_step:
                        bad_at.masked_fill_(~torch.isfinite(loss) & (bad_at == _NOT_BAD), state.step + 1)
                    state.step += 1
                    state.pos += 1
                    state.n_acc += 1
                    cbs("on_step_end", state.step)
                    last = state.step == total
                    if state.step % self.log_every == 0 or last:
                        self._log(state, loss_sum, bad_at, schedule, run)
                    if ckpt_file is not None and (last or (self.checkpoint_every
                                                           and state.step % self.checkpoint_every == 0)):
                        self._checkpoint(state, loss_sum, bad_at, run)
                    if last:
                        break
                if state.pos >= spe:
                    state.epoch, state.pos = state.epoch + 1, 0
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            elapsed = time.perf_counter() - t0
            done = state.step - start_step
            hist = state.history
            result = TrainResult(
                history=hist,
                final_loss=float(hist[-1]["loss"]) if hist else float("nan"),
                samples_per_s=done * B * world / elapsed if done and elapsed > 0 else 0.0,
                steps=state.step, epochs=state.step / spe, elapsed_s=elapsed,
                checkpoint_path=state.last_checkpoint if ckpt_file is not None else None,
                device=str(device))
            cbs("on_fit_end", result)
            distributed.barrier()
            return result
        finally:
            cbs.close()
            method.train(was_training)

    # -- pieces of the loop -------------------------------------------------------------------
    def _callbacks(self, ctx: distributed.DistContext) -> CallbackList:
        cbs: list[Any] = []
        if ctx.is_main and self.out_dir is not None:
            cbs.append(CSVLogger(self.out_dir / "log.csv"))
            if tensorboard_available():
                cbs.append(TensorBoardLogger(self.out_dir / "tb"))
        if ctx.is_main and progress_enabled(self.progress):
            cbs.append(ProgressBar())
        return CallbackList(cbs + self.callbacks)

    def _check_compatible(self, ckpt: dict, n: int, world: int, path: Path) -> None:
        for what, saved, now in (("training samples", ckpt["n_samples"], n),
                                 ("batch_size", ckpt["batch_size"], self.batch_size),
                                 ("world size (processes)", ckpt["world_size"], world)):
            if saved != now:
                raise ValueError(f"resume: the checkpoint {path} was written with {what} = {saved}, this run has "
                                 f"{now}; resume with the same data, batch_size and number of processes")

    def _diverged(self, bad_step: int, spe: int, value: float | None, state: "_RunState") -> None:
        epoch = (bad_step - 1) // spe
        kept = (f"; the last good checkpoint {state.last_checkpoint} (step {state.last_checkpoint_step}) is kept"
                if state.last_checkpoint is not None else "")
        what = f"{value}" if value is not None else "non-finite"
        raise TrainingDivergedError(f"training diverged: the loss is {what} at step {bad_step} (epoch {epoch})"
                                    f"{kept}; lower lr, raise grad clipping or check the data for NaN/inf",
                                    step=bad_step, epoch=epoch)

    def _check_finite(self, state: "_RunState", bad_at: Tensor, spe: int) -> None:
        bad = distributed.all_reduce(bad_at.clone(), "min")
        first = int(bad.item())
        if first != _NOT_BAD:
            self._diverged(first, spe, None, state)

    def _log(self, state: "_RunState", loss_sum: Tensor, bad_at: Tensor, schedule: WarmupCosine,
             run: dict[str, Any]) -> None:
        ctx, spe = run["ctx"], run["spe"]
        self._check_finite(state, bad_at, spe)
        total_loss = distributed.all_reduce(loss_sum.clone(), "sum").item()
        now = time.perf_counter()
        steps = state.step - state.step_at_last_log
        row = {"step": state.step, "epoch": (state.step - 1) // spe,
               "loss": total_loss / ctx.world_size / max(1, state.n_acc),
               "lr": self.lr * schedule(state.step - 1),
               "samples_per_s": steps * self.batch_size * ctx.world_size / max(now - state.t_last, 1e-9),
               "elapsed_s": state.elapsed_before + now - state.t_start}
        loss_sum.zero_()
        state.n_acc, state.t_last, state.step_at_last_log = 0, now, state.step
        state.history.append(row)
        run["cbs"]("on_log", row)

    def _checkpoint(self, state: "_RunState", loss_sum: Tensor, bad_at: Tensor, run: dict[str, Any]) -> None:
        ctx, spe = run["ctx"], run["spe"]
        self._check_finite(state, bad_at, spe)  # never store weights trained on a bad loss
        epoch, pos = (state.epoch + 1, 0) if state.pos >= spe else (state.epoch, state.pos)
        per_rank = distributed.all_gather_object({"rng": capture_rng_state(), "loss_carry": loss_sum.item()})
        path: Path = run["ckpt_file"]
        if ctx.is_main:
            scaler = run["scaler"]
            save_checkpoint(path, {
                "format": _CHECKPOINT_FORMAT,
                "method": run["method"].state_dict(),
                "optimizer": run["optimizer"].state_dict(),
                "scheduler": run["scheduler"].state_dict(),
                "scaler": scaler.state_dict() if scaler is not None else None,
                "rng": [r["rng"] for r in per_rank],
                "loss_carry": [r["loss_carry"] for r in per_rank],
                "acc_count": state.n_acc,
                "step": state.step, "epoch": epoch, "pos": pos,
                "steps_per_epoch": spe, "n_samples": run["n"], "batch_size": self.batch_size,
                "world_size": ctx.world_size,
                "elapsed_s": state.elapsed_before + time.perf_counter() - state.t_start,
                "history": list(state.history),
                "config": self.config(),
            })
        distributed.barrier()
        state.last_checkpoint, state.last_checkpoint_step = path, state.step
        run["cbs"]("on_checkpoint", path, state.step)


@dataclass
class _RunState:
    """Counters of a run in progress."""

    step: int
    epoch: int
    pos: int
    history: list[dict[str, Any]]
    elapsed_before: float
    n_acc: int
    last_checkpoint: Optional[Path]
    last_checkpoint_step: Optional[int]
    t_start: float = 0.0
    t_last: float = 0.0
    step_at_last_log: int = 0
