"""Dates and times typed in the lighting and programme forms (``datetime-local`` and
``date`` inputs): the site's wall-clock time, as the agenda keeps it, with a refusal in
both languages that names the field. ``Panel`` checks what the dates mean (and that they
are within ``limits.FIRST_YEAR`` .. ``limits.LAST_YEAR``), for the forms and the API alike."""

from __future__ import annotations

from datetime import date, datetime

from web import limits
from web.panel import ActionError

Field = tuple[str, str]
"""A field's name in French and English, for the refusal."""


def wall_clock(text: str, field: Field) -> datetime:
    """``2026-01-12T18:30`` (or with a space) -> a naive local datetime, to the minute."""
    text = text.strip()
    if not text:
        raise ActionError(f"Indiquez {field[0]}.", f"Give {field[1]}.")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is not None:  # the site's wall clock, no offset
        shown = limits.echoed(text)
        raise ActionError(f"{field[0].capitalize()} : « {shown} » n'est pas une date et une "
                          "heure (AAAA-MM-JJ HH:MM).", f"{field[1].capitalize()}: '{shown}' is "
                          "not a date and time (YYYY-MM-DD HH:MM).")
    return moment.replace(second=0, microsecond=0)


def day(text: str, field: Field, *, required: bool = True) -> date | None:
    """``2026-01-12`` -> a date; empty is None unless ``required``."""
    text = text.strip()
    if not text:
        if required:
            raise ActionError(f"Indiquez {field[0]}.", f"Give {field[1]}.")
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        shown = limits.echoed(text)
        raise ActionError(f"{field[0].capitalize()} : « {shown} » n'est pas une date "
                          "(AAAA-MM-JJ).", f"{field[1].capitalize()}: '{shown}' is not a date "
                          "(YYYY-MM-DD).") from None
