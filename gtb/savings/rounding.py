"""Rounding of the figures: to what their uncertainty allows, for people; to fixed
decimals, for their JSON form."""

import math
from typing import NamedTuple

# --- rounding for people ---------------------------------------------------------------------


class Rounded(NamedTuple):
    """A figure and its uncertainty rounded alike, and the decimals to show them with."""

    value: float
    uncertainty: float
    decimals: int


def rounded(value: float, uncertainty: float) -> Rounded:
    """A figure and its uncertainty rounded alike: to the uncertainty's two significant
    digits, or the figure's three if coarser (12 437 ± 1 873 → 12 400 ± 1 900; 10 497 ± 213
    → 10 500 ± 200): more digits would claim a precision the model does not have. Without
    an uncertainty, to the unit."""
    if uncertainty <= 0 or not math.isfinite(uncertainty):
        return Rounded(float(round(value)), 0.0, 0)
    exponent = math.floor(math.log10(uncertainty)) - 1
    if value:
        exponent = max(exponent, math.floor(math.log10(abs(value))) - 2)
    step = 10.0 ** exponent
    return Rounded(round(value / step) * step, round(uncertainty / step) * step,
                   max(0, -exponent))


# --- rounding for JSON ---------------------------------------------------------------------

def round_kwh(value: float) -> float:
    """kWh to the tenth."""
    return round(value, 1)


def round_fraction(value: float) -> float | None:
    """A fraction or a statistic to four decimals; None when it is not finite (JSON has no
    infinity nor NaN)."""
    return round(value, 4) if math.isfinite(value) else None
