"""Runs that survive interruption: time-based checkpoints (a fake clock), SIGINT / SIGTERM in a
real subprocess and in this process (checkpoint, TrainingInterrupted, exact resume), and resumes
asked for fewer or as many steps as the checkpoint holds."""

import json
import pickle
import re
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _train_toys import NoisyRegression, params, regression_data  # noqa: E402

from tsssl.train import Trainer, TrainingInterrupted  # noqa: E402
from tsssl.train import trainer as trainer_module  # noqa: E402
from tsssl.train.checkpoint import load_checkpoint  # noqa: E402

HERE = Path(__file__).parent
REPO = HERE.parents[1]
# settings shared by this process and the subprocess (JSON: the script reads them too)
KW = dict(
    device="cpu", progress=False, lr=0.02, batch_size=16, log_every=4, seed=7, weight_decay=0.01, warmup_frac=0.25
)


def fresh(seed=0):
    torch.manual_seed(seed)
    return NoisyRegression()


def data():
    return regression_data(100)  # 6 steps per epoch


class Record:
    """Steps of the hooks it sees."""

    def __init__(self):
        self.checkpoints, self.fit_end, self.closed = [], 0, 0

    def on_checkpoint(self, path, step):
        self.checkpoints.append(step)

    def on_fit_end(self, result):
        self.fit_end += 1

    def close(self):
        self.closed += 1


class SignalAt:
    """Sends this process ``sig`` from ``on_step_end`` of step ``step`` (it lands between two
    steps, the handler runs right away)."""

    def __init__(self, step, sig=signal.SIGINT):
        self.step, self.sig = step, sig

    def on_step_end(self, step):
        if step == self.step:
            signal.raise_signal(self.sig)


# -- time-based checkpoints ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "every,expected",
    [
        (None, [8, 16, 20]),  # due at 60 s = step 6, written at the next log step (8); again from there
        (6, [6, 12, 18, 20]),  # the interval counts from the last checkpoint of any kind: 8 is not due
    ],
)
def test_time_based_checkpoint_at_the_first_log_step_after_the_interval(tmp_path, monkeypatch, every, expected):
    now = [0.0]
    monkeypatch.setattr(trainer_module, "_clock", lambda: now[0])
    ckpt = tmp_path / "checkpoint.pt"
    seen = {}

    class Clock(Record):
        def on_step_end(self, step):
            now[0] += 10.0  # every step takes 10 s
            seen[step] = ckpt.exists()

        def on_checkpoint(self, path, step):
            super().on_checkpoint(path, step)
            assert load_checkpoint(path)["step"] == step

    rec = Clock()
    trainer = Trainer(
        max_steps=20, checkpoint_minutes=1.0, checkpoint_every=every, out_dir=tmp_path, callbacks=[rec], **KW
    )
    trainer.fit(fresh(), data())
    assert rec.checkpoints == expected
    assert not any(seen[s] for s in range(1, expected[0] + 1))  # nothing before the first one
    assert trainer.config()["checkpoint_minutes"] == 1.0 and trainer.replace().checkpoint_minutes == 1.0


def test_time_based_checkpoint_not_before_the_interval(tmp_path, monkeypatch):
    now = [0.0]
    monkeypatch.setattr(trainer_module, "_clock", lambda: now[0])

    class Clock(Record):
        def on_step_end(self, step):
            now[0] += 10.0

    rec = Clock()
    Trainer(max_steps=20, checkpoint_minutes=5.0, out_dir=tmp_path, callbacks=[rec], **KW).fit(fresh(), data())
    assert rec.checkpoints == [20]  # 200 s < 5 min: only the final one


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"checkpoint_minutes": 0, "out_dir": "x"}, r"checkpoint_minutes must be a number > 0"),
        ({"checkpoint_minutes": float("inf"), "out_dir": "x"}, r"checkpoint_minutes must be a number > 0"),
        ({"checkpoint_minutes": True, "out_dir": "x"}, r"checkpoint_minutes must be a number > 0"),
        ({"checkpoint_minutes": 5}, "checkpoint_minutes needs out_dir"),
    ],
)
def test_bad_checkpoint_minutes_are_named(kw, match):
    with pytest.raises(ValueError, match=match):
        Trainer(device="cpu", **kw)


# -- signals in this process -----------------------------------------------------------------------


def test_sigint_checkpoints_raises_and_the_resume_is_exact(tmp_path):
    """SIGINT at step 5 (inside a log window of 4): checkpoint at 5, TrainingInterrupted (a
    KeyboardInterrupt), callbacks closed but no on_fit_end, the handlers put back; the resume
    to 16 steps equals the straight run exactly."""
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    straight = fresh()
    full = Trainer(max_steps=16, **KW).fit(straight, data())

    rec = Record()
    with pytest.raises(KeyboardInterrupt) as info:
        Trainer(max_steps=16, out_dir=tmp_path, callbacks=[SignalAt(5), rec], **KW).fit(fresh(), data())
    err = info.value
    ckpt = tmp_path / "checkpoint.pt"
    assert isinstance(err, TrainingInterrupted)
    assert str(err) == f"interrupted at step 5 of 16 (SIGINT); checkpoint written to {ckpt}"
    assert (err.step, err.total_steps, err.checkpoint, err.signal) == (5, 16, ckpt, "SIGINT")
    back = pickle.loads(pickle.dumps(err))  # crosses process boundaries whole
    assert (str(back), back.step, back.total_steps, back.checkpoint, back.signal) == (str(err), 5, 16, ckpt, "SIGINT")
    assert load_checkpoint(ckpt)["step"] == 5
    assert rec.checkpoints == [5] and rec.fit_end == 0 and rec.closed == 1
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before

    other = fresh(seed=123)
    resumed = Trainer(max_steps=16, out_dir=tmp_path, **KW).fit(other, data(), resume=True)
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in full.history]
    for k, v in params(straight).items():
        assert torch.equal(params(other)[k], v), k


def test_sigterm_without_out_dir_says_there_is_no_checkpoint():
    with pytest.raises(TrainingInterrupted) as info:
        Trainer(max_steps=16, callbacks=[SignalAt(3, signal.SIGTERM)], **KW).fit(fresh(), data())
    assert str(info.value) == "interrupted at step 3 of 16 (SIGTERM); no checkpoint: the Trainer has no out_dir"
    assert info.value.checkpoint is None


def test_a_second_signal_during_the_checkpoint_write_changes_nothing(tmp_path, monkeypatch):
    real_save = trainer_module.save_checkpoint

    def save_hit_by_sigterm(path, state):
        signal.raise_signal(signal.SIGTERM)  # the handler runs now, in the middle of the write
        return real_save(path, state)

    monkeypatch.setattr(trainer_module, "save_checkpoint", save_hit_by_sigterm)
    rec = Record()
    with pytest.raises(TrainingInterrupted, match=r"step 5 of 16 \(SIGINT\)"):
        Trainer(max_steps=16, out_dir=tmp_path, callbacks=[SignalAt(5), rec], **KW).fit(fresh(), data())
    assert rec.checkpoints == [5] and load_checkpoint(tmp_path / "checkpoint.pt")["step"] == 5
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_signal_after_the_last_step_still_interrupts(tmp_path):
    class AtEnd(Record):
        def on_fit_end(self, result):
            super().on_fit_end(result)
            signal.raise_signal(signal.SIGINT)

    rec = AtEnd()
    with pytest.raises(TrainingInterrupted, match="step 8 of 8"):
        Trainer(max_steps=8, out_dir=tmp_path, callbacks=[rec], **KW).fit(fresh(), data())
    assert rec.checkpoints == [8] and rec.fit_end == 1


def test_outside_the_main_thread_no_handler_is_installed():
    outside = signal.getsignal(signal.SIGINT)
    during, errors = [], []

    class Look:
        def on_step_end(self, step):
            during.append(signal.getsignal(signal.SIGINT))

    def train():
        try:
            Trainer(max_steps=4, callbacks=[Look()], **KW).fit(fresh(), data())
        except Exception as err:  # surfaced below
            errors.append(err)

    t = threading.Thread(target=train)
    t.start()
    t.join(timeout=60)
    assert errors == [] and len(during) == 4 and all(h is outside for h in during)


# -- signals to a real process ---------------------------------------------------------------------

SCRIPT = """
import json, os, select, signal, sys
import torch
sys.path.insert(0, {here!r})
from _train_toys import NoisyRegression, regression_data
from tsssl.train import Trainer

out, total, kw = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
wake_r, wake_w = os.pipe()
os.set_blocking(wake_w, False)
signal.set_wakeup_fd(wake_w)  # shows a signal's arrival without touching the Trainer's handlers


class Ready:
    def on_step_end(self, step):
        if step == 3:
            print("READY", flush=True)
        if step >= 3:
            # up to 20 ms a step until the signal has arrived (none after: the pipe stays
            # readable), so that a slow test process cannot see the run finish first
            select.select([wake_r], [], [], 0.02)


x, y = regression_data(100)
torch.manual_seed(0)
try:
    Trainer(max_steps=total, out_dir=out, callbacks=[Ready()], **kw).fit(NoisyRegression(), (x, y))
except KeyboardInterrupt as err:
    restored = signal.getsignal(signal.SIGINT) is signal.default_int_handler
    restored &= signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    print(f"{{type(err).__name__}}: {{err}}", file=sys.stderr)
    print(f"handlers restored: {{restored}}", file=sys.stderr)
    sys.exit(130)
print("FINISHED", flush=True)
"""

TOTAL = 400  # steps: time enough (>= 8 s) for the signal to land, and fast to run straight


@pytest.fixture(scope="module")
def straight_run():
    x, y = data()
    torch.manual_seed(0)
    m = NoisyRegression()
    result = Trainer(max_steps=TOTAL, **KW).fit(m, (x, y))
    return params(m), result


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_to_a_training_process_checkpoints_and_resumes_exactly(tmp_path, straight_run, sig):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT.format(here=str(HERE))))
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(out), str(TOTAL), json.dumps(KW)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "READY"
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stderr
    assert "FINISHED" not in stdout
    lines = stderr.strip().splitlines()
    m = re.fullmatch(
        rf"TrainingInterrupted: interrupted at step (\d+) of {TOTAL} \({sig.name}\); "
        rf"checkpoint written to {re.escape(str(out / 'checkpoint.pt'))}",
        lines[-2],
    )
    assert m, stderr
    assert lines[-1] == "handlers restored: True"
    step = int(m.group(1))
    assert 3 <= step < TOTAL
    assert load_checkpoint(out / "checkpoint.pt")["step"] == step
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]

    expected, full = straight_run
    other = fresh(seed=123)  # everything must come from the checkpoint
    resumed = Trainer(max_steps=TOTAL, out_dir=out, **KW).fit(other, data(), resume=True)
    assert resumed.steps == TOTAL
    got = params(other)
    assert got.keys() == expected.keys()
    for k, v in expected.items():
        assert torch.equal(got[k], v), k
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in full.history]


# -- resume lengths --------------------------------------------------------------------------------


def test_resume_with_fewer_steps_than_done_is_refused_before_anything_changes(tmp_path):
    Trainer(max_steps=8, out_dir=tmp_path, **KW).fit(fresh(), data())
    ckpt = tmp_path / "checkpoint.pt"
    on_disk = ckpt.read_bytes()
    m = fresh(seed=5)
    before = params(m)
    with pytest.raises(ValueError) as info:
        Trainer(max_steps=6, out_dir=tmp_path, **KW).fit(m, data(), resume=True)
    assert str(info.value) == (
        f"resume: the run is already at step 8 (checkpoint {ckpt}), past the 6 steps asked for "
        "(epochs=None, max_steps=6); ask for more or start a new run"
    )
    with pytest.raises(ValueError, match=r"already at step 8 .* past the 6 steps .*\(epochs=1, max_steps=None\)"):
        Trainer(epochs=1, out_dir=tmp_path, **KW).fit(m, data(), resume=True)  # 6 steps per epoch
    assert ckpt.read_bytes() == on_disk
    assert all(torch.equal(params(m)[k], v) for k, v in before.items())  # the method untouched


def test_resume_with_as_many_steps_as_done_trains_nothing(tmp_path):
    first = fresh()
    done = Trainer(max_steps=8, out_dir=tmp_path, **KW).fit(first, data())
    ckpt = tmp_path / "checkpoint.pt"
    on_disk = ckpt.read_bytes()
    steps = []

    class Steps:
        def on_step_end(self, step):
            steps.append(step)

    m = fresh(seed=5)
    again = Trainer(max_steps=8, out_dir=tmp_path, callbacks=[Steps()], **KW).fit(m, data(), resume=True)
    assert steps == [] and again.steps == 8 and again.history == done.history
    assert again.checkpoint_path == ckpt and ckpt.read_bytes() == on_disk  # not rewritten
    assert all(torch.equal(params(m)[k], v) for k, v in params(first).items())  # the checkpoint's weights
