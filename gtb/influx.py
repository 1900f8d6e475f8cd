"""Ships what the store holds to InfluxDB: resumable, in order, nothing lost.

The store is the engine's own record; InfluxDB is the auditors' archive, fed from it. Two
streams go out, each behind a watermark kept in the store: the samples, in the order
they were written (the store's sample log), and the audit log. A shipping pass sends
batches oldest first and moves a watermark only once InfluxDB has taken the whole batch,
so a pass cut short by an outage starts again where it stopped; sending a line twice is
harmless, since InfluxDB keeps one point per series and time.

What InfluxDB answers decides what happens next:

- 2xx: shipped;
- 400 (a line it cannot take: a field of the wrong type, a malformed line): the batch is
  halved until the guilty lines are found; they are set aside in the store with the error
  and an event, and the rest goes on. InfluxDB 3 names the refused lines itself and has
  written the others;
- 413 (batch too large): the batch is halved and sent again;
- 429 and 503 (busy) and any 5xx, a timeout, a refused connection: wait and try again,
  after the delay that ``Retry-After`` asks for, or with exponential backoff;
- 401, 403, 404 (a bad token, a missing bucket or database): nothing can go until a person
  fixes the settings; retried with backoff, and alarmed at once.

An outage that lasts raises an alarm, kept current as the backlog grows and adopted by the
shipper of a restarted engine; a ping during the backoff sees the server's return within
seconds, and the backlog then drains with a progress line. When the engine stops, a last
pass of bounded time ships what is left (``Shipper.drain``).

Schema (``gtb.archive``; docs/history.md): one measurement per quantity, the engine's
decided mode and a device's reported one apart, relays and dimming levels apart; tags
``site`` (the commune, on every series and event), ``building``, ``zone``, ``cabinet``,
``equipment`` and ``point`` (bounded by the number of points), ``unit`` (the point's unit,
as the site file writes it: ``°C``, ``%``, ``kWh``; none for states and modes) and
``meter`` (what an energy meter or a power point measures: ``heating``, ``electricity``,
``gas``, ``water``, ``lighting``); field ``value`` as a float, UTC. Samples are written at
second precision; a sample that is not good also carries ``quality`` and ``error`` string
fields (a failed read has no ``value``). Events go to ``event`` (commands the engine wrote
to ``command``) with tag ``kind``, the tags of where they happened, ``reason_code`` (the
engine's reason, as its code), and string fields ``message``, ``actor`` and ``reason``
(French; ``message_en`` and ``reason_en`` their English, when the line has it); they are
written at microsecond precision, the microseconds being the audit-log line's id modulo
one million, so that two events of the same second stay two points.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol, cast
from urllib.parse import urlencode

import urllib3

from gtb.archive import DECIDED_MODE, MEASUREMENTS, UNKNOWN_MEASUREMENT
from gtb.clock import Clock, monotonic
from gtb.i18n import number_fr
from gtb.model import PointRef, Site
from gtb.model.points import Severity, zone_mode_key
from gtb.store import Store
from gtb.store.audit import Event
from gtb.store.shipping import ShippableSample

ALARM_KEY = "influx:unreachable"
ALARM_AFTER = timedelta(minutes=5)
"""An outage shorter than this is only an event; a longer one is an alarm."""

ENV_PREFIX = "GTB_INFLUX_"

Api = Literal["v1", "v2"]


@dataclass(frozen=True)
class InfluxSettings:
    """Where to ship. ``v2`` is the API of InfluxDB 2.x and 3.x (and of 1.8+, with the
    token ``user:password`` and the bucket ``database/retention-policy``), through
    influxdb-client; ``v1`` is the ``/write`` endpoint of InfluxDB 1.x. Secrets (token,
    password) come from the environment only."""

    url: str
    api: Api = "v2"
    org: str | None = None
    bucket: str | None = None
    database: str | None = None
    retention_policy: str | None = None
    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    batch_size: int = 5000
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"InfluxDB URL {self.url!r} must start with http:// or https://")
        if self.api not in ("v1", "v2"):
            raise ValueError(f"InfluxDB API {self.api!r}: expected v1 or v2")
        if self.api == "v2" and not self.bucket:
            raise ValueError("InfluxDB API v2 needs a bucket (GTB_INFLUX_BUCKET)")
        if self.api == "v1" and not self.database:
            raise ValueError("InfluxDB API v1 needs a database (GTB_INFLUX_DATABASE)")
        if self.batch_size < 1:
            raise ValueError(f"batch size must be at least 1, not {self.batch_size}")

    @property
    def where(self) -> str:
        """The target as a person reads it, without secrets."""
        into = self.bucket if self.api == "v2" else self.database
        return f"{self.url} ({self.api}, {into})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None,
                 **given: str | None) -> InfluxSettings | None:
        """Settings from ``GTB_INFLUX_*`` variables, overridden by the non-secret values
        ``given`` (command-line options); None when no URL is set: shipping is off."""
        env = os.environ if environ is None else environ
        values: dict[str, str | None] = {
            name: env.get(ENV_PREFIX + name.upper()) or None
            for name in ("url", "api", "org", "bucket", "database", "retention_policy",
                         "token", "username", "password")
        }
        values.update({k: v for k, v in given.items() if v is not None})
        if not values["url"]:
            return None
        return cls(
            url=str(values["url"]).rstrip("/"),
            api=values["api"] or "v2",  # type: ignore[arg-type]
            org=values["org"], bucket=values["bucket"], database=values["database"],
            retention_policy=values["retention_policy"], token=values["token"],
            username=values["username"], password=values["password"],
        )


# -- line protocol ---------------------------------------------------------------------

_KEY_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n"})
_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n"})


def _tag(text: str) -> str:
    return text.translate(_KEY_ESCAPES)


def _string_field(text: str) -> str:
    # InfluxDB takes a newline within quotes, but not every parser that speaks line
    # protocol does (VictoriaMetrics drops the line): a newline becomes a space.
    flat = " ".join(text.splitlines())
    escaped = flat.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _series(measurement: str, tags: Iterable[tuple[str, str | None]]) -> str:
    """``measurement,tag=value,...`` with tags sorted by key (what InfluxDB prefers)."""
    parts = [measurement.translate(_MEASUREMENT_ESCAPES)]
    parts += [f"{_tag(k)}={_tag(v)}" for k, v in sorted(tags) if v]
    return ",".join(parts)


def _place(ref: PointRef) -> list[tuple[str, str | None]]:
    """The tags of where a point stands."""
    return [("building", ref.building.id if ref.building else None),
            ("zone", ref.zone.id if ref.zone else None),
            ("cabinet", ref.cabinet.id if ref.cabinet else None),
            ("equipment", ref.equipment.id if ref.equipment else None)]


def series_of(site: Site) -> dict[str, str]:
    """Each point key of the site with its series (measurement and tags), escaped."""
    series = {}
    for ref in site.points():
        tags = [("site", site.id), ("point", ref.key), *_place(ref),
                ("unit", ref.point.si_unit), ("meter", ref.point.meter)]
        series[ref.key] = _series(MEASUREMENTS[ref.role], tags)
    for building in site.buildings:
        for zone in building.zones:
            key = zone_mode_key(f"{building.id}.{zone.id}")
            series[key] = _series(DECIDED_MODE, [("site", site.id), ("point", key),
                                                 ("building", building.id), ("zone", zone.id)])
    return series


class Schema:
    """Turns stored samples and events into line protocol for one site."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self._series = series_of(site)
        self._refs = {ref.key: ref for ref in site.points()}

    def series(self, point: str) -> str:
        found = self._series.get(point)
        if found is None:
            found = self._series[point] = _series(
                UNKNOWN_MEASUREMENT, [("site", self.site.id), ("point", point)])
        return found

    def sample_line(self, point: str, ts: int, value: float | None, quality: str,
                    error: str | None) -> str:
        """One sample at second precision."""
        fields = [] if value is None else [f"value={float(value)!r}"]
        if quality != "ok":
            fields.append(f"quality={_string_field(quality)}")
        if error:
            fields.append(f"error={_string_field(error)}")
        return f"{self.series(point)} {','.join(fields)} {ts}"

    def event_line(self, event: Event) -> str:
        """One audit-log line at microsecond precision (see the module docstring)."""
        command = event.kind == "command"
        tags = [("site", event.site or self.site.id), ("kind", event.kind),
                ("building", event.building), ("zone", event.zone), ("point", event.point)]
        ref = self._refs.get(event.point or "")
        if ref is not None:  # a cabinet's or an equipment's event: which one, as its samples
            tags += [(k, v) for k, v in _place(ref) if k in ("cabinet", "equipment")]
        code = event.data.get("reason_code")
        if isinstance(code, str):
            tags.append(("reason_code", code))
        fields = [f"message={_string_field(event.message)}",
                  f"actor={_string_field(event.actor)}"]
        if event.reason:
            fields.append(f"reason={_string_field(event.reason)}")
        for name, english in (("message_en", event.message_en), ("reason_en", event.reason_en)):
            if english:
                fields.append(f"{name}={_string_field(english)}")
        value = event.data.get("value")
        if isinstance(value, int | float) and not isinstance(value, bool):
            fields.append(f"value={float(value)!r}")
        fields.append(f"id={event.id}i")
        stamp = int(event.ts.timestamp()) * 1_000_000 + event.id % 1_000_000
        return f"{_series('command' if command else 'event', tags)} {','.join(fields)} {stamp}"


# -- what InfluxDB answered --------------------------------------------------------------


class InfluxError(Exception):
    """InfluxDB did not take a batch; the subclass says what to do about it."""


class RetryLater(InfluxError):
    """Busy or unreachable: the same batch will go later (after ``after_s`` if given)."""

    def __init__(self, message: str, after_s: float | None = None) -> None:
        super().__init__(message)
        self.after_s = after_s


class Unreachable(RetryLater):
    """No answer at all (a refused connection, a timeout): the server is away, not busy, so
    a cheap probe may tell when it is back sooner than the backoff would."""


class Refused(InfluxError):
    """The settings are wrong (token, bucket, database): nothing goes until they are fixed."""


class BadLines(InfluxError):
    """Some lines cannot be written. ``lines`` are their 1-based numbers in the batch when
    InfluxDB named them (3.x, whose other lines were written), else None."""

    def __init__(self, message: str, lines: Sequence[int] | None = None) -> None:
        super().__init__(message)
        self.lines = lines


class TooLarge(InfluxError):
    """The batch is too large for the server: send it in smaller parts."""


def answer(status: int, body: bytes, retry_after: str | None) -> InfluxError | None:
    """What an HTTP answer to a write means: None for success, else the error to act on."""
    if 200 <= status < 300:
        return None
    text = body.decode("utf-8", "replace").strip()
    message = f"HTTP {status}: {_error_message(text)}"
    if status == 400:
        return BadLines(message, _bad_line_numbers(text))
    if status == 413:
        return TooLarge(message)
    if status in (401, 403, 404):
        return Refused(message)
    if status == 429 or status >= 500:
        return RetryLater(message, _seconds(retry_after))
    return Refused(message)


def _error_message(text: str) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        return text[:300] or "(no message)"
    if isinstance(data, dict):
        return str(data.get("error") or data.get("message") or text)[:300]
    return text[:300]


def _bad_line_numbers(text: str) -> list[int] | None:
    """InfluxDB 3 lists the refused lines: ``{"data": [{"line_number": 2, ...}]}``."""
    try:
        data = json.loads(text)
        found = [int(item["line_number"]) for item in data["data"]]
    except (ValueError, KeyError, TypeError):
        return None
    return found or None


def _seconds(retry_after: str | None) -> float | None:
    if not retry_after:
        return None
    try:
        return max(0.0, float(retry_after))
    except ValueError:
        return None  # an HTTP date: rare from InfluxDB; fall back to backoff


# -- the two APIs --------------------------------------------------------------------------


class Writer(Protocol):
    """Posts line protocol; raises an ``InfluxError`` when InfluxDB does not take it all."""

    def write(self, body: str, precision: Literal["s", "us"]) -> None: ...

    def close(self) -> None: ...


class V1Writer:
    """``POST /write?db=&rp=&precision=`` of InfluxDB 1.x, with basic authentication."""

    def __init__(self, settings: InfluxSettings) -> None:
        self._settings = settings
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(total=settings.timeout_s), retries=False)
        self._headers = {"Content-Type": "text/plain; charset=utf-8"}
        if settings.username:
            pair = f"{settings.username}:{settings.password or ''}".encode()
            self._headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()

    def write(self, body: str, precision: Literal["s", "us"]) -> None:
        # InfluxDB 1.x spells microseconds "u" (the v2 API: "us").
        unit = {"s": "s", "us": "u"}[precision]
        params = {"db": self._settings.database or "", "precision": unit}
        if self._settings.retention_policy:
            params["rp"] = self._settings.retention_policy
        url = f"{self._settings.url}/write?{urlencode(params)}"
        try:
            response = self._http.request("POST", url, body=body.encode(), headers=self._headers)
        except urllib3.exceptions.HTTPError as exc:
            raise Unreachable(f"{self._settings.url}: {_reason(exc)}") from exc
        error = answer(response.status, response.data, response.headers.get("Retry-After"))
        if error is not None:
            raise error

    def close(self) -> None:
        self._http.clear()


class V2Writer:
    """``/api/v2/write`` through influxdb-client (InfluxDB 2.x, 3.x, and 1.8+)."""

    def __init__(self, settings: InfluxSettings) -> None:
        from influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        self._settings = settings
        self._client = InfluxDBClient(
            url=settings.url, token=settings.token or "", org=settings.org or "-",
            timeout=int(settings.timeout_s * 1000), retries=False,
        )
        self._api = self._client.write_api(write_options=SYNCHRONOUS)

    def write(self, body: str, precision: Literal["s", "us"]) -> None:
        from influxdb_client import WritePrecision
        from influxdb_client.rest import ApiException

        # The library's constants are plain strings typed as its class.
        unit = cast(WritePrecision, WritePrecision.S if precision == "s" else WritePrecision.US)
        try:
            self._api.write(bucket=self._settings.bucket or "", org=self._settings.org or "-",
                            record=body, write_precision=unit)
        except ApiException as exc:
            headers: Mapping[str, str] = exc.headers or {}
            error = answer(int(exc.status or 0), _bytes(exc.body), headers.get("Retry-After"))
            raise (error or RetryLater(str(exc))) from exc
        except urllib3.exceptions.HTTPError as exc:
            raise Unreachable(f"{self._settings.url}: {_reason(exc)}") from exc

    def close(self) -> None:
        self._client.close()


def _bytes(body: object) -> bytes:
    if isinstance(body, bytes):
        return body
    return b"" if body is None else str(body).encode()


def _reason(exc: urllib3.exceptions.HTTPError) -> str:
    inner = getattr(exc, "reason", None)
    return str(inner or exc)


def writer_for(settings: InfluxSettings) -> Writer:
    return V1Writer(settings) if settings.api == "v1" else V2Writer(settings)


PING_TIMEOUT_S = 2.0

_PING_HTTP = urllib3.PoolManager(retries=False)


def ping(settings: InfluxSettings) -> bool:
    """Whether the server answers at all: ``GET /ping``, which InfluxDB 1.x, 2.x and 3.x
    serve without a body. Any answer below 500 counts (a 401 or a 404 is a server that is
    there; the write will say what is wrong); a refused connection, a timeout or a proxy's
    502 is a server still away."""
    try:
        response = _PING_HTTP.request("GET", f"{settings.url}/ping",
                                      timeout=min(PING_TIMEOUT_S, settings.timeout_s))
    except urllib3.exceptions.HTTPError:
        return False
    return response.status < 500


# -- the shipper ---------------------------------------------------------------------------


@dataclass
class ShipReport:
    """What one shipping pass did."""

    samples: int = 0
    events: int = 0
    set_aside: int = 0
    waiting: bool = False
    """True when the pass stopped on an error (or did not start: backing off)."""
    error: str | None = None
    probed: bool = False
    """True when the pass pinged InfluxDB during a backoff to see whether it was back."""


BACKOFF_MAX_S = 300.0

PROBE_EVERY_S = 15.0
"""Seconds between two pings while the backoff keeps an unreachable server waiting: with a
pass every 10 s (``gtb.engine.jobs.SHIP_EVERY_S``) the drain starts within 25 s of the
server's return, however long the backoff has grown."""


class Shipper:
    """Ships the store's backlog; one ``ship()`` pass drains it or stops at the first error.

    Run it off the tick (the engine's scheduler runs it in a worker thread): InfluxDB's
    delays never reach the tick. ``progress`` receives a line per batch when the backlog
    is larger than a few batches, e.g. after an outage. ``now`` is the clock of the backoff
    and of the probes (``probe``, by default ``ping``); the engine's ``clock`` dates the
    events and the alarm.

    An outage outlives the process that saw it begin: a new shipper adopts the one the
    store says is under way (an ``influx_down`` event that no ``influx_up`` followed, or
    the alarm still active), so that its alarm is kept current and cleared once shipping
    goes through again, instead of staying active for ever.
    """

    def __init__(
        self, store: Store, site: Site, settings: InfluxSettings, clock: Clock, *,
        writer: Writer | None = None, progress: Callable[[str], None] | None = None,
        now: Callable[[], float] = monotonic, probe: Callable[[], bool] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.schema = Schema(site)
        self.writer = writer if writer is not None else writer_for(settings)
        self.progress = progress
        self._now = now
        self._probe = probe if probe is not None else lambda: ping(settings)
        self._not_before = 0.0
        self._next_probe = 0.0
        self._failures = 0
        self._down_since: datetime | None = self._outage_under_way()
        self._last_error: str | None = None
        self._away = False
        """The last failure was no answer at all: probing may end the backoff early."""
        self._refused = False
        # One pass at a time: the scheduler's and the last one when the engine stops.
        self._passing = threading.Lock()
        self._stopping = threading.Event()

    def _outage_under_way(self) -> datetime | None:
        """When the outage that a former process saw began, if the store says it is not
        over; None if InfluxDB was taking everything when it stopped."""
        down = self.store.audit.events(kind="influx_down", limit=1)
        up = self.store.audit.events(kind="influx_up", limit=1)
        if down and (not up or up[0].id < down[0].id):
            return down[0].ts
        alarm = self.store.alarms.active().get(ALARM_KEY)
        return None if alarm is None else alarm.raised_at

    def close(self) -> None:
        self.writer.close()

    def ship(self) -> ShipReport:
        """Send batches, samples then events, until both streams are shipped or InfluxDB
        fails; on failure, the next pass waits for the backoff (or Retry-After). While it
        waits on a server that did not answer at all, a ping every ``PROBE_EVERY_S`` ends
        the wait as soon as the server answers again."""
        with self._passing:
            if self._stopping.is_set():
                return ShipReport()  # the last pass of the stop has it in hand
            report = ShipReport()
            if self._now() < self._not_before and not self._back(report):
                report.waiting, report.error = True, self._last_error
                return report
            return self._pass(report, self._stopping.is_set)

    def drain(self, within_s: float) -> ShipReport:
        """The last pass, when the engine stops: whatever the backoff says, send what is
        left (the last tick's samples, the stop's events), starting no batch after
        ``within_s`` seconds, so that a stop is never held up for long (a batch under way
        ends within the writer's timeout). What does not go stays in the store, shipped at
        the next start: nothing is lost. A pass of the scheduler under way ends at its next
        batch, and none starts after this one."""
        self._stopping.set()
        with self._passing:
            until = self._now() + within_s
            return self._pass(ShipReport(), lambda: self._now() >= until)

    def _back(self, report: ShipReport) -> bool:
        """During a backoff, whether a server that did not answer answers again (pinged at
        most every ``PROBE_EVERY_S``). Not when it answered busy (Retry-After, 5xx) or
        refused: it was there all along, and the backoff is what it asked for."""
        if not self._away or self._now() < self._next_probe:
            return False
        self._next_probe = self._now() + PROBE_EVERY_S
        report.probed = True
        if self._probe():
            return True
        self._keep_alarm_current(self._last_error or "")
        return False

    def _pass(self, report: ShipReport, stop: Callable[[], bool]) -> ShipReport:
        backlog = self.store.shipping.backlog()
        total = backlog["samples"] + backlog["events"]
        loud = total > 3 * self.settings.batch_size
        if loud:
            self._say(f"InfluxDB : {number_fr(total, 0)} points en attente, les plus anciens "
                      "d'abord")
        drained = False
        try:
            while not stop():
                sent_samples = self._samples_batch(report)
                sent_events = self._events_batch(report)
                if not (sent_samples or sent_events):
                    drained = True
                    break
                if loud:
                    done = report.samples + report.events + report.set_aside
                    self._say(f"InfluxDB : {number_fr(done, 0)} / {number_fr(total, 0)} envoyés "
                              f"({100 * done / max(total, done, 1):.0f} %)")
        except Refused as exc:
            self._failed(report, exc, refused=True)
        except RetryLater as exc:
            self._failed(report, exc, after_s=exc.after_s, away=isinstance(exc, Unreachable))
        else:
            if drained:  # a pass cut short by the stop leaves the outage to the next start
                self._recovered()
        return report

    def _samples_batch(self, report: ShipReport) -> bool:
        rows = self.store.shipping.samples(self.settings.batch_size)
        if not rows:
            return False
        lines = [self._sample_line(row) for row in rows if row.point is not None]
        refused = self._send(lines, "s")
        self.store.shipping.mark("samples", rows[-1].seq, at=self.clock.now(), set_aside=refused)
        report.samples += len(lines) - len(refused)
        self._set_aside(report, "samples", refused)
        return True

    def _sample_line(self, row: ShippableSample) -> str:
        assert row.point is not None and row.quality is not None
        return self.schema.sample_line(row.point, row.ts, row.value, row.quality, row.error)

    def _events_batch(self, report: ShipReport) -> bool:
        events = self.store.shipping.events(self.settings.batch_size)
        if not events:
            return False
        refused = self._send([self.schema.event_line(e) for e in events], "us")
        self.store.shipping.mark("events", events[-1].id, at=self.clock.now(), set_aside=refused)
        report.events += len(events) - len(refused)
        self._set_aside(report, "events", refused)
        return True

    def _send(self, lines: list[str], precision: Literal["s", "us"]) -> list[tuple[str, str]]:
        """Send ``lines``; returns those refused, with why. Halves the batch on a 400 that
        names no line and on a 413; other errors go up and the batch is sent again later."""
        if not lines:
            return []
        try:
            self.writer.write("\n".join(lines), precision)
        except BadLines as exc:
            if exc.lines is not None:
                return [(lines[n - 1], str(exc)) for n in exc.lines if 0 < n <= len(lines)]
            if len(lines) == 1:
                return [(lines[0], str(exc))]
            return self._halves(lines, precision)
        except TooLarge as exc:
            if len(lines) == 1:
                return [(lines[0], str(exc))]
            return self._halves(lines, precision)
        return []

    def _halves(self, lines: list[str], precision: Literal["s", "us"]) -> list[tuple[str, str]]:
        middle = len(lines) // 2
        return self._send(lines[:middle], precision) + self._send(lines[middle:], precision)

    def _set_aside(self, report: ShipReport, stream: str, refused: list[tuple[str, str]]) -> None:
        if not refused:
            return
        report.set_aside += len(refused)
        first_line, first_error = refused[0]
        self.store.audit.record(
            self.clock.now(), "influx_rejected", "engine",
            f"InfluxDB a refusé {len(refused)} ligne(s) ({stream}) ; mises de côté, "
            f"l'envoi continue",
            reason=first_error, site=self.schema.site.id,
            data={"stream": stream, "count": len(refused), "first_line": first_line[:500]},
            message_en=f"InfluxDB refused {len(refused)} line(s) ({stream}); set aside, "
                       "shipping goes on",
            reason_en=first_error,
        )

    def _failed(self, report: ShipReport, exc: InfluxError, *, refused: bool = False,
                after_s: float | None = None, away: bool = False) -> None:
        self._failures += 1
        delay = after_s if after_s is not None else min(BACKOFF_MAX_S, 2.0 ** (self._failures - 1))
        self._not_before = self._now() + delay
        self._next_probe = self._now() + PROBE_EVERY_S
        self._away, self._refused = away, refused
        report.waiting, report.error = True, str(exc)
        self._last_error = str(exc)
        now = self.clock.now()
        if self._down_since is None:
            self._down_since = now
            self.store.audit.record(
                now, "influx_down", "engine",
                f"L'archive InfluxDB {self.settings.where} ne prend plus les données : {exc}",
                reason="les données restent dans la base locale et partiront à son retour",
                site=self.schema.site.id,
                message_en=f"The InfluxDB archive {self.settings.where} takes no more data: "
                           f"{exc}",
                reason_en="the data stay in the local store and leave when it is back")
        if refused or now - self._down_since >= ALARM_AFTER:
            message, message_en = self._alarm_text(str(exc))
            _, new = self.store.alarms.raise_(ALARM_KEY, at=now, severity=Severity.WARNING,
                                              message=message, message_en=message_en)
            if not new:
                self.store.alarms.update(ALARM_KEY, message=message, message_en=message_en)

    def _keep_alarm_current(self, error: str) -> None:
        """The active alarm says the backlog as it is now, not as it was when raised."""
        if self._down_since is not None and ALARM_KEY in self.store.alarms.active():
            message, message_en = self._alarm_text(error)
            self.store.alarms.update(ALARM_KEY, message=message, message_en=message_en)

    def _alarm_text(self, error: str) -> tuple[str, str]:
        """The alarm's French and English: since when, why, and how many points wait."""
        assert self._down_since is not None
        waiting = sum(self.store.shipping.backlog().values())
        why = "refuse l'écriture (réglages à vérifier)" if self._refused else "ne répond pas"
        why_en = "refuses writes (check the settings)" if self._refused else "does not answer"
        return (f"L'archive InfluxDB {self.settings.where} {why} depuis "
                f"{self._down_since:%d/%m %H:%M} UTC : {error}. {number_fr(waiting, 0)} points "
                "attendent dans la base locale ; rien n'est perdu.",
                f"The InfluxDB archive {self.settings.where} {why_en} since "
                f"{self._down_since:%d/%m %H:%M} UTC: {error}. {waiting:,} points wait in "
                "the local store; nothing is lost.")

    def _recovered(self) -> None:
        self._failures = 0
        self._not_before = 0.0
        self._away = self._refused = False
        if self._down_since is None:
            return
        now = self.clock.now()
        self._down_since = None
        self._last_error = None
        self.store.alarms.clear(ALARM_KEY, at=now)
        self.store.audit.record(now, "influx_up", "engine",
                                f"L'archive InfluxDB {self.settings.where} a tout reçu",
                                reason="retour de l'archive ; l'arriéré est envoyé",
                                site=self.schema.site.id,
                                message_en=f"The InfluxDB archive {self.settings.where} has "
                                           "received everything",
                                reason_en="the archive is back; the backlog is sent")

    def _say(self, line: str) -> None:
        if self.progress is not None:
            self.progress(line)
