"""benchmarks/train_throughput.py: a tiny real run prints the table and writes the JSON rows
(keys, positive figures); bad flag values exit with status 2 and a message naming the flag."""

import importlib.util
import json
import re
from pathlib import Path

import pytest
import torch

from tsssl.bench import ROW_KEYS

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "train_throughput.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("train_throughput_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_run_prints_rows_and_writes_json(script, tmp_path, capsys):
    path = tmp_path / "out" / "bench.json"
    rc = script.main(
        [
            "--methods",
            "siamcl",
            "cpc",
            "--encoders",
            "lstm:hidden=8",
            "cnn:channels=8,layers=1",
            "--batch-sizes",
            "32",
            "--steps",
            "2",
            "--warmup",
            "1",
            "--device",
            "cpu",
            "--json",
            str(path),
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "10,012 windows of 20 days x 5 features from the bundled sample" in out
    assert "1 warm-up + 2 timed steps per case" in out
    lines = [ln for ln in out.splitlines() if re.match(r"^(siamcl|cpc)\s", ln)]
    assert len(lines) == 4
    for ln in lines:  # windows/s, RSS MiB, CUDA MiB ("-" on the CPU), loss
        assert re.search(r"\s32 fp32\s+cpu\s+[\d,]+\s+[\d,]+\s+-\s+-?[\d.]+$", ln), ln
    doc = json.loads(path.read_text())
    assert set(doc) == {"machine", "settings", "results"}
    assert doc["machine"]["torch"] == torch.__version__ and doc["machine"]["cpu_count"] >= 1
    assert doc["settings"]["device"] == ["cpu"] and doc["settings"]["window"] == 20
    rows = doc["results"]
    assert [(r["method"], r["encoder"]) for r in rows] == [
        ("siamcl", "lstm"),
        ("siamcl", "cnn"),
        ("cpc", "lstm"),
        ("cpc", "cnn"),
    ]
    for r in rows:
        assert set(r) == set(ROW_KEYS) and r["error"] is None
        assert r["windows_per_s"] > 0 and r["seconds"] > 0 and r["peak_rss_mib"] > 0
        assert r["batch_size"] == 32 and r["steps"] == 2 and r["peak_cuda_mib"] is None
    assert rows[0]["encoder_kwargs"] == {"hidden": 8, "layers": 1}


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--batch-sizes", "0"], "argument --batch-sizes: must be at least 2, got 0"),
        (["--steps", "two"], "argument --steps: 'two' is not an integer"),
        (["--methods", "ts2vec"], "argument --methods: invalid choice: 'ts2vec'"),
        (["--precision", "fp8"], "argument --precision: invalid choice: 'fp8'"),
        (["--encoders", "lstm:hiden=4"], "--encoders: .*hiden.*accepted: hidden"),
        (["--batch-sizes", "20000", "--device", "cpu"], "20000 is larger than the 10,012 windows"),
        (["--device", "tpu"], "device='tpu' is not a device"),
    ],
)
def test_bad_flag_values_exit_2_with_a_clear_message(script, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        script.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert "Traceback" not in err
