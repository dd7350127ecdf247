"""`tsssl report`: end to end on a tiny cut of the bundled sample, settings precedence (defaults <
config file < --quick < flags), the experiment configs, and clean errors for bad input."""

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from tsssl.cli import build_parser, main
from tsssl.commands import report as cmd

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--sample", "indices", "--start", "2015-06-01", "--max-steps", "2", "--batch-size", "128", "--n-boot", "50",
        "--device", "cpu"]  # fmt: skip


def settings_from_args(args):
    """(the resolved RunConfig, its [report] grid) of a `tsssl report` command line."""
    cfg = cmd.config_from_args(args)
    return cfg, cfg.report


def _args(argv):
    return build_parser().parse_args(["report", *argv])


def _fail(argv, capsys):
    with pytest.raises(SystemExit) as err:
        main(["report", *argv])
    assert err.value.code == 2
    return capsys.readouterr().err


def test_end_to_end_writes_the_report_and_repeats_from_its_config(tmp_path, capsys):
    cfg_file = tmp_path / "small.toml"
    cfg_file.write_text('[encoder_kwargs]\nhidden = 8\n\n[report]\nmethods = ["siamcl"]\nseeds = [3]\n')
    out = tmp_path / "rep"
    code = main(
        [
            "report",
            "--config",
            str(cfg_file),
            *TINY,
            "--methods",
            "lstm",
            "siamcl",
            "--rebalance",
            "v1",
            "v2",
            "--features",
            "ohlcv",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    for name in ("report.md", "report.json", "report.html", "predictions.npz", "config.toml"):
        assert (out / name).is_file(), name
        assert name in printed
    assert str(out) in printed
    # the short table: the talk's columns present in this grid, a row per method, precision with CI
    assert "original V1" in printed and "original V2" in printed and "P-adic" not in printed
    assert any(line.strip().startswith("LSTM") for line in printed.splitlines())
    assert any(line.strip().startswith("SiamCL") for line in printed.splitlines())
    rep = json.loads((out / "report.json").read_text())
    assert [(r["method"], r["rebalance"]) for r in rep["records"]] == [
        ("lstm", "v1"),
        ("lstm", "v2"),
        ("siamcl", "v1"),
        ("siamcl", "v2"),
    ]
    assert rep["meta"]["grid"]["seeds"] == [3]  # the file's seeds (no flag)
    assert rep["meta"]["training"]["encoder_kwargs"]["hidden"] == 8  # the file's size
    assert rep["meta"]["data"]["first_date"] >= "2015-06-01"
    r = rep["records"][0]
    pct = f"{100 * r['precision']:.1f}%" if r["precision"] is not None else "–"
    assert pct in printed
    # the saved config.toml resolves to the very same settings
    cfg, settings = settings_from_args(_args(["--config", str(out / "config.toml")]))
    assert settings.methods == ["lstm", "siamcl"] and settings.rebalance == ["v1", "v2"]
    assert settings.features == ["ohlcv"] and settings.seeds == [3] and settings.n_boot == 50
    assert cfg.start == "2015-06-01" and cfg.max_steps == 2 and cfg.encoder_kwargs["hidden"] == 8
    npz = np.load(out / "predictions.npz")
    assert npz["y_test"].size == r["n_test"]
    # the paired verdicts against LSTM and the per-ticker / per-year breakdowns
    md = (out / "report.md").read_text()
    assert "| cell | precision − LSTM |" in md and "verdict (precision)" in md and "| SiamCL / original V1 |" in md
    assert "## Per ticker at original V1" in md and "## Per year at original V1" in md
    # a second report into the same folder is refused unless --overwrite
    err = _fail(["--config", str(out / "config.toml"), "--out", str(out)], capsys)
    assert "already holds a report" in err and "--overwrite" in err


def test_precedence_defaults_file_quick_flags(tmp_path):
    cfg, s = settings_from_args(_args([]))
    assert (s.methods, s.features, s.rebalance, s.seeds) == (
        ["lstm", "siamcl"],
        ["auto", "auto+padic"],
        ["v1", "v2", "v3"],
        [0, 1, 2],
    )
    assert (
        cfg.window == 20
        and cfg.epochs == 10
        and cfg.batch_size is None
        and s.n_boot == 1000
        and s.threshold_rule == "f1"
    )
    f = tmp_path / "c.toml"
    f.write_text("epochs = 7\nhorizon = 4\n[report]\nseeds = [5, 6]\nn_boot = 10\n")
    cfg, s = settings_from_args(_args(["--config", str(f)]))
    assert cfg.epochs == 7 and cfg.horizon == 4 and s.seeds == [5, 6] and s.n_boot == 10
    cfg, s = settings_from_args(_args(["--config", str(f), "--quick"]))
    assert cfg.epochs == 5 and s.seeds == [0] and s.n_boot == 300 and cfg.horizon == 4
    cfg, s = settings_from_args(
        _args(
            [
                "--config",
                str(f),
                "--quick",
                "--epochs",
                "2",
                "--seeds",
                "1",
                "1",
                "--stock-window",
                "30",
                "--threshold-rule",
                "top_frac",
            ]
        )
    )
    assert cfg.epochs == 2 and s.seeds == [1] and cfg.window == 30 and s.threshold_rule == "top_frac"


@pytest.mark.parametrize(
    "name, flags",
    [("full.toml", []), ("quick.toml", ["--quick"]), ("full-cpc.toml", ["--methods", "lstm", "siamcl", "cpc"])],
)
def test_experiment_configs_are_the_documented_grids(name, flags):
    from_file = settings_from_args(_args(["--config", str(ROOT / "experiments" / "configs" / name)]))
    from_flags = settings_from_args(_args(flags))
    assert from_file == from_flags


def test_bad_flags_are_argparse_errors(capsys):
    assert "invalid choice: 'simclrr'" in _fail(["--methods", "lstm", "simclrr"], capsys)
    assert "invalid choice: 'v4'" in _fail(["--rebalance", "v4"], capsys)
    assert "invalid int value" in _fail(["--seeds", "zero"], capsys)
    assert "unrecognized arguments: --checkpoint-every" in _fail(["--checkpoint-every", "5"], capsys)  # train only


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--seeds", "-1"], "seeds must be a non-empty list of integers >= 0"),
        (["--val-frac", "1.5"], "val_frac must lie strictly between 0 and 1"),
        (["--n-boot", "-3"], "n_boot must be an integer >= 0"),
        (["--epochs", "0"], "epochs must be at least 1"),
        (["--start", "2030-01-01", "--max-steps", "1"], "no prices between start=2030-01-01"),
        (["--test-start", "soon"], "test_start = 'soon' is not a date"),
    ],
)
def test_bad_values_are_clear_messages(argv, message, capsys, tmp_path):
    assert message in _fail([*argv, "--out", str(tmp_path / "r")], capsys)
    assert not (tmp_path / "r" / "report.json").exists()


@pytest.mark.parametrize(
    "text, message",
    [
        ('[report]\nmethod = ["lstm"]\n', "unknown key(s) 'method' in [report]"),
        ('[report]\nmethods = ["lstm", "gpt"]\n', "methods: unknown value(s) 'gpt'"),
        ("[report]\nmethods = []\n", "methods must be a non-empty list"),
        ('method = "siamcl"\n', "'method' name(s) a single run"),
        ("report = 3\n", "'report' must be a table"),
        ('epochs = "ten"\n', "'epochs' must be int"),
        ("[report\n", "is not valid TOML"),
    ],
)
def test_bad_config_files_are_clear_messages(text, message, tmp_path, capsys):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    err = _fail(["--config", str(f), "--out", str(tmp_path / "r")], capsys)
    assert message in err and "bad.toml" in err


def test_registered_in_the_cli():
    from tsssl.cli import COMMANDS

    assert COMMANDS["report"] == "tsssl.commands.report"
    assert isinstance(_args(["--quick"]), argparse.Namespace)


def test_knob_flags_reach_the_settings():
    cfg, s = settings_from_args(
        _args(
            [
                "--split",
                "walk-forward",
                "--folds",
                "3",
                "--purge",
                "7",
                "--embargo",
                "2",
                "--test-frac",
                "0.3",
                "--padic-p",
                "5",
                "--padic-deadband",
                "0.001",
                "--siamcl-loss",
                "supcon",
                "--siamcl-temperature",
                "0.1",
                "--threshold-rule",
                "top_frac",
                "--top-frac",
                "0.05",
                "--threshold-value",
                "0.4",
                "--min-recall",
                "0.3",
            ]
        )  # fmt: skip
    )
    assert (s.split, s.folds, s.top_frac, s.threshold_value, s.min_recall) == ("walk-forward", 3, 0.05, 0.4, 0.3)
    assert (cfg.purge, cfg.embargo, cfg.test_frac, cfg.padic_p, cfg.padic_deadband) == (7, 2, 0.3, 5, 0.001)
    assert cfg.method_settings("siamcl") == {"loss": "supcon", "temperature": 0.1, "margin": 1.0}
    assert s.threshold_kwargs() == {"frac": 0.05}
    cfg, s = settings_from_args(_args(["--quick"]))
    assert s.split == "single" and cfg.max_steps is not None


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--padic-p", "6"], "padic_p must be a prime number"),
        (["--folds", "1"], "folds must be an integer >= 2"),
        (["--purge", "2"], "purge = 2 is shorter than the horizon"),
        (["--siamcl-loss", "hinge"], "argument --siamcl-loss: invalid choice"),
        (["--split", "rolling"], "argument --split: invalid choice"),
    ],
)
def test_bad_knobs_are_one_line_errors(argv, message, capsys):
    assert message in _fail([*argv, "--out", "unused"], capsys)


def test_walk_forward_report_records_its_folds_and_resumes(tmp_path, capsys):
    out = tmp_path / "wf"
    argv = [*TINY, "--methods", "lstm", "--features", "ohlcv", "--rebalance", "v1", "--seeds", "0",
            "--split", "walk-forward", "--folds", "2", "--embargo", "1", "--out", str(out)]  # fmt: skip
    assert main(["report", *argv]) == 0
    assert "walk-forward over 2 folds" in capsys.readouterr().out
    rep = json.loads((out / "report.json").read_text())
    s = rep["meta"]["split"]
    assert s["mode"] == "walk-forward" and [f["fold"] for f in s["folds"]] == [1, 2]
    one, two = s["folds"]
    assert one["test_end"] < two["test_start"] and one["train_start"] == two["train_start"]
    assert (one["purge"], one["embargo"]) == (5, 1) and two["n_fit"] > one["n_fit"]
    (record,) = rep["records"]
    assert [f["n_test"] for f in record["per_fold"]] == [one["n_test"], two["n_test"]]
    assert record["n_test"] == one["n_test"] + two["n_test"] == s["n_test"]
    npz = np.load(out / "predictions.npz")
    assert np.bincount(npz["test_fold"]).tolist() == [one["n_test"], two["n_test"]]
    assert npz["lstm__ohlcv__v1__s0__test_threshold"].shape == npz["y_test"].shape
    md = (out / "report.md").read_text()
    assert "Walk-forward folds (2)" in md and "Precision per fold" in md and "fold 2: fitted on" in md
    assert sorted(p.name for p in (out / "cells").iterdir()) == ["fold1", "fold2"]
    cells = {p: p.stat().st_mtime_ns for p in (out / "cells").rglob("*.npz")}
    assert main(["report", "--out", str(out), "--resume"]) == 0  # every fold's cell read back, not redone
    assert {p: p.stat().st_mtime_ns for p in (out / "cells").rglob("*.npz")} == cells
    again = json.loads((out / "report.json").read_text())["records"][0]
    assert again["precision"] == record["precision"] and again["per_fold"] == record["per_fold"]
