"""Learning-rate warm-up + cosine and BYOL's momentum schedule, as pure functions."""

import math

import pytest

from tsssl.train.schedule import WarmupCosine, ema_momentum, warmup_cosine, warmup_steps


def test_warmup_steps_rounds_and_is_at_least_one():
    assert warmup_steps(100, 0.05) == 5
    assert warmup_steps(10, 0.01) == 1  # a positive fraction always warms up
    assert warmup_steps(100, 0.0) == 0


def test_warmup_is_linear_to_the_peak():
    total, warm = 100, 10
    f = [warmup_cosine(s, total, warm) for s in range(warm)]
    assert f == pytest.approx([(s + 1) / warm for s in range(warm)])
    assert f[-1] == 1.0
    assert warmup_cosine(warm, total, warm) == pytest.approx(1.0)  # cosine starts at the peak


def test_cosine_decays_monotonically_to_min_ratio_at_the_end():
    total, warm, floor = 100, 10, 0.1
    f = [warmup_cosine(s, total, warm, floor) for s in range(warm, total + 1)]
    assert all(a >= b for a, b in zip(f, f[1:]))
    assert f[-1] == pytest.approx(floor)  # at step == total
    assert max(f) == pytest.approx(1.0)
    # half-way through the cosine: the mean of peak and floor
    mid = warm + (total - warm) // 2
    assert warmup_cosine(mid, total, warm, floor) == pytest.approx(floor + (1 - floor) / 2)
    # last trained step (total - 1) still learns
    assert warmup_cosine(total - 1, total, warm, floor) > floor


def test_written_out_cosine_formula():
    total, warm, floor = 50, 5, 0.2
    for s in (5, 17, 33, 49):
        expected = floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * (s - warm) / (total - warm)))
        assert warmup_cosine(s, total, warm, floor) == pytest.approx(expected)


def test_no_warmup_starts_at_peak():
    assert warmup_cosine(0, 10, 0) == 1.0


def test_warmup_cosine_object_is_the_function():
    sched = WarmupCosine(40, 4, 0.05)
    assert [sched(s) for s in range(41)] == [warmup_cosine(s, 40, 4, 0.05) for s in range(41)]


def test_ema_momentum_rises_from_base_to_one():
    base, total = 0.99, 100
    m = [ema_momentum(s, total, base) for s in range(total + 1)]
    assert m[0] == pytest.approx(base)
    assert m[-1] == pytest.approx(1.0)
    assert all(a <= b for a, b in zip(m, m[1:]))
    assert m[50] == pytest.approx(1 - (1 - base) * 0.5)
