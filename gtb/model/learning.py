"""How a zone learns: the learners' tuning, which a site file may set for the whole site and
for each zone (``learning:``)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import (
    Field,
    model_validator,
)

from gtb.model.base import (
    Model,
)


class LearningTuning(Model):
    """The tuning of the learners (``controllers/``), each key within bounds that keep its
    algorithm sane; the defaults are the values the controllers were tuned with.

    As a zone's ``learning:`` section, only the keys written count: each replaces the
    site's (``LearningSettings.overridden_by``), so a heavy church can lengthen its
    pre-heat caps and keep the site's memory of days. What stays fixed is not here: the
    48 h of R241-27, the quarter-hour slots the stored days are made of, the horizons.
    """

    # How much history counts.
    history_weeks: int = Field(
        default=16, ge=2, le=52,
        description="weeks of presence days remembered (enough for three school-holiday "
        "Mondays)")
    half_life_days: float = Field(
        default=14.0, ge=1, le=365,
        description="days after which a past day weighs half: a change of habits is learned "
        "in two or three half-lives")
    thermal_window_days: int = Field(
        default=28, ge=3, le=120,
        description="days of temperatures a nightly refit uses: recent enough to follow the "
        "seasons")
    # How sure an arrival forecast must be.
    programme_prior_days: float = Field(
        default=0.5, ge=0.1, le=20,
        description="what the programme weighs in an arrival forecast, in observed days of "
        "the same kind: the forecast is the programme's until the observed days weigh as "
        "much, and learned from then on")
    other_weekday_weight: float = Field(
        default=0.5, ge=0, le=1,
        description="what a past day of another weekday of the same type weighs (0-1) where "
        "the programme treats it alike, while the weekday's own days weigh less than the "
        "programme: 0 keeps weekdays apart")
    min_confidence: float = Field(
        default=0.4, ge=0.1, le=0.9,
        description="share (0-1) under which a learned forecast is not trusted; a single odd "
        "day among two months of one weekday weighs about 0.3, two recent ones about 0.5")
    arrival_share: float = Field(
        default=0.9, ge=0.5, le=0.99,
        description="share (0-1) of similar days the learned period covers: warm before "
        "that share of their arrivals, and until that share of their departures")
    outlier_floor_minutes: float = Field(
        default=30.0, ge=15, le=240,
        description="arrivals within this many minutes of the median are never set aside "
        "as outliers; arrivals set aside this close to each other on two observed days or "
        "more are a mode of their own, kept if they weigh at least 1 - arrival_share")
    # The thermal fit.
    min_unheated_hours: float = Field(
        default=2.0, ge=1, le=168,
        description="hours of unheated steps (heating share at 10 % or less: a cool-down) "
        "needed before a warm-up is learned: without them, losses and gain cannot be told "
        "apart")
    min_warmup_rise_k: float = Field(
        default=1.0, ge=0.2, le=5,
        description="K: a run at full heat counts as a warm-up if it raised the air this much")
    min_warmups: int = Field(
        default=2, ge=1, le=20,
        description="warm-ups after a long absence needed to learn their own gain; with "
        "fewer, a normal morning's applies")
    margin_sigmas: float = Field(
        default=1.2816, ge=0, le=3,
        description="margin on a learned warm-up, in standard deviations of the model's error "
        "on held-out mornings and its parameters' uncertainty: 1.28 is late about one morning "
        "in ten, 1.64 one in twenty")
    # Pre-heat and early stop.
    min_margin_minutes: float = Field(
        default=20.0, ge=0, le=120,
        description="least margin added to a learned warm-up, whatever the model's error")
    max_preheat_hours: float = Field(
        default=3.0, ge=0.5, le=12,
        description="a learned pre-heat never starts earlier than this before an arrival")
    max_preheat_after_long_absence_hours: float = Field(
        default=12.0, ge=0.5, le=24,
        description="the same cap after more than 48 h away, from frost protection: a heavy "
        "building needs the night to come back")
    fixed_preheat_hours: float = Field(
        default=2.0, ge=0, le=12,
        description="the programme's fixed early start, while nothing is learned or learning "
        "is off")
    fixed_preheat_after_long_absence_hours: float = Field(
        default=4.0, ge=0, le=24,
        description="the fixed early start after more than 48 h without a period (Mondays, "
        "the end of holidays)")
    comfort_band_k: float = Field(
        default=0.5, ge=0, le=1,
        description="K below comfort a zone may coast to at the end of an occupied period "
        "(early stop), never more than 1 K while people are there")
    surprise_tolerance: float = Field(
        default=0.05, ge=0, le=0.5,
        description="a learned absence of more than 48 h goes to frost protection only if "
        "similar days show at most this chance (0-1) of an unexpected visit; above it, reduced")
    early_stop_max_minutes: float = Field(
        default=60.0, ge=0, le=240,
        description="an early stop begins at most this many minutes before the end of an "
        "occupied period")
    plant_min_on_minutes: float = Field(
        default=10.0, ge=0, le=60,
        description="a plant switched on stays on at least this long (the site's value): "
        "a boiler fired for less wears and wastes its purge")
    plant_min_off_minutes: float = Field(
        default=10.0, ge=0, le=60,
        description="a plant switched off stays off at least this long (the site's value), "
        "except for frost protection")

    max_warmup_sigma_minutes: float = Field(
        default=40.0, ge=5, le=240,
        description="a thermal model is refused while a typical warm-up is uncertain by more "
        "than this many minutes (one standard deviation): the fixed early start applies")

class LearningSettings(LearningTuning):
    """A complete and consistent tuning: the site's ``learning:`` section, or a zone's
    effective one (``Site.learning_of``), which the controllers take."""

    @model_validator(mode="after")
    def _consistent(self) -> LearningSettings:
        # What a weekday's own days weigh at most: the newest 1, the one a week before
        # less by the half-life, over the history kept.
        reach = sum(0.5 ** (7 * week / self.half_life_days)
                    for week in range(self.history_weeks))
        problems = [
            message for wrong, message in (
                (self.fixed_preheat_after_long_absence_hours < self.fixed_preheat_hours,
                 f"fixed_preheat_after_long_absence_hours "
                 f"({self.fixed_preheat_after_long_absence_hours:g}) must not be below "
                 f"fixed_preheat_hours ({self.fixed_preheat_hours:g}): a zone cold from a "
                 "long absence needs at least as long"),
                (self.max_preheat_after_long_absence_hours < self.max_preheat_hours,
                 f"max_preheat_after_long_absence_hours "
                 f"({self.max_preheat_after_long_absence_hours:g}) must not be below "
                 f"max_preheat_hours ({self.max_preheat_hours:g}): a zone cold from a long "
                 "absence needs at least as long"),
                (self.surprise_tolerance >= self.min_confidence,
                 f"surprise_tolerance ({self.surprise_tolerance:g}) must be below "
                 f"min_confidence ({self.min_confidence:g}): only days with a smaller chance "
                 "of a visit are skipped, so a larger tolerance could never be exceeded"),
                (self.programme_prior_days > reach,
                 f"programme_prior_days ({self.programme_prior_days:g}) must not be above "
                 f"{reach:.2f}, what {self.history_weeks} weeks of one weekday weigh with "
                 f"half_life_days {self.half_life_days:g}: they could never outweigh the "
                 "programme"),
                (self.min_unheated_hours > 24 * self.thermal_window_days,
                 f"min_unheated_hours ({self.min_unheated_hours:g} h) must fit in "
                 f"thermal_window_days ({self.thermal_window_days} days), all a refit sees"),
            ) if wrong
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def overridden_by(self, zone: LearningTuning) -> LearningSettings:
        """These settings with each key that a zone's section writes in place of ours;
        checked as a whole, since a zone's cap must still fit the site's other keys."""
        return LearningSettings.model_validate(
            {**self.model_dump(), **zone.model_dump(exclude_unset=True)})

    @property
    def history(self) -> timedelta:
        """How long a day of presence is remembered."""
        return timedelta(weeks=self.history_weeks)

    @property
    def thermal_window(self) -> timedelta:
        """How far back a refit looks."""
        return timedelta(days=self.thermal_window_days)

    def max_preheat(self, long_absence: bool) -> timedelta:
        """The cap on a learned pre-heat, after a long absence or not."""
        hours = self.max_preheat_after_long_absence_hours if long_absence else (
            self.max_preheat_hours)
        return timedelta(hours=hours)

    def fixed_preheat(self, long_absence: bool) -> timedelta:
        """The programme's fixed early start, after a long absence or not."""
        hours = self.fixed_preheat_after_long_absence_hours if long_absence else (
            self.fixed_preheat_hours)
        return timedelta(hours=hours)


DEFAULT_LEARNING = LearningSettings()
"""The tuning of a site without a ``learning:`` section, and of controllers used alone."""
