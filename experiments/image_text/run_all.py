"""Every image and text method through ``run_experiment`` (what ``tsssl train --modality ...``
runs) at its default settings, and the table of their evaluation figures (``results.md``).

    python experiments/image_text/run_all.py                 # all methods, outputs in runs/image_text/
    python experiments/image_text/run_all.py image:simclr text:word2vec

Each run writes checkpoint.pt, log.csv, metrics.json and config.toml in
runs/image_text/<modality>-<method>/ (a finished run is read back, not trained again).
The figures of a full run on the 2-core CPU dev box are in experiments/image_text/RESULTS.md.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

# as the tsssl command line does: spinning OpenMP waits collapse throughput on shared cores
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from tsssl import registry
from tsssl.config import resolve_config
from tsssl.experiments import run_experiment

IMAGE_METHODS, TEXT_METHODS = registry.names("image"), registry.names("text")

OUT = Path("runs/image_text")
RUNS = [("image", m, m, {}) for m in IMAGE_METHODS] + [("text", m, m, {}) for m in TEXT_METHODS]
RUNS.insert(len(IMAGE_METHODS) + 1, ("text", "word2vec", "cbow", {"mode": "cbow"}))
_MLM = RUNS.index(("text", "mlm", "mlm", {}))
RUNS[_MLM + 1 : _MLM + 1] = [("text", "mlm", f"mlm-{t}", {"pair_task": t}) for t in ("nsp", "sop")]


def run(modality: str, method: str, label: str, method_kwargs: dict) -> dict:
    out = OUT / f"{modality}-{label}"
    if (out / "metrics.json").exists():
        return json.loads((out / "metrics.json").read_text())
    cfg = resolve_config(
        None, {"modality": modality, "method": method, "out": str(out), "method_kwargs": method_kwargs}
    )
    return run_experiment(cfg)


def row(m: dict, label: str) -> str:
    h = m["headline"]
    base = "; ".join(f"{k.replace('_', ' ')} {v:.3f}" for k, v in h.items() if k not in ("metric", "trained"))
    more = ""
    if "probes" in m and m["method"] != "clip":
        t, r, px = (m["probes"][k] for k in ("trained", "random_encoder", "raw_pixels"))
        more = (
            f"k-NN {t['knn']:.3f} (random {r['knn']:.3f}, pixels {px['knn']:.3f}); 5 labels/class "
            f"{t['linear_probe_5_per_class']:.3f} (random {r['linear_probe_5_per_class']:.3f}, "
            f"pixels {px['linear_probe_5_per_class']:.3f})"
        )
    elif "topic_probes" in m:
        t, r = m["topic_probes"]["trained"], m["topic_probes"]["random_encoder"]
        more = f"topic linear probe {t['linear_probe']:.3f} (random {r['linear_probe']:.3f})"
    return (
        f"| {label} | {m['modality']} | {m['loss']} | {h['metric']} | **{h['trained']:.3f}** | {base} | "
        f"{more} | {m['steps']} steps, {m['seconds']['train']:.0f} s |"
    )


def main(selected: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    todo = [r for r in RUNS if not selected or f"{r[0]}:{r[2]}" in selected]
    lines = [
        f"Measured on {platform.machine()} CPU ({platform.system()}), tsssl defaults, seed 0.",
        "",
        "| method | modality | loss | evaluation | trained | baselines | more | training |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for modality, method, label, kwargs in todo:
        lines.append(row(run(modality, method, label, kwargs), label))
        print(lines[-1], flush=True)
    (OUT / "results.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
