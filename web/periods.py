"""Periods that a person types in the panel's filters (the audit log, the export): local
dates of the site read as ``gtb export`` reads them, with a refusal in both languages."""

from __future__ import annotations

from datetime import datetime, tzinfo

from gtb.export import parse_moment
from web.panel import ActionError


def local_period(start: str, end: str, tz: tzinfo, *, required: bool = False
                 ) -> tuple[datetime | None, datetime | None]:
    """[start, end) from ``2026-01-12`` (or a month ``2026-01``, or a time) in the site's zone
    ``tz``: the end's day is included. An empty bound is no bound, unless ``required``.
    Refused: what is not a date, an end that is not after the start."""
    since = _bound(start, tz, end=False, required=required)
    until = _bound(end, tz, end=True, required=required)
    if since is not None and until is not None and until <= since:
        raise ActionError(f"Le début de la période ({start}) est après sa fin ({end}).",
                          f"The start of the period ({start}) is after its end ({end}).")
    return since, until


def _bound(text: str, tz: tzinfo, *, end: bool, required: bool) -> datetime | None:
    text = text.strip()
    if not text:
        if required:
            raise ActionError("Indiquez le début et la fin de la période.",
                              "Give the start and the end of the period.")
        return None
    try:
        return parse_moment(text, tz, end=end)
    except (ValueError, OverflowError):  # OverflowError: the day after 9999-12-31
        raise ActionError(f"« {text} » n'est pas une date (AAAA-MM-JJ).",
                          f"'{text}' is not a date (YYYY-MM-DD).") from None
