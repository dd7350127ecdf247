"""Training throughput and peak memory of the real methods through the real Trainer.

One *case* is a method x encoder (with its sizes) x batch size x precision x device. For each
case the method is built as ``tsssl train`` builds it (``build_method`` with the per-channel
standardisation of the windows and the default two-view augmentation), the windows are put on
the device once, and ``Trainer.fit`` runs ``warmup + steps`` optimiser steps with
``on_device=True``; a callback synchronises the device after the warm-up steps and after the
last step, and the time between is the measured time::

    windows/s = steps x batch_size / (t_last - t_after_warmup)

A "window" is one (T, C) training window of the batch (SiamCL encodes two views of each: that
is part of the step). Memory: the peak CUDA memory allocated during the case
(``torch.cuda.max_memory_allocated``, reset before it) and the process's peak resident set
size during the case (Linux: VmHWM, reset before each case through /proc/self/clear_refs;
elsewhere the peak since the process started, from ``resource``). The RSS is the whole
process's: interpreter, torch, the windows and the step.

    rows = run_cases(make_cases(["siamcl"], ["lstm"], [512], ["fp32"], ["cpu"]), bench_windows())
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tsssl import registry
from tsssl.config import DEFAULT_ENCODER_KWARGS
from tsssl.memory import peak_rss_mib, reset_peak_rss
from tsssl.registry import ENCODERS, PRECISIONS

SOURCES = ("sample", "synthetic")


# -- what to measure ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """One measured configuration. ``encoder_kwargs`` are the full sizes (defaults included)."""

    method: str
    encoder: str
    encoder_kwargs: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    batch_size: int = 512
    precision: str = "fp32"
    device: str = "cpu"

    @property
    def encoder_label(self) -> str:
        """``lstm(hidden=32,layers=1)``: the encoder and its sizes."""
        sizes = ",".join(f"{k}={v}" for k, v in self.encoder_kwargs.items())
        return f"{self.encoder}({sizes})" if sizes else self.encoder


def _scalar(text: str) -> Any:
    """'128' -> 128, '0.1' -> 0.1, 'true' -> True, anything else stays a string."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_encoder_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"lstm"`` or ``"lstm:hidden=128,layers=2"`` -> (name, sizes): the default sizes of
    ``tsssl train`` (``DEFAULT_ENCODER_KWARGS``) updated by the ones given."""
    name, _, rest = spec.partition(":")
    name = name.strip().lower()
    if name not in ENCODERS:
        raise ValueError(
            f"--encoders: unknown encoder {name!r} in {spec!r}; accepted: {', '.join(ENCODERS)} "
            "(optionally with sizes, e.g. lstm:hidden=128,layers=2)"
        )
    sizes: dict[str, Any] = dict(DEFAULT_ENCODER_KWARGS.get(name, {}))
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq or not key.strip() or not value.strip():
            raise ValueError(f"--encoders: {item!r} in {spec!r} is not key=value (write e.g. lstm:hidden=128,layers=2)")
        sizes[key.strip()] = _scalar(value.strip())
    return name, sizes


def _check_choice(flag: str, values: Sequence[str], accepted: Sequence[str]) -> None:
    bad = [v for v in values if v not in accepted]
    if bad:
        raise ValueError(f"{flag}: {', '.join(map(repr, bad))} not accepted; choose from {', '.join(accepted)}")


def resolve_devices(devices: Sequence[str] | None) -> list[str]:
    """Device names to measure on. None / empty: the CPU, plus "cuda" when CUDA is available."""
    from tsssl.train.trainer import resolve_device

    if not devices:
        return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    out = []
    for d in devices:
        if d == "auto":
            raise ValueError(
                "--device: name the devices (cpu, cuda, cuda:N), or leave the flag out for "
                "the CPU plus CUDA when present"
            )
        out.append(str(resolve_device(d)))  # ValueError for "gpu", or "cuda" without CUDA
    return list(dict.fromkeys(out))


def make_cases(
    methods: Sequence[str],
    encoders: Sequence[str],
    batch_sizes: Sequence[int],
    precisions: Sequence[str],
    devices: Sequence[str] | None = None,
) -> list[Case]:
    """Every combination, checked before anything runs: names, sizes (each encoder is built
    once), batch sizes, precisions per device (fp16 needs CUDA). ValueError naming the flag."""
    from tsssl.encoders import build_encoder

    for flag, values in (
        ("--methods", methods),
        ("--encoders", encoders),
        ("--batch-sizes", batch_sizes),
        ("--precision", precisions),
    ):
        if not values:
            raise ValueError(f"{flag}: give at least one value")
    _check_choice("--methods", methods, registry.names("timeseries"))
    _check_choice("--precision", precisions, PRECISIONS)
    bad = [b for b in batch_sizes if isinstance(b, bool) or not isinstance(b, int) or b < 2]
    if bad:
        raise ValueError(
            f"--batch-sizes: {bad} not accepted; batch sizes are integers >= 2 (contrastive losses need negatives)"
        )
    specs = [parse_encoder_spec(e) for e in encoders]
    for name, sizes in specs:
        try:
            build_encoder(name, 5, **sizes)
        except (TypeError, ValueError) as err:
            raise ValueError(f"--encoders: {err}") from None
    devs = resolve_devices(devices)
    if "fp16" in precisions and not any(d.startswith("cuda") for d in devs):
        raise ValueError("--precision fp16 needs CUDA (autocast + GradScaler); on the CPU use fp32 or bf16")
    return [
        Case(m, name, sizes, b, p, d)
        for d in devs
        for m in methods
        for name, sizes in specs
        for b in batch_sizes
        for p in precisions
        if not (p == "fp16" and not d.startswith("cuda"))
    ]


# -- the windows ---------------------------------------------------------------------------------
@dataclass
class BenchWindows:
    """The windows every case trains on: X (N, T, C) float32, y (N,) int64, where they came from,
    and the per-channel (mean, std) of X that the encoders standardise with (as `tsssl train`)."""

    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    description: str
    stats: tuple[np.ndarray, np.ndarray]


def bench_windows(
    source: str = "sample", window: int = 20, horizon: int = 5, tickers: int = 50, days: int = 2000, seed: int = 0
) -> BenchWindows:
    """All windows of the bundled sample, or of ``synthetic_market(tickers, days, seed)``;
    ``window`` days, strict ``horizon``-day-rise label, ohlcv features (the 20x5 windows of
    issue 7 by default)."""
    from tsssl import data

    if source not in SOURCES:
        raise ValueError(f"--data: {source!r} not accepted; choose from {', '.join(SOURCES)}")
    if source == "sample":
        prices, what = data.load_sample(), "the bundled sample"
    else:
        prices, what = data.synthetic_market(tickers, days, seed=seed), f"synthetic_market({tickers} x {days} days)"
    from tsssl.methods import channel_stats

    ws = data.build_windows(prices, window=window, horizon=horizon, features="ohlcv")
    X = np.ascontiguousarray(ws.X, dtype=np.float32)
    return BenchWindows(
        X,
        np.asarray(ws.y, dtype=np.int64),
        list(ws.feature_names),
        f"{len(ws):,} windows of {window} days x {X.shape[2]} features from {what}, label: strict {horizon}-day rise",
        channel_stats(X),
    )


# -- one case ------------------------------------------------------------------------------------------
def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class StepTimer:
    """Trainer callback: wall time between the end of step ``warmup`` and the end of step
    ``warmup + steps``, the device synchronised at both ends (queued kernels are counted)."""

    def __init__(self, warmup: int, steps: int, device: torch.device) -> None:
        self.warmup, self.total, self.device = warmup, warmup + steps, device
        self.t0: float | None = None
        self.t1: float | None = None

    def on_fit_start(self, info: dict[str, Any]) -> None:
        if self.warmup == 0:
            _synchronize(self.device)
            self.t0 = time.perf_counter()

    def on_step_end(self, step: int) -> None:
        if step == self.warmup or step == self.total:
            _synchronize(self.device)
            now = time.perf_counter()
            if step == self.warmup:
                self.t0 = now
            if step == self.total:
                self.t1 = now

    @property
    def seconds(self) -> float:
        if self.t0 is None or self.t1 is None:
            raise RuntimeError("StepTimer: the run ended before the timed steps were done")
        return self.t1 - self.t0


def measure(
    case: Case,
    windows: BenchWindows,
    steps: int = 20,
    warmup: int = 3,
    seed: int = 0,
    compile: bool = False,
    tensors: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> dict[str, Any]:
    """Train ``case`` for ``warmup + steps`` steps and return its row (see ``ROW_KEYS``).
    ``tensors``: (X, y) already on the case's device (else they are copied there)."""
    from tsssl.pipeline import make_trainer, make_window_method

    n = len(windows.X)
    if case.batch_size > n:
        raise ValueError(
            f"--batch-sizes: {case.batch_size} is larger than the {n:,} windows; use smaller "
            "batches or more windows (--data synthetic --tickers N --days D)"
        )
    device = torch.device(case.device)
    if tensors is None:
        tensors = (torch.from_numpy(windows.X).to(device), torch.from_numpy(windows.y).to(device))
    torch.manual_seed(seed)
    # as `tsssl train` builds it: SSL methods get the default two views
    method = make_window_method(
        case.method,
        windows.X.shape[2],
        encoder=case.encoder,
        encoder_kwargs=case.encoder_kwargs,
        standardize=windows.stats,
    )
    timer = StepTimer(warmup, steps, device)
    trainer = make_trainer(
        {
            "max_steps": warmup + steps,
            "batch_size": case.batch_size,
            "device": device,
            "precision": case.precision,
            "seed": seed,
        },
        progress=False,
        compile=compile,
        on_device=True,
        callbacks=[timer],
    )
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    reset_peak_rss()
    result = trainer.fit(method, tensors)
    row = {
        "method": case.method,
        "encoder": case.encoder,
        "encoder_kwargs": dict(case.encoder_kwargs),
        "batch_size": case.batch_size,
        "precision": case.precision,
        "device": case.device,
        "parameters": sum(p.numel() for p in method.parameters() if p.requires_grad),
        "warmup_steps": warmup,
        "steps": steps,
        "seconds": timer.seconds,
        "windows_per_s": steps * case.batch_size / timer.seconds,
        "peak_rss_mib": peak_rss_mib(),
        "peak_cuda_mib": (torch.cuda.max_memory_allocated(device) / 2**20) if device.type == "cuda" else None,
        "final_loss": float(result.final_loss),
        "error": None,
    }
    return row


ROW_KEYS = (
    "method",
    "encoder",
    "encoder_kwargs",
    "batch_size",
    "precision",
    "device",
    "parameters",
    "warmup_steps",
    "steps",
    "seconds",
    "windows_per_s",
    "peak_rss_mib",
    "peak_cuda_mib",
    "final_loss",
    "error",
)


def run_cases(
    cases: Iterable[Case],
    windows: BenchWindows,
    steps: int = 20,
    warmup: int = 3,
    seed: int = 0,
    compile: bool = False,
    on_row: Any = None,
) -> list[dict[str, Any]]:
    """Measure every case; a case that fails at run time (e.g. an operator without a bf16 kernel
    on this CPU, out of memory) gives a row with ``error`` set and null figures. ``on_row(row)``
    is called as each row is done (printing as it goes)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"--steps must be an integer >= 1, got {steps!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"--warmup must be an integer >= 0, got {warmup!r}")
    rows: list[dict[str, Any]] = []
    on_device: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for case in cases:
        if case.device not in on_device:  # the windows are copied to each device once
            dev = torch.device(case.device)
            on_device[case.device] = (torch.from_numpy(windows.X).to(dev), torch.from_numpy(windows.y).to(dev))
        try:
            row = measure(case, windows, steps, warmup, seed, compile, on_device[case.device])
        except RuntimeError as err:  # CUDA out of memory and diverged training are RuntimeErrors too
            row = {k: None for k in ROW_KEYS}
            row.update(
                method=case.method,
                encoder=case.encoder,
                encoder_kwargs=dict(case.encoder_kwargs),
                batch_size=case.batch_size,
                precision=case.precision,
                device=case.device,
                warmup_steps=warmup,
                steps=steps,
                error=f"{type(err).__name__}: {str(err).splitlines()[0]}",
            )
            if case.device.startswith("cuda"):
                torch.cuda.empty_cache()
        rows.append(row)
        if on_row is not None:
            on_row(row)
    return rows


# -- where it ran ----------------------------------------------------------------------------------------
def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux, else platform.processor())."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(devices: Sequence[str] = ()) -> dict[str, Any]:
    """CPU model and count, torch / Python versions, torch threads, OMP_WAIT_POLICY, the CUDA
    devices measured (names), and the date and time."""
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "torch_threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "cuda_available": torch.cuda.is_available(),
        "date": _dt.datetime.now().isoformat(timespec="seconds"),
    }
    cuda = [d for d in devices if d.startswith("cuda")]
    if cuda:
        info["cuda_devices"] = {d: torch.cuda.get_device_name(torch.device(d)) for d in cuda}
        info["cuda_version"] = torch.version.cuda
    return info


def encoder_width(rows_or_cases: Iterable[Any]) -> int:
    """Width of the encoder column that fits every label (at least 24)."""
    labels = [
        c.encoder_label
        if isinstance(c, Case)
        else Case(c["method"], c["encoder"], c["encoder_kwargs"] or {}).encoder_label
        for c in rows_or_cases
    ]
    return max([24] + [len(s) for s in labels])


def table_header(width: int = 24) -> str:
    return (
        f"{'method':<8} {'encoder':<{width}} {'batch':>6} {'prec':<5} {'device':<7} {'windows/s':>10} "
        f"{'RSS MiB':>8} {'CUDA MiB':>9} {'loss':>7}"
    )


def format_row(row: dict[str, Any], width: int = 24) -> str:
    """One line of the printed table (``width``: of the encoder column)."""
    label = Case(row["method"], row["encoder"], row["encoder_kwargs"] or {}).encoder_label
    head = f"{row['method']:<8} {label:<{width}} {row['batch_size']:>6} {row['precision']:<5} {row['device']:<7}"
    if row.get("error"):
        error = row["error"] if len(row["error"]) <= 100 else row["error"][:97] + "..."
        return f"{head} failed: {error}"
    cuda = "-" if row["peak_cuda_mib"] is None else f"{row['peak_cuda_mib']:,.0f}"
    return f"{head} {row['windows_per_s']:>10,.0f} {row['peak_rss_mib']:>8,.0f} {cuda:>9} {row['final_loss']:>7.4g}"
