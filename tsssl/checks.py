"""Argument checks shared across the package, so that one mistake reads the same everywhere.

check_positive(16, "batch_size")                          # 16
check_positive(None, "max_anchors", allow_none=True)      # None
check_positive(0, "hidden", "DilatedEncoder")             # ValueError: DilatedEncoder: hidden
                                                          #   must be a positive integer, got 0
check_fraction(0.5, "mask_rate", "Hierarchical")          # 0.5 (a number in [0, 1))
"""

from __future__ import annotations

from typing import Any


def check_positive(value: Any, name: str, owner: str | None = None, *, allow_none: bool = False) -> Any:
    """``value`` when it is an int >= 1 (a bool is not), or None when ``allow_none``; else a
    one-line ValueError naming ``owner`` (when given), ``name`` and what is accepted."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        accepted = "a positive integer" + (" or None" if allow_none else "")
        prefix = f"{owner}: " if owner else ""
        raise ValueError(f"{prefix}{name} must be {accepted}, got {value!r}")
    return value


def check_fraction(value: Any, name: str, owner: str | None = None) -> float:
    """``value`` as a float when it is a number in [0, 1) (a bool is not); else a one-line
    ValueError naming ``owner`` (when given), ``name`` and what is accepted."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        prefix = f"{owner}: " if owner else ""
        raise ValueError(f"{prefix}{name} must be a number in [0, 1), got {value!r}")
    return float(value)
