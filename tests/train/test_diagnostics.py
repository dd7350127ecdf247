"""Representation diagnostics: alignment / uniformity / effective rank against naive loops and on
constructed cases, the collapse test, and the Trainer callback (log rows, log.csv, warnings on a
collapsing toy method, eval mode, resume, and a run that stays bit for bit the same)."""

import csv
import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from _train_toys import regression_data  # noqa: E402

from tsssl.methods.base import Method  # noqa: E402
from tsssl.train import Trainer  # noqa: E402
from tsssl.train.callbacks import LOG_COLUMNS  # noqa: E402
from tsssl.train.diagnostics import (  # noqa: E402
    CollapseWarning,
    Diagnostics,
    alignment,
    collapsed,
    describe,
    effective_rank,
    uniformity,
)


def gaussian(n, d, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


# -- naive references -----------------------------------------------------------------------------


def unit(row):
    norm = math.sqrt(sum(v * v for v in row))
    return [v / norm for v in row]


def naive_alignment(z1, z2, alpha):
    total = 0.0
    for a, b in zip(z1.tolist(), z2.tolist()):
        a, b = unit(a), unit(b)
        total += math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b))) ** alpha
    return total / len(z1)


def naive_uniformity(z, t):
    rows = [unit(r) for r in z.tolist()]
    terms = []
    for i in range(len(rows)):
        for j in range(i + 1, len(rows)):
            terms.append(math.exp(-t * sum((x - y) ** 2 for x, y in zip(rows[i], rows[j]))))
    return math.log(sum(terms) / len(terms))


def naive_effective_rank(z):
    z = np.asarray(z, dtype=np.float64)
    s = np.linalg.svd(z - z.mean(axis=0), compute_uv=False)
    p = s / s.sum()
    return math.exp(-sum(pk * math.log(pk) for pk in p if pk > 0))


@pytest.mark.parametrize("alpha", [1.0, 2.0, 3.0])
def test_alignment_matches_a_loop_over_the_pairs(alpha):
    z1, z2 = gaussian(9, 5, 0) * 3.0, gaussian(9, 5, 1)
    assert alignment(z1, z2, alpha=alpha) == pytest.approx(naive_alignment(z1, z2, alpha), rel=1e-5)


@pytest.mark.parametrize("t", [0.5, 2.0, 5.0])
def test_uniformity_matches_a_double_loop_over_all_pairs(t):
    z = gaussian(11, 4, 2) + 0.5
    assert uniformity(z, t=t) == pytest.approx(naive_uniformity(z, t), rel=1e-5, abs=1e-6)


def test_effective_rank_matches_the_singular_value_entropy():
    z = gaussian(40, 6, 3) @ torch.diag(torch.tensor([5.0, 3.0, 1.0, 0.5, 0.1, 0.01])) + 7.0
    assert effective_rank(z) == pytest.approx(naive_effective_rank(z.numpy()), rel=1e-4)


# -- constructed cases ----------------------------------------------------------------------------


def test_identical_embeddings_are_one_point_and_collapsed():
    z = gaussian(1, 16, 4).expand(64, 16) * 3.0
    assert effective_rank(z) == 0.0  # not the rank of the rounding noise of centring
    assert uniformity(z) == pytest.approx(0.0, abs=1e-6)
    assert collapsed(z)
    assert collapsed(torch.zeros(10, 8))


def test_isotropic_gaussian_has_an_effective_rank_near_its_dimension():
    d = 16
    z = gaussian(4096, d, 5)
    assert 0.95 * d < effective_rank(z) <= d
    assert not collapsed(z)
    # spread evenly over a sphere of many dimensions: squared distances concentrate near 2
    assert -4.0 < uniformity(z) < -3.0


def test_k_equal_orthogonal_directions_give_effective_rank_k():
    for k in (1, 2, 5):
        eye = torch.eye(8)[:k]
        z = torch.cat([eye, -eye]) + 2.0  # +-e_i about an offset: k equal singular values
        assert effective_rank(z) == pytest.approx(k, rel=1e-5)
    assert collapsed(torch.cat([torch.eye(8)[:1], -torch.eye(8)[:1]]))  # rank 1 in 8 dimensions


def test_one_direction_collapses_only_with_enough_dimensions():
    line = gaussian(200, 1, 6) * torch.tensor([[1.0, 2.0, 0.5, -1.0]]) + 1.0  # (200, 4), rank 1
    assert effective_rank(line) == pytest.approx(1.0, abs=1e-3) and collapsed(line)
    flat = gaussian(200, 1, 6) * torch.tensor([[1.0, 2.0]])  # (200, 2): rank 1 of 2 is no collapse
    assert not collapsed(flat)
    # nearly one point: spread a millionth of the norm
    assert collapsed(torch.ones(50, 8) + 1e-6 * gaussian(50, 8, 7))


def test_alignment_of_identical_views_is_zero_and_of_opposite_views_two_to_alpha():
    z = gaussian(32, 8, 8)
    assert alignment(z, z.clone()) == 0.0
    assert alignment(z, 5.0 * z) == pytest.approx(0.0, abs=1e-6)  # of the normalised rows
    assert alignment(z, -z) == pytest.approx(4.0, rel=1e-6)
    assert alignment(z, -z, alpha=1) == pytest.approx(2.0, rel=1e-6)


def test_two_antipodal_points_have_uniformity_minus_two_t_times_four():
    z = torch.tensor([[1.0, 0.0], [-3.0, 0.0]])
    assert uniformity(z, t=2) == pytest.approx(-8.0)


def test_inputs_are_computed_in_float32_and_shapes_are_checked():
    z = gaussian(20, 5, 9)
    assert effective_rank(z.double()) == pytest.approx(effective_rank(z), rel=1e-6)
    assert isinstance(uniformity(z.half()), float)
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        effective_rank(torch.zeros(3, 4, 5))
    with pytest.raises(ValueError, match="same non-empty"):
        alignment(torch.zeros(3, 4), torch.zeros(4, 4))
    with pytest.raises(ValueError, match="at least 2"):
        uniformity(torch.zeros(1, 4))
    bad = z.clone()
    bad[0, 0] = float("nan")
    assert math.isnan(effective_rank(bad)) and not collapsed(bad)


def test_describe_writes_the_summary_line():
    d = {"alignment": 0.4123, "uniformity": -3.104, "effective_rank": 17.24, "dim": 32, "collapsed": False}
    assert describe(d) == "alignment 0.412, uniformity -3.10, effective rank 17.2 of 32"
    assert describe({**d, "alignment": None, "collapsed": True}).startswith("alignment n/a")
    assert describe({**d, "collapsed": True}).endswith(", COLLAPSED")
    assert describe(None) == "no diagnostics"


# -- the callback ---------------------------------------------------------------------------------


def noisy_views(x):
    """Two views drawing from torch's global RNG (as the real augmentations do)."""
    return x + 0.3 * torch.randn_like(x), x * (1 + 0.1 * torch.randn(x.shape[0], 1))


class TwoViewToy(Method):
    """A two-view method with dropout and batch norm: its step draws from the global RNG."""

    def __init__(self, d_in=4, dim=8):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(d_in, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2))
        self.encoder.append(nn.Linear(16, dim))
        self.views = noisy_views

    def training_step(self, batch):
        v1, v2 = self.views(batch[0])
        z1, z2 = self.encoder(v1), self.encoder(v2)
        return ((z1 - z2) ** 2).mean() - 0.1 * torch.cat([z1, z2]).std(dim=0).mean()


class Collapsing(Method):
    """Regression on the first embedding dimension with an L2 penalty on the other seven: the
    representation (8 dimensions) is driven to one direction, a deliberate dimensional collapse."""

    def __init__(self, d_in=4, dim=8):
        super().__init__()
        self.encoder = nn.Linear(d_in, dim)

    def training_step(self, batch):
        x, y = batch
        z = self.encoder(x)
        return ((z[:, 0] - y) ** 2).mean() + 10.0 * (z[:, 1:] ** 2).mean()


def trainer(**kw):
    return Trainer(**{"device": "cpu", "progress": False, "lr": 0.02, "batch_size": 16, "seed": 0, **kw})


def fresh(cls, seed=0):
    torch.manual_seed(seed)
    return cls()


def test_a_run_with_the_callback_equals_one_without_bit_for_bit():
    x, y = regression_data(96, seed=1)
    plain = fresh(TwoViewToy)
    base = trainer(max_steps=24, log_every=4).fit(plain, (x, y))
    state = torch.get_rng_state()
    noisy_views(x)  # the views do draw from the global RNG: the callback has to put it back
    assert not torch.equal(state, torch.get_rng_state())
    diag = Diagnostics(every=3, windows=x[:40])
    watched = fresh(TwoViewToy)
    run = trainer(max_steps=24, log_every=4, callbacks=[diag]).fit(watched, (x, y))
    assert [e["step"] for e in diag.history] == list(range(3, 25, 3))  # it did measure, with views
    assert all(e["alignment"] > 0 for e in diag.history)
    assert [r["loss"] for r in run.history] == [r["loss"] for r in base.history]
    for (name, a), b in zip(plain.state_dict().items(), watched.state_dict().values()):
        assert torch.equal(a, b), name
    assert watched.training and all(m.training for m in watched.modules())


def test_the_callback_logs_rows_and_csv_and_warns_once_on_a_collapsing_method(tmp_path):
    x, y = regression_data(128, seed=2)
    diag = Diagnostics(every=5, windows=x[:64])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = trainer(max_steps=62, log_every=10, lr=0.05, out_dir=tmp_path, callbacks=[diag]).fit(
            fresh(Collapsing), (x, y)
        )
    hist = diag.history
    assert [e["step"] for e in hist] == [*range(5, 61, 5), 62]  # every 5 steps and the last
    assert not hist[0]["collapsed"] and hist[0]["effective_rank"] > 2.0
    assert hist[-1]["collapsed"] and hist[-1]["effective_rank"] < 1.5
    assert all(e["alignment"] is None for e in hist)  # no views: no alignment
    ours = [w for w in caught if issubclass(w.category, CollapseWarning)]
    first = next(e["step"] for e in hist if e["collapsed"])
    assert len(ours) == 1 and f"at step {first}:" in str(ours[0].message)
    # the log rows carry the latest measurement since the previous row
    rows = {r["step"]: r for r in result.history}
    assert rows[10]["diag_step"] == 10 and rows[62]["diag_step"] == 62
    assert rows[62]["effective_rank"] == hist[-1]["effective_rank"]
    with open(tmp_path / "log.csv") as fh:
        lines = list(csv.reader(fh))
    assert tuple(lines[0]) == LOG_COLUMNS + Diagnostics.log_columns
    assert all(len(line) == len(lines[0]) for line in lines)
    last = dict(zip(lines[0], lines[-1]))
    assert float(last["effective_rank"]) == hist[-1]["effective_rank"] and last["collapsed"] == "True"
    assert last["alignment"] == ""
    summary = diag.summary()
    assert summary["dim"] == 8 and summary["n_probe"] == 64 and summary["step"] == 62
    assert [e["step"] for e in summary["history"]] == [e["step"] for e in hist]


class Switch(nn.Module):
    """An encoder whose output is spread (full rank) or one point, as its ``spread`` says."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 8)
        self.spread = True

    def forward(self, x):
        z = self.lin(x)
        return z if self.spread else torch.ones_like(z)


def test_one_warning_per_collapse_episode_naming_its_step():
    method = Method()
    method.encoder = Switch()
    diag = Diagnostics(every=1, windows=regression_data(32)[0])
    diag.on_fit_start({"method": method, "total_steps": 10, "history": []})
    pattern = {1: True, 2: False, 3: False, 4: True, 5: False, 6: True}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for step, spread in pattern.items():
            method.encoder.spread = spread
            diag.on_step_end(step)
    assert [e["collapsed"] for e in diag.history] == [not s for s in pattern.values()]
    messages = [str(w.message) for w in caught if issubclass(w.category, CollapseWarning)]
    assert len(messages) == 2 and "at step 2:" in messages[0] and "at step 5:" in messages[1]


class ModeRecorder(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin, self.seen = nn.Linear(4, 6), []

    def forward(self, x):
        self.seen.append(self.training)
        return self.lin(x)


def test_the_encoder_is_embedded_in_eval_mode_and_every_module_mode_is_restored():
    method = Method()
    method.encoder = nn.Sequential(ModeRecorder(), nn.BatchNorm1d(6), nn.Dropout(0.5))
    method.train()
    method.encoder[1].eval()  # a frozen part: kept in eval mode
    before = method.encoder[1].running_mean.clone()
    diag = Diagnostics(every=1, windows=regression_data(20)[0], chunk=8)
    diag.on_fit_start({"method": method, "total_steps": 1, "history": []})
    entry = diag.measure(1)
    assert method.encoder[0].seen == [False, False, False]  # 20 windows in chunks of 8, in eval mode
    assert method.encoder[0].training and method.encoder[2].training and not method.encoder[1].training
    assert torch.equal(method.encoder[1].running_mean, before)  # no batch-norm statistics updated
    assert entry["effective_rank"] > 1 and not entry["collapsed"]


def test_a_resumed_run_continues_the_history_and_the_log_columns(tmp_path):
    x, y = regression_data(64, seed=3)
    first = Diagnostics(every=3, windows=x[:32])
    trainer(max_steps=6, log_every=3, out_dir=tmp_path, callbacks=[first]).fit(fresh(TwoViewToy), (x, y))
    second = Diagnostics(every=3, windows=x[:32])
    trainer(max_steps=12, log_every=3, out_dir=tmp_path, callbacks=[second]).fit(fresh(TwoViewToy), (x, y), resume=True)
    assert [e["step"] for e in second.history] == [3, 6, 9, 12]
    assert second.history[:2] == first.history
    with open(tmp_path / "log.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["diag_step"]) for r in rows] == [3, 6, 9, 12]


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="every"):
        Diagnostics(every=0, windows=torch.zeros(4, 2))
    with pytest.raises(ValueError, match="probe batch"):
        Diagnostics(every=5, windows=None)
    with pytest.raises(RuntimeError, match="before on_fit_start"):
        Diagnostics(every=5, windows=torch.zeros(4, 2)).measure(1)
