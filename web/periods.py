"""Periods that a person types in the panel's filters (the audit log, the export): local
dates of the site read as ``gtb export`` reads them, with a refusal in both languages that
names the bound at fault."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from gtb.export import parse_moment
from web import limits
from web.panel import ActionError

START = ("Le début de la période", "The start of the period")
END = ("La fin de la période", "The end of the period")


def local_period(start: str, end: str, tz: tzinfo, *, required: bool = False
                 ) -> tuple[datetime | None, datetime | None]:
    """[start, end) from ``2026-01-12`` (or a month ``2026-01``, or a time) in the site's zone
    ``tz``: the end's day is included. An empty bound is no bound, unless ``required``.
    Refused: what is not a date, a year outside ``limits.FIRST_YEAR`` .. ``LAST_YEAR``, an
    end that is not after the start."""
    since = _bound(start, tz, START, end=False, required=required)
    until = _bound(end, tz, END, end=True, required=required)
    if since is not None and until is not None and until <= since:
        raise ActionError(f"Le début de la période ({start}) est après sa fin ({end}).",
                          f"The start of the period ({start}) is after its end ({end}).")
    return since, until


def _bound(text: str, tz: tzinfo, field: tuple[str, str], *, end: bool, required: bool
           ) -> datetime | None:
    text = text.strip()
    if not text:
        if required:
            raise ActionError("Indiquez le début et la fin de la période.",
                              "Give the start and the end of the period.")
        return None
    try:
        moment = parse_moment(text, tz, end=end)
        # An end is the next instant after the period: its year is the last second's.
        typed = moment - timedelta(seconds=1) if end else moment
    except (ValueError, OverflowError):  # OverflowError: before 0001 or after 9999
        typed = None
    if typed is None or not limits.within_years(typed):
        shown = limits.echoed(text)
        raise ActionError(f"{field[0]} : « {shown} » n'est pas une date (AAAA-MM-JJ) entre "
                          f"{limits.FIRST_YEAR} et {limits.LAST_YEAR}.",
                          f"{field[1]}: '{shown}' is not a date (YYYY-MM-DD) between "
                          f"{limits.FIRST_YEAR} and {limits.LAST_YEAR}.")
    return moment
