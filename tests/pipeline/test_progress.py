"""The progress bar of `tsssl report`: the time-left estimate (a pure function, and the bar under a
fake clock, where cells read back on --resume do not count), quiet off a terminal unless forced."""

import io
from types import SimpleNamespace

import pytest

from tsssl.pipeline.progress import CellProgress, eta_seconds, format_duration

CELL = SimpleNamespace(method="lstm", features="ohlcv", rebalance="v1", seed=0)


def test_eta_is_the_mean_run_time_times_the_runs_left():
    assert eta_seconds(30.0, 3, 5) == pytest.approx(50.0)
    assert eta_seconds(0.0, 0, 4) is None  # nothing trained yet: no estimate
    assert eta_seconds(12.0, 4, 0) == 0.0
    assert [format_duration(s) for s in (None, 9.6, 65, 3725)] == ["?", "10s", "1m05s", "1h02m"]


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_cached_runs_do_not_count_towards_the_estimate():
    clock = FakeClock()
    bar = CellProgress(enabled=False, clock=clock)
    clock.now += 40.0  # reading the data: not a run
    bar.plan(6)
    bar.update(CELL, cached=True)  # two cells read back from cells/, instantly
    bar.update(CELL, cached=True)
    assert bar.eta() is None
    clock.now += 10.0
    bar.update(CELL)
    clock.now += 20.0
    bar.update(CELL)
    assert bar.eta() == pytest.approx(15.0 * 2)  # 2 runs left at 15 s a trained run
    assert bar.eta_text() == "30s"
    bar.close()


def test_quiet_off_a_terminal_unless_forced():
    quiet, forced = io.StringIO(), io.StringIO()
    for file, enabled in ((quiet, None), (forced, True)):
        bar = CellProgress(enabled=enabled, clock=FakeClock(), file=file)
        bar.plan(2)
        bar.update(CELL)
        bar.close()
    assert quiet.getvalue() == ""
    assert "1/2 runs" in forced.getvalue() and "left" in forced.getvalue()
