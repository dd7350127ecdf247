"""The shared argument checks (tsssl/checks.py): one wording for a count that must be positive
and for a fraction in [0, 1)."""

import re

import pytest

from tsssl.checks import check_fraction, check_positive


@pytest.mark.parametrize("value", [1, 7, 2**40])
def test_positive_integers_are_returned_as_given(value):
    assert check_positive(value, "n") is value and check_positive(value, "n", allow_none=True) is value


def test_none_only_where_allowed():
    assert check_positive(None, "max_anchors", allow_none=True) is None
    with pytest.raises(ValueError, match=re.escape("max_anchors must be a positive integer, got None")):
        check_positive(None, "max_anchors")


@pytest.mark.parametrize("value", [0, -3, True, False, 2.0, "4"])
def test_anything_else_is_a_one_line_error_naming_owner_name_and_what_is_accepted(value):
    with pytest.raises(ValueError) as err:
        check_positive(value, "hidden", "DilatedEncoder", allow_none=True)
    assert str(err.value) == f"DilatedEncoder: hidden must be a positive integer or None, got {value!r}"


@pytest.mark.parametrize("value", [0, 0.0, 0.05, 0.999])
def test_fractions_in_the_half_open_unit_interval_are_returned_as_floats(value):
    got = check_fraction(value, "w")
    assert got == value and isinstance(got, float)


@pytest.mark.parametrize("value", [1, 1.0, -0.1, float("nan"), True, False, "0.5", None])
def test_anything_else_is_a_one_line_error_naming_owner_name_and_the_interval(value):
    with pytest.raises(ValueError) as err:
        check_fraction(value, "mask_rate", "Hierarchical")
    assert str(err.value) == f"Hierarchical: mask_rate must be a number in [0, 1), got {value!r}"
    with pytest.raises(ValueError, match=re.escape(f"w must be a number in [0, 1), got {value!r}")):
        check_fraction(value, "w")
