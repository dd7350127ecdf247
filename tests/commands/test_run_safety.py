"""Runs that survive interruption and misuse: each observation of a hostile but realistic user,
as a test (real subprocesses for signals and concurrent runs)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tsssl.cli import main

# A short run: 2 tickers from 2012, batch 64 (about 5,000 training windows, 80 steps an epoch).
SMALL = ["--sample", "--start", "2012-01-01", "--batch-size", "64", "--seed", "0"]


def tsssl(*argv, **kw):
    """``tsssl ARGV`` in a real subprocess (the installed console entry point's module)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tsssl.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        **kw,
    )


def finish(proc, timeout=240):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def log_rows(out: Path) -> list[dict]:
    path = out / "log.csv"
    if not path.is_file():
        return []
    return pd.read_csv(path).to_dict("records")


def fail(argv, capsys):
    with pytest.raises(SystemExit) as err:
        main(argv)
    msg = capsys.readouterr().err
    assert err.value.code == 2 and "Traceback" not in msg and len(msg.strip().splitlines()) == 1, msg
    return msg


# 1. a longer resume extends the schedule; a shorter one is an error
def test_resume_with_more_epochs_never_trains_at_zero_learning_rate(tmp_path, capsys):
    out = tmp_path / "R"
    assert main(["train", *SMALL, "--epochs", "1", "--out", str(out)]) == 0
    first = json.loads((out / "metrics.json").read_text())
    steps = first["steps"]
    assert main(["train", "--out", str(out), "--resume", "--epochs", "2"]) == 0
    rows = log_rows(out)
    after = [r for r in rows if r["step"] > steps]
    assert after and all(r["lr"] > 0 for r in after[:-1])  # the extended cosine, not lr 0
    second = json.loads((out / "metrics.json").read_text())
    assert second["steps"] == 2 * steps and second["final_loss"] != first["final_loss"]
    msg = fail(["train", "--out", str(out), "--resume", "--epochs", "1"], capsys)
    assert f"already at step {2 * steps}" in msg


# 2. Ctrl-C / SIGTERM write a checkpoint and say how to resume; the resumed run equals an uninterrupted one
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_saves_the_run_and_resume_equals_an_uninterrupted_run(tmp_path, sig):
    args = [*SMALL, "--max-steps", "400", "--checkpoint-every", "1000"]
    out = tmp_path / "R"
    proc = tsssl("train", *args, "--out", str(out))
    deadline = time.time() + 120
    while not log_rows(out) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(sig)
    code, _, err = finish(proc)
    assert code == 130, err
    assert "checkpoint written to" in err and f"tsssl train --out {out} --resume" in err and "Traceback" not in err
    assert (out / "checkpoint.pt").is_file() and not (out / "metrics.json").exists()
    code, _, err = finish(tsssl("train", "--out", str(out), "--resume"))
    assert code == 0, err
    code, _, err = finish(tsssl("train", *args, "--out", str(tmp_path / "U")))
    assert code == 0, err
    resumed, whole = (json.loads((p / "metrics.json").read_text()) for p in (out, tmp_path / "U"))
    for key in ("final_loss", "steps", "probe"):
        assert resumed[key] == whole[key], key


def test_periodic_checkpoints_leave_a_resumable_run_after_a_kill(tmp_path):
    out = tmp_path / "R"
    proc = tsssl("train", *SMALL, "--max-steps", "400", "--checkpoint-every", "20", "--out", str(out))
    deadline = time.time() + 120
    while not (out / "checkpoint.pt").is_file() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.kill()  # SIGKILL: nothing can be saved at the end
    finish(proc)
    assert (out / "checkpoint.pt").is_file()
    code, _, err = finish(tsssl("train", "--out", str(out), "--resume", "--force"))
    assert code == 0, err
    assert json.loads((out / "metrics.json").read_text())["steps"] == 400


# 3. two runs into one folder: one owns it, the other is refused
def test_two_runs_into_the_same_folder(tmp_path):
    out = tmp_path / "R"
    procs = [tsssl("train", *SMALL, "--max-steps", "60", "--out", str(out)) for _ in range(2)]
    results = [finish(p) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], results
    refused = next(err for code, _, err in results if code == 2)
    assert "in use by another tsssl run" in refused or "already holds" in refused
    m = json.loads((out / "metrics.json").read_text())
    rows = log_rows(out)
    assert m["steps"] == 60 and [r["step"] for r in rows] == sorted({r["step"] for r in rows})  # one run's log
    assert not (out / ".tsssl.lock").exists()


def test_a_stale_lock_is_reported_and_force_takes_it_over(tmp_path, capsys):
    out = tmp_path / "R"
    out.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket

    (out / ".tsssl.lock").write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname()}))
    msg = fail(["train", *SMALL, "--max-steps", "2", "--out", str(out)], capsys)
    assert "stale lock" in msg and "--force" in msg
    assert main(["train", *SMALL, "--max-steps", "2", "--out", str(out), "--force"]) == 0


# 4. a failed --resume leaves the folder as it was
def test_a_failed_resume_changes_nothing(tmp_path, capsys):
    out = tmp_path / "R"
    assert main(["train", *SMALL, "--max-steps", "4", "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    msg = fail(["train", "--out", str(out), "--resume", "--stock-window", "30", "--encoder", "cnn"], capsys)
    assert "window: 20 -> 30" in msg and "encoder: 'lstm' -> 'cnn'" in msg
    ckpt = out / "checkpoint.pt"
    ckpt.write_bytes(before["checkpoint.pt"][: len(before["checkpoint.pt"]) // 2])  # truncated
    msg = fail(["train", "--out", str(out), "--resume", "--max-steps", "8"], capsys)
    assert str(ckpt) in msg
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    assert after.keys() == before.keys()
    assert all(after[k] == before[k] for k in before if k != "checkpoint.pt")
    ckpt.write_bytes(before["checkpoint.pt"])
    assert main(["train", "--out", str(out), "--resume", "--max-steps", "8"]) == 0  # still resumable


# 5. a folder with files tsssl did not write, or a finished run, needs --overwrite
def test_a_non_empty_folder_needs_overwrite(tmp_path, capsys):
    out = tmp_path / "R"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    msg = fail(["train", *SMALL, "--max-steps", "2", "--out", str(out)], capsys)
    assert "not empty" in msg and "notes.txt" in msg and "--overwrite" in msg
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert main(["train", *SMALL, "--max-steps", "2", "--out", str(out), "--overwrite"]) == 0
    assert (out / "notes.txt").read_text() == "mine"  # only tsssl's own outputs are replaced
    msg = fail(["train", *SMALL, "--max-steps", "2", "--out", str(out)], capsys)
    assert "finished run" in msg and "--overwrite" in msg and "--resume" in msg


# 6. one-line errors, never a traceback; --debug shows it
def test_bad_folders_and_checkpoints_are_one_line_errors(tmp_path, capsys):
    f = tmp_path / "afile"
    f.write_text("x")
    assert "is a file" in fail(["train", *SMALL, "--max-steps", "2", "--out", str(f)], capsys)
    out = tmp_path / "R"
    out.mkdir()
    (out / "checkpoint.pt").write_bytes(b"not a checkpoint at all")
    assert str(out / "checkpoint.pt") in fail(["train", *SMALL, "--out", str(out), "--resume"], capsys)
    with pytest.raises(ValueError):
        main(["--debug", "train", *SMALL, "--max-steps", "2", "--out", str(f)])


# 7. data that went missing is in the summary and in metrics.json
def _yahoo_frame(tickers, start, end):
    dates = pd.bdate_range(start, pd.Timestamp(end) - pd.Timedelta(days=1), name="Date")
    rng = np.random.default_rng(0)
    parts = {}
    for t in tickers:
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(dates))))
        parts[t] = pd.DataFrame(
            {"Close": close, "High": close * 1.01, "Low": close * 0.99, "Open": close, "Volume": 1e6}, index=dates
        )
    frame = pd.concat(parts, axis=1, names=["Ticker", "Price"])
    frame.columns = frame.columns.swaplevel(0, 1)
    return frame.sort_index(axis=1, level=0)


def test_a_ticker_left_out_offline_is_on_record(tmp_path, monkeypatch, capsys):
    import tsssl.data.sources as sources

    monkeypatch.setattr(sources, "_today", lambda: np.datetime64("2021-06-01"))
    monkeypatch.setattr(sources, "_download", _yahoo_frame)
    cache = tmp_path / "cache"
    sources.load_prices(["AAA"], "2018-01-01", "2020-12-31", cache_dir=cache)  # AAA cached, BBB never

    def offline(tickers, start, end):
        raise ConnectionError("no network")

    monkeypatch.setattr(sources, "_download", offline)
    out = tmp_path / "R"
    argv = ["train", "--tickers", "AAA", "BBB", "--start", "2018-01-01", "--end", "2020-12-31"]
    with pytest.warns(UserWarning, match="no cache for BBB"):
        code = main([*argv, "--cache-dir", str(cache), "--max-steps", "2", "--batch-size", "32", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "AAA (BBB left out: download of" in printed
    record = json.loads((out / "metrics.json").read_text())["data"]
    assert record["requested_tickers"] == ["AAA", "BBB"] and record["tickers"] == ["AAA"]
    assert "no cache for BBB" in record["left_out"]["BBB"]


# the same guarantees for tsssl report: its finished cells survive an interruption
REPORT = [
    "--sample", "--start", "2014-01-01", "--methods", "lstm", "siamcl", "--features", "ohlcv",
    "--rebalance", "v1", "v2", "--seeds", "0", "--max-steps", "60", "--batch-size", "64", "--n-boot", "50",
]  # fmt: skip


def _records(out: Path) -> list[dict]:
    drop = {"train_seconds", "per_seed"}
    return [
        {k: v for k, v in r.items() if k not in drop} for r in json.loads((out / "report.json").read_text())["records"]
    ]


def test_an_interrupted_report_resumes_with_the_next_cell(tmp_path):
    out = tmp_path / "R"
    proc = tsssl("report", *REPORT, "--out", str(out))
    deadline = time.time() + 180
    while not list((out / "cells").glob("*.npz")) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the report ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    code, _, err = finish(proc)
    assert code == 130 and f"tsssl report --out {out} --resume" in err and "Traceback" not in err, err
    kept = {p.name: p.stat().st_mtime_ns for p in (out / "cells").glob("*.npz")}
    assert 1 <= len(kept) < 4 and not (out / "report.json").exists()
    code, printed, err = finish(tsssl("report", "--out", str(out), "--resume"))
    assert code == 0, err
    assert all((out / "cells" / n).stat().st_mtime_ns == t for n, t in kept.items())  # read back, not redone
    code, _, err = finish(tsssl("report", *REPORT, "--out", str(tmp_path / "U")))
    assert code == 0, err
    assert _records(out) == _records(tmp_path / "U")


def test_report_resume_refuses_a_changed_grid(tmp_path, capsys):
    out = tmp_path / "R"
    assert main(["report", *REPORT[:-4], "--max-steps", "2", "--n-boot", "0", "--out", str(out)]) == 0
    msg = fail(["report", "--out", str(out), "--resume", "--seeds", "0", "1"], capsys)
    assert "report.seeds: [0] -> [0, 1]" in msg
