"""`tsssl train`: end to end on the bundled sample with tiny settings, configuration precedence,
and clean errors for bad flags and bad data."""

import json
import sys

import numpy as np
import pandas as pd
import pytest

from tsssl.cli import main
from tsssl.config import resolve_config

TINY = ["--sample", "--start", "2016-01-01", "--epochs", "1", "--batch-size", "128", "--seed", "0"]


def run_cli(argv, capsys):
    code = main(["train", *argv])
    return code, capsys.readouterr()


def test_end_to_end_writes_every_output_with_sane_metrics(tmp_path, capsys):
    out = tmp_path / "run"
    code, io = run_cli([*TINY, "--out", str(out)], capsys)
    assert code == 0
    for name in ("checkpoint.pt", "config.toml", "metrics.json", "log.csv"):
        assert (out / name).is_file(), name
    m = json.loads((out / "metrics.json").read_text())
    assert m["method"] == "siamcl" and np.isfinite(m["final_loss"]) and m["windows_per_s"] > 0
    probe = m["probe"]
    assert 0 < probe["base_rate"] < 0.5 and probe["n_test"] == m["n_test"] > 0
    for key in ("precision", "recall"):
        assert probe[key] is None or 0 <= probe[key] <= 1
    assert 0 < probe["pr_auc"] <= 1
    s = m["split"]
    assert "2016-01-01" <= s["train_start"] <= s["train_end"] < s["test_start"] <= s["test_end"]
    assert m["n_train"] + m["n_test"] <= m["n_windows"]
    # the resolved configuration repeats the run: same settings when read back
    cfg = resolve_config(out / "config.toml")
    assert cfg.method == "siamcl" and cfg.start == "2016-01-01" and cfg.epochs == 1 and cfg.out == str(out)
    assert cfg.encoder_kwargs["hidden"] > 0
    assert str(out) in io.out and "precision" in io.out
    # a second run into the same folder is refused unless resumed
    with pytest.raises(SystemExit) as err:
        main(["train", *TINY, "--out", str(out)])
    assert err.value.code == 2 and "--resume" in capsys.readouterr().err


def test_lstm_baseline_and_config_file_precedence(tmp_path, capsys):
    cfg_file = tmp_path / "run.toml"
    cfg_file.write_text('method = "cpc"\nrebalance = "v1"\nbatch_size = 64\nepochs = 3\n[encoder_kwargs]\nhidden = 8\n')
    out = tmp_path / "lstm"
    code, _ = run_cli(
        ["--config", str(cfg_file), *TINY, "--method", "lstm", "--rebalance", "none", "--out", str(out)], capsys
    )
    assert code == 0
    cfg = resolve_config(out / "config.toml")
    assert cfg.method == "lstm" and cfg.rebalance == "none"  # flags over the file
    assert cfg.batch_size == 128 and cfg.epochs == 1  # flags over the file
    assert cfg.encoder_kwargs["hidden"] == 8  # the file over the defaults
    m = json.loads((out / "metrics.json").read_text())
    assert m["probe"]["scored_by"] == "lstm classifier head"
    assert m["n_train_rebalanced"] == m["n_train"]  # rebalance none


def test_bad_method_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as err:
        main(["train", "--method", "simclrr"])
    assert err.value.code == 2
    assert "invalid choice: 'simclrr'" in capsys.readouterr().err


def test_modality_method_on_windows_is_refused(capsys):
    with pytest.raises(SystemExit) as err:
        main(["train", "--method", "rotnet"])
    assert err.value.code == 2 and "--modality image / text" in capsys.readouterr().err


def test_empty_date_range_and_unreadable_file_are_clean_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as err:
        main(["train", "--sample", "--start", "2030-01-01", "--out", str(tmp_path / "a")])
    msg = capsys.readouterr().err
    assert err.value.code == 2 and "tsssl train: error:" in msg and "2030-01-01" in msg
    with pytest.raises(SystemExit) as err:
        main(["train", "--data", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "b")])
    msg = capsys.readouterr().err
    assert err.value.code == 2 and "missing.csv" in msg and "Traceback" not in msg
    with pytest.raises(SystemExit) as err:
        main(["train", "--resume"])
    assert err.value.code == 2 and "--resume needs --out" in capsys.readouterr().err


def test_unknown_ticker_is_a_clean_error(tmp_path, monkeypatch, capsys):
    import tsssl.data.sources as sources

    def fake_download(tickers, start, end, *args, **kwargs):  # yfinance's answer for a bad ticker
        return pd.DataFrame()

    monkeypatch.setattr(sources, "_download", fake_download)
    with pytest.raises(SystemExit) as err:
        main(
            [
                "train",
                "--tickers",
                "NOSUCHTICKER",
                "--start",
                "2020-01-01",
                "--end",
                "2020-12-31",
                "--cache-dir",
                str(tmp_path / "cache"),
                "--out",
                str(tmp_path / "run"),
            ]
        )
    msg = capsys.readouterr().err
    assert err.value.code == 2 and "NOSUCHTICKER" in msg and "Traceback" not in msg


def test_image_and_text_modalities_are_delegated(monkeypatch, tmp_path):
    calls = []
    import tsssl.commands.train as train_cmd
    import tsssl.experiments as experiments

    monkeypatch.setattr(
        experiments, "run_experiment", lambda cfg, resume: calls.append((cfg.modality, cfg.method, cfg.out)) or {}
    )
    monkeypatch.setattr(train_cmd, "experiment_summary", lambda metrics, out: "")
    assert main(["train", "--modality", "image", "--method", "rotnet", "--out", str(tmp_path)]) == 0
    assert calls == [("image", "rotnet", str(tmp_path))]


def test_resume_continues_from_the_checkpoint_with_the_saved_config(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--max-steps", "3", "--batch-size", "64", "--out", str(out)]) == 0
    # resumed: the run's own config.toml is the base (start date, batch size), the flag extends it
    assert main(["train", "--resume", "--out", str(out), "--max-steps", "6"]) == 0
    cfg = resolve_config(out / "config.toml")
    assert cfg.start == "2016-01-01" and cfg.batch_size == 64 and cfg.max_steps == 6
    m = json.loads((out / "metrics.json").read_text())
    assert m["steps"] == 6
    log = (out / "log.csv").read_text().splitlines()
    assert log[0].startswith("step") and int(log[-1].split(",")[0]) == 6
    capsys.readouterr()


def test_torchrun_two_processes_train_once_rank_zero_reports(tmp_path):
    # `torchrun -m tsssl train`: two gloo ranks train their shards; rank 0 alone writes and prints
    import os
    import subprocess

    out = tmp_path / "ddp"
    # the settings in a TOML file: torchrun's own parser would take --start for its --start-method
    cfg = tmp_path / "tiny.toml"
    cfg.write_text('start = "2016-01-01"\nepochs = 1\nbatch_size = 128\nseed = 0\n')
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "tsssl",
        "train",
        "--config",
        str(cfg),
        "--out",
        str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("tsssl train: siamcl") == 1 and proc.stdout.count("outputs in") == 1
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "config.toml", "log.csv", "metrics.json"]
    m = json.loads((out / "metrics.json").read_text())
    ckpt = __import__("torch").load(out / "checkpoint.pt", weights_only=False)
    # both ranks' batches count: the global batch is 2 x 128
    assert ckpt["world_size"] == 2 and m["steps"] == ckpt["step"] > 0
    assert m["n_train"] // (2 * 128) == m["steps"]


def test_method_and_encoder_kwargs_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "kw"
    argv = [*TINY, "--max-steps", "2", "--out", str(out)]
    assert (
        main(["train", *argv, "--method-kwargs", "loss=pair_margin", "margin=0.5", "--encoder-kwargs", "hidden=8"]) == 0
    )
    cfg = resolve_config(out / "config.toml")
    assert cfg.method_kwargs == {"loss": "pair_margin", "margin": 0.5} and cfg.encoder_kwargs["hidden"] == 8
    with pytest.raises(SystemExit) as err:
        main(["train", *TINY, "--max-steps", "2", "--out", str(tmp_path / "bad"), "--method-kwargs", "nope=1"])
    msg = capsys.readouterr().err
    assert err.value.code == 2 and "'nope'" in msg and "accepted" in msg and "Traceback" not in msg


def test_stocks20_sample_trains_on_closes_with_auto_features(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["--sample", "stocks20", "--start", "2022-01-01", "--max-steps", "5", "--batch-size", "64"]
    code, io = run_cli([*argv, "--stock-window", "10", "--out", str(out)], capsys)
    assert code == 0
    assert "on the bundled sample stocks20" in io.out and "close (auto)" in io.out
    assert "layout: wide closes, 20 tickers" in io.out
    cfg = resolve_config(out / "config.toml")
    assert (cfg.sample, cfg.features) == ("stocks20", "close")  # the resolved set is recorded
    m = json.loads((out / "metrics.json").read_text())
    assert m["data"]["features"] == {"requested": "auto", "used": "close"} and len(m["data"]["tickers"]) == 20
    assert m["data"]["layout"] == "wide closes, 20 tickers" and m["steps"] == 5


@pytest.mark.parametrize(
    "cells,message",
    [
        ({"AAA": ["1.0", "1.1", "1.2"], "BBB": ["", "", ""]}, "ticker column(s) BBB have no price at all"),
        ({"AAA": ["1.0", "abc", "1.2"], "BBB": ["2", "2", "2"]}, "column AAA on 2021-01-05 is 'abc', not a number"),
        ({"AAA": ["1.0", "1.1", "-1.2"], "BBB": ["2", "2", "2"]}, "column close of ticker AAA is -1.2 on 2021-01-06"),
        ({"AAA": ["1.0", "1.1", "1.2"], "BBB": ["2", "0", "2"]}, "column close of ticker BBB is 0.0 on 2021-01-05"),
    ],
)
def test_bad_price_file_is_named_and_writes_nothing(tmp_path, capsys, cells, message):
    frame = pd.DataFrame(cells, index=pd.Index(["2021-01-04", "2021-01-05", "2021-01-06"], name="Date"))
    frame.to_csv(tmp_path / "wide.csv")
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as err:
        main(["train", "--data", str(tmp_path / "wide.csv"), "--max-steps", "2", "--out", str(out)])
    msg = capsys.readouterr().err
    assert err.value.code == 2 and message in msg and "Traceback" not in msg
    assert not out.exists()


def test_knobs_reach_the_windows_the_model_and_the_records(tmp_path, capsys):
    out = tmp_path / "knobs"
    argv = [*TINY, "--features", "ohlcv+padic", "--padic-p", "5", "--padic-deadband", "0.004", "--purge", "6",
            "--embargo", "1", "--test-frac", "0.3", "--siamcl-loss", "triplet_margin", "--siamcl-margin", "0.5",
            "--max-steps", "2", "--out", str(out)]  # fmt: skip
    code, _ = run_cli(argv, capsys)
    assert code == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["setup"] == {"features": "ohlcv+padic", "padic_p": 5, "padic_deadband": 0.004,
                          "method_settings": {"loss": "triplet_margin", "temperature": 0.2, "margin": 0.5}}  # fmt: skip
    assert (m["split"]["purge"], m["split"]["embargo"], m["split"]["test_frac"]) == (6, 1, 0.3)
    cfg = resolve_config(out / "config.toml")
    assert (cfg.padic_p, cfg.purge, cfg.siamcl_loss, cfg.siamcl_margin) == (5, 6, "triplet_margin", 0.5)
    import torch

    ckpt = torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=False)
    mean = next(v for k, v in ckpt["method"].items() if k.endswith("encoder.mean"))
    assert mean.numel() == 5 + 2 * 5  # OHLCV channels + one-hot digits and distances at p = 5
