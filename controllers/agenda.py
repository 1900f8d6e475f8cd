"""A zone under the agenda: how the entries a manager makes and what the zone learned
combine in its heating decision.

A zone's learner knows its programme and what its sensors saw, not the agenda (events,
closures, day exceptions: ``controllers.schedule``). Where an entry changes where the
zone stands (its ``occupation`` with the agenda differs from the programme's), the
decision follows the agenda (``bearing``):

- while an entry decides the moment (an event under way, a closure, a day exception),
  or the zone is in a programme period that an event prolongs: the programme's decision
  with the agenda (comfort while occupied, the setbacks outside, the fixed early start),
  as a programmable thermostat would follow it; so too when the agenda leaves no arrival
  within the horizon (``Bearing.PROGRAMME``). But in a closure (or a day exception with
  nobody there), a zone with a thermal model takes the learned pre-heat toward the first
  period after it whenever that starts before the fixed one: days without heat leave a
  cold structure, which the fixed early start does not catch;
- before an arrival the agenda gives (an event's start; the first period after a
  closure to come): with a learned thermal model, the learned optimal start toward it, an
  arrival known and certain (``agenda_arrival``): the model's margin, the plant's clock,
  the cold-structure rules after a long absence and the setback before it, as for any
  learned pre-heat; without one, the programme's decision with the agenda
  (``Bearing.ARRIVAL``);
- when it changes only when the zone was last left (the morning after an event): the
  learned decision as usual, which counts the absence from then (``Bearing.LEARNED``).

``ZoneLearner.decide(..., agenda=...)`` follows this; the engine and the bench decide
through it, so that both take the same decision. Pure: nothing reads a clock.
"""

from __future__ import annotations

from dataclasses import replace
from enum import Enum

from controllers.occupancy import ArrivalForecast
from controllers.schedule import FrenchCalendar, Occupation, occupation
from gtb.model import BuildingUse
from gtb.model.calendar import AgendaEntry, Programme
from gtb.texts import Reason

AGENDA = "agenda"
"""The ``basis`` of an arrival the agenda gives (``agenda_arrival``), beside the
occupancy forecast's "learned" and "programme": known, so trusted as a learned one."""


class Bearing(Enum):
    """What decides a zone's heating, given the agenda (the module's docstring)."""

    LEARNED = "learned"
    PROGRAMME = "programme"
    ARRIVAL = "arrival"


def bearing(programmed: Occupation, where: Occupation) -> Bearing:
    """What decides, from where the zone stands by its programme alone (``programmed``)
    and with the agenda (``where``)."""
    if where.because is not None:
        return Bearing.PROGRAMME
    if replace(where, previous_end=programmed.previous_end) == programmed:
        return Bearing.LEARNED
    if where.occupied or where.next_start is None:
        return Bearing.PROGRAMME
    return Bearing.ARRIVAL


def agenda_arrival(programme: Programme, calendar: FrenchCalendar, use: BuildingUse | str,
                   where: Occupation, agenda: tuple[AgendaEntry, ...],
                   learned: ArrivalForecast) -> tuple[ArrivalForecast, str | None]:
    """The arrival the agenda gives a zone that is not occupied (``where.next_start``)
    as a forecast of basis ``AGENDA``, certain, and the label of the entry that decides
    it (an event's; None for a programme period, after a closure). The chance of
    unexpected visits before it is the ``learned`` forecast's: the agenda does not say."""
    start = where.next_start
    assert start is not None
    then = occupation(programme, calendar, use, start, agenda)
    reason = (Reason.of("forecast.agenda", start=start) if then.because is None
              else Reason.of("forecast.agenda_event", start=start, event=then.because))
    return ArrivalForecast(start, then.current_end, 1.0, AGENDA, 0, reason,
                           surprise=learned.surprise), then.because
