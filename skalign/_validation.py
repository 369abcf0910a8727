"""Checks of scalar arguments, in one place and one message style.

The numbers that functions of skalign take (sizes, rates, weights, shares)
are checked for type, finiteness and range here; a bad one raises
``ValueError`` naming the argument and its bounds. This module imports
nothing but the standard library, so that ``skalign.ot`` and
``skalign.sequence`` stay free of scikit-learn (the layering of the
design); estimator parameters go through scikit-learn's
``_parameter_constraints`` instead.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

__all__ = ["check_int", "check_number"]


def check_number(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    integer: bool = False,
) -> Any:
    """``value`` as a float (an int with ``integer``) within the bounds.

    Parameters
    ----------
    value : object
        The value to check. Booleans, NaN and infinities are refused.
    name : str
        The parameter's name, for the message.
    low, high : float or None, default=None
        Bounds; ``None`` leaves that side open.
    low_open, high_open : bool, default=False
        Exclude the bound itself.
    integer : bool, default=False
        Require an integer and return an ``int``.

    Returns
    -------
    value : float or int

    Raises
    ------
    ValueError
        For a value of the wrong type or outside the bounds; the message
        names the parameter and the bounds.

    Examples
    --------
    >>> from skalign._validation import check_number
    >>> check_number(3, "n_frames", low=1, integer=True)
    3
    >>> check_number(0.0, "epsilon", low=0, low_open=True)
    Traceback (most recent call last):
    ...
    ValueError: epsilon must be a number > 0, got 0.0.
    """
    kind = Integral if integer else Real
    what = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ValueError(f"{name} must be {what}, got {value!r}.")
    if not integer and not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite number, got {value!r}.")
    low_in, high_in = not low_open, not high_open
    below = low is not None and (value < low if low_in else value <= low)
    above = high is not None and (value > high if high_in else value >= high)
    if below or above:
        raise ValueError(f"{name} must be {what} {_interval(low, high, low_in, high_in)}, "
                         f"got {value!r}.")
    return int(value) if integer else float(value)


def _interval(low: float | None, high: float | None, low_in: bool, high_in: bool) -> str:
    if high is None:
        return f"{'>=' if low_in else '>'} {low:g}"
    if low is None:
        return f"{'<=' if high_in else '<'} {high:g}"
    return f"in {'[' if low_in else '('}{low:g}, {high:g}{']' if high_in else ')'}"


def check_int(value: Any, name: str, *, low: int) -> int:
    """``value`` as an int ``>= low``, or a ValueError naming ``name``."""
    return check_number(value, name, low=low, integer=True)
