"""benchmarks/device_check.py, the prepared GPU check, rehearsed on the CPU at toy size so that it
cannot rot between GPU loans: every part runs, the JSON and the summary say what each did, and a
part that fails does not stop the others."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "device_check.py"


def run(*argv, cwd=ROOT):
    return subprocess.run([sys.executable, str(SCRIPT), *argv], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_the_cpu_rehearsal_runs_every_part(tmp_path):
    proc = run("--device", "cpu", "--tiny", "--out", str(tmp_path), "--wheelhouse", str(tmp_path / "none"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads((tmp_path / "device_check.json").read_text())
    parts = result["parts"]
    assert list(parts) == ["install", "env", "gpu-tests", "bench", "compiled", "train", "report"]
    assert all(p["status"] == "ok" for p in parts.values()), {n: p.get("note") for n, p in parts.items()}
    assert parts["env"]["env"]["data_path"] == "resident on the device"  # the CPU holds the windows
    bench = parts["bench"]["rows"]
    assert {(r["method"], r["encoder"]) for r in bench} == {
        (m, e) for m in ("siamcl", "cpc") for e in ("lstm", "cnn", "transformer")
    }
    assert all(r["windows_per_s"] > 0 and r["error"] is None for r in bench)
    assert parts["compiled"]["rows"][0]["compile"] == "eager"
    assert parts["train"]["metrics"]["steps"] == 3 and parts["report"]["cells"]
    summary = (tmp_path / "summary.md").read_text()
    assert "| siamcl | lstm | 32 | fp32 | no |" in summary and "| report | ok |" in summary
    assert sorted(p.name for p in tmp_path.iterdir()) == ["device_check.json", "device_check.log", "summary.md"]


def test_a_failing_part_is_recorded_and_the_others_still_run(tmp_path):
    # CUDA asked for on a machine without it: the training part fails, the others go on
    proc = run("--device", "cuda", "--tiny", "--out", str(tmp_path), "--parts", "env", "train", "install")
    parts = json.loads((tmp_path / "device_check.json").read_text())["parts"]
    if parts["env"]["env"].get("cuda_available"):  # a GPU machine: nothing to show here
        return
    assert proc.returncode == 1
    assert parts["train"]["status"] == "failed" and "CUDA is not available" in parts["train"]["tail"]
    assert parts["install"]["status"] == "ok"  # ran after the failure
