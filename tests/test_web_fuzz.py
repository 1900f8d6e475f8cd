"""The panel's forms fuzzed with hypothesis, signed in as the admin on a real store file:
every POST route of the permission matrix and every GET route that reads a query string
gets random values in its fields and its ids (text, control characters, very long
strings, huge numbers, dates near the ends of the calendar, and values the route accepts,
so that the checks past the first are reached too). Whatever comes, the answer is never a
5xx nor a traceback: a refusal is a 4xx that says why. Exceptions propagate in the test
client (TESTING), so a crash fails the example that caused it.

Derandomized, and bounded in examples (``EXAMPLES`` per route), so the file takes well
under a minute. The JSON API's own fuzzing is schemathesis's, in tests/test_api.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gtb.model import Site

from .test_web_permissions import MATRIX
from .web_rig import PanelRig, csrf, panel_rig

EXAMPLES = 50
"""Examples per route."""

WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "pages.override": {"value": ("19", "20,5", "35", "nan"), "duration": ("1h", "2h",
                       "period", "until"), "until": ("2026-01-12T18:00",), "why": ("réunion",)},
    "pages.cancel": {"why": ("fini", "")},
    "pages.learning": {"enabled": ("1", "0")},
    "lighting.order": {"cabinet": ("ep-centre",), "state": ("on", "off"),
                       "duration": ("sunrise", "1h", "until"), "until": ("2026-01-12T18:00",),
                       "why": ("accident",)},
    "lighting.cancel": {"why": ("rue dégagée",)},
    "lighting.add_entry": {"cabinet": ("ep-centre",), "kind": ("lights_on", "lights_off"),
                           "label": ("Marché",), "start": ("2026-01-16T17:00",),
                           "end": ("2026-01-16T22:00",)},
    "lighting.remove_entry": {},
    "programmes.save": {**{day: ("08:00-12:00, 14:00-18:00", "") for day in WEEK},
                        "why": ("hiver",)},
    "programmes.add_exception": {"kind": ("event", "closure", "day"), "label": ("Vœux",),
                                 "scope": ("zone", "building"),
                                 "start": ("2026-01-16T17:00",), "end": ("2026-01-16T22:00",),
                                 "first": ("2026-01-16",), "last": ("2026-01-17",),
                                 "periods": ("09:00-12:00",)},
    "programmes.remove_exception": {},
    "alarms.acknowledge": {},
    "export.download": {"from": ("2026-01-05", "2026-01"), "to": ("2026-01-06", "2026-02"),
                        "building": ("mairie",), "zone": ("mairie.accueil", "accueil"),
                        "quantity": ("temperature", "energy"),
                        "resolution": ("raw", "hour", "day", "month"),
                        "format": ("csv", "json", "lp")},
    "audit.index": {"building": ("mairie",), "actor": ("admin",), "kind": ("override",),
                    "from": ("2026-01-01",), "to": ("2026-01-31",), "before": ("1768208400-3",)},
    "alarms.index": {"page": ("1", "2")},
    "savings.report": {"month": ("2026-01", "2025-12")},
    "pages.series": {"range": ("48h", "7d")},
    "admin.set_disabled": {"disabled": ("1", "0")},
    "admin.end_sessions": {},
    "admin.revoke_token": {},
}
"""What each fuzzed route reads, with values it accepts."""

GETS = {route for route in MATRIX if route[0] == "GET" and route[1] in FIELDS}
ROUTES = sorted({route for route in MATRIX if route[0] == "POST"} | GETS)

HUGE = st.one_of(st.integers(min_value=-2**80, max_value=2**80),
                 st.sampled_from([2**63 - 1, 2**63, 2**64, 10**30, -1, 0]))
EDGES = st.sampled_from(["0001-01-01", "9999-12-31", "9999-12-31T23:59", "0001-01-01T00:00",
                         "10000-01-01", "2026-02-30", "1999-12-31", "2101-01-01"])
"""Dates at the ends of the calendar and of the years a person may type."""
CALENDAR = st.one_of(st.dates().map(str), st.datetimes().map(lambda d: d.isoformat()),
                     st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M")), EDGES)
LONG = st.builds(lambda piece, times: piece * times,
                 st.text(min_size=1, max_size=3), st.integers(100, 300_000))
CONTROL = st.text(st.characters(max_codepoint=0x20), max_size=20)


WILD = st.one_of(st.text(), HUGE.map(str), st.floats().map(str), CALENDAR, LONG, CONTROL)


def values(accepted: tuple[str, ...]) -> st.SearchStrategy[str]:
    """What a field may get: a value it accepts (so that a request gets past its first
    checks), any date for a date, or anything."""
    if not accepted:
        return WILD
    dated = re.match(r"\d{4}-\d\d", accepted[0]) is not None
    return st.one_of(st.sampled_from(accepted), EDGES if dated else st.nothing(),
                     CALENDAR if dated else st.nothing(), WILD)


def requests(route: tuple[str, str]) -> st.SearchStrategy[tuple[str, dict[str, str]]]:
    """A path of the route (its id fuzzed too) and its fields (empty is absent to a form)."""
    path = MATRIX[route][0].split("?")[0]
    fields = FIELDS[route[1]]
    form = st.fixed_dictionaries({name: values(accepted) for name, accepted in fields.items()})
    if "/1/" not in path:
        return st.tuples(st.just(path), form)
    ids = st.one_of(HUGE.map(str), st.text(min_size=1, max_size=30).map(
        lambda text: quote(text, safe="")))
    return st.tuples(ids.map(lambda found: path.replace("/1/", f"/{found}/")), form)


@pytest.fixture
def rig(demo_site: Site, tmp_path: Path) -> Iterator[PanelRig]:
    yield from panel_rig(demo_site, tmp_path / "gtb.sqlite", published=True)


def test_every_form_and_query_route_is_fuzzed() -> None:
    assert {name for _, name in ROUTES} == set(FIELDS)
    assert {route for route in MATRIX if route[0] == "POST"} <= set(ROUTES)


@pytest.mark.parametrize("route", ROUTES, ids=["{} {}".format(*route) for route in ROUTES])
def test_no_field_value_makes_a_server_error(rig: PanelRig, route: tuple[str, str]) -> None:
    client = rig.client("admin")
    token = csrf(client, "/login")
    method = route[0]

    @given(request=requests(route))
    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def answers_without_error(request: tuple[str, dict[str, str]]) -> None:
        path, form = request
        if method == "GET":
            response = client.get(f"{path}?{urlencode(form)}")
        else:
            response = client.post(path, data={**form, "csrf_token": token})
        body = response.get_data(as_text=True)  # a download streams to its end
        response.close()
        assert response.status_code < 500, (path, form, response.status_code)
        assert "Traceback" not in body

    answers_without_error()
