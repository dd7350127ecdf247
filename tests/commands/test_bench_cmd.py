"""`tsssl bench`: registered in the CLI, a tiny run's table and JSON, clean errors."""

import json
import re

import pytest
import torch

from tsssl.bench import ROW_KEYS
from tsssl.cli import COMMANDS, main


def test_bench_is_registered_and_has_help(capsys):
    assert COMMANDS["bench"] == "tsssl.commands.bench"
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--methods", "--encoders", "--batch-sizes", "--precision", "--steps", "--device", "--json"):
        assert flag in out


def test_tiny_bench_run(tmp_path, capsys):
    path = tmp_path / "bench.json"
    rc = main(
        [
            "bench",
            "--encoders",
            "transformer:d_model=8,heads=2,dim_feedforward=16",
            "lstm:hidden=8",
            "--batch-sizes",
            "16",
            "48",
            "--steps",
            "2",
            "--warmup",
            "0",
            "--device",
            "cpu",
            "--json",
            str(path),
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert re.search(
        r"^method\s+encoder\s+batch\s+prec\s+device\s+windows/s\s+RSS MiB\s+CUDA MiB\s+loss$", out, flags=re.MULTILINE
    )
    assert "0 warm-up + 2 timed steps" in out and f"rows written to {path}" in out
    rows = json.loads(path.read_text())["results"]
    assert [(r["encoder"], r["batch_size"]) for r in rows] == [
        ("transformer", 16),
        ("transformer", 48),
        ("lstm", 16),
        ("lstm", 48),
    ]
    assert rows[0]["encoder_kwargs"] == {"d_model": 8, "heads": 2, "layers": 1, "dim_feedforward": 16}
    for r in rows:
        assert set(r) == set(ROW_KEYS) and r["method"] == "siamcl" and r["precision"] == "fp32"
        assert r["windows_per_s"] > 0 and r["peak_rss_mib"] > 0 and r["parameters"] > 0
        # the printed figure is the JSON one
        assert re.search(rf"\s{r['batch_size']} fp32\s+cpu\s+{r['windows_per_s']:,.0f}\s", out)


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--batch-sizes", "1"], "argument --batch-sizes: must be at least 2, got 1"),
        (["--warmup", "-1"], "argument --warmup: must be at least 0, got -1"),
        (["--encoders", "rnn"], "tsssl bench: error: --encoders: unknown encoder 'rnn'"),
        (
            ["--encoders", "cnn:channels"],
            "tsssl bench: error: --encoders: 'channels' in 'cnn:channels' is not key=value",
        ),
        (["--data", "yahoo"], "argument --data: invalid choice: 'yahoo'"),
    ],
)
def test_bad_flags(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given without CUDA")
def test_cuda_flags_without_cuda(capsys):
    for argv, message in (
        (["--device", "cuda"], "CUDA is not available"),
        (["--precision", "fp16"], "--precision fp16 needs CUDA"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(["bench", *argv])
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


def test_json_path_that_is_a_directory(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--device", "cpu", "--json", str(tmp_path)])
    assert "is a directory" in capsys.readouterr().err
