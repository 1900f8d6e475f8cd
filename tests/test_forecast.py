"""The outdoor forecast: its values and means against a plain reference, the simulator's
Open-Meteo-shaped server, the engine's client against real loopback servers (good,
refused, failing, hanging, stale), persistence as fallback with its events, the engine
showing the source, and the season harness."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from controllers.forecast import OutdoorForecast
from gtb.clock import SimulatedClock
from gtb.config import SiteFileError, parse_site
from gtb.engine.forecast import (
    ForecastRefused,
    Forecasts,
    fetch,
    parse_open_meteo,
)
from gtb.engine.journal import Journal
from gtb.model import ForecastService, Site
from gtb.model.points import HeatingLevel, Quality
from gtb.sim.forecast import ForecastServer, loopback_address
from gtb.sim.runner import VirtualSite
from gtb.sim.season import Observations, Sensors, restrict, tabulated_world
from gtb.sim.weather import SyntheticWeather
from gtb.store import Store
from gtb.store.status import ZoneStatus
from gtb.texts import Reason
from web.api_models import ZoneStatusOut

from .engine_rig import rig, run

NOW = datetime(2026, 1, 12, 5, 20, tzinfo=UTC)
MIDNIGHT = NOW.replace(hour=0, minute=0)
LAT, LON = 50.40, 3.28


# --- the forecast's values ----------------------------------------------------------

PARIS = ZoneInfo("Europe/Paris")


def reference_at(forecast: OutdoorForecast, when: datetime) -> float:
    """The value at ``when`` as one would write it by hand: flat before the first time
    and after the last, linear in between."""
    pairs = list(zip(forecast.times, forecast.temperatures, strict=True))
    if when <= pairs[0][0]:
        return pairs[0][1]
    for (before, low), (after, high) in pairwise(pairs):
        if when < after:
            return low + (when - before) / (after - before) * (high - low)
    return pairs[-1][1]


def reference_mean(forecast: OutdoorForecast, start: datetime, end: datetime) -> float:
    """Thirteen values evenly spaced in real time (UTC) over [start, end]; the value at
    ``start`` when the window is empty."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return reference_at(forecast, start)
    return sum(reference_at(forecast, start + (end - start) * n / 12) for n in range(13)) / 13


@pytest.mark.parametrize("seed", range(5))
def test_values_and_means_match_a_plain_reference_on_random_forecasts(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(40):
        # November, and the weeks of both daylight-saving changes.
        first = rng.choice([datetime(2025, 10, 23, tzinfo=UTC), datetime(2025, 11, 3, tzinfo=UTC),
                            datetime(2026, 3, 26, tzinfo=UTC)])
        first += timedelta(minutes=rng.randrange(0, 6000))
        times = [first]
        for _ in range(rng.randrange(0, 30)):  # irregular gaps, and a single value
            times.append(times[-1] + timedelta(minutes=rng.randrange(1, 180)))
        forecast = OutdoorForecast(tuple(times), tuple(rng.uniform(-15, 20) for _ in times),
                                   "forecast")
        reach = (times[-1] - first) + timedelta(hours=6)
        for _ in range(30):
            # Windows that start before the forecast, inside it or after it, in the
            # site's zone or in UTC, empty, reversed, or hours long.
            start = first - timedelta(hours=3) + reach * rng.random()
            start = start.astimezone(rng.choice([PARIS, UTC]))
            length = rng.choice([timedelta(0), timedelta(minutes=-20),
                                 timedelta(minutes=rng.randrange(1, 900, 15)),
                                 timedelta(seconds=rng.uniform(1, 50_000))])
            assert forecast.at(start) == pytest.approx(reference_at(forecast, start),
                                                       abs=1e-9)
            assert forecast.mean(start, start + length) == pytest.approx(
                reference_mean(forecast, start, start + length), abs=1e-9)


@pytest.mark.parametrize(("start", "end"), [
    (datetime(2025, 10, 26, 1, 30, tzinfo=PARIS),  # 3 hours of 2 on the wall clock
     datetime(2025, 10, 26, 3, 30, tzinfo=PARIS)),
    (datetime(2025, 10, 26, 2, 30, tzinfo=PARIS, fold=1),  # the repeated hour's second
     datetime(2025, 10, 26, 4, 30, tzinfo=PARIS)),
    (datetime(2026, 3, 29, 1, 0, tzinfo=PARIS),  # 2 hours of 3 on the wall clock
     datetime(2026, 3, 29, 4, 0, tzinfo=PARIS)),
])
def test_a_mean_across_a_daylight_saving_change_spaces_its_values_in_real_time(
        start: datetime, end: datetime) -> None:
    """A forecast rising 1 K an hour: its mean over a window is the value at the window's
    middle in real time, whatever the wall clock did in between."""
    origin = start.astimezone(UTC) - timedelta(hours=5)
    forecast = OutdoorForecast(tuple(origin + timedelta(hours=h) for h in range(12)),
                               tuple(float(h) for h in range(12)), "forecast")
    middle = start.astimezone(UTC) + (end.astimezone(UTC) - start.astimezone(UTC)) / 2
    assert forecast.mean(start, end) == pytest.approx(forecast.at(middle), abs=1e-9)


# --- servers on loopback -------------------------------------------------------------


class Answers:
    """A loopback HTTP server that answers what the test says: a status and a body, or
    nothing at all until the test ends (a service that hangs)."""

    def __init__(self) -> None:
        self.status, self.body, self.hang = 200, b"{}", False
        self.requests = 0
        self.released = threading.Event()
        answers = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                answers.requests += 1
                if answers.hang:
                    answers.released.wait(30)
                    return
                self.send_response(answers.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answers.body)))
                self.end_headers()
                self.wfile.write(answers.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = (f"http://127.0.0.1:{self.http.server_address[1]}/v1/forecast?"
                    f"latitude={LAT}&longitude={LON}&hourly=temperature_2m&timezone=UTC")
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def json(self, hours: int = 48, first: datetime = MIDNIGHT,
             values: list[Any] | None = None, **extra: Any) -> None:
        times = [(first + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M") for h in range(hours)]
        body = {"latitude": LAT, "longitude": LON, "utc_offset_seconds": 0,
                "timezone": "GMT", "hourly_units": {"time": "iso8601", "temperature_2m": "°C"},
                "hourly": {"time": times,
                           "temperature_2m": values or [3.0 + 0.1 * h for h in range(hours)]}}
        body.update(extra)
        self.status, self.body = 200, json.dumps(body).encode()

    def close(self) -> None:
        self.released.set()
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def answers() -> Iterator[Answers]:
    server = Answers()
    yield server
    server.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "gtb.sqlite") as opened:
        yield opened


def keeper(store: Store, url: str, clock: SimulatedClock, **settings: Any) -> Forecasts:
    return Forecasts(ForecastService(url=url, **settings), clock,
                     Journal(store, clock, "test"))


def events(store: Store) -> list[tuple[str, str | None]]:
    """The forecast's audit lines, oldest first: (message, reason)."""
    return [(e.message, e.reason) for e in reversed(store.audit.events(kind="forecast"))]


# --- the simulator's server ----------------------------------------------------------


def test_the_simulators_forecast_reads_back_through_the_engines_client() -> None:
    """Open-Meteo's shape: hourly from 00:00 UTC today for 7 days; the hours to come are
    the run of the last whole hour (Weather.forecast), read back exactly."""
    weather = SyntheticWeather(LAT, LON, 2)
    server = ForecastServer(weather, lambda: NOW, LAT, LON).start()
    try:
        body = fetch(server.url, 10)
    finally:
        server.stop()
    data = json.loads(body)
    assert data["timezone"] == "GMT" and data["utc_offset_seconds"] == 0
    assert data["hourly_units"] == {"time": "iso8601", "temperature_2m": "°C"}
    assert data["hourly"]["time"][0] == "2026-01-12T00:00"
    assert len(data["hourly"]["time"]) == 7 * 24
    forecast = parse_open_meteo(body, server.url, NOW)
    run_ = weather.forecast(NOW)
    assert forecast.source == "forecast"
    assert forecast.times[5:5 + len(run_.times)] == run_.times
    assert forecast.temperatures[5:5 + len(run_.times)] == run_.temperatures
    # Hours already gone: what their own runs said (lead 0).
    assert forecast.temperatures[2] == weather.forecast(NOW.replace(hour=2), hours=0
                                                        ).temperatures[0]


def test_the_simulators_server_refuses_what_it_does_not_serve() -> None:
    server = ForecastServer(SyntheticWeather(LAT, LON, 0), lambda: NOW, LAT, LON).start()
    try:
        with pytest.raises(ForecastRefused) as refused:
            fetch(server.url.replace("timezone=UTC", "timezone=Europe/Paris"), 10)
        assert refused.value.reason.code == "forecast.http"
        assert refused.value.reason.params["status"] == 400
        assert "timezone=UTC only" in refused.value.reason.fr
        with pytest.raises(ForecastRefused, match="HTTP 404"):
            fetch(server.url.replace("/v1/forecast", "/v1/archive"), 10)
    finally:
        server.stop()
    assert loopback_address(server.url) == ("127.0.0.1", server.port)
    assert loopback_address("https://api.open-meteo.com/v1/forecast") is None


# --- the engine's client: what it refuses --------------------------------------------


def test_an_answer_in_another_zone_or_unix_times_is_read_in_utc() -> None:
    local = {"utc_offset_seconds": 3600, "hourly": {
        "time": [f"2026-01-12T{h:02d}:00" for h in range(24)] + ["2026-01-13T00:00"],
        "temperature_2m": [float(h) for h in range(24)] + [None]}}
    forecast = parse_open_meteo(json.dumps(local).encode(), "u", NOW.replace(hour=0))
    assert forecast.times[0] == datetime(2026, 1, 11, 23, tzinfo=UTC)
    assert len(forecast.times) == 24  # the hour without a value is left out
    unix = {"hourly": {"time": [int(NOW.timestamp()) + 3600 * h for h in range(13)],
                       "temperature_2m": [1.5] * 13}}
    assert parse_open_meteo(json.dumps(unix).encode(), "u", NOW).times[0] == NOW


@pytest.mark.parametrize(("status", "body", "code", "says"), [
    (500, b'{"error": true, "reason": "Internal"}', "forecast.http", "HTTP 500 (Internal)"),
    (200, b"<html>Bad gateway</html>", "forecast.unreadable", "not JSON"),
    (200, b'{"hourly": {"time": ["2026-01-12T00:00"], "temperature_2m": [NaN]}}',
     "forecast.unreadable", "NaN"),
    (200, b"[1, 2, 3]", "forecast.unreadable", "not a JSON object"),
    (200, b'{"hourly": {"time": ["2026-01-12T00:00"], "temperature_2m": [1, 2]}}',
     "forecast.unreadable", "1 times for 2 temperatures"),
])
def test_a_failing_or_garbled_service_leaves_persistence(
        answers: Answers, store: Store, status: int, body: bytes, code: str,
        says: str) -> None:
    answers.status, answers.body = status, body
    clock = SimulatedClock(NOW)
    forecasts = keeper(store, answers.url, clock)
    forecasts.refresh()
    assert forecasts.source(NOW) == "persistence"
    held = forecasts.current(NOW, 4.5)
    assert held is not None and held.source == "persistence"
    assert held.at(NOW + timedelta(hours=30)) == 4.5
    assert forecasts.current(NOW, None) is None  # no outdoor sensor: nothing known
    [(message, reason)] = events(store)
    assert message.startswith("Prévision météo indisponible")
    assert reason is not None and answers.url in reason and says in reason
    with pytest.raises(ForecastRefused) as refused:
        parse_open_meteo(fetch(answers.url, 5), answers.url, NOW)
    assert refused.value.reason.code == code


@pytest.mark.parametrize(("change", "code", "says"), [
    ({"values": [3.0] * 20 + [95.0] + [3.0] * 27}, "forecast.implausible", "95,0 °C"),
    ({"values": [3.0] * 20 + [-75.0] + [3.0] * 27}, "forecast.implausible", "-75,0 °C"),
    ({"hours": 15}, "forecast.short", "moins de 12 h devant"),
    ({"first": NOW + timedelta(hours=3)}, "forecast.short", "moins de 12 h"),
    ({"hourly_units": {"temperature_2m": "°F"}}, "forecast.unreadable", "'°F'"),
])
def test_absurd_values_and_short_forecasts_are_refused(
        answers: Answers, change: dict[str, Any], code: str, says: str) -> None:
    answers.json(**change)
    with pytest.raises(ForecastRefused) as refused:
        parse_open_meteo(fetch(answers.url, 5), answers.url, NOW)
    assert refused.value.reason.code == code
    assert says in refused.value.reason.fr and answers.url in refused.value.reason.fr


def test_times_that_do_not_increase_are_refused(answers: Answers) -> None:
    answers.json()
    data = json.loads(answers.body)
    data["hourly"]["time"][10] = data["hourly"]["time"][9]
    answers.body = json.dumps(data).encode()
    with pytest.raises(ForecastRefused, match="does not follow"):
        parse_open_meteo(fetch(answers.url, 5), answers.url, NOW)


def test_a_service_that_hangs_times_out(answers: Answers, store: Store) -> None:
    answers.hang = True
    clock = SimulatedClock(NOW)
    forecasts = keeper(store, answers.url, clock, timeout_s=0.3)
    forecasts.refresh()
    assert answers.requests == 1
    assert forecasts.source(NOW) == "persistence"
    [(_, reason)] = events(store)
    assert reason == f"{answers.url} n'a pas répondu en 0,3 s"


def test_an_unreachable_service_leaves_persistence(store: Store) -> None:
    gone = Answers()
    url = gone.url
    gone.close()
    forecasts = keeper(store, url, SimulatedClock(NOW))
    forecasts.refresh()
    [(_, reason)] = events(store)
    assert reason is not None and reason.startswith(f"{url} injoignable")


# --- the fallback and the recovery, said once each -----------------------------------


def test_fallback_when_stale_and_recovery_each_said_once(answers: Answers,
                                                         store: Store) -> None:
    clock = SimulatedClock(NOW)
    forecasts = keeper(store, answers.url, clock, stale_after_hours=6)
    answers.json(hours=72)
    forecasts.refresh()
    forecasts.refresh()
    assert forecasts.source(clock.now()) == "forecast"
    good = forecasts.current(clock.now(), -20.0)
    assert good is not None and good.source == "forecast"
    assert good.at(NOW.replace(hour=10, minute=0)) == pytest.approx(4.0)
    assert [m for m, _ in events(store)] == ["Prévision météo en service"]
    # The service fails: the last forecast serves while it is fresh, without a word...
    answers.status, answers.body = 500, b"{}"
    clock.advance(3 * 3600)
    forecasts.refresh()
    assert forecasts.source(clock.now()) == "forecast"
    assert len(events(store)) == 1
    # ... and no longer once it is older than stale_after_hours: persistence, said once.
    clock.advance(3 * 3600 + 60)
    assert forecasts.source(clock.now()) == "persistence"
    forecasts.refresh()
    forecasts.refresh()
    assert [m for m, _ in events(store)][1:] == [
        "Prévision météo indisponible : la température extérieure actuelle est tenue pour "
        "celle des heures à venir (persistance)"]
    assert "HTTP 500" in (events(store)[1][1] or "")
    # The service is back: the forecast again, said once.
    answers.json(hours=72, first=clock.now().replace(minute=0))
    forecasts.refresh()
    forecasts.refresh()
    assert forecasts.source(clock.now()) == "forecast"
    assert [m for m, _ in events(store)] == [
        "Prévision météo en service", events(store)[1][0], "Prévision météo en service"]


def test_a_forecast_that_ran_out_is_not_used(answers: Answers, store: Store) -> None:
    clock = SimulatedClock(NOW)
    forecasts = keeper(store, answers.url, clock, stale_after_hours=48)
    answers.json(hours=24)
    forecasts.refresh()
    assert forecasts.source(NOW) == "forecast"
    assert forecasts.source(NOW + timedelta(hours=19)) == "persistence"


def test_without_a_forecast_key_persistence_and_silence(store: Store) -> None:
    clock = SimulatedClock(NOW)
    forecasts = Forecasts(None, clock, Journal(store, clock, "test"))
    forecasts.refresh()
    assert forecasts.source(NOW) == "persistence"
    assert forecasts.current(NOW, 2.0) == forecasts.current(NOW, 2.0)
    assert events(store) == []


# --- the site file -------------------------------------------------------------------


@pytest.mark.parametrize(("section", "says"), [
    ("forecast: {url: 'ftp://example.org/forecast'}", "not an http(s) URL"),
    ("forecast: {url: 'http://127.0.0.1:8090/', refresh_minutes: 1}", "refresh_minutes"),
    ("forecast: {url: 'http://127.0.0.1:8090/', stale_after_hours: 0.5}", "stale_after_hours"),
    ("forecast: {url: 'http://127.0.0.1:8090/', every: 5}", "every"),
])
def test_the_site_files_forecast_key_is_checked(demo_site_text: str, section: str,
                                                says: str) -> None:
    text = "\n".join(line for line in demo_site_text.splitlines()
                     if not line.startswith(("forecast:", "  url:")))
    text = text.replace("school_zone: B\n", f"school_zone: B\n{section}\n", 1)
    with pytest.raises(SiteFileError) as caught:
        parse_site(text, "site.yaml")
    [error] = caught.value.errors
    assert error.line == text.splitlines().index(section) + 1
    assert says in f"{error.path} {error.message}"


# --- the engine ----------------------------------------------------------------------


def test_the_engine_shows_where_its_outdoor_forecast_comes_from(demo_site: Site,
                                                                tmp_path: Path) -> None:
    """Persistence until the job fetched the simulator's forecast; the forecast then, in
    each zone's status and in the store; persistence again when the service is gone and
    the last forecast grew stale, each change said once in the audit log."""
    site = restrict(demo_site, ["mairie"])
    assert site.forecast is not None
    address = loopback_address(site.forecast.url)
    assert address is not None

    async def body() -> None:
        async with rig(site, tmp_path / "gtb.sqlite") as r:
            await r.tick()
            assert {z.forecast for z in r.engine.zones()} == {"persistence"}
            server = ForecastServer(r.virtual.world.weather, r.clock.now, LAT, LON,
                                    *address).start()
            try:
                r.engine.forecasts.refresh()
                await r.tick()
                assert {z.forecast for z in r.engine.zones()} == {"forecast"}
                stored = r.store.status.zones()["mairie.accueil"]
                assert stored.forecast == "forecast"
                now = r.clock.now()
                forecast = r.engine.forecasts.current(now, None)
                assert forecast is not None
                assert forecast.at(now + timedelta(hours=5)) == pytest.approx(
                    r.virtual.world.weather.forecast(now).at(now + timedelta(hours=5)),
                    abs=0.01)
            finally:
                server.stop()
            await r.tick(after_s=7 * 3600)
            r.engine.forecasts.refresh()
            await r.tick()
            assert r.store.status.zones()["mairie.accueil"].forecast == "persistence"
            said = [e.message for e in reversed(r.store.audit.events(kind="forecast"))]
            assert said == ["Prévision météo en service",
                            "Prévision météo indisponible : la température extérieure "
                            "actuelle est tenue pour celle des heures à venir (persistance)"]

    run(body)


# --- the season harness --------------------------------------------------------------


def test_the_harness_hands_the_forecast_of_the_last_whole_hour(demo_site: Site) -> None:
    site = restrict(demo_site, ["mairie"])
    begin = datetime(2026, 1, 12, 0, 0, tzinfo=UTC)
    world = tabulated_world(site, 3, begin, 8)
    sensors = Sensors(site)
    at = begin + timedelta(minutes=75)
    seen = Observations(world, sensors, at)
    forecast = seen.outdoor_forecast()
    assert forecast is not None and forecast.source == "forecast"
    assert forecast.times[0] == begin + timedelta(hours=1)
    assert forecast.times[-1] - forecast.times[0] == timedelta(hours=48)
    assert forecast == SyntheticWeather(site.latitude, site.longitude, 3,
                                        typical=False).forecast(at)
    # The same run serves the whole hour; its error is not the weather.
    assert Observations(world, sensors, at + timedelta(minutes=30)).outdoor_forecast() \
        is forecast
    truth = world.weather.sample([t.timestamp() for t in forecast.times])[0]
    assert any(abs(f - t) > 0.05 for f, t in zip(forecast.temperatures, truth, strict=True))
    # A site without an outdoor sensor has none, as the engine has no reading to hold.
    school = restrict(demo_site, ["ecole"])
    assert Observations(tabulated_world(school, 3, begin, 8), Sensors(school),
                        at).outdoor_forecast() is None



def test_the_api_shows_the_source() -> None:
    status = ZoneStatus(building="mairie", zone="accueil", name="Accueil", at=NOW,
                        temperature=18.0, quality=Quality.OK, level=HeatingLevel.COMFORT,
                        setpoint=19.0, reason=Reason.of("empty"), degraded=False,
                        forecast="persistence")
    assert ZoneStatusOut.model_validate(status).model_dump()["forecast"] == "persistence"


def test_a_fetch_that_ends_after_the_engine_stopped_keeps_and_says_nothing(
        answers: Answers, store: Store) -> None:
    answers.json()
    clock = SimulatedClock(NOW)
    forecasts = keeper(store, answers.url, clock)
    forecasts.stop()
    forecasts.refresh()
    assert answers.requests == 1
    assert forecasts.source(NOW) == "persistence"
    assert events(store) == []


def test_a_taken_port_is_said_with_what_to_change() -> None:
    first = ForecastServer(SyntheticWeather(LAT, LON, 0), lambda: NOW, LAT, LON).start()
    try:
        second = ForecastServer(SyntheticWeather(LAT, LON, 0), lambda: NOW, LAT, LON,
                                port=first.port)
        with pytest.raises(OSError, match=f"127.0.0.1:{first.port}.*forecast: url:"):
            second.start()
    finally:
        first.stop()


def test_the_virtual_site_serves_the_forecast_where_the_site_file_says(
        demo_site: Site) -> None:
    """As ``gtb sim`` and ``gtb demo`` do: the demo's forecast: url: (moved to a free
    port) answers the virtual commune's own forecast, and only while it serves."""
    site = restrict(demo_site, ["mairie"])
    assert site.forecast is not None
    url = site.forecast.url
    clock = SimulatedClock(NOW)

    async def body() -> None:
        virtual = VirtualSite(site, clock, seed=4, serve_forecast=True)
        async with virtual.serving(sync_s=3600):
            forecast = parse_open_meteo(fetch(url, 10), url, NOW)
            assert forecast.at(NOW + timedelta(hours=7)) == pytest.approx(
                virtual.world.weather.forecast(NOW).at(NOW + timedelta(hours=7)))
        with pytest.raises(ForecastRefused, match="unreachable"):
            fetch(url, 10)
        assert VirtualSite(site, clock, seed=4).forecast is None  # the tests' own rigs

    run(body)
