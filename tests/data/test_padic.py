"""P-adic digits, valuation, distance and features against hand-computed examples."""

import numpy as np
import pytest

from tsssl.data import (
    padic_digits,
    padic_distance,
    padic_feature_names,
    padic_features,
    padic_to_int,
    padic_valuation,
    reference_patterns,
)


def test_digits_p3_with_inclusive_dead_band():
    r = np.array([-0.02, -0.01, 0.0, 0.005, 0.01, 0.0101, np.nan])
    np.testing.assert_array_equal(padic_digits(r, p=3, deadband=0.01), [0, 1, 1, 1, 1, 2, -1])


def test_digits_p5_and_p2():
    r = np.array([-0.05, -0.015, 0.0, 0.015, 0.025, 0.5])
    # offsets from flat (2): -2 (capped), -1, 0, +1, +2, +2 (capped)
    np.testing.assert_array_equal(padic_digits(r, p=5, deadband=0.01), [0, 1, 2, 3, 4, 4])
    np.testing.assert_array_equal(padic_digits(np.array([0.02, 0.005, -0.02]), p=2, deadband=0.01), [1, 0, 0])
    assert padic_digits(np.zeros((2, 3)), p=3).shape == (2, 3)


@pytest.mark.parametrize("p", [1, 4, 9, 2.0])
def test_p_must_be_prime(p):
    with pytest.raises(ValueError, match="p must be a prime"):
        padic_digits(np.zeros(3), p=p)


def test_deadband_must_be_positive():
    with pytest.raises(ValueError, match="deadband"):
        padic_digits(np.zeros(3), p=3, deadband=0.0)


def test_valuation_counts_agreeing_most_recent_days():
    b = np.array([1, 1, 2, 2])
    assert padic_valuation(np.array([0, 1, 2, 2]), b) == 3
    assert padic_valuation(b, b) == 4
    assert padic_valuation(np.array([1, 1, 2, 0]), b) == 0
    assert padic_valuation(np.array([2, 1, 0, 2]), b) == 1
    # a missing digit agrees with nothing, itself included
    assert padic_valuation(np.array([-1, -1]), np.array([-1, -1])) == 0
    np.testing.assert_array_equal(padic_valuation(np.array([[0, 1, 2, 2], [0, 0, 0, 0]]), b), [3, 0])


def test_valuation_is_the_p_adic_valuation_of_the_integer_difference():
    rng = np.random.default_rng(0)
    for p in (2, 3, 5):
        a = rng.integers(0, p, size=(200, 6))
        b = a.copy()
        change = rng.random(a.shape) < 0.3
        b[change] = rng.integers(0, p, size=change.sum())
        v = padic_valuation(a, b)
        ia, ib = padic_to_int(a, p), padic_to_int(b, p)
        for k in range(200):
            diff, naive = int(ia[k] - ib[k]), 0
            if diff == 0:
                naive = 6
            else:
                while diff % p == 0:
                    diff //= p
                    naive += 1
            assert v[k] == naive


def test_padic_to_int_reads_the_last_day_as_the_lowest_digit():
    assert padic_to_int(np.array([2, 0, 1]), p=3) == 1 + 0 * 3 + 2 * 9


def test_distance_is_p_to_minus_v_and_zero_for_equal_windows():
    b = np.array([1, 1, 2, 2])
    assert padic_distance(np.array([0, 1, 2, 2]), b, p=3) == pytest.approx(1 / 27)
    assert padic_distance(np.array([0, 0, 0, 2]), b, p=5) == pytest.approx(1 / 5)
    assert padic_distance(np.array([1, 1, 2, 0]), b, p=3) == 1.0
    assert padic_distance(b, b, p=3) == 0.0


def test_features_by_hand():
    digits = np.array([[2, 2, 0, 1, 1], [1, 1, 1, 1, 1], [0, 2, 2, 2, 2]])
    f = padic_features(digits, p=3)
    assert f.shape == (3, 5, 6) and f.dtype == np.float32
    np.testing.assert_array_equal(f[0, :, :3], [[0, 0, 1], [0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 1, 0]])
    # distance to "all down", "all flat", "all up", the same on every day of the window
    expected = np.array(
        [
            [1.0, 1 / 9, 1.0],  # flat run of 2 at the end
            [1.0, 0.0, 1.0],  # the whole window is flat
            [1.0, 1.0, 1 / 81],
        ]
    )  # up run of 4
    np.testing.assert_allclose(f[:, :, 3:], np.repeat(expected[:, None, :], 5, axis=1), rtol=1e-6)
    names = padic_feature_names(3)
    assert names == [
        "padic_digit_0",
        "padic_digit_1",
        "padic_digit_2",
        "padic_dist_all_0",
        "padic_dist_all_1",
        "padic_dist_all_2",
    ]


def test_features_with_custom_references_and_missing_digits():
    digits = np.array([[-1, 0, 1]])
    refs = np.array([[2, 0, 1], [0, 0, 0]])
    f = padic_features(digits, p=3, references=refs)
    assert f.shape == (1, 3, 5)
    np.testing.assert_array_equal(f[0, 0, :3], [0, 0, 0])  # no digit: no one-hot
    np.testing.assert_allclose(f[0, 0, 3:], [1 / 9, 1.0])
    refs_default, ref_names = reference_patterns(3, p=3)
    np.testing.assert_array_equal(refs_default, [[0, 0, 0], [1, 1, 1], [2, 2, 2]])
    assert ref_names == ["all_0", "all_1", "all_2"]
    with pytest.raises(ValueError, match="references must be"):
        padic_features(digits, p=3, references=np.zeros((2, 4)))
