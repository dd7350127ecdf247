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
The time-based checkpoint (``checkpoint_minutes``) is decided there too, and under DDP so is a
stop on SIGINT / SIGTERM (``TrainingInterrupted``), so that the hot loop gets no extra sync.

``Trainer.fit`` runs in phases over one ``_Run``: ``_restore`` (device, checkpoint, weights, RNGs,
batches, position), ``_optimiser`` (AdamW, lr schedule, GradScaler), ``_wrap`` (DDP,
``torch.compile``), ``_loop`` (one ``_step_fn`` call per step, logs and checkpoints on their
boundaries) and ``_finish`` (``TrainResult``).
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from tsssl.checks import check_positive
from tsssl.registry import COMPILE_MODES, PRECISIONS
from tsssl.train import distributed
from tsssl.train.callbacks import (
    CallbackList,
    CSVLogger,
    ProgressBar,
    TensorBoardLogger,
    extra_log_columns,
    progress_enabled,
    tensorboard_available,
)
from tsssl.train.checkpoint import (
    CHECKPOINT_NAME,
    capture_rng_state,
    load_checkpoint,
    resolve_resume,
    restore_rng_state,
    save_checkpoint,
    seed_everything,
)
from tsssl.train.data import DatasetBatches, TensorBatches, ViewBatches, make_batches, needs_sample_index
from tsssl.train.ema import MomentumUpdater
from tsssl.train.schedule import MOMENTUM_SCHEDULES, WarmupCosine, average_momentum, ema_momentum, warmup_steps

_NOT_BAD = 2**62  # "no non-finite loss yet" in the device-side first-bad-step flag
_CHECKPOINT_FORMAT = 1
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_clock = time.monotonic  # seconds, for the time-based checkpoints (a module attribute: tests fake it)


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite. ``step`` is the 1-based optimiser step whose loss was
    not finite, ``epoch`` its 0-based epoch; the last good checkpoint on disk is left as it was."""

    def __init__(self, message: str, step: int, epoch: int) -> None:
        super().__init__(message)
        self.step, self.epoch = step, epoch


class TrainingInterrupted(KeyboardInterrupt):
    """``fit`` stopped on SIGINT / SIGTERM once the optimiser step under way was done. ``step``:
    steps done, ``total_steps``: steps the run asked for, ``checkpoint``: the checkpoint at
    ``step`` (None without out_dir), from which ``fit(resume=...)`` continues exactly; ``signal``:
    the signal's name (None when it reached another rank). A KeyboardInterrupt, so code that
    catches those still does."""

    def __init__(
        self, message: str, step: int, total_steps: int, checkpoint: Path | None, signal: str | None = None
    ) -> None:
        super().__init__(message)
        self.step, self.total_steps, self.checkpoint, self.signal = step, total_steps, checkpoint, signal

    def __reduce__(self) -> tuple[Any, ...]:  # pickles (multiprocessing) with its attributes
        return type(self), (str(self), self.step, self.total_steps, self.checkpoint, self.signal)


@dataclass
class TrainResult:
    """What ``Trainer.fit`` returns.

    history: log rows (dicts: step = optimiser steps done, epoch = 0-based epoch of the row's
    last step, loss = mean loss since the previous row (averaged over ranks), lr = learning rate
    of the row's last step, samples_per_s since the previous row (all ranks), elapsed_s since
    the run began, resumed runs included; plus the keys of the callbacks' ``log_values``), the
    resumed run's earlier rows included; final_loss: the last row's loss (mean over its log window);
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
    checkpoint_path: Path | None
    device: str


def resolve_device(device: str | torch.device) -> torch.device:
    """ "auto" -> CUDA when available, else the CPU; anything else as torch.device, checked."""
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
    norm_types: tuple[type, ...] = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm)
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
    return [
        g
        for g in ({"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0})
        if g["params"]
    ]


def _check_each_step(device: torch.device, ctx: distributed.DistContext) -> bool:
    """Check the loss for NaN / inf at every step (a host sync) only where a sync costs nothing:
    a single CPU process. Elsewhere a device-side flag is read at log / checkpoint boundaries
    (under DDP all ranks read it together, so they stop together)."""
    return device.type == "cpu" and not ctx.enabled


def _number(name: str, value: Any, ok: Callable[[float], bool], accepted: str) -> float:
    """``value`` as a float when it is a finite real number (not a bool) that passes ``ok``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not ok(value):
        raise ValueError(f"{name} must be a number {accepted}, got {value!r}")
    return float(value)


def _compile_mode(value: bool | str) -> str | bool:
    """False, or the torch.compile mode ("default" for True; "eager": the eager backend)."""
    if value is False or value is None:
        return False
    if value is True:
        return "default"
    if value in COMPILE_MODES:
        return value
    raise ValueError(f"compile={value!r}; accepted: True, False or one of {', '.join(COMPILE_MODES)}")


def total_steps(epochs: int | None, max_steps: int | None, steps_per_epoch: int) -> int:
    """Optimiser steps of a run: ``epochs`` x ``steps_per_epoch`` capped by ``max_steps``; only
    one of the two given: that one; neither: one epoch."""
    if epochs is None and max_steps is None:
        return steps_per_epoch
    by_epochs = epochs * steps_per_epoch if epochs is not None else None
    if by_epochs is None:
        return max_steps  # type: ignore[return-value]
    return by_epochs if max_steps is None else min(by_epochs, max_steps)


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
    ``compile`` runs the step through ``torch.compile``: True or "default", "reduce-overhead"
    (CUDA graphs on a GPU) or "max-autotune" (its modes), or "eager" (the dynamo trace without
    code generation: checks that a method compiles, quickly, e.g. on a CPU). ``on_device`` "auto" keeps tensor
    data resident on the device when it takes less than half the free memory (always on the
    CPU); True / False force it. Under ``torchrun`` (WORLD_SIZE > 1) or an initialised process
    group the method is wrapped in DistributedDataParallel and each rank trains on its shard.

    Output (``out_dir``, rank 0 only): ``checkpoint.pt`` every ``checkpoint_every`` steps, at the
    first log step after ``checkpoint_minutes`` of wall time since the last one, and at the end,
    ``log.csv`` (a row every ``log_every`` steps), TensorBoard events in ``tb/`` when
    ``tensorboard`` is installed. ``progress``: tqdm bar (None: only when stderr is a terminal).
    ``callbacks``: extra objects with any of the hooks of ``tsssl.train.callbacks`` (called on
    every rank). ``seed`` seeds torch / numpy / random (plus the rank) at the start of a fresh
    run and every epoch's data order: the same seed repeats a run on the same device.

    Interruption: during ``fit`` (in the main thread) SIGINT and SIGTERM let the optimiser step
    under way finish, then write a checkpoint (with ``out_dir``) and raise ``TrainingInterrupted``
    (a KeyboardInterrupt); under DDP the ranks agree at the next log step and stop there together.
    Resume: ``fit(resume=...)`` continues a checkpoint bit for bit with the same settings; a run
    asked to be longer than the checkpoint's continues on the longer run's warm-up/cosine lr curve
    from the checkpoint's step on; one already past the steps asked for is a ValueError.

    Under DDP the Trainer initialises the process group when torchrun's env asks for one and
    leaves it initialised after ``fit`` (the script may train again); methods with parameters
    unused in some steps set ``find_unused_parameters = True`` as a class attribute.
    """

    def __init__(
        self,
        epochs: int | None = None,
        max_steps: int | None = None,
        batch_size: int = 256,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        warmup_frac: float = 0.05,
        min_lr_ratio: float = 0.0,
        grad_clip: float | None = 1.0,
        device: str | torch.device = "auto",
        precision: str = "fp32",
        seed: int = 0,
        out_dir: str | os.PathLike | None = None,
        checkpoint_every: int | None = None,
        checkpoint_minutes: float | None = None,
        log_every: int = 20,
        progress: bool | None = None,
        compile: bool | str = False,
        drop_last: bool = True,
        on_device: bool | str = "auto",
        callbacks: Iterable[Any] = (),
    ) -> None:
        self.epochs = check_positive(epochs, "epochs", allow_none=True)
        self.max_steps = check_positive(max_steps, "max_steps", allow_none=True)
        self.batch_size = check_positive(batch_size, "batch_size")
        self.log_every = check_positive(log_every, "log_every")
        self.checkpoint_every = check_positive(checkpoint_every, "checkpoint_every", allow_none=True)
        self.lr = _number("lr", lr, lambda v: v > 0, "> 0")
        self.weight_decay = _number("weight_decay", weight_decay, lambda v: v >= 0, ">= 0")
        self.warmup_frac = _number("warmup_frac", warmup_frac, lambda v: 0 <= v < 1, "in [0, 1)")
        self.min_lr_ratio = _number("min_lr_ratio", min_lr_ratio, lambda v: 0 <= v <= 1, "in [0, 1]")
        self.checkpoint_minutes = (
            None
            if checkpoint_minutes is None  # no time-based checkpoints
            else _number("checkpoint_minutes", checkpoint_minutes, lambda v: v > 0, "> 0 (or None: off)")
        )
        if grad_clip is not None and (
            isinstance(grad_clip, bool) or not isinstance(grad_clip, (int, float)) or not grad_clip >= 0
        ):
            raise ValueError(f"grad_clip must be a number > 0 (or None / 0 to turn clipping off), got {grad_clip!r}")
        if precision not in PRECISIONS:
            raise ValueError(f"precision={precision!r}; accepted: {', '.join(PRECISIONS)}")
        if on_device not in ("auto", True, False):
            raise ValueError(f"on_device={on_device!r}; accepted: 'auto', True, False")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed must be an int, got {seed!r}")
        self.device = resolve_device(device)
        if precision == "fp16" and self.device.type != "cuda":
            raise ValueError(
                f"precision='fp16' needs CUDA (autocast + GradScaler) but the device is "
                f"{self.device.type!r}; on the CPU use precision='bf16' or 'fp32'"
            )
        for name, value in (("checkpoint_every", checkpoint_every), ("checkpoint_minutes", checkpoint_minutes)):
            if value is not None and out_dir is None:
                raise ValueError(f"{name} needs out_dir (where checkpoint.pt is written)")
        self.grad_clip = float(grad_clip) if grad_clip else None
        self.precision, self.seed = precision, seed
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.progress, self.compile, self.drop_last, self.on_device = (
            progress,
            _compile_mode(compile),
            bool(drop_last),
            on_device,
        )
        self.callbacks = list(callbacks)

    # -- configuration ---------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """The settings as plain values (stored in checkpoints)."""
        return {
            "epochs": self.epochs,
            "max_steps": self.max_steps,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "weight_decay": self.weight_decay,
            "warmup_frac": self.warmup_frac,
            "min_lr_ratio": self.min_lr_ratio,
            "grad_clip": self.grad_clip,
            "device": str(self.device),
            "precision": self.precision,
            "seed": self.seed,
            "out_dir": None if self.out_dir is None else str(self.out_dir),
            "checkpoint_every": self.checkpoint_every,
            "checkpoint_minutes": self.checkpoint_minutes,
            "log_every": self.log_every,
            "compile": self.compile,
            "drop_last": self.drop_last,
            "on_device": self.on_device,
        }

    def replace(self, **changes: Any) -> Trainer:
        """A new Trainer with this one's settings except ``changes`` (``__init__`` keyword
        arguments), built through ``__init__`` so every check runs again (a bad value raises
        ValueError, an unknown name TypeError); this Trainer is left as it is."""
        settings = {
            **self.config(),
            "device": self.device,
            "out_dir": self.out_dir,
            "progress": self.progress,
            "callbacks": list(self.callbacks),
        }
        return type(self)(**{**settings, **changes})

    def total_steps(self, steps_per_epoch: int) -> int:
        """Steps of the run: epochs x steps per epoch, capped by max_steps (one epoch if neither)."""
        return total_steps(self.epochs, self.max_steps, steps_per_epoch)

    def _autocast(self, device: torch.device):
        if self.precision == "fp32":
            return nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(device_type=device.type, dtype=dtype)

    # -- the run -----------------------------------------------------------------------------
    def fit(self, method: nn.Module, data: Any, resume: bool | str | os.PathLike = False) -> TrainResult:
        """Train ``method`` on ``data`` (a Tensor, a tuple/list of Tensors, a WindowSet or a
        Dataset); ``resume=True`` continues from ``out_dir/checkpoint.pt`` (or ``resume=path``).
        SIGINT / SIGTERM: ``TrainingInterrupted`` after a checkpoint (see the class docstring)."""
        if not isinstance(method, nn.Module) or not callable(getattr(method, "training_step", None)):
            raise ValueError(
                f"method must be an nn.Module with training_step(batch) (a tsssl Method), got {type(method).__name__}"
            )
        was_training = method.training
        run, ckpt = self._restore(method, data, resume)
        self._optimiser(run, ckpt)
        self._wrap(run)
        run.cbs = self._callbacks(run.ctx)
        with _stop_requests(run):
            try:
                elapsed = self._loop(run)
                result = self._finish(run, elapsed)
            finally:
                run.cbs.close()
                method.train(was_training)
        if run.interrupt is not None:
            # the signal came after the last step's check: the run is complete and its final
            # checkpoint written, but the caller asked to stop, so it still gets the interrupt
            raise self._interrupted(run)
        return result

    # -- phases of fit ---------------------------------------------------------------------------
    def _run_device(self, ctx: distributed.DistContext) -> torch.device:
        """This process's device: under DDP on CUDA the local rank's GPU; a bare "cuda" pinned to
        the current GPU (checkpoints and results name the index)."""
        device = self.device
        if ctx.enabled and device.type == "cuda":
            device = torch.device("cuda", ctx.local_rank)
        elif device.type == "cuda" and device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        if device.type == "cuda":
            torch.cuda.set_device(device)
        return device

    def _restore(
        self, method: nn.Module, data: Any, resume: bool | str | os.PathLike
    ) -> tuple[_Run, dict[str, Any] | None]:
        """Set up the process group and device, load the checkpoint ``resume`` names, cut ``data``
        into batches and check that the checkpoint fits them and the length asked for; only then
        put ``method`` on the device in train mode with the checkpoint's weights (a fresh run: seed
        every RNG) and restore the run's position and RNGs. Returns the run and the checkpoint
        (None for a fresh run) whose optimiser state ``_optimiser`` loads."""
        ctx = distributed.setup(self.device.type)
        device = self._run_device(ctx)
        ckpt_path = resolve_resume(resume, self.out_dir)
        ckpt = load_checkpoint(ckpt_path) if ckpt_path is not None else None
        # the data order comes from generators of its own (no global RNG drawn), so the batches
        # can be cut before the method is touched: a checkpoint that does not fit leaves it as it was
        batches = make_batches(
            data,
            self.batch_size,
            device,
            seed=self.seed,
            rank=ctx.rank,
            world_size=ctx.world_size,
            drop_last=self.drop_last,
            on_device=self.on_device,
            sample_index=needs_sample_index(method),
        )
        total = self.total_steps(batches.steps_per_epoch)
        if ckpt_path is not None and ckpt is not None:
            self._check_compatible(ckpt, batches.n, ctx.world_size, ckpt_path)
            self._check_length(ckpt["step"], total, ckpt_path)
        method.to(device)
        method.train()
        if needs_sample_index(method):  # per-sample state (a memory bank) sized before a checkpoint loads
            method.set_num_samples(batches.n)
        if ckpt is not None:
            method.load_state_dict(ckpt["method"])
        else:
            seed_everything(self.seed + ctx.rank)
        run = _Run(
            method=method,
            device=device,
            ctx=ctx,
            batches=batches,
            total=total,
            ckpt_file=self.out_dir / CHECKPOINT_NAME if self.out_dir is not None else None,
            loss_sum=torch.zeros((), dtype=torch.float32, device=device),
            bad_at=torch.full((), _NOT_BAD, dtype=torch.int64, device=device),
        )
        if ckpt_path is not None and ckpt is not None:
            self._resume_position(run, ckpt, ckpt_path)
        return run, ckpt

    def _resume_position(self, run: _Run, ckpt: dict[str, Any], path: Path) -> None:
        """Restore this rank's RNGs from ``ckpt`` (read from ``path``) and the run's position:
        step, epoch, batch, log history and the open log window."""
        ctx = run.ctx
        rngs, carries = ckpt["rng"], ckpt["loss_carry"]
        restore_rng_state(rngs[ctx.rank] if len(rngs) == ctx.world_size else rngs[0])
        run.step, run.epoch, run.pos = ckpt["step"], ckpt["epoch"], ckpt["pos"]
        run.start_step = run.step
        run.history = list(ckpt["history"])
        run.elapsed_before = float(ckpt["elapsed_s"])
        run.n_acc = int(ckpt["acc_count"])
        carry = carries[ctx.rank] if len(carries) == ctx.world_size else 0.0
        run.loss_sum = torch.full((), carry, dtype=torch.float32, device=run.device)
        run.last_checkpoint, run.last_checkpoint_step = path, run.step

    def _optimiser(self, run: _Run, ckpt: dict[str, Any] | None) -> None:
        """Set ``run``'s momentum updater, AdamW, warm-up/cosine ``LambdaLR`` and (fp16)
        GradScaler; on resume the optimiser and scaler states come from ``ckpt``."""
        method = run.method
        run.ema = MomentumUpdater(method.momentum_pairs())
        run.base_momentum = float(getattr(method, "base_momentum", 0.99))
        schedule = getattr(method, "momentum_schedule", "cosine")
        if schedule not in MOMENTUM_SCHEDULES:
            raise ValueError(
                f"{type(method).__name__}.momentum_schedule must be one of {', '.join(MOMENTUM_SCHEDULES)}, "
                f"got {schedule!r}"
            )
        run.average_weights = schedule == "average"
        groups = parameter_groups(method, self.weight_decay, run.ema.target_ids())
        run.params = [p for g in groups for p in g["params"]]
        fused = run.device.type == "cuda" and all(p.is_cuda and p.is_floating_point() for p in run.params)
        run.optimizer = torch.optim.AdamW(groups, lr=self.lr, **({"fused": True} if fused else {"foreach": True}))
        run.schedule = WarmupCosine(run.total, warmup_steps(run.total, self.warmup_frac), self.min_lr_ratio)
        run.scaler = torch.amp.GradScaler("cuda") if self.precision == "fp16" else None
        last_epoch = -1
        if ckpt is not None:
            run.optimizer.load_state_dict(ckpt["optimizer"])
            # The lr is a pure function of the step, so the scheduler is rebuilt from this
            # Trainer's schedule at the checkpoint's step instead of loaded (LambdaLR's
            # load_state_dict would write the old run's WarmupCosine settings into ours). Same
            # settings: the same curve; a longer max_steps or another lr on resume: the curve of
            # that run from here on. The loaded groups carry the old run's ``initial_lr``, the
            # scheduler's base lr.
            for g in run.optimizer.param_groups:
                g["initial_lr"] = self.lr
            last_epoch = ckpt["step"] - 1
            if run.scaler is not None and ckpt.get("scaler"):
                run.scaler.load_state_dict(ckpt["scaler"])
        # With last_epoch = step - 1 the constructor's own step sets lr = lr * schedule(step),
        # what the uninterrupted run's scheduler.step() set after its step-th optimiser step.
        run.scheduler = torch.optim.lr_scheduler.LambdaLR(run.optimizer, run.schedule, last_epoch=last_epoch)

    def _wrap(self, run: _Run) -> None:
        """``run.model``, what the loop calls: the method, in DistributedDataParallel under a
        process group, through ``torch.compile`` when asked."""
        model: nn.Module = run.method
        if run.ctx.enabled:
            model = nn.parallel.DistributedDataParallel(
                model,
                device_ids=[run.device.index] if run.device.type == "cuda" else None,
                find_unused_parameters=bool(getattr(run.method, "find_unused_parameters", False)),
            )
        if self.compile == "eager":
            model = torch.compile(model, backend="eager")
        elif self.compile:
            model = torch.compile(model, mode=self.compile)
        run.model = model

    def _step_fn(self, run: _Run) -> Callable[[Any, int], None]:
        """``one_step(batch, step)``: the optimiser step ``step`` (0-based) on ``batch`` (a tuple
        of device tensors), its loss added to ``run.loss_sum``. The run's objects are bound once
        here, so the hot loop pays one call per step and no attribute look-ups; no host sync
        except the finiteness check of a single CPU process."""
        model, optimizer, scheduler, scaler = run.model, run.optimizer, run.scheduler, run.scaler
        params, grad_clip, total = run.params, self.grad_clip, run.total
        ema, base_momentum, average_weights = run.ema, run.base_momentum, run.average_weights
        loss_sum, bad_at, autocast = run.loss_sum, run.bad_at, self._autocast(run.device)
        check_each_step = _check_each_step(run.device, run.ctx)
        name = type(run.method).__name__

        def one_step(batch: Any, step: int) -> None:
            with autocast:
                loss = model(batch)
            if not isinstance(loss, Tensor) or loss.numel() != 1:
                raise ValueError(
                    f"{name}.training_step must return a scalar loss Tensor, got "
                    f"{type(loss).__name__}{tuple(loss.shape) if isinstance(loss, Tensor) else ''}"
                )
            if check_each_step and not torch.isfinite(loss):
                # caught before backward: the weights in memory stay the last good ones
                self._diverged(run, step + 1, float(loss.detach()))
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
            else:
                loss.backward()
            if grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(params, grad_clip, foreach=True)
            if scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
            if ema:
                ema.update(average_momentum(step) if average_weights else ema_momentum(step, total, base_momentum))
            loss = loss.detach().float().reshape(())
            loss_sum.add_(loss)
            if not check_each_step:
                bad_at.masked_fill_(~torch.isfinite(loss) & (bad_at == _NOT_BAD), step + 1)

        return one_step

    def _loop(self, run: _Run) -> float:
        """Steps from ``run.step`` to ``run.total`` with the logs and checkpoints on their
        boundaries; returns the loop's wall seconds (the device synchronised at the end)."""
        one_step = self._step_fn(run)
        cbs, total, spe, ckpt_file = run.cbs, run.total, run.batches.steps_per_epoch, run.ckpt_file
        cbs(
            "on_fit_start",
            {
                "total_steps": total,
                "start_step": run.step,
                "steps_per_epoch": spe,
                "world_size": run.ctx.world_size,
                "device": str(run.device),
                "out_dir": self.out_dir,
                "history": list(run.history),
                "method": run.method,
                "optimizer": run.optimizer,
                "scheduler": run.scheduler,
            },
        )
        t0 = time.perf_counter()
        run.t_start = run.t_last = t0
        run.t_checkpoint = _clock()
        run.step_at_last_log = run.step
        while run.step < total:
            for batch in run.batches.epoch(run.epoch, run.pos):
                one_step(batch, run.step)
                run.step += 1
                run.pos += 1
                run.n_acc += 1
                cbs("on_step_end", run.step)
                last = run.step == total
                boundary = run.step % self.log_every == 0 or last
                if boundary:
                    self._log(run)
                stop = timed = False
                if boundary or run.interrupt is not None:  # off the boundaries: one attribute read
                    stop, timed = self._stop_or_timed(run, boundary)
                if ckpt_file is not None and (
                    last or stop or timed or (self.checkpoint_every and run.step % self.checkpoint_every == 0)
                ):
                    self._checkpoint(run, ckpt_file)
                if stop:
                    raise self._interrupted(run)
                if last:
                    break
            if run.pos >= spe:
                run.epoch, run.pos = run.epoch + 1, 0
        if run.device.type == "cuda":
            torch.cuda.synchronize(run.device)
        return time.perf_counter() - t0

    def _finish(self, run: _Run, elapsed: float) -> TrainResult:
        """The ``TrainResult`` of a completed loop of ``elapsed`` seconds, after ``on_fit_end``
        and a barrier (every rank returns together)."""
        done = run.step - run.start_step
        hist = run.history
        result = TrainResult(
            history=hist,
            final_loss=float(hist[-1]["loss"]) if hist else float("nan"),
            samples_per_s=done * self.batch_size * run.ctx.world_size / elapsed if done and elapsed > 0 else 0.0,
            steps=run.step,
            epochs=run.step / run.batches.steps_per_epoch,
            elapsed_s=elapsed,
            checkpoint_path=run.last_checkpoint if run.ckpt_file is not None else None,
            device=str(run.device),
        )
        run.cbs("on_fit_end", result)
        distributed.barrier()
        return result

    # -- pieces of the loop -------------------------------------------------------------------
    def _callbacks(self, ctx: distributed.DistContext) -> CallbackList:
        cbs: list[Any] = []
        extra = extra_log_columns(self.callbacks)
        if ctx.is_main and self.out_dir is not None:
            cbs.append(CSVLogger(self.out_dir / "log.csv", extra))
            if tensorboard_available():
                cbs.append(TensorBoardLogger(self.out_dir / "tb", extra))
        if ctx.is_main and progress_enabled(self.progress):
            cbs.append(ProgressBar())
        return CallbackList(cbs + self.callbacks)

    def _check_compatible(self, ckpt: dict, n: int, world: int, path: Path) -> None:
        for what, saved, now in (
            ("training samples", ckpt["n_samples"], n),
            ("batch_size", ckpt["batch_size"], self.batch_size),
            ("world size (processes)", ckpt["world_size"], world),
        ):
            if saved != now:
                raise ValueError(
                    f"resume: the checkpoint {path} was written with {what} = {saved}, this run has "
                    f"{now}; resume with the same data, batch_size and number of processes"
                )

    def _check_length(self, step: int, total: int, path: Path) -> None:
        """A checkpoint at ``step`` can continue to ``total`` steps (equal: nothing left to do)."""
        if step > total:
            raise ValueError(
                f"resume: the run is already at step {step} (checkpoint {path}), past the {total} steps "
                f"asked for (epochs={self.epochs}, max_steps={self.max_steps}); ask for more or start a new run"
            )

    def _stop_or_timed(self, run: _Run, boundary: bool) -> tuple[bool, bool]:
        """(stop: a signal asked the run to stop, timed: ``checkpoint_minutes`` have passed since the
        last checkpoint) after step ``run.step``; ``boundary``: a log step. One process acts on a
        signal after any step, on the clock at log steps. Under DDP both wait for a log step and
        one max-all-reduce there gives every rank the same answer (a signal that reached one rank
        stops all; one rank's clock is enough), so that all take the same collectives."""
        timed = (
            boundary
            and self.checkpoint_minutes is not None
            and _clock() - run.t_checkpoint >= 60.0 * self.checkpoint_minutes
        )
        stop = run.interrupt is not None
        if not run.ctx.enabled:
            return stop, timed
        if not boundary:
            return False, False
        flags = distributed.all_reduce(torch.tensor([stop, timed], dtype=torch.int32, device=run.device), "max")
        stop, timed = (bool(v) for v in flags.tolist())
        return stop, timed

    def _interrupted(self, run: _Run) -> TrainingInterrupted:
        """The exception of a run stopped by a signal at ``run.step`` (its checkpoint written)."""
        checkpoint = run.last_checkpoint if run.ckpt_file is not None else None
        where = f"checkpoint written to {checkpoint}" if checkpoint else "no checkpoint: the Trainer has no out_dir"
        name = run.interrupt or "a signal to another rank"
        return TrainingInterrupted(
            f"interrupted at step {run.step} of {run.total} ({name}); {where}",
            step=run.step,
            total_steps=run.total,
            checkpoint=checkpoint,
            signal=run.interrupt,
        )

    def _diverged(self, run: _Run, bad_step: int, value: float | None) -> None:
        epoch = (bad_step - 1) // run.batches.steps_per_epoch
        kept = (
            f"; the last good checkpoint {run.last_checkpoint} (step {run.last_checkpoint_step}) is kept"
            if run.last_checkpoint is not None
            else ""
        )
        what = f"{value}" if value is not None else "non-finite"
        raise TrainingDivergedError(
            f"training diverged: the loss is {what} at step {bad_step} (epoch {epoch})"
            f"{kept}; lower lr, raise grad clipping or check the data for NaN/inf",
            step=bad_step,
            epoch=epoch,
        )

    def _check_finite(self, run: _Run) -> None:
        bad = distributed.all_reduce(run.bad_at.clone(), "min")
        first = int(bad.item())
        if first != _NOT_BAD:
            self._diverged(run, first, None)

    def _log(self, run: _Run) -> None:
        self._check_finite(run)
        world, spe = run.ctx.world_size, run.batches.steps_per_epoch
        total_loss = distributed.all_reduce(run.loss_sum.clone(), "sum").item()
        now = time.perf_counter()
        steps = run.step - run.step_at_last_log
        row = {
            "step": run.step,
            "epoch": (run.step - 1) // spe,
            "loss": total_loss / world / max(1, run.n_acc),
            "lr": self.lr * run.schedule(run.step - 1),
            "samples_per_s": steps * self.batch_size * world / max(now - run.t_last, 1e-9),
            "elapsed_s": run.elapsed_before + now - run.t_start,
        }
        row.update(run.cbs.collect("log_values", run.step))  # callbacks' columns (e.g. diagnostics)
        run.loss_sum.zero_()
        run.n_acc, run.t_last, run.step_at_last_log = 0, now, run.step
        run.history.append(row)
        run.cbs("on_log", row)

    def _checkpoint(self, run: _Run, path: Path) -> None:
        ctx, spe = run.ctx, run.batches.steps_per_epoch
        self._check_finite(run)  # never store weights trained on a bad loss
        epoch, pos = (run.epoch + 1, 0) if run.pos >= spe else (run.epoch, run.pos)
        per_rank = distributed.all_gather_object({"rng": capture_rng_state(), "loss_carry": run.loss_sum.item()})
        if ctx.is_main:
            save_checkpoint(
                path,
                {
                    "format": _CHECKPOINT_FORMAT,
                    "method": run.method.state_dict(),
                    "optimizer": run.optimizer.state_dict(),
                    "scheduler": run.scheduler.state_dict(),  # not read on resume (see _optimiser); kept for tools
                    "scaler": run.scaler.state_dict() if run.scaler is not None else None,
                    "rng": [r["rng"] for r in per_rank],
                    "loss_carry": [r["loss_carry"] for r in per_rank],
                    "acc_count": run.n_acc,
                    "step": run.step,
                    "epoch": epoch,
                    "pos": pos,
                    "steps_per_epoch": spe,
                    "n_samples": run.batches.n,
                    "batch_size": self.batch_size,
                    "world_size": ctx.world_size,
                    "elapsed_s": run.elapsed_before + time.perf_counter() - run.t_start,
                    "history": list(run.history),
                    "config": self.config(),
                },
            )
        distributed.barrier()
        run.last_checkpoint, run.last_checkpoint_step = path, run.step
        run.t_checkpoint = _clock()
        run.cbs("on_checkpoint", path, run.step)


@dataclass(eq=False)
class _Run:
    """One ``fit`` call: what it trains with and where it stands. ``Trainer._restore`` builds it
    (position restored on resume); ``_optimiser`` sets the optimisation fields, ``_wrap``
    ``model`` and ``fit`` ``cbs``."""

    method: nn.Module
    device: torch.device
    ctx: distributed.DistContext
    batches: TensorBatches | ViewBatches | DatasetBatches
    total: int  # optimiser steps of the whole run
    ckpt_file: Path | None  # where checkpoints go (None without out_dir)
    # both updated in place once the loop starts (the step closure holds them)
    loss_sum: Tensor  # () float32 on the device: this rank's loss summed since the last log
    bad_at: Tensor  # () int64 on the device: first non-finite 1-based step, _NOT_BAD while none
    # position of the run
    step: int = 0  # optimiser steps done
    epoch: int = 0
    pos: int = 0  # batches of ``epoch`` done
    n_acc: int = 0  # steps summed in loss_sum
    history: list[dict[str, Any]] = field(default_factory=list)
    elapsed_before: float = 0.0  # seconds of the run before this call (resume)
    start_step: int = 0  # step at the start of this call
    last_checkpoint: Path | None = None
    last_checkpoint_step: int | None = None
    t_start: float = 0.0  # perf_counter at the start of the loop
    t_last: float = 0.0  # perf_counter at the last log
    t_checkpoint: float = 0.0  # _clock() at the last checkpoint (or the start of the loop)
    step_at_last_log: int = 0
    interrupt: str | None = None  # name of the first SIGINT / SIGTERM received during the loop
    # set by _optimiser, _wrap and fit
    ema: MomentumUpdater = field(init=False)
    base_momentum: float = field(init=False)
    average_weights: bool = field(init=False)
    params: list[Tensor] = field(init=False)  # trainable, in the optimiser's order
    optimizer: torch.optim.Optimizer = field(init=False)
    schedule: WarmupCosine = field(init=False)
    scheduler: torch.optim.lr_scheduler.LambdaLR = field(init=False)
    scaler: torch.amp.GradScaler | None = field(init=False)
    model: nn.Module = field(init=False)  # what the loop calls: method, in DDP / compiled
    cbs: CallbackList = field(init=False)


@contextmanager
def _stop_requests(run: _Run) -> Iterator[None]:
    """While the block runs, SIGINT and SIGTERM only write their name into ``run.interrupt``,
    which the loop reads after each step. Only the first is kept: a second signal while the
    checkpoint is written changes nothing (and the write is atomic anyway). Installed only where
    Python allows handlers (the main thread of the main interpreter); the previous handlers are
    put back on the way out, whatever happens."""

    def request(signum: int, frame: Any) -> None:
        if run.interrupt is None:
            run.interrupt = signal.Signals(signum).name

    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        try:
            for sig in _STOP_SIGNALS:
                previous[sig] = signal.signal(sig, request)
        except ValueError:  # a subinterpreter's main thread: no handlers there
            pass
    try:
        yield
    finally:
        for sig, handler in previous.items():
            # None: a handler installed outside Python, which cannot be put back; the default then
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
