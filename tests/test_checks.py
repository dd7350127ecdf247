"""The shared argument check (tsssl/checks.py): one wording for a count that must be positive."""

import re

import pytest

from tsssl.checks import check_positive


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
