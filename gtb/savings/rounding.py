"""Rounding of the figures for their JSON form."""

import math

# --- rounding for JSON ---------------------------------------------------------------------

def round_kwh(value: float) -> float:
    """kWh to the tenth."""
    return round(value, 1)


def round_fraction(value: float) -> float | None:
    """A fraction or a statistic to four decimals; None when it is not finite (JSON has no
    infinity nor NaN)."""
    return round(value, 4) if math.isfinite(value) else None
