"""Shipping the store to InfluxDB: the v1 path against Debian's InfluxDB 1.x (read back with
InfluxQL), the v2 path against Debian's VictoriaMetrics, and the error answers of InfluxDB
2.x and 3.x (400 partial write, 401, 413, 429 with Retry-After) against a local HTTP server
that answers like them: no InfluxDB 2 or 3 server can run here, so that one is a fake, and
only that one."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from gtb.bench.servers import LocalInfluxDB1, LocalVictoriaMetrics
from gtb.clock import SimulatedClock
from gtb.influx import ALARM_KEY, InfluxSettings, Schema, Shipper
from gtb.model import Site
from gtb.model.points import Quality
from gtb.store import Store
from gtb.store.samples import Sample
from gtb.texts import Reason

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
TEMP = "mairie.accueil.temperature"
SETPOINT = "mairie.accueil.consigne"
METER = "mairie.compteur-chauffage"
DB = "gtb"


@pytest.fixture(scope="module")
def influxdb1() -> Iterator[LocalInfluxDB1]:
    with LocalInfluxDB1() as server:
        yield server


@pytest.fixture
def database(influxdb1: LocalInfluxDB1, request: pytest.FixtureRequest) -> str:
    name = request.node.name.replace("[", "_").replace("]", "").replace("-", "_")[:60]
    influxdb1.create_database(name)
    return name


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "gtb.sqlite") as store:
        yield store


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def fill(store: Store, count: int = 30) -> None:
    """``count`` ticks of three points, one failed and one stale read, and two events."""
    for i in range(count):
        at = T0 + minutes(i)
        samples = [Sample(TEMP, at, 19.0 + i / 10), Sample(METER, at, 1000.0 + i)]
        if i == 5:
            samples.append(Sample(SETPOINT, at, None, Quality.FAILED, 'timeout "device 1"'))
        elif i == 6:
            samples.append(Sample(SETPOINT, at, 21.0, Quality.STALE, "timeout"))
        else:
            samples.append(Sample(SETPOINT, at, 21.0))
        store.samples.write(samples)
    store.audit.record(T0, "override", "marie", "Consigne 22 °C\npour la réunion",
                       reason='conseil "municipal"', building="mairie", zone="accueil",
                       point=SETPOINT, data={"value": 22.0},
                       message_en="Setpoint 22 °C for the meeting")
    store.audit.record(T0, "login", "marie", "connexion")  # same second, no point


def v1(server: LocalInfluxDB1, database: str, **more: Any) -> InfluxSettings:
    return InfluxSettings(url=server.url, api="v1", database=database, **more)


def shipper(store: Store, site: Site, settings: InfluxSettings, **more: Any) -> Shipper:
    return Shipper(store, site, settings, SimulatedClock(T0 + timedelta(hours=1)), **more)


def values(server: LocalInfluxDB1, database: str, query: str) -> list[list[Any]]:
    series = server.query(query, database)
    return [] if not series else series[0]["values"]


# -- line protocol -------------------------------------------------------------------------


def test_lines_follow_the_schema(demo_site: Site) -> None:
    schema = Schema(demo_site)
    line = schema.sample_line(TEMP, 1_793_606_400, 19.5, "ok", None)
    assert line == ("temperature,building=mairie,point=mairie.accueil.temperature,"
                    "site=marchiennes-le-vert,unit=°C,zone=accueil value=19.5 1793606400")
    failed = schema.sample_line(SETPOINT, 1, None, "failed", 'a "b"\\c')
    assert failed.split(" ", 1)[1] == 'quality="failed",error="a \\"b\\"\\\\c" 1'
    assert schema.sample_line("gone.point", 1, 2.0, "ok", None) == \
        "sample,point=gone.point,site=marchiennes-le-vert value=2.0 1"


def series(schema: Schema, point: str) -> tuple[str, dict[str, str]]:
    measurement, *tags = schema.sample_line(point, 1, 1.0, "ok", None).split(" ")[0].split(",")
    return measurement, dict(tag.split("=") for tag in tags)


def test_meters_say_what_they_count_and_every_quantity_its_unit(demo_site: Site) -> None:
    schema = Schema(demo_site)
    assert series(schema, METER) == ("energy", {
        "building": "mairie", "point": METER, "site": "marchiennes-le-vert", "unit": "kWh",
        "meter": "heating"})
    assert series(schema, "mairie.compteur-electricite")[1]["meter"] == "electricity"
    assert series(schema, "ep-centre.compteur") == ("energy", {
        "cabinet": "ep-centre", "point": "ep-centre.compteur", "site": "marchiennes-le-vert",
        "unit": "kWh", "meter": "lighting"})
    assert series(schema, "mairie.accueil.vanne")[1]["unit"] == "%"
    # States and modes have no unit: no tag rather than an empty one.
    assert "unit" not in series(schema, "mairie.accueil:mode")[1]


def test_decided_and_reported_modes_relays_and_dimming_go_apart(demo_site: Site) -> None:
    schema = Schema(demo_site)
    assert series(schema, "gymnase.salle:mode")[0] == "mode_decided"
    assert series(schema, "gymnase.salle.mode")[0] == "mode_reported"
    assert series(schema, "ep-centre.relais") == ("lighting_relay", {
        "cabinet": "ep-centre", "point": "ep-centre.relais", "site": "marchiennes-le-vert"})
    assert series(schema, "ep-centre.gradation") == ("lighting_dimming", {
        "cabinet": "ep-centre", "point": "ep-centre.gradation", "site": "marchiennes-le-vert",
        "unit": "%"})


def test_a_cabinets_event_carries_its_cabinet_as_its_samples_do(
    store: Store, demo_site: Site
) -> None:
    store.audit.record(T0, "command", "engine", "ep-centre.relais = 0", reason="coupure",
                       point="ep-centre.relais", data={"value": 0.0})
    [event] = store.audit.events()
    head = Schema(demo_site).event_line(event).split(" ")[0]
    assert head == ("command,cabinet=ep-centre,kind=command,point=ep-centre.relais,"
                    "site=marchiennes-le-vert")


# -- InfluxDB 1.x, API v1 --------------------------------------------------------------------


def test_v1_ships_every_sample_and_event_once(
    influxdb1: LocalInfluxDB1, database: str, store: Store, demo_site: Site
) -> None:
    fill(store)
    sender = shipper(store, demo_site, v1(influxdb1, database, batch_size=7))
    report = sender.ship()
    assert (report.samples, report.events, report.waiting) == (90, 2, False)
    assert store.shipping.backlog() == {"samples": 0, "events": 0}

    temps = values(influxdb1, database,
                   f"SELECT value FROM temperature WHERE point = '{TEMP}' AND zone = 'accueil'")
    assert [v for _, v in temps] == [pytest.approx(19.0 + i / 10) for i in range(30)]
    assert temps[0][0] == int(T0.timestamp())
    failed = values(influxdb1, database,
                    "SELECT value, quality, error FROM setpoint WHERE quality = 'failed'")
    assert failed == [[int((T0 + minutes(5)).timestamp()), None, "failed", 'timeout "device 1"']]
    stale = values(influxdb1, database, "SELECT value FROM setpoint WHERE quality = 'stale'")
    assert stale == [[int((T0 + minutes(6)).timestamp()), 21.0]]
    assert values(influxdb1, database, "SELECT count(value) FROM energy")[0][1] == 30

    events = values(influxdb1, database,
                    'SELECT "kind", message, actor, reason, value, message_en FROM event')
    assert [e[0] for e in events] == [int(T0.timestamp())] * 2, "at their second"
    assert [e[1:] for e in events] == [
        ["override", "Consigne 22 °C pour la réunion", "marie", 'conseil "municipal"', 22.0,
         "Setpoint 22 °C for the meeting"],
        ["login", "connexion", "marie", None, None, None],
    ]
    # Nothing is sent twice: a second pass finds nothing, a new tick goes alone.
    assert sender.ship().samples == 0
    store.samples.write([Sample(TEMP, T0 + minutes(30), 22.0)])
    assert sender.ship().samples == 1
    assert values(influxdb1, database, "SELECT count(value) FROM temperature")[0][1] == 31


def test_a_line_influxdb_refuses_is_set_aside_and_the_rest_goes(
    influxdb1: LocalInfluxDB1, database: str, store: Store, demo_site: Site
) -> None:
    # A point the site file no longer names goes to ``sample``, where a string already
    # sits in ``value``: InfluxDB 1.x refuses the float with a field type conflict.
    at = int(T0.timestamp())
    write_v1(influxdb1, database, f'sample,point=x value="texte" {at}')
    fill(store, count=10)
    store.samples.write([Sample("ancien.point", T0 + minutes(3), 4.0)])
    report = shipper(store, demo_site, v1(influxdb1, database, batch_size=16)).ship()
    assert (report.samples, report.set_aside, report.waiting) == (30, 1, False)
    [aside] = store.shipping.set_aside()
    assert aside.stream == "samples" and aside.line.startswith("sample,point=ancien.point")
    assert "conflict" in aside.error
    [event] = store.audit.events(kind="influx_rejected")
    assert "1 ligne(s)" in event.message
    assert values(influxdb1, database, "SELECT count(value) FROM temperature")[0][1] == 10
    assert store.shipping.backlog()["samples"] == 0


def write_v1(server: LocalInfluxDB1, database: str, body: str) -> None:
    import urllib3

    response = urllib3.request("POST", f"{server.url}/write?db={database}&precision=s",
                               body=body.encode())
    assert response.status == 204, response.data


def test_v1_with_a_wrong_database_is_refused_and_alarmed(
    influxdb1: LocalInfluxDB1, store: Store, demo_site: Site
) -> None:
    fill(store, count=2)
    sender = shipper(store, demo_site, v1(influxdb1, "nulle_part"))
    report = sender.ship()
    assert report.waiting and "404" in (report.error or "")
    assert ALARM_KEY in store.alarms.active()
    assert "réglages à vérifier" in store.alarms.active()[ALARM_KEY].message
    assert store.shipping.backlog()["samples"] == 6


# -- the v2 API, through influxdb-client, into VictoriaMetrics --------------------------------


def test_v2_write_path_delivers_each_sample_once_and_no_text(
    store: Store, demo_site: Site
) -> None:
    fill(store)
    store.audit.log(T0, "command", "engine",
                    Reason.of("command.value", key="ep-centre.relais", value=0.0),
                    Reason.of("lighting.daylight"), point="ep-centre.relais",
                    data={"value": 0.0})
    with LocalVictoriaMetrics() as server:
        settings = InfluxSettings(url=server.url, api="v2", org="commune", bucket="gtb",
                                  token="jeton", batch_size=11)
        report = shipper(store, demo_site, settings).ship()
        assert (report.samples, report.events, report.waiting) == (90, 3, False)
        [temperature] = server.export("temperature_value")
        assert temperature["metric"]["zone"] == "accueil"
        assert temperature["metric"]["point"] == TEMP
        assert temperature["timestamps"] == [int((T0 + minutes(i)).timestamp()) * 1000
                                             for i in range(30)]
        [setpoint] = server.export("setpoint_value")
        assert len(setpoint["values"]) == 29  # the failed read has no value
        events = server.export("event_id")
        assert sorted(e["metric"]["kind"] for e in events) == ["login", "override"]
        # What docs/history.md says of VictoriaMetrics: numbers and labels; a text field
        # becomes a metric of zeros.
        texts = server.export('{__name__=~"event_(message|actor|reason)(_en)?"}')
        assert {e["metric"]["__name__"] for e in texts} == {
            "event_message", "event_actor", "event_reason", "event_message_en"}
        assert {v for e in texts for v in e["values"]} == {0}
        [override] = server.export("event_value")
        assert override["metric"]["point"] == SETPOINT and override["values"] == [22.0]
        # The engine's reason, as a code, is a label: VictoriaMetrics keeps it.
        [command] = server.export("command_value")
        assert (command["metric"]["reason_code"], command["metric"]["cabinet"]) == (
            "lighting.daylight", "ep-centre")


# -- InfluxDB 2.x and 3.x error answers, from a fake server -------------------------------------


class FakeInfluxDB:
    """A local HTTP server that answers /api/v2/write like InfluxDB 2.x or 3.x would, by a
    rule given per test. It keeps every body it was sent. A fake: see the module docstring."""

    def __init__(self, rule: Callable[[list[str]], tuple[int, dict[str, str], bytes]]) -> None:
        self.rule = rule
        self.bodies: list[list[str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                lines = self.rfile.read(length).decode().splitlines()
                fake.bodies.append(lines)
                status, headers, body = fake.rule(lines)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def delivered(self) -> list[str]:
        return [line for body in self.bodies for line in body]


@pytest.fixture
def fake() -> Iterator[Callable[..., FakeInfluxDB]]:
    made: list[FakeInfluxDB] = []

    def make(rule: Callable[[list[str]], tuple[int, dict[str, str], bytes]]) -> FakeInfluxDB:
        made.append(FakeInfluxDB(rule))
        return made[-1]

    yield make
    for server in made:
        server.close()


def v2(server: FakeInfluxDB, **more: Any) -> InfluxSettings:
    return InfluxSettings(url=server.url, api="v2", org="commune", bucket="gtb", token="t",
                          **more)


JSON = {"Content-Type": "application/json"}



def test_429_waits_as_long_as_retry_after_says(
    fake: Callable[..., FakeInfluxDB], store: Store, demo_site: Site
) -> None:
    busy = [True]

    def rule(lines: list[str]) -> tuple[int, dict[str, str], bytes]:
        if busy[0]:
            return 429, {**JSON, "Retry-After": "30"}, b'{"code":"too many requests"}'
        return 204, {}, b""

    server = fake(rule)
    fill(store, count=3)
    now = [1000.0]
    sender = shipper(store, demo_site, v2(server), now=lambda: now[0])
    report = sender.ship()
    assert report.waiting and "429" in (report.error or "")
    assert store.shipping.backlog()["samples"] == 9
    busy[0] = False
    now[0] += 29
    assert sender.ship().waiting and len(server.bodies) == 1, "Retry-After is honoured"
    now[0] += 1
    report = sender.ship()
    # The two events, and the outage's own: the archive learns of its absence too.
    assert (report.samples, report.events, report.waiting) == (9, 3, False)
    assert [e.kind for e in store.audit.events(kind="influx_down")] == ["influx_down"]
    assert store.audit.events(kind="influx_up"), "the recovery is in the audit log"


def test_401_is_alarmed_at_once_and_backs_off(
    fake: Callable[..., FakeInfluxDB], store: Store, demo_site: Site
) -> None:
    server = fake(lambda lines: (401, JSON, b'{"code":"unauthorized","message":"unauthorized'
                                             b' access"}'))
    fill(store, count=1)
    now = [0.0]
    sender = shipper(store, demo_site, v2(server), now=lambda: now[0])
    delays = []
    for _ in range(4):
        sender.ship()
        before = len(server.bodies)
        now[0] += 0.5
        sender.ship()
        assert len(server.bodies) == before, "no new attempt inside the backoff"
        waited = 0.5
        while len(server.bodies) == before:
            now[0] += 0.5
            waited += 0.5
            sender.ship()
        delays.append(waited)
    assert delays == sorted(delays) and delays[-1] > delays[0], "the backoff grows"
    alarm = store.alarms.active()[ALARM_KEY]
    assert "unauthorized access" in alarm.message


def test_413_halves_the_batch_until_it_fits(
    fake: Callable[..., FakeInfluxDB], store: Store, demo_site: Site
) -> None:
    server = fake(lambda lines: (413, JSON, b'{"code":"request too large"}') if len(lines) > 4
                  else (204, {}, b""))
    fill(store, count=10)
    report = shipper(store, demo_site, v2(server, batch_size=30)).ship()
    assert (report.samples, report.set_aside) == (30, 0)
    accepted = [body for body in server.bodies if len(body) <= 4]
    assert sum(len(body) for body in accepted) == 32  # 30 samples, 2 events, each once


def test_3x_partial_write_sets_aside_the_lines_it_names(
    fake: Callable[..., FakeInfluxDB], store: Store, demo_site: Site
) -> None:
    def rule(lines: list[str]) -> tuple[int, dict[str, str], bytes]:
        bad = [n for n, line in enumerate(lines, start=1) if "quality=" in line]
        if not bad:
            return 204, {}, b""
        return 400, JSON, json.dumps({
            "error": "partial write of line protocol occurred",
            "data": [{"original_line": lines[n - 1], "line_number": n,
                      "error_message": "invalid column type for column 'quality'"}
                     for n in bad]}).encode()

    server = fake(rule)
    fill(store, count=10)
    report = shipper(store, demo_site, v2(server, batch_size=100)).ship()
    assert (report.samples, report.set_aside) == (28, 2)
    assert len(server.bodies) == 2, "InfluxDB 3 wrote the other lines: nothing is sent again"
    assert {a.line.split(" ")[1].split(",")[0] for a in store.shipping.set_aside()} == {
        'quality="failed"', 'value=21.0'}
    assert all("partial write" in a.error for a in store.shipping.set_aside())


def test_2x_bad_line_is_found_by_halving(
    fake: Callable[..., FakeInfluxDB], store: Store, demo_site: Site
) -> None:
    def rule(lines: list[str]) -> tuple[int, dict[str, str], bytes]:
        if any("error=" in line and "device 1" in line for line in lines):
            return 400, JSON, (b'{"code":"invalid","message":"partial write: field type '
                               b'conflict: input field \\"error\\" on measurement \\"setpoint\\"'
                               b' is type string, already exists as type float dropped=1"}')
        return 204, {}, b""

    server = fake(rule)
    fill(store, count=16)
    report = shipper(store, demo_site, v2(server, batch_size=64)).ship()
    assert (report.samples, report.set_aside) == (47, 1)
    [aside] = store.shipping.set_aside()
    assert "device 1" in aside.line and "field type conflict" in aside.error
    shipped = {line for line in server.delivered if "device 1" not in line}
    assert len(shipped) == 47 + 3  # the samples, the two events and the set-aside's event


def test_an_unreachable_server_is_an_event_then_an_alarm_after_five_minutes(
    store: Store, demo_site: Site
) -> None:
    clock = SimulatedClock(T0)
    fill(store, count=2)
    settings = InfluxSettings(url="http://127.0.0.1:9", api="v1", database="gtb",
                              timeout_s=1.0)
    now = [0.0]
    sender = Shipper(store, demo_site, settings, clock, now=lambda: now[0])
    assert sender.ship().waiting
    assert store.audit.events(kind="influx_down") and ALARM_KEY not in store.alarms.active()
    clock.advance(301)
    now[0] += 1000
    assert sender.ship().waiting
    assert "ne répond pas" in store.alarms.active()[ALARM_KEY].message
    assert store.shipping.backlog()["samples"] == 6, "nothing is lost"


def test_settings_come_from_the_environment_and_say_what_is_missing() -> None:
    env = {"GTB_INFLUX_URL": "http://127.0.0.1:8086/", "GTB_INFLUX_BUCKET": "gtb",
           "GTB_INFLUX_TOKEN": "secret", "GTB_INFLUX_ORG": "commune"}
    settings = InfluxSettings.from_env(env)
    assert settings is not None
    assert (settings.url, settings.api, settings.token) == ("http://127.0.0.1:8086", "v2",
                                                            "secret")
    assert "secret" not in repr(settings)
    assert InfluxSettings.from_env({}) is None
    with pytest.raises(ValueError, match="needs a database"):
        InfluxSettings.from_env(env, api="v1")
    with pytest.raises(ValueError, match="must start with http"):
        InfluxSettings.from_env({**env, "GTB_INFLUX_URL": "influx:8086"})
