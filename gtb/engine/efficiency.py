"""Losses of efficiency, watched every morning: the engine's daily job (BACS decree, CCH
R175-3 2°: detect losses of efficiency and tell the operator).

Each heating (or gas) meter of each building is compared, day by day, with its baseline
(``gtb.savings``: the year before the engine took over, under each day's weather and day
type). When ``savings.reporting.efficiency_losses`` finds a loss still under way
yesterday (the CUSUM of the days' excess over the baseline has passed its threshold), the
alarm ``efficiency:<building>:<meter>`` is raised, a warning, with the plain-French
explanation of the loss, and an ``efficiency_loss`` event goes to the audit log; once
``BACK_WITHIN_DAYS`` days in a row, up to yesterday, are back within the allowance, the
alarm is cleared, with its event.

A meter without a baseline yet (less than the required history before the engine's first
start, or no engine start at all) is left alone, silently: there is nothing to compare
with, and the savings pages say why. The baseline is fitted once and reused for as long
as its period stays the same; a meter that could not be fitted is tried again the next
day. ``gtb.sim.past`` runs the same check day by day over the demo's simulated past.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from gtb.model import Building, Site
from gtb.model.points import Severity
from gtb.savings.baseline import Baseline, DayRecord, SavingsError, fit_baseline
from gtb.savings.readings import building_days, heating_meters
from gtb.savings.reporting import BACK_WITHIN_DAYS, back_within, efficiency_losses
from gtb.savings.site import MAX_MISSING_FRACTION, MIN_BASELINE_DAYS, default_baseline_period
from gtb.store import Store
from gtb.store.audit import Alarm
from gtb.texts import Reason, said

CHECK_AFTER = time(1, 0)
"""Local time from which a day is checked: yesterday's last hour is in its rollup."""
RECENT_DAYS = 14
"""Days looked at each morning: a run of losses is found if it lasts up to two weeks."""
EVENT_KIND = "efficiency_loss"


@dataclass(frozen=True)
class Change:
    """An alarm raised or cleared by a check."""

    key: str
    raised: bool
    alarm: Alarm


@dataclass
class _Fit:
    period: tuple[date, date]
    baseline: Baseline | None
    on: date


@dataclass
class EfficiencyWatch:
    """The daily check of a site's heating meters against their baselines.

    ``baseline`` fixes the baseline period (default: the 365 days before the engine's
    first start, as the savings use); ``min_baseline_days`` is how many days of it must
    have data (CalTRACK's year with at most 10 % missing by default; a short simulated
    history may ask for fewer).
    """

    store: Store
    site: Site
    baseline: tuple[date, date] | None = None
    min_baseline_days: int = MIN_BASELINE_DAYS
    _fits: dict[str, _Fit] = field(default_factory=dict, init=False, repr=False)
    _days: dict[str, list[DayRecord]] = field(default_factory=dict, init=False, repr=False)
    _checked: date | None = field(default=None, init=False, repr=False)

    def due(self, now: datetime) -> bool:
        """Whether ``now`` is the first chance of its local day to check (after 01:00)."""
        local = now.astimezone(self.site.tz)
        return local.time() >= CHECK_AFTER and self._checked != local.date()

    def daily(self, now: datetime) -> list[Change]:
        """The engine's daily job, called every few minutes: at the first call after
        01:00 local time, yesterday's hours are rolled up (whatever the phase of the hourly
        rollups), then every meter is checked."""
        if not self.due(now):
            return []
        tz = self.site.tz
        midnight = datetime.combine(now.astimezone(tz).date(), time(), tz)
        self.store.rollups.compute(midnight - timedelta(days=1), now)
        return self.check(now)

    def check(self, now: datetime) -> list[Change]:
        """Check every heating meter up to yesterday; raise or clear their alarms."""
        today = now.astimezone(self.site.tz).date()
        self._checked = today
        try:
            period = self.baseline or default_baseline_period(self.store, self.site)
        except SavingsError:
            return []  # the engine never started on this store
        active = self.store.alarms.active()
        changes: list[Change] = []
        for building in self.site.buildings:
            for meter in heating_meters(self.site, building):
                baseline = self._baseline(building, meter, period, today)
                if baseline is not None:
                    change = self._check_meter(now, today, building, meter, baseline, active)
                    if change is not None:
                        changes.append(change)
        return changes

    def _baseline(self, building: Building, meter: str, period: tuple[date, date],
                  today: date) -> Baseline | None:
        known = self._fits.get(meter)
        if known is not None and known.period == period and (
                known.baseline is not None or known.on == today):
            return known.baseline
        fitted = None
        first, last = period
        days = building_days(self.store, self.site, building, first, last, meter=meter)
        length = (last - first).days + 1
        if len(days) >= max(self.min_baseline_days, (1 - MAX_MISSING_FRACTION) * length):
            try:
                fitted = fit_baseline(days)
            except SavingsError:
                fitted = None
        self._fits[meter] = _Fit(period, fitted, today)
        return fitted

    def _check_meter(self, now: datetime, today: date, building: Building, meter: str,
                     baseline: Baseline, active_alarms: Mapping[str, Alarm]) -> Change | None:
        yesterday = today - timedelta(days=1)
        first = max(today - timedelta(days=RECENT_DAYS), baseline.end + timedelta(days=1))
        if first > yesterday:
            return None
        recent = self._recent(building, meter, first, yesterday)
        if not recent or recent[-1].day != yesterday:
            return None  # yesterday has no figure: nothing new to say
        key = alarm_key(building, meter)
        label = _label(self.site, building, meter)
        losses = efficiency_losses(baseline, recent, building=building.id, meter=meter,
                                   label=label)
        ongoing = [loss for loss in losses if loss.ongoing]
        active = active_alarms.get(key)
        if ongoing and active is None:
            loss = ongoing[-1]
            alarm, _ = self.store.alarms.raise_(key, at=now, severity=Severity.WARNING,
                                              message=loss.explanation_fr,
                                              message_en=loss.explanation_en,
                                              building=building.id, point=meter)
            self.store.audit.log(
                now, EVENT_KIND, "engine", Reason.of("efficiency.alarm", label=label),
                said(loss.explanation_fr, loss.explanation_en), site=self.site.id,
                building=building.id, point=meter,
                data={"state": "raised", "alarm": alarm.id, "key": key, **loss.as_dict()})
            return Change(key, True, alarm)
        if active is not None and not ongoing and back_within(baseline, recent):
            cleared = self.store.alarms.clear(key, at=now)
            if cleared is None:
                return None
            back = yesterday - timedelta(days=BACK_WITHIN_DAYS - 1)
            self.store.audit.log(
                now, EVENT_KIND, "engine", Reason.of("efficiency.over", label=label),
                Reason.of("efficiency.back_within", since=back), site=self.site.id,
                building=building.id, point=meter,
                data={"state": "cleared", "alarm": cleared.id, "key": key})
            return Change(key, False, cleared)
        return None


    def _recent(self, building: Building, meter: str, first: date, yesterday: date
                ) -> list[DayRecord]:
        """The days from ``first`` to yesterday: only yesterday is read when the day
        before was read the morning before (each day is read once, the morning after)."""
        known = self._days.get(meter, [])
        if known and known[-1].day == yesterday - timedelta(days=1):
            new = building_days(self.store, self.site, building, yesterday, yesterday,
                                meter=meter)
            days = [d for d in known if d.day >= first] + list(new)
        else:
            days = list(building_days(self.store, self.site, building, first, yesterday,
                                      meter=meter))
        self._days[meter] = days
        return days


def alarm_key(building: Building, meter: str) -> str:
    """``efficiency:<building>:<meter>``, the meter named without its building."""
    return f"efficiency:{building.id}:{meter.removeprefix(f'{building.id}.')}"


def _label(site: Site, building: Building, meter: str) -> str:
    ref = site.point(meter)
    return f"« {ref.point.name or meter} » ({building.name})"

