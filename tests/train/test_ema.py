"""Momentum (EMA) target updates: the update rule against a hand computation, and the
Trainer applying BYOL's schedule after every optimiser step."""

import copy
import signal
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from _train_toys import MomentumRegression, regression_data  # noqa: E402

from tsssl.train import Trainer, TrainingInterrupted  # noqa: E402
from tsssl.train.ema import MomentumUpdater  # noqa: E402
from tsssl.train.schedule import ema_momentum  # noqa: E402


def test_update_is_m_target_plus_one_minus_m_online_and_copies_buffers():
    torch.manual_seed(0)
    online = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    target = copy.deepcopy(online)
    with torch.no_grad():
        for p in online.parameters():
            p.add_(torch.randn_like(p))
    online(torch.randn(8, 3))  # moves the online BatchNorm statistics
    before = {k: v.clone() for k, v in target.state_dict().items()}
    MomentumUpdater([(online, target)]).update(0.75)
    for name, p in online.named_parameters():
        expected = 0.75 * before[name] + 0.25 * p.detach()
        torch.testing.assert_close(dict(target.named_parameters())[name].detach(), expected)
    for name, b in online.named_buffers():
        assert torch.equal(dict(target.named_buffers())[name], b)  # copied, incl. num_batches_tracked
    assert all(not p.requires_grad for p in target.parameters())


def test_mismatched_pair_is_rejected():
    with pytest.raises(ValueError, match="momentum_pairs"):
        MomentumUpdater([(nn.Linear(3, 2), nn.Linear(3, 4))])


def test_trainer_applies_the_cosine_momentum_after_each_step():
    x, y = regression_data(64)
    torch.manual_seed(0)
    method = MomentumRegression()
    target0 = {k: v.detach().clone() for k, v in method.target.named_parameters()}
    online_after_step = []

    class Track:
        def on_step_end(self, step):
            online_after_step.append({k: v.detach().clone() for k, v in method.encoder.named_parameters()})

    steps = 7
    Trainer(max_steps=steps, batch_size=16, lr=0.05, device="cpu", progress=False, callbacks=[Track()]).fit(
        method, (x, y)
    )
    expected = target0
    for s in range(steps):
        m = ema_momentum(s, steps, MomentumRegression.base_momentum)
        expected = {k: m * expected[k] + (1 - m) * online_after_step[s][k] for k in expected}
    for k, v in method.target.named_parameters():
        torch.testing.assert_close(v.detach(), expected[k], rtol=1e-6, atol=1e-7)
        assert v.grad is None and not v.requires_grad
    # the target moved, but less than the online encoder
    moved = sum((v.detach() - target0[k]).abs().sum() for k, v in method.target.named_parameters())
    assert moved > 0
    assert torch.equal(method.target[1].running_mean, method.encoder[1].running_mean)


def test_average_schedule_makes_the_target_the_mean_of_the_iterates_and_resumes_exactly(tmp_path):
    """momentum_schedule = "average": after n steps the target is the plain mean of the online
    weights after steps 1..n; a run stopped at step 3 and resumed equals the 6-step run."""
    x, y = regression_data(64)

    def run(steps, out=None, resume=None, track=None):
        torch.manual_seed(0)
        method = MomentumRegression()
        method.momentum_schedule = "average"
        trainer = Trainer(
            max_steps=steps,
            batch_size=16,
            lr=0.05,
            device="cpu",
            progress=False,
            seed=0,
            out_dir=out,
            callbacks=[track(method)] if track else [],
        )
        trainer.fit(method, (x, y), resume=resume)
        return method

    iterates = []

    def track(method):
        class Track:
            def on_step_end(self, step):
                iterates.append({k: v.detach().clone() for k, v in method.encoder.named_parameters()})

        return Track()

    full = run(6, track=track)
    for k, v in full.target.named_parameters():
        torch.testing.assert_close(v.detach(), torch.stack([it[k] for it in iterates]).mean(0), rtol=1e-6, atol=1e-7)

    def stop_at_3(method):
        class Stop:
            def on_step_end(self, step):
                if step == 3:
                    signal.raise_signal(signal.SIGINT)  # the Trainer checkpoints step 3 and raises

        return Stop()

    with pytest.raises(TrainingInterrupted):
        run(6, out=tmp_path, track=stop_at_3)
    resumed = run(6, out=tmp_path, resume=True)
    for (k, a), b in zip(full.target.named_parameters(), resumed.target.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=k)


def test_unknown_momentum_schedule_is_refused():
    x, y = regression_data(32)
    method = MomentumRegression()
    method.momentum_schedule = "linear"
    with pytest.raises(ValueError, match="momentum_schedule must be one of cosine, average, got 'linear'"):
        Trainer(max_steps=1, batch_size=16, device="cpu", progress=False).fit(method, (x, y))
