"""The training budget rule (tsssl/budget.py): batch and length chosen from the number of series."""

import pytest

from tsssl.budget import auto_batch_size, auto_budget, auto_steps


@pytest.mark.parametrize(
    "n, batch",
    [
        (2, 2),
        (8, 8),
        (16, 8),
        (36, 8),
        (127, 8),
        (128, 16),
        (200, 16),
        (270, 32),
        (1000, 64),
        (4095, 256),
        (4096, 512),
        (8000, 512),
        (10**7, 512),
    ],
)
def test_batch_is_the_power_of_two_below_n_over_8_within_8_512_and_at_most_n(n, batch):
    assert auto_batch_size(n) == batch


@pytest.mark.parametrize(
    "n, batch, steps",
    [(36, 8, 200), (8000, 512, 200), (20_000, 512, 390), (130_000, 512, 600), (5, 5, 200)],
)
def test_steps_are_ten_epochs_within_200_and_600(n, batch, steps):
    # steps per epoch = n // batch (whole batches), written out: 20,000 // 512 = 39 -> 390
    assert auto_steps(n, batch) == steps


def test_given_values_are_kept_and_only_the_open_ones_chosen():
    b = auto_budget(36)
    assert (b.batch_size, b.max_steps, b.epochs, b.chosen) == (8, 200, None, ("batch_size", "max_steps"))
    assert "chosen from the data" in b.describe() and "200 steps at batch 8" in b.describe()
    b = auto_budget(36, epochs=3)  # epochs alone: that many epochs, no step floor
    assert (b.batch_size, b.max_steps, b.epochs, b.chosen) == (8, None, 3, ("batch_size",))
    b = auto_budget(36, batch_size=64, max_steps=7)  # the batch is capped at n
    assert (b.batch_size, b.max_steps, b.chosen) == (36, 7, ())
    assert b.describe() == "7 steps at batch 36 (as given)"


@pytest.mark.parametrize("n, cap, batch", [(200, 8, 8), (8000, 8, 8), (5, 8, 5), (36, 64, 8), (8000, 64, 64)])
def test_a_methods_cap_bounds_the_chosen_batch(n, cap, batch):
    assert auto_batch_size(n, max_batch=cap) == batch


def test_the_cap_is_said_and_leaves_a_given_batch_alone():
    b = auto_budget(200, max_batch=8)  # OSULeaf's 200 series: 8, not 16; 200 // 8 = 25 steps an epoch
    assert (b.batch_size, b.max_steps, b.chosen) == (8, 250, ("batch_size", "max_steps"))
    assert "at most 8 for this method" in b.describe()
    assert auto_budget(200, batch_size=32, max_batch=8).batch_size == 32


@pytest.mark.parametrize(
    "kwargs, needle",
    [({"n": 0}, "number of training series"), ({"n": 36, "batch_size": 0}, "batch_size"),
     ({"n": 36, "max_steps": 2.5}, "max_steps"), ({"n": 36, "epochs": True}, "epochs"),
     ({"n": 36, "max_batch": 0}, "max_batch"), ({"n": 36, "batch_size": 8, "max_batch": 0}, "max_batch")],
)  # fmt: skip
def test_bad_values_are_one_line_errors(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        auto_budget(**kwargs)
