"""Heating degree-days of each day, by Météo-France's and by COSTIC's method."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


# --- degree-days -----------------------------------------------------------------------

@overload
def hdd_meteo(tmin: float, tmax: float, base: float = 18.0) -> float: ...
@overload
def hdd_meteo(tmin: ArrayLike, tmax: ArrayLike, base: float = 18.0) -> FloatArray: ...
def hdd_meteo(tmin: ArrayLike, tmax: ArrayLike, base: float = 18.0) -> float | FloatArray:
    """Heating degree-days of each day, Météo-France's ("météo") method:
    Tm = (Tn + Tx) / 2, DJ = max(0, S - Tm), with S the base (18 °C for DJU)."""
    tn, tx = _extremes(tmin, tmax)
    return _shaped(np.maximum(0.0, base - (tn + tx) / 2.0))


@overload
def hdd_costic(tmin: float, tmax: float, base: float = 18.0) -> float: ...
@overload
def hdd_costic(tmin: ArrayLike, tmax: ArrayLike, base: float = 18.0) -> FloatArray: ...
def hdd_costic(tmin: ArrayLike, tmax: ArrayLike, base: float = 18.0) -> float | FloatArray:
    """Heating degree-days of each day, COSTIC's method ("professionnels de l'énergie",
    heating contracts and OPERAT): with S the base and Tm = (Tn + Tx) / 2,

    - S >= Tx (a cold day): DJ = S - Tm;
    - S <= Tn (a warm day): DJ = 0;
    - Tn < S < Tx: DJ = (S - Tn) x (0.08 + 0.42 x (S - Tn) / (Tx - Tn)),

    which counts the part of a mild day spent below the base, where the météo method
    counts nothing once Tm passes S. The three branches meet at their edges."""
    tn, tx = _extremes(tmin, tmax)
    cold, warm = base >= tx, base <= tn
    between = ~(cold | warm)
    span = np.where(between, tx - tn, 1.0)  # never 0 where it is used
    mild = (base - tn) * (0.08 + 0.42 * (base - tn) / span)
    return _shaped(np.where(cold, base - (tn + tx) / 2.0, np.where(warm, 0.0, mild)))


HDD_METHODS: dict[str, Callable[[ArrayLike, ArrayLike, float], FloatArray]] = {
    "costic": hdd_costic, "meteo": hdd_meteo,
}


def _extremes(tmin: ArrayLike, tmax: ArrayLike) -> tuple[FloatArray, FloatArray]:
    tn, tx = np.asarray(tmin, dtype=np.float64), np.asarray(tmax, dtype=np.float64)
    if np.any(tn > tx):
        raise ValueError("a day's minimum temperature is above its maximum")
    return tn, tx


def _shaped(values: FloatArray) -> Any:
    return float(values) if values.ndim == 0 else values
