"""The Trainer on the CPU with toy methods: learning, seeds, exact resume, divergence, precision,
data forms, logs, progress, optimiser groups and argument checks."""

import csv
import importlib.util
import inspect
import io
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from _train_toys import LinearRegression, NaNAt, NoisyRegression, PairDataset, Recorder, params, regression_data  # noqa: E402

from tsssl.data.windowset import WindowSet  # noqa: E402
from tsssl.methods.base import Method  # noqa: E402
from tsssl.train import Trainer, TrainingDivergedError, TrainResult, total_steps  # noqa: E402
from tsssl.train import trainer as trainer_module  # noqa: E402
from tsssl.train.callbacks import progress_enabled  # noqa: E402
from tsssl.train.checkpoint import load_checkpoint  # noqa: E402
from tsssl.train.schedule import warmup_cosine  # noqa: E402
from tsssl.train.trainer import parameter_groups  # noqa: E402


def fresh(cls=NoisyRegression, seed=0, **kw):
    torch.manual_seed(seed)
    return cls(**kw)


def losses(result: TrainResult) -> torch.Tensor:
    return torch.tensor([h["loss"] for h in result.history], dtype=torch.float64)


def cpu_trainer(**kw):
    kw = {"device": "cpu", "progress": False, "lr": 0.02, "batch_size": 16, **kw}
    return Trainer(**kw)


class Stop(Exception):
    pass


class StopAt:
    """Interrupts a run right after the checkpoint of step ``step`` (a crash / kill)."""

    def __init__(self, step):
        self.step = step

    def on_checkpoint(self, path, step):
        if step == self.step:
            raise Stop


# -- learning --------------------------------------------------------------------------------


def test_training_lowers_the_loss():
    x, y = regression_data(256)
    result = cpu_trainer(epochs=15, lr=0.05, log_every=8).fit(fresh(LinearRegression), (x, y))
    ls = losses(result)
    assert ls[-1] < 0.05 * ls[0]
    assert result.steps == 15 * (256 // 16) and result.epochs == 15.0
    assert result.final_loss == result.history[-1]["loss"]
    assert result.samples_per_s > 0 and result.device == "cpu" and result.checkpoint_path is None


def test_same_seed_same_history_other_seed_other_history():
    x, y = regression_data(96)
    a = cpu_trainer(max_steps=12, log_every=1, seed=3).fit(fresh(), (x, y))
    b = cpu_trainer(max_steps=12, log_every=1, seed=3).fit(fresh(), (x, y))
    c = cpu_trainer(max_steps=12, log_every=1, seed=4).fit(fresh(), (x, y))
    assert torch.equal(losses(a), losses(b))
    assert not torch.equal(losses(a), losses(c))


def test_steps_epochs_and_their_cap():
    x, y = regression_data(64)  # 4 steps per epoch at batch 16
    assert cpu_trainer(epochs=2).fit(fresh(LinearRegression), (x, y)).steps == 8
    assert cpu_trainer(max_steps=6).fit(fresh(LinearRegression), (x, y)).steps == 6
    assert cpu_trainer(epochs=3, max_steps=5).fit(fresh(LinearRegression), (x, y)).steps == 5  # cap
    assert cpu_trainer().fit(fresh(LinearRegression), (x, y)).steps == 4  # neither: one epoch
    r = cpu_trainer(epochs=1, drop_last=False, batch_size=24).fit(fresh(LinearRegression), (x, y))
    assert r.steps == 3  # 24 + 24 + 16


def test_optimiser_follows_the_warmup_cosine_schedule():
    x, y = regression_data(64)
    seen = []

    class LR:
        def on_fit_start(self, info):
            self.opt = info["optimizer"]

        def on_step_end(self, step):
            seen.append(self.opt.param_groups[0]["lr"])  # the lr of the next step

    total, lr = 20, 0.01
    result = cpu_trainer(max_steps=total, lr=lr, warmup_frac=0.2, min_lr_ratio=0.1, log_every=1, callbacks=[LR()]).fit(
        fresh(LinearRegression), (x, y)
    )
    expected = [lr * warmup_cosine(s, total, 4, 0.1) for s in range(total + 1)]
    assert seen == pytest.approx(expected[1:])
    assert [h["lr"] for h in result.history] == pytest.approx(expected[:total])
    assert max(expected) == pytest.approx(lr) and expected[3] == pytest.approx(lr)  # peak after warm-up


def test_weight_decay_groups_skip_biases_norms_and_targets():
    model = nn.ModuleDict(
        {
            "lin": nn.Linear(3, 4),
            "ln": nn.LayerNorm(4),
            "bn": nn.BatchNorm1d(4),
            "lstm": nn.LSTM(3, 5),
            "frozen": nn.Linear(4, 4),
        }
    )
    model["frozen"].weight.requires_grad_(False)
    exclude = {id(model["frozen"].bias)}
    groups = parameter_groups(model, 0.1, exclude)
    decay = {id(p) for p in groups[0]["params"]}
    no_decay = {id(p) for p in groups[1]["params"]}
    assert groups[0]["weight_decay"] == 0.1 and groups[1]["weight_decay"] == 0.0
    assert decay == {id(model["lin"].weight), id(model["lstm"].weight_ih_l0), id(model["lstm"].weight_hh_l0)}
    assert no_decay == {
        id(model["lin"].bias),
        id(model["ln"].weight),
        id(model["ln"].bias),
        id(model["bn"].weight),
        id(model["bn"].bias),
        id(model["lstm"].bias_ih_l0),
        id(model["lstm"].bias_hh_l0),
    }


def test_gradient_clipping_bounds_the_first_update():
    x, y = regression_data(64)
    y = y * 1000  # huge gradients
    m = fresh(LinearRegression)
    before = params(m)
    # Adam's step is scale-free: check the gradient norm the optimiser receives
    seen = {}

    class Grad:
        def on_fit_start(self, info):
            def before_step(opt, args, kwargs):
                seen["norm"] = torch.norm(torch.stack([p.grad.norm() for g in opt.param_groups for p in g["params"]]))

            info["optimizer"].register_step_pre_hook(before_step)

    cpu_trainer(max_steps=1, grad_clip=0.5, callbacks=[Grad()]).fit(m, (x, y))
    assert seen["norm"] == pytest.approx(0.5, rel=1e-4)
    assert not torch.equal(before["encoder.weight"], m.encoder.weight)


# -- resume ----------------------------------------------------------------------------------


@pytest.mark.parametrize("log_every,as_dataset", [(1, False), (3, True)])
def test_resumed_run_equals_the_uninterrupted_one(tmp_path, log_every, as_dataset):
    """2N steps straight vs N steps, a crash, and a resume to 2N: same per-step losses, same
    parameters. N = 8 with 6 steps per epoch: the resume starts in the middle of an epoch; with
    log_every=3 it also starts in the middle of a log window."""
    x, y = regression_data(100)
    data = PairDataset(x, y) if as_dataset else (x, y)
    kw = dict(max_steps=16, log_every=log_every, seed=7, weight_decay=0.01, warmup_frac=0.25)

    straight = fresh(seed=0)
    full = cpu_trainer(out_dir=tmp_path / "straight", **kw).fit(straight, data)

    with pytest.raises(Stop):
        cpu_trainer(out_dir=tmp_path / "resumed", checkpoint_every=8, callbacks=[StopAt(8)], **kw).fit(
            fresh(seed=0), data
        )
    assert load_checkpoint(tmp_path / "resumed" / "checkpoint.pt")["step"] == 8
    other = fresh(seed=123)  # different init: everything must come from the checkpoint
    resumed = cpu_trainer(out_dir=tmp_path / "resumed", checkpoint_every=8, **kw).fit(other, data, resume=True)

    assert resumed.steps == full.steps == 16
    assert [h["step"] for h in resumed.history] == [h["step"] for h in full.history]
    torch.testing.assert_close(losses(resumed), losses(full), rtol=1e-7, atol=1e-9)
    for k, v in params(straight).items():
        torch.testing.assert_close(params(other)[k], v, rtol=1e-7, atol=1e-9)
    # the log holds each step once, resumed rows appended after the checkpoint's
    rows = list(csv.DictReader(open(tmp_path / "resumed" / "log.csv")))
    assert [int(r["step"]) for r in rows] == [h["step"] for h in full.history]
    np.testing.assert_allclose([float(r["loss"]) for r in rows], losses(full).numpy(), rtol=1e-7)


class LRTrace:
    """The scheduler's ``get_last_lr()`` and the optimiser's group lrs at the start of ``fit``
    (key: the start step) and after every step (key: steps done), i.e. the lr of the next step."""

    def __init__(self):
        self.at = {}

    def on_fit_start(self, info):
        self.scheduler, self.optimizer = info["scheduler"], info["optimizer"]
        self.record(info["start_step"])

    def on_step_end(self, step):
        self.record(step)

    def record(self, step):
        self.at[step] = (list(self.scheduler.get_last_lr()), [g["lr"] for g in self.optimizer.param_groups])


def test_resumed_scheduler_equals_the_uninterrupted_one_without_private_writes(tmp_path, monkeypatch):
    """After a resume at step 8 the scheduler reports (get_last_lr) and the optimiser uses the
    uninterrupted run's lrs, bit for bit; no code outside torch sets an attribute of the
    scheduler (torch's own load_state_dict / step do)."""
    outside_writes = []

    class Watched(torch.optim.lr_scheduler.LambdaLR):
        def __setattr__(self, name, value):
            module = sys._getframe(1).f_globals.get("__name__", "")
            if not module.startswith("torch"):
                outside_writes.append((module, name))
            super().__setattr__(name, value)

    monkeypatch.setattr(torch.optim.lr_scheduler, "LambdaLR", Watched)
    x, y = regression_data(100)
    kw = dict(max_steps=16, log_every=4, seed=7, warmup_frac=0.25, min_lr_ratio=0.1)
    straight = LRTrace()
    cpu_trainer(callbacks=[straight], **kw).fit(fresh(), (x, y))
    with pytest.raises(Stop):
        cpu_trainer(out_dir=tmp_path, checkpoint_every=8, callbacks=[StopAt(8)], **kw).fit(fresh(), (x, y))
    resumed = LRTrace()
    cpu_trainer(out_dir=tmp_path, checkpoint_every=8, callbacks=[resumed], **kw).fit(fresh(), (x, y), resume=True)

    assert isinstance(resumed.scheduler, Watched) and resumed.scheduler.last_epoch == 16
    assert sorted(resumed.at) == list(range(8, 17))
    assert resumed.at == {s: straight.at[s] for s in range(8, 17)}  # exact floats
    last_lr, group_lr = resumed.at[8]
    assert last_lr == group_lr == [0.02 * warmup_cosine(8, 16, 4, 0.1)] * 2
    assert outside_writes == []


def test_resume_with_a_longer_run_and_another_lr_follows_the_new_curve(tmp_path):
    """A 16-step run stopped at step 8 and resumed with max_steps=24 and lr=0.03: from step 8
    on, the lrs of a straight 24-step run at lr=0.03."""
    x, y = regression_data(100)
    kw = dict(log_every=4, seed=7, warmup_frac=0.25)
    longer = LRTrace()
    reference = cpu_trainer(max_steps=24, lr=0.03, callbacks=[longer], **kw).fit(fresh(), (x, y))
    with pytest.raises(Stop):
        cpu_trainer(max_steps=16, out_dir=tmp_path, checkpoint_every=8, callbacks=[StopAt(8)], **kw).fit(
            fresh(), (x, y)
        )
    resumed = LRTrace()
    result = cpu_trainer(max_steps=24, lr=0.03, out_dir=tmp_path, checkpoint_every=8, callbacks=[resumed], **kw).fit(
        fresh(), (x, y), resume=True
    )
    assert result.steps == 24
    assert resumed.at == {s: longer.at[s] for s in range(8, 25)}
    assert resumed.at[8][0] == [0.03 * warmup_cosine(8, 24, 6)] * 2
    assert [h["lr"] for h in result.history[2:]] == [h["lr"] for h in reference.history[2:]]  # rows after 8


def test_resume_without_a_checkpoint_is_a_clear_error(tmp_path):
    x, y = regression_data(32)
    with pytest.raises(ValueError, match="resume: no checkpoint at .*checkpoint.pt"):
        cpu_trainer(max_steps=2, out_dir=tmp_path).fit(fresh(), (x, y), resume=True)


def test_resume_with_another_batch_size_is_refused(tmp_path):
    x, y = regression_data(64)
    cpu_trainer(max_steps=2, out_dir=tmp_path).fit(fresh(), (x, y))
    with pytest.raises(ValueError, match="batch_size = 16, this run has 8"):
        cpu_trainer(max_steps=4, batch_size=8, out_dir=tmp_path).fit(fresh(), (x, y), resume=True)


def test_resume_of_a_finished_run_changes_nothing(tmp_path):
    x, y = regression_data(64)
    m = fresh()
    first = cpu_trainer(max_steps=4, out_dir=tmp_path, log_every=2).fit(m, (x, y))
    again = cpu_trainer(max_steps=4, out_dir=tmp_path, log_every=2).fit(fresh(seed=9), (x, y), resume=True)
    assert again.history == first.history and again.steps == 4


# -- divergence --------------------------------------------------------------------------------


def test_nan_loss_stops_naming_the_step_and_keeps_the_good_checkpoint(tmp_path):
    x, y = regression_data(64)
    saved = {}

    class Snapshot:
        def on_checkpoint(self, path, step):
            saved[step] = path.read_bytes()

    method = NaNAt(bad_step=8)
    with pytest.raises(TrainingDivergedError, match=r"nan at step 8 \(epoch 1\).*last good checkpoint") as err:
        cpu_trainer(max_steps=20, checkpoint_every=5, log_every=1, out_dir=tmp_path, callbacks=[Snapshot()]).fit(
            method, (x, y)
        )
    assert err.value.step == 8 and isinstance(err.value, RuntimeError)
    assert list(saved) == [5]
    ckpt_file = tmp_path / "checkpoint.pt"
    assert ckpt_file.read_bytes() == saved[5]
    ckpt = load_checkpoint(ckpt_file)
    assert ckpt["step"] == 5 and all(torch.isfinite(v).all() for v in ckpt["method"].values())
    # on the CPU the bad loss is caught before its backward: the weights stay finite
    assert all(torch.isfinite(p).all() for p in method.parameters())


def test_device_flag_path_reports_the_first_bad_step_at_the_next_boundary(tmp_path, monkeypatch):
    """The GPU / DDP path (no per-step sync), exercised on the CPU: the NaN at step 7 is found at
    the log boundary of step 10; the step-10 checkpoint is not written."""
    monkeypatch.setattr(trainer_module, "_check_each_step", lambda device, ctx: False)
    x, y = regression_data(64)
    with pytest.raises(TrainingDivergedError, match=r"at step 7 \(epoch 1\)") as err:
        cpu_trainer(max_steps=20, checkpoint_every=5, log_every=5, out_dir=tmp_path).fit(NaNAt(bad_step=7), (x, y))
    assert err.value.step == 7
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    assert ckpt["step"] == 5 and all(torch.isfinite(v).all() for v in ckpt["method"].values())
    assert [int(r["step"]) for r in csv.DictReader(open(tmp_path / "log.csv"))] == [5]


def test_a_failed_checkpoint_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    x, y = regression_data(64)
    real_save = torch.save
    calls = []

    def flaky_save(obj, fh, *a, **k):
        calls.append(obj["step"])
        if len(calls) == 2:
            fh.write(b"partial")
            raise OSError("disk full")
        return real_save(obj, fh, *a, **k)

    monkeypatch.setattr(torch, "save", flaky_save)
    with pytest.raises(OSError, match="disk full"):
        cpu_trainer(max_steps=12, checkpoint_every=4, out_dir=tmp_path).fit(fresh(), (x, y))
    monkeypatch.setattr(torch, "save", real_save)
    assert calls == [4, 8]
    assert load_checkpoint(tmp_path / "checkpoint.pt")["step"] == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt", "log.csv"]


# -- precision -----------------------------------------------------------------------------------


def test_fp16_on_the_cpu_is_rejected_with_advice():
    with pytest.raises(ValueError, match="fp16.*CUDA.*use precision='bf16' or 'fp32'"):
        Trainer(device="cpu", precision="fp16")
    with pytest.raises(ValueError, match="precision='fp8'; accepted: fp32, bf16, fp16"):
        Trainer(device="cpu", precision="fp8")


def test_bf16_on_the_cpu_trains():
    x, y = regression_data(128)
    dtypes = []

    class Probe(LinearRegression):
        def training_step(self, batch):
            dtypes.append(self.encoder(batch[0]).dtype)
            return super().training_step(batch)

    method = fresh(Probe)
    result = cpu_trainer(epochs=10, lr=0.3, precision="bf16", log_every=8).fit(method, (x, y))
    assert all(p.dtype == torch.float32 for p in method.parameters())  # master weights stay float32
    assert dtypes[0] == torch.bfloat16  # autocast is on
    assert result.final_loss < 0.01 * result.history[0]["loss"]
    fp32 = cpu_trainer(epochs=10, lr=0.3, log_every=8).fit(fresh(LinearRegression), (x, y))
    assert result.final_loss == pytest.approx(fp32.final_loss, rel=0.5, abs=0.01)


# -- data forms ----------------------------------------------------------------------------------


def test_windowset_input_gives_x_y_batches():
    rng = np.random.default_rng(0)
    n, t, c = 64, 6, 3
    X = rng.normal(size=(n, t, c)).astype(np.float32)
    yv = (X[:, -1, 0] > 0).astype(np.int64)
    ws = WindowSet(
        X=X,
        y=yv,
        end_date=np.arange(n).astype("datetime64[D]").astype("datetime64[ns]"),
        ticker=np.array(["AAA", "BBB"] * (n // 2)),
        feature_names=["r", "h", "l"],
    )
    seen = []

    class Classifier(Method):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(t * c, 1))

        def training_step(self, batch):
            seen.append(tuple((b.dtype, tuple(b.shape)) for b in batch))
            xb, yb = batch
            return nn.functional.binary_cross_entropy_with_logits(self.encoder(xb).squeeze(-1), yb.float())

    result = cpu_trainer(epochs=20, lr=0.05, log_every=4).fit(fresh(Classifier), ws)
    assert seen[0] == ((torch.float32, (16, t, c)), (torch.int64, (16,)))
    assert result.final_loss < 0.6 * result.history[0]["loss"]


def test_dataset_input_trains_on_the_same_batches_as_tensors():
    x, y = regression_data(50)
    a, b = fresh(Recorder), fresh(Recorder)
    ra = cpu_trainer(max_steps=7, log_every=1).fit(a, (x, y))
    rb = cpu_trainer(max_steps=7, log_every=1).fit(b, PairDataset(x, y))
    assert len(a.batches) == len(b.batches) == 7
    for u, v in zip(a.batches, b.batches):
        assert all(torch.equal(s, t) for s, t in zip(u, v))
    assert torch.equal(losses(ra), losses(rb))


def test_single_tensor_input_is_a_one_tuple():
    seen = []

    class Mean(LinearRegression):
        def training_step(self, batch):
            seen.append(len(batch))
            return (self.encoder(batch[0]) ** 2).mean()

    cpu_trainer(max_steps=2).fit(fresh(Mean), torch.randn(40, 4))
    assert seen == [1, 1]


# -- logs and progress ------------------------------------------------------------------------------


def test_log_csv_has_a_row_per_log_step(tmp_path):
    x, y = regression_data(64)
    result = cpu_trainer(max_steps=10, log_every=4, out_dir=tmp_path).fit(fresh(), (x, y))
    with open(tmp_path / "log.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["step", "epoch", "loss", "lr", "samples_per_s", "elapsed_s"]
    assert [int(r["step"]) for r in rows] == [4, 8, 10]  # and the last step
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    for r, h in zip(rows, result.history):
        assert float(r["loss"]) == h["loss"] and float(r["lr"]) == h["lr"]  # exact round trip
        assert float(r["samples_per_s"]) > 0
    assert float(rows[-1]["elapsed_s"]) >= float(rows[0]["elapsed_s"])
    assert result.checkpoint_path == tmp_path / "checkpoint.pt" and result.checkpoint_path.is_file()


def test_history_loss_is_the_mean_since_the_last_log():
    x, y = regression_data(64)
    every = cpu_trainer(max_steps=8, log_every=1, seed=2).fit(fresh(), (x, y))
    fours = cpu_trainer(max_steps=8, log_every=4, seed=2).fit(fresh(), (x, y))
    per_step = losses(every)
    torch.testing.assert_close(losses(fours), torch.stack([per_step[:4].mean(), per_step[4:].mean()]))


def test_tensorboard_scalars_when_installed(tmp_path, monkeypatch):
    """With ``tensorboard`` importable the Trainer writes train/loss, train/lr and
    train/samples_per_s at each log step (a recording stand-in for SummaryWriter here)."""
    import types

    from tsssl.train import callbacks

    written, opened = [], []

    class FakeWriter:
        def __init__(self, log_dir, purge_step=None):
            opened.append((log_dir, purge_step))

        def add_scalar(self, tag, value, step):
            written.append((tag, value, step))

        def close(self):
            opened.append("closed")

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", types.SimpleNamespace(SummaryWriter=FakeWriter))
    monkeypatch.setattr(trainer_module, "tensorboard_available", lambda: True)
    x, y = regression_data(64)
    result = cpu_trainer(max_steps=4, log_every=2, out_dir=tmp_path).fit(fresh(), (x, y))
    assert opened == [(str(tmp_path / "tb"), None), "closed"]
    assert [(t, s) for t, _, s in written] == [
        (f"train/{k}", s) for s in (2, 4) for k in ("loss", "lr", "samples_per_s")
    ]
    assert [v for t, v, _ in written if t == "train/loss"] == [h["loss"] for h in result.history]
    assert callbacks.tensorboard_available() == (importlib.util.find_spec("tensorboard") is not None)


def test_progress_only_on_a_terminal(capsys):
    class FakeTTY(io.StringIO):
        def isatty(self):
            return True

    assert progress_enabled(None, io.StringIO()) is False
    assert progress_enabled(None, FakeTTY()) is True
    assert progress_enabled(True, io.StringIO()) is True and progress_enabled(False, FakeTTY()) is False
    x, y = regression_data(32)
    Trainer(max_steps=3, batch_size=16, device="cpu").fit(fresh(), (x, y))  # progress=None, stderr not a TTY
    assert capsys.readouterr().err == ""
    Trainer(max_steps=3, batch_size=16, device="cpu", progress=True).fit(fresh(), (x, y))
    assert "train" in capsys.readouterr().err


# -- arguments ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"epochs": 0}, "epochs must be a positive int"),
        ({"max_steps": 2.5}, "max_steps must be a positive int"),
        ({"batch_size": 0}, "batch_size"),
        ({"lr": 0}, "lr must be a number > 0"),
        ({"warmup_frac": 1.0}, r"warmup_frac must be a number in \[0, 1\)"),
        ({"grad_clip": -1.0}, "grad_clip"),
        ({"device": "tpu9"}, "device='tpu9'"),
        ({"checkpoint_every": 5}, "checkpoint_every needs out_dir"),
        ({"on_device": "yes"}, "on_device"),
    ],
)
def test_bad_arguments_are_named(kw, match):
    with pytest.raises(ValueError, match=match):
        Trainer(**{"device": "cpu", **kw})


def test_replace_reruns_the_checks_and_keeps_the_other_settings(tmp_path):
    cb = object()
    t = Trainer(
        epochs=3,
        max_steps=40,
        batch_size=32,
        lr=0.01,
        weight_decay=0.0,
        warmup_frac=0.1,
        min_lr_ratio=0.2,
        grad_clip=None,
        device="cpu",
        precision="bf16",
        seed=5,
        out_dir=tmp_path,
        checkpoint_every=10,
        log_every=7,
        progress=False,
        compile=True,
        drop_last=False,
        on_device=False,
        callbacks=[cb],
    )
    before = dict(vars(t))
    r = t.replace(batch_size=8, log_every=2)
    assert type(r) is Trainer and r is not t
    assert (r.batch_size, r.log_every) == (8, 2)
    names = [n for n in inspect.signature(Trainer.__init__).parameters if n != "self"]
    for name in names:
        if name not in ("batch_size", "log_every"):
            assert getattr(r, name) == getattr(t, name), name
    assert r.callbacks == [cb] and r.callbacks is not t.callbacks
    assert vars(t) == before and t.batch_size == 32 and t.log_every == 7  # the original is untouched
    assert t.replace().config() == t.config()

    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        t.replace(batch_size=0)
    with pytest.raises(ValueError, match="checkpoint_every needs out_dir"):
        t.replace(out_dir=None)  # checks across settings run again too
    with pytest.raises(ValueError, match="fp16.*CUDA"):
        t.replace(precision="fp16")
    with pytest.raises(TypeError):
        t.replace(batchsize=8)
    assert vars(t) == before


@pytest.mark.parametrize(
    "epochs,max_steps,spe,expected",
    [
        (None, None, 4, 4),  # neither: one epoch
        (2, None, 4, 8),
        (None, 6, 4, 6),
        (3, 5, 4, 5),  # max_steps caps epochs
        (1, 10, 4, 4),  # epochs come first
    ],
)
def test_total_steps_function_and_method_agree(epochs, max_steps, spe, expected):
    assert total_steps(epochs, max_steps, spe) == expected
    assert Trainer(epochs=epochs, max_steps=max_steps, device="cpu").total_steps(spe) == expected


def test_auto_device_is_cuda_when_available():
    assert Trainer().device.type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_not_a_method_or_not_a_scalar_loss():
    with pytest.raises(ValueError, match="training_step"):
        cpu_trainer(max_steps=1).fit(nn.Linear(2, 2), torch.zeros(16, 2))

    class Vector(LinearRegression):
        def training_step(self, batch):
            return self.encoder(batch[0]).squeeze(-1)

    with pytest.raises(ValueError, match="scalar loss"):
        cpu_trainer(max_steps=1).fit(fresh(Vector), (torch.zeros(16, 4),))


def test_batch_larger_than_the_data_is_a_clear_error():
    with pytest.raises(ValueError, match="batch_size=16 is larger than the 8 training samples"):
        cpu_trainer(max_steps=1).fit(fresh(), regression_data(8))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_cuda_mixed_precision_trains_with_resident_data(precision, tmp_path):
    x, y = regression_data(1024)
    result = Trainer(
        epochs=20,
        batch_size=128,
        lr=0.05,
        device="cuda",
        precision=precision,
        progress=False,
        out_dir=tmp_path,
        log_every=10,
    ).fit(fresh(LinearRegression), (x, y))
    assert result.device.startswith("cuda")
    assert result.final_loss < 0.05 * result.history[0]["loss"]
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    assert (ckpt["scaler"] is not None) == (precision == "fp16")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_compiled_step_matches_eager():
    x, y = regression_data(1024)
    runs = [
        Trainer(max_steps=20, batch_size=128, lr=0.05, device="cuda", progress=False, log_every=1, compile=c).fit(
            fresh(LinearRegression), (x, y)
        )
        for c in (False, True)
    ]
    torch.testing.assert_close(losses(runs[1]), losses(runs[0]), rtol=1e-4, atol=1e-5)
