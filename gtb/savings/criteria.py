"""ASHRAE Guideline 14's criteria, kept apart and named: those by which whole-building
savings (IPMVP option C) are accepted, and those for calibrating a simulation, which a
regression baseline is not and which are shown for information only.

- Acceptance, whole-building approach: the savings' uncertainty below 50 % of the savings
  at 68 % confidence (the performance path, which the engine computes: CalTRACK's FSU at
  68 %); and the prescriptive path's bound on the baseline model, CV(RMSE) below 20 % for
  energy (30 % for demand). A figure is accepted on the performance path.
- Calibration of a simulation: monthly CV(RMSE) ≤ 15 % and |NMBE| ≤ 5 %, hourly ≤ 30 % and
  ≤ 10 %. On an in-sample least-squares fit the NMBE of the days is 0 by construction, so it
  says nothing; the monthly ones are given, never used to accept a figure.

Sources are in docs/savings.md (« ASHRAE Guideline 14's criteria »).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from gtb.savings.baseline import Baseline
from gtb.savings.reporting import Savings, relative_uncertainty
from gtb.savings.rounding import round_fraction

FSU_CONFIDENCE = 0.68
MAX_FSU = 0.50
"""Guideline 14, whole-building approach: uncertainty below 50 % of the savings at 68 %."""
MAX_CV_RMSE = 0.20
"""Guideline 14, whole-building prescriptive path: the baseline's CV(RMSE) for energy."""
CALIBRATION_MONTHLY_CV_RMSE = 0.15
CALIBRATION_MONTHLY_NMBE = 0.05
"""Guideline 14's calibration of a simulation on monthly data (hourly: 30 % and 10 %)."""

Kind = Literal["acceptance", "calibration"]


@dataclass(frozen=True)
class Criterion:
    """One of Guideline 14's criteria: ``code`` names it in the catalogue
    (``savings.criterion.<code>``: its name, threshold and source), ``value`` is the figure
    (None: cannot be computed, as the FSU of nothing saved), ``met`` whether it holds."""

    code: str
    kind: Kind
    value: float | None
    limit: float
    met: bool

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "kind": self.kind,
                "value": None if self.value is None else round_fraction(self.value),
                "limit": self.limit, "met": self.met}


def fsu_68(baseline: Baseline, result: Savings) -> float | None:
    """The savings' fractional uncertainty at 68 % (None when nothing was avoided)."""
    if not result.avoided_kwh or not result.days:
        return None
    return (relative_uncertainty(baseline, result.days, FSU_CONFIDENCE) * result.baseline_kwh
            / abs(result.avoided_kwh))


def criteria(baseline: Baseline, result: Savings) -> tuple[Criterion, ...]:
    """The acceptance criteria of whole-building savings, then the calibration ones."""
    fsu = fsu_68(baseline, result)
    return (
        Criterion("fsu", "acceptance", fsu, MAX_FSU,
                  fsu is not None and result.avoided_kwh > 0 and fsu < MAX_FSU),
        Criterion("cv_rmse", "acceptance", _finite(baseline.cv_rmse), MAX_CV_RMSE,
                  baseline.cv_rmse <= MAX_CV_RMSE),
        Criterion("calibration_cv_rmse", "calibration", _finite(baseline.monthly_cv_rmse),
                  CALIBRATION_MONTHLY_CV_RMSE,
                  baseline.months >= 2 and baseline.monthly_cv_rmse <= CALIBRATION_MONTHLY_CV_RMSE),
        Criterion("calibration_nmbe", "calibration", baseline.monthly_nmbe,
                  CALIBRATION_MONTHLY_NMBE,
                  baseline.months >= 2 and abs(baseline.monthly_nmbe) <= CALIBRATION_MONTHLY_NMBE),
    )


def accepted(found: tuple[Criterion, ...]) -> bool:
    """Whether Guideline 14 accepts the savings: on its performance path, the FSU at 68 %."""
    return next(c for c in found if c.code == "fsu").met


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
