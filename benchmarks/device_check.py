"""The prepared GPU check: one command, every part with its own time limit, everything under one folder.

    python benchmarks/device_check.py --out "$OUT"                      # on a GPU machine (about 8 min)
    python benchmarks/device_check.py --device cpu --tiny --out /tmp/c  # the CPU rehearsal (under a minute)

Parts, in order; a part that fails or runs out of time is recorded and the next one still runs:

1. install   tsssl with ``pip install --no-deps --no-build-isolation -e .`` (never touching the
             machine's torch) and the pure-Python dependencies that machine lacks from a
             wheelhouse folder (``--wheelhouse``, default ``.whl``; see the README's GPU section).
             ``--tiny`` builds the package into a throwaway folder instead (the offline build
             without isolation is what can fail there).
2. env       GPU, driver, torch, CUDA, cuDNN, Python; which data path the Trainer takes
             (resident on the device, or pinned batches streamed from the host).
3. gpu-tests ``pytest -m gpu`` and its summary line.
4. bench     ``tsssl bench``: SiamCL and CPC x LSTM / CNN / Transformer x batch 1,024 / 4,096 /
             16,384, bf16, the data on the device: windows/s and peak GPU memory per case.
5. compiled  the same at batch 4,096 through ``torch.compile`` (mode ``default``, then
             ``reduce-overhead``: CUDA graphs), one case per call until the part's time is up.
6. train     a short ``tsssl train --device cuda`` end to end.
7. report    ``tsssl report --quick --device cuda``.

Writes ``device_check.json`` (every part: status ok / failed / timeout / skipped, seconds, what
it measured, the end of its output) and ``summary.md`` (the tables), plus one log with every
part's full output, ``device_check.log``; runs and reports go to a scratch folder.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

#: time limit of each part in seconds (full size; --tiny halves them: its parts take a few seconds on a
#: 2-core CPU, the margin is for a loaded machine): about 8 minutes in all
LIMITS = {"install": 60, "env": 30, "gpu-tests": 90, "bench": 90, "compiled": 120, "train": 45, "report": 60}


def sh(cmd: list[str], limit: float, env: dict[str, str], log: Any, cwd: Path = ROOT) -> tuple[str, str]:
    """Run ``cmd``; (status, output): status "ok", "failed" (non-zero exit) or "timeout"."""
    log.write(f"\n$ {' '.join(cmd)}\n")
    log.flush()
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=limit
        )
    except subprocess.TimeoutExpired as err:
        out = err.stdout if isinstance(err.stdout, str) else (err.stdout or b"").decode(errors="replace")
        log.write(out + f"\n[timeout after {limit:.0f} s]\n")
        return "timeout", out
    log.write(proc.stdout)
    return ("ok" if proc.returncode == 0 else "failed"), proc.stdout


class Check:
    """The state of one device check: settings, environment of the subprocesses, results."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.out = Path(args.out)
        self.scratch = Path(tempfile.mkdtemp(prefix="tsssl-device-check-"))
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_WAIT_POLICY": "PASSIVE"}
        self.parts: dict[str, dict[str, Any]] = {}
        self.log = open(self.out / "device_check.log", "w", encoding="utf-8")  # noqa: SIM115

    def limit(self, part: str) -> float:
        return LIMITS[part] / (2 if self.args.tiny else 1)

    def tsssl(self, *argv: str) -> list[str]:
        return [sys.executable, "-m", "tsssl.cli", *argv]

    def run_part(self, name: str, fn: Callable[[Check], dict[str, Any]]) -> None:
        """Run one part; whatever happens, record it and go on."""
        t0 = time.perf_counter()
        self.log.write(f"\n===== {name} =====\n")
        try:
            record = fn(self)
        except Exception as err:  # a part's own bug must not stop the others
            record = {"status": "failed", "error": f"{type(err).__name__}: {err}"}
        record["seconds"] = round(time.perf_counter() - t0, 1)
        self.parts[name] = record
        print(f"{name:10s} {record['status']:8s} {record['seconds']:7.1f} s  {record.get('note', '')}", flush=True)


def part_install(c: Check) -> dict[str, Any]:
    """tsssl without its dependencies (the machine's torch stays), plus the wheelhouse."""
    wheels = sorted(Path(c.args.wheelhouse).glob("*.whl")) if c.args.wheelhouse else []
    notes, status = [], "ok"
    if wheels:
        site = c.scratch / "site"
        s, out = sh([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                     "--target", str(site), *map(str, wheels)], c.limit("install"), c.env, c.log)  # fmt: skip
        c.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), c.env.get("PYTHONPATH", "")]))
        notes.append(f"{len(wheels)} wheels: {s}")
        status = s if s != "ok" else status
    else:
        notes.append(f"no wheelhouse at {c.args.wheelhouse}")
    if c.args.tiny:  # build without isolation, offline, into a throwaway folder
        cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
               "--target", str(c.scratch / "build"), "."]  # fmt: skip
    else:
        cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "-e", "."]
    s, out = sh(cmd, c.limit("install"), c.env, c.log)
    notes.append(f"tsssl: {s}")
    status = s if s != "ok" else status
    return {"status": status, "note": "; ".join(notes), "tail": out[-2000:]}


ENV_PROBE = """
import json, platform, torch
from tsssl.train.data import make_batches
dev = torch.device("{device}")
x = torch.randn(4096, 20, 5)
b = make_batches((x,), 512, dev, seed=0)
info = {{"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(), "cuda_available": torch.cuda.is_available(),
        "data_path": "resident on the device" if getattr(b, "resident", False) else "pinned batches from the host"}}
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    info.update(gpu=p.name, gpu_memory_gib=round(p.total_memory / 2**30, 1), capability=f"{{p.major}}.{{p.minor}}")
print("ENV " + json.dumps(info))
"""


def part_env(c: Check) -> dict[str, Any]:
    s, out = sh([sys.executable, "-c", ENV_PROBE.format(device=c.args.device)], c.limit("env"), c.env, c.log)
    info = next((json.loads(line[4:]) for line in out.splitlines() if line.startswith("ENV ")), {})
    if shutil.which("nvidia-smi"):
        _, smi = sh(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                    c.limit("env"), c.env, c.log)  # fmt: skip
        info["nvidia_smi"] = smi.strip()
    note = f"{info.get('gpu', 'no GPU')}, torch {info.get('torch')}, data {info.get('data_path')}"
    return {"status": s, "env": info, "note": note, "tail": out[-2000:]}


def part_gpu_tests(c: Check) -> dict[str, Any]:
    tests = ["tests/test_bench.py"] if c.args.tiny else ["tests"]
    cmd = [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider", *tests]
    s, out = sh(cmd, c.limit("gpu-tests"), c.env, c.log)
    summary = next(
        (
            ln.strip("= ")
            for ln in reversed(out.splitlines())
            if re.search(r"\d+ (passed|failed|skipped|deselected|error)|no tests ran", ln)
        ),
        "",
    )
    if s == "failed" and re.search(r"no tests ran|^\d+ deselected", summary):
        s = "ok"  # nothing marked gpu was selected (pytest exits 5)
    return {"status": s, "note": summary, "tail": out[-3000:]}


def _bench_args(c: Check) -> list[str]:
    if c.args.tiny:
        return ["--steps", "2", "--warmup", "1", "--data", "synthetic", "--tickers", "3", "--days", "200",
                "--precision", "fp32", "--device", c.args.device]  # fmt: skip
    return ["--steps", "20", "--warmup", "3", "--data", "synthetic", "--tickers", "60", "--days", "2000",
            "--precision", "bf16", "--device", c.args.device]  # fmt: skip


def _bench(c: Check, label: str, extra: list[str], limit: float) -> tuple[str, list[dict[str, Any]], str]:
    path = c.scratch / f"bench-{label}.json"
    s, out = sh(c.tsssl("bench", *_bench_args(c), *extra, "--json", str(path)), limit, c.env, c.log)
    rows = json.loads(path.read_text())["results"] if path.is_file() else []
    return s, rows, out


def part_bench(c: Check) -> dict[str, Any]:
    batches = ["32", "64"] if c.args.tiny else ["1024", "4096", "16384"]
    extra = ["--methods", "siamcl", "cpc", "--encoders", "lstm", "cnn", "transformer", "--batch-sizes", *batches]
    s, rows, out = _bench(c, "eager", extra, c.limit("bench"))
    failed = [r for r in rows if r.get("error")]
    if s == "failed" and rows and len(failed) < len(rows):
        s = "ok"  # bench exits 1 when a case failed; the failed cases are in the rows
    best = max((r["windows_per_s"] or 0 for r in rows), default=0)
    return {"status": s, "rows": rows, "note": f"{len(rows)} cases, {len(failed)} failed, best {best:,.0f} windows/s",
            "tail": out[-2000:]}  # fmt: skip


def part_compiled(c: Check) -> dict[str, Any]:
    """One (method, encoder, mode) per call so that a slow compile costs only its own case."""
    modes = ["eager"] if c.args.tiny else ["default", "reduce-overhead"]
    cases = (
        [("siamcl", "lstm")]
        if c.args.tiny
        else [(m, e) for m in ("siamcl", "cpc") for e in ("lstm", "cnn", "transformer")]
    )
    batch = "32" if c.args.tiny else "4096"
    rows, statuses, deadline = [], [], time.perf_counter() + c.limit("compiled")
    for mode in modes:
        for method, encoder in cases:
            left = deadline - time.perf_counter()
            if left < 5:
                statuses.append("timeout")
                break
            extra = ["--methods", method, "--encoders", encoder, "--batch-sizes", batch, "--compile", mode]
            s, got, _ = _bench(c, f"compiled-{mode}-{method}-{encoder}", extra, left)
            rows += [{**r, "compile": mode} for r in got]
            statuses.append(s)
    status = (
        "ok" if statuses and all(s == "ok" for s in statuses) else ("timeout" if "timeout" in statuses else "failed")
    )
    return {"status": status, "rows": rows, "note": f"{len(rows)} of {len(modes) * len(cases)} cases"}


def part_train(c: Check) -> dict[str, Any]:
    out = c.scratch / "train"
    size = ["--max-steps", "3", "--batch-size", "64", "--start", "2016-01-01"] if c.args.tiny else ["--epochs", "3"]
    s, printed = sh(
        c.tsssl("train", "--device", c.args.device, *size, "--out", str(out)), c.limit("train"), c.env, c.log
    )
    metrics = json.loads((out / "metrics.json").read_text()) if (out / "metrics.json").is_file() else {}
    keep = ("steps", "final_loss", "windows_per_s", "device", "train_seconds")
    return {"status": s, "metrics": {k: metrics.get(k) for k in keep}, "probe": metrics.get("probe", {}),
            "note": printed.strip().splitlines()[-3] if s == "ok" else "", "tail": printed[-2000:]}  # fmt: skip


def part_report(c: Check) -> dict[str, Any]:
    out = c.scratch / "report"
    size = (["--sample", "indices", "--max-steps", "2", "--features", "ohlcv", "--rebalance", "v2", "--n-boot", "10",
             "--start", "2014-01-01"]
            if c.args.tiny else [])  # fmt: skip
    cmd = c.tsssl("report", "--quick", "--device", c.args.device, *size, "--out", str(out))
    s, printed = sh(cmd, c.limit("report"), c.env, c.log)
    records = json.loads((out / "report.json").read_text())["records"] if (out / "report.json").is_file() else []
    cells = [{k: r.get(k) for k in ("method", "features", "rebalance", "precision", "pr_auc")} for r in records]
    return {"status": s, "cells": cells, "note": f"{len(cells)} cells", "tail": printed[-3000:]}


PARTS: dict[str, Callable[[Check], dict[str, Any]]] = {
    "install": part_install,
    "env": part_env,
    "gpu-tests": part_gpu_tests,
    "bench": part_bench,
    "compiled": part_compiled,
    "train": part_train,
    "report": part_report,
}


def summary_markdown(c: Check) -> str:
    """The parts' statuses, the throughput table and the end-to-end figures."""
    env = c.parts.get("env", {}).get("env", {})
    lines = [f"# tsssl device check ({'tiny, ' if c.args.tiny else ''}device {c.args.device})", "",
             f"{env.get('gpu', 'no GPU')}; torch {env.get('torch')}, CUDA {env.get('cuda')}, cuDNN {env.get('cudnn')}, "
             f"Python {env.get('python')}; Trainer data path: {env.get('data_path')}", "",
             "| part | status | seconds | note |", "|---|---|---|---|"]  # fmt: skip
    lines += [
        f"| {n} | {p['status']} | {p['seconds']} | {p.get('note', p.get('error', ''))} |" for n, p in c.parts.items()
    ]
    rows = c.parts.get("bench", {}).get("rows", []) + c.parts.get("compiled", {}).get("rows", [])
    lines += ["", "| method | encoder | batch | precision | compile | windows/s | peak GPU MiB | error |",
              "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        wps = f"{r['windows_per_s']:,.0f}" if r.get("windows_per_s") else "-"
        mib = f"{r['peak_cuda_mib']:,.0f}" if r.get("peak_cuda_mib") else "-"
        lines.append(f"| {r['method']} | {r['encoder']} | {r['batch_size']} | {r['precision']} | "
                     f"{r.get('compile', 'no')} | {wps} | {mib} | {r.get('error') or ''} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.environ.get("OUT"), help="output folder (default $OUT)")
    p.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    p.add_argument("--tiny", action="store_true", help="every part at toy size (the CPU rehearsal)")
    p.add_argument("--wheelhouse", default=".whl", help="folder of wheels to install first (default .whl)")
    p.add_argument("--parts", nargs="+", choices=list(PARTS), default=list(PARTS), help="run only these parts")
    args = p.parse_args(argv)
    if not args.out:
        p.error("--out DIR is needed (or $OUT set)")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    c = Check(args)
    try:
        for name in args.parts:
            c.run_part(name, PARTS[name])
    finally:
        c.log.close()
        result = {
            "device": args.device,
            "tiny": args.tiny,
            "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            "parts": c.parts,
        }
        (c.out / "device_check.json").write_text(json.dumps(result, indent=1, default=str))
        (c.out / "summary.md").write_text(summary_markdown(c))
        shutil.rmtree(c.scratch, ignore_errors=True)
    print(summary_markdown(c))
    return 0 if all(p["status"] == "ok" for p in c.parts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
