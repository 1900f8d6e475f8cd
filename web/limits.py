"""How much a person may send the panel and its API, in one place: the forms
(``web.form_input``, ``Panel``'s checks) and the API's models (``web.api_models``) take
their limits from here, so that a field is refused alike wherever it is typed.

Ids in a path go through ``StoreId``, which Flask's ``int`` converter becomes on this
app: an id SQLite cannot hold is no route (a 404) instead of an OverflowError.
"""

from __future__ import annotations

from datetime import date, datetime

from flask import Flask
from werkzeug.routing import IntegerConverter, Map

REASON = 500
"""Characters of a reason (``why``), kept in the audit log and shown on every page that
shows an override or an order."""
LABEL = 120
"""Characters of an agenda entry's name."""
FILTER = 100
"""Characters of a free-text filter (the audit log's person, kind, building, zone)."""
PERIOD = 20
"""Characters of one ``HH:MM-HH:MM`` period of a programme or a special day."""
DAY_TEXT = 200
"""Characters of a day's periods typed in one field (12 periods and their separators)."""

FIRST_YEAR = 2000
LAST_YEAR = 2100
"""Dates a person may type (the agenda, an override's end, an export's or the audit log's
period): a commune's data begin after 2000, and no plan reaches past 2100. Beyond, the
date is a typing mistake, and some are beyond what Python's dates can count."""

SQLITE_MAX_ID = 2**63 - 1
"""The largest row id SQLite holds: a larger one names nothing."""


class StoreId(IntegerConverter):
    """``<int:…>`` on this app: 0 to SQLITE_MAX_ID, else the URL matches no route."""

    def __init__(self, map: Map, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("max", SQLITE_MAX_ID)
        super().__init__(map, *args, **kwargs)  # type: ignore[arg-type]


def init_app(app: Flask) -> None:
    """Bound the ids of every route, and give templates the limits (``maxlength``); before
    the blueprints are registered, since a rule takes its converter when added."""
    app.url_map.converters["int"] = StoreId
    app.jinja_env.globals["limits"] = {"reason": REASON, "label": LABEL, "filter": FILTER,
                                       "day_text": DAY_TEXT}


def within_years(moment: date | datetime) -> bool:
    """Whether a typed date is one a person means: FIRST_YEAR to LAST_YEAR."""
    return FIRST_YEAR <= moment.year <= LAST_YEAR


ECHO = 40
"""Characters of a refused text said back in the refusal."""


def echoed(text: str) -> str:
    """What was typed, cut for a refusal: a refusal does not carry a page of text back."""
    return text if len(text) <= ECHO else text[:ECHO] + "…"
