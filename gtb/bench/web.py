"""``gtb bench web``: the panel's pages and the auditor's export, timed over real HTTP.

The store is that of a commune after a year: the engine bench's site cut to 5 buildings
of 10 zones (50 zones, 10 points each), every point and each zone's decided mode sampled
every 5 minutes for a year (about 58 million samples), written through
``store.samples.write`` in batches and rolled up hour by hour; the engine's status of
every zone as at the end of the year, a fortnight of commands in the audit log, a few
overrides and alarms. Building it is not timed; it takes minutes, and shows its progress.

The panel is the real one (``web.create_app``) served by waitress on a free loopback port,
and a bench account signs in as a person does (CSRF token, session cookie). One
keep-alive connection asks, after a few warm-up requests, ``requests`` times each for the
overview, a building page and a zone page: each time is from the request to the last byte
of the answer. ``page_p95_ms`` is the worst of the three p95.

``export_1y_zone_s`` is the download of a zone's year of raw samples (its 10 points and
its decided mode, about 1.16 million rows) as CSV through the panel's
``GET /export/download``, from the request to the last byte, read as it streams.
"""

from __future__ import annotations

import math
import re
import secrets
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import numpy as np
import urllib3
from rich.progress import Progress
from scipy.signal import lfilter

from gtb.bench.engine import bench_site_yaml
from gtb.clock import SimulatedClock, monotonic
from gtb.config import parse_site
from gtb.model import Building, Site, Zone
from gtb.model.points import MODE_OF_LEVEL, HeatingLevel, Quality, zone_mode_key
from gtb.sim.devices import free_loopback_port
from gtb.store import Store
from gtb.store.accounts import UserRole
from gtb.store.samples import Sample
from gtb.store.status import ZoneStatus
from gtb.texts import Reason
from web import PANEL_THREADS, PanelConfig, PanelServer, create_app
from web.auth import hash_password

PARIS = ZoneInfo("Europe/Paris")
END = datetime(2026, 1, 12, 0, 0, tzinfo=PARIS)
"""The end of the stored year, a winter Monday at midnight; the panel's clock stands there."""
STEP_S = 300
BATCH = 50_000
"""Samples per ``write_samples`` transaction."""
BUILDINGS = 5
ACCOUNT = "bench"
EXPORT_ROUTE = "/export/download"
EXPORT_ZONE = "b00.z0"
PAGES = {"overview": "/", "building": "/building/b00", "zone": "/zone/b00/z0"}
CHART = "/zone/b00/z0/series?range=7d"
"""The zone page's chart asks for it once the page is shown: a week of four series."""
WARM_UP = 5
TARGETS = {"page_p95_ms": 150, "export_1y_zone_s": 2.0}


def bench_web(days: int = 365, requests: int = 200,
              progress: Progress | None = None) -> dict[str, Any]:
    site = parse_site(bench_site_yaml(BUILDINGS), "bench.yaml")
    start = END - timedelta(days=days)
    with tempfile.TemporaryDirectory(prefix="gtb-bench-web-") as folder:
        db = Path(folder) / "gtb.sqlite"
        with _panel(site, db) as (url, routes):
            if EXPORT_ROUTE not in routes:
                raise RuntimeError(f"the panel has no {EXPORT_ROUTE} route to time")
            with Store(db) as store:
                began = monotonic()
                samples = _fill(store, site, start, progress)
                fill_s = monotonic() - began
                began = monotonic()
                _roll_up(store, site, start, progress)
                rollup_s = monotonic() - began
                _engine_status(store, site)
                _audit_log(store, site)
                password = secrets.token_urlsafe(16)
                store.accounts.add_user(ACCOUNT, hash_password(password), UserRole.OPERATOR, at=END)
            store_mb = sum(f.stat().st_size for f in Path(folder).iterdir()) / 1e6
            client = _Client(url)
            client.sign_in(ACCOUNT, password)
            pages = {name: _time_page(client, path, b'id="live"', requests, progress)
                     for name, path in PAGES.items()}
            chart = _time_page(client, CHART, b'"temperature":', requests, progress)
            first, last = start.astimezone(PARIS).date(), (END - timedelta(seconds=1)).date()
            exported = _export_over_http(client, first, last, progress)
            client.close()  # before the server stops: it then has no connection to drop
    return {
        "page_p95_ms": max(page["p95_ms"] for page in pages.values()),
        "export_1y_zone_s": exported.pop("seconds"),
        "pages": pages,
        "zone_chart_data": chart,
        "export": exported,
        "targets": TARGETS,
        "store": {
            "buildings": len(site.buildings),
            "zones": sum(len(b.zones) for b in site.buildings),
            "series": len(_series_keys(site)),
            "days": days,
            "step_s": STEP_S,
            "samples": samples,
            "size_mb": round(store_mb),
            "fill_s": round(fill_s, 1),
            "rollup_s": round(rollup_s, 1),
        },
        "requests_per_page": requests,
        "client": "urllib3, one keep-alive connection, sequential requests",
        "server": f"waitress, {PANEL_THREADS} threads (web.PanelServer)",
    }


# -- the store --------------------------------------------------------------------------------


def _series_keys(site: Site) -> list[str]:
    return [key for building, zone in _zones(site)
            for key in (*(f"{building.id}.{zone.id}.{p.id}" for p in zone.points),
                        zone_mode_key(f"{building.id}.{zone.id}"))]


def _zones(site: Site) -> list[tuple[Building, Zone]]:
    return [(building, zone) for building in site.buildings for zone in building.zones]


@dataclass(frozen=True)
class _Calendar:
    """The sampling times of the year, in UTC and as the site's local hour and weekday."""

    times: list[datetime]
    hour: np.ndarray
    weekday: np.ndarray
    season: np.ndarray
    """0 in mid-January, the coldest, to 1 in mid-July."""

    @classmethod
    def of(cls, start: datetime, end: datetime) -> _Calendar:
        epoch = np.arange(int(start.timestamp()), int(end.timestamp()), STEP_S, dtype=np.int64)
        hours = epoch - epoch % 3600
        offsets = {int(h): _utc_offset(int(h)) for h in np.unique(hours)}
        local = epoch + np.array([offsets[int(h)] for h in hours], dtype=np.int64)
        days = local // 86400
        return cls(
            times=[datetime.fromtimestamp(int(t), UTC) for t in epoch],
            hour=(local % 86400) / 3600,
            weekday=(days + 3) % 7,  # 1 January 1970 was a Thursday
            season=(1 - np.cos(2 * np.pi * ((days - 15) % 365.25) / 365.25)) / 2,
        )


def _utc_offset(epoch: int) -> int:
    offset = datetime.fromtimestamp(epoch, PARIS).utcoffset()
    assert offset is not None
    return int(offset.total_seconds())


def _zone_series(calendar: _Calendar, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A plausible year of one zone of the bench site: occupied on weekdays 8:00–18:00,
    comfort from 6:00, a room that warms and cools slowly, meters that count."""
    n = len(calendar.times)
    weekday = calendar.weekday < 5
    comfort = weekday & (calendar.hour >= 6) & (calendar.hour < 18)
    presence = (weekday & (calendar.hour >= 8) & (calendar.hour < 18)
                & (rng.random(n) < 0.85)).astype(float)
    setpoint = np.where(comfort, 19.0, 16.0)
    outdoor = 4 + 14 * calendar.season + 4 * np.sin(2 * np.pi * (calendar.hour - 9) / 24)
    target = np.maximum(setpoint, outdoor + 3)
    pole = math.exp(-STEP_S / (3 * 3600))
    temperature = lfilter([1 - pole], [1, -pole], target, zi=[pole * target[0]])[0]
    temperature += rng.normal(0, 0.1, n)
    valve = np.clip((setpoint - temperature) * 40 + 15 * (setpoint > outdoor + 2), 0, 100)
    power = 0.3 + 1.5 * presence + rng.normal(0, 0.05, n).clip(-0.2, 0.2)
    lighting = 0.9 * presence
    return {
        "temperature": temperature.round(1),
        "consigne": setpoint,
        "vanne": valve.round(1),
        "presence": presence,
        "co2": (420 + presence * rng.uniform(300, 800, n)).round(),
        "eclairage": presence,
        "chaleur": (50_000 + np.cumsum(valve / 100 * 8 * STEP_S / 3600)).round(1),
        "electricite": (10_000 + np.cumsum((power + lighting) * STEP_S / 3600)).round(2),
        "puissance": power.round(2),
        "puissance-eclairage": lighting.round(2),
        ":mode": np.where(comfort, MODE_OF_LEVEL[HeatingLevel.COMFORT],
                          MODE_OF_LEVEL[HeatingLevel.REDUCED]),
    }


def _fill(store: Store, site: Site, start: datetime, progress: Progress | None) -> int:
    """Every series of every zone, a zone at a time, in batches of one series."""
    calendar = _Calendar.of(start, END)
    n = len(calendar.times)
    total = n * len(_series_keys(site))
    with _task(progress, f"magasin : {total:,} échantillons (un an, pas de 5 min)",
               total) as advance:
        for index, (building, zone) in enumerate(_zones(site)):
            series = _zone_series(calendar, np.random.default_rng(index))
            zone_key = f"{building.id}.{zone.id}"
            keys = {p.id: f"{zone_key}.{p.id}" for p in zone.points}
            keys[":mode"] = zone_mode_key(zone_key)
            for name, key in keys.items():
                values = series[name].tolist()
                for lo in range(0, n, BATCH):
                    advance(store.samples.write(
                        Sample(key, ts, value)
                        for ts, value in zip(calendar.times[lo:lo + BATCH],
                                             values[lo:lo + BATCH], strict=True)))
    return total


def _roll_up(store: Store, site: Site, start: datetime, progress: Progress | None) -> None:
    """Hourly rollups a week at a time, as the engine's hourly job would have left them,
    then the monthly totals."""
    weeks = math.ceil((END - start) / timedelta(days=7))
    with _task(progress, "magasin : agrégats horaires", weeks) as advance:
        for week in range(weeks):
            lo = start + timedelta(days=7 * week)
            store.rollups.compute(lo, min(lo + timedelta(days=7), END))
            advance(1)
    store.rollups.keep_monthly(start.astimezone(site.tz).date(), (END - timedelta(days=1)).date(),
                       site.tz)


def _engine_status(store: Store, site: Site) -> None:
    """What the engine would have saved at its last tick: every zone, in reduced mode at
    midnight, five of them under an override."""
    zones: list[ZoneStatus] = []
    for index, (building, zone) in enumerate(_zones(site)):
        key = f"{building.id}.{zone.id}"
        overridden = index % 10 == 3
        if overridden:
            store.overrides.add(f"{key}.consigne", 20.0, start=END - timedelta(hours=1),
                                until=END + timedelta(hours=2), who=ACCOUNT,
                                why="répétition du concert", at=END - timedelta(hours=1))
        local = END.astimezone(site.tz)
        reason = (Reason.of("override", at=local, who=ACCOUNT, why="répétition du concert",
                            until=local + timedelta(hours=2))
                  if overridden else
                  Reason.of("heating.unoccupied", setpoint=16.0, when=Reason.of(
                      "heating.until", at=local, start=local + timedelta(hours=6))))
        zones.append(ZoneStatus(
            building=building.id, zone=zone.id, name=zone.name, at=END,
            temperature=round(16.4 + index % 7 / 10, 1), quality=Quality.OK,
            level=HeatingLevel.REDUCED, setpoint=20.0 if overridden else 16.0,
            reason=reason, source="override" if overridden else "controller",
            actor=ACCOUNT if overridden else "engine", degraded=False, occupied=False,
            next_arrival=END + timedelta(hours=8),
            next_arrival_reason=Reason.of(
                "forecast.learned", day=END + timedelta(hours=8), start=END + timedelta(hours=8),
                end=END + timedelta(hours=18), similar=5, weeks=3, covered=4, kept=5,
                confidence=0.8, prior=0.1),
            period_end=END + timedelta(hours=6),
        ))
    store.status.save(END, zones, ())


def _audit_log(store: Store, site: Site) -> None:
    """A fortnight of the engine's commands (two a day per zone), and alarms: three
    active, one cleared."""
    for day in range(14):
        for hour, value, level in ((6, 19.0, "confort"), (18, 16.0, "réduit")):
            at = END - timedelta(days=14 - day) + timedelta(hours=hour)
            for building, zone in _zones(site):
                key = f"{building.id}.{zone.id}.consigne"
                store.audit.record(at, "command", "engine", f"{key} ← {value:g}",
                                   reason=f"programme : {level} {value:g} °C", site=site.id,
                                   building=building.id, zone=zone.id, point=key,
                                   data={"value": value, "source": "controller"})
    alarms = (("b01.z4.co2", "warning", "CO2 de Zone 4 au-dessus de 1 500 ppm"),
              ("b02.z7.temperature", "critical", "Sonde de Zone 7 muette depuis 10 min"),
              ("device:b03", "warning", "Bâtiment 3 : automate lent à répondre"),
              ("b04.z1.temperature", "warning", "Zone 1 sous 12 °C"))
    for n, (key, severity, message) in enumerate(alarms):
        store.alarms.raise_(key, at=END - timedelta(hours=5 - n), severity=severity,
                          message=message, building=key.split(".")[0].removeprefix("device:"))
    store.alarms.clear(alarms[-1][0], at=END - timedelta(minutes=30))


# -- the panel over HTTP ----------------------------------------------------------------------


@contextmanager
def _panel(site: Site, db: Path) -> Iterator[tuple[str, set[str]]]:
    """The panel served by waitress on a free loopback port; its URL and its routes."""
    app = create_app(PanelConfig(site=site, store_path=db, clock=SimulatedClock(END),
                                 secret_key=secrets.token_hex(32)))
    server = PanelServer(app, "127.0.0.1", free_loopback_port())
    server.start()
    try:
        yield server.url.rstrip("/"), {rule.rule for rule in app.url_map.iter_rules()}
    finally:
        server.stop()
        app.extensions["gtb"].store.close()


class _Client:
    """A person's browser, reduced to what the bench needs: one keep-alive connection,
    the session cookie, the CSRF token of the sign-in form."""

    def __init__(self, url: str) -> None:
        self._pool = urllib3.connection_from_url(url, maxsize=1, block=True, retries=False,
                                                 timeout=urllib3.Timeout(total=120))
        self._cookies: dict[str, str] = {}

    def request(self, method: str, path: str, fields: dict[str, str] | None = None,
                *, stream: bool = False) -> urllib3.BaseHTTPResponse:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self._cookies.items())}
        form: dict[str, Any] = {} if fields is None else {"fields": fields,
                                                          "encode_multipart": False}
        response = self._pool.request(method, path, headers=headers, redirect=False,
                                      preload_content=not stream, **form)
        for line in response.headers.getlist("Set-Cookie"):
            cookie: SimpleCookie = SimpleCookie(line)
            self._cookies.update({name: morsel.value for name, morsel in cookie.items()})
        return response

    def close(self) -> None:
        self._pool.close()

    def sign_in(self, name: str, password: str) -> None:
        form = self.request("GET", "/login").data.decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        if token is None:
            raise RuntimeError("the sign-in page has no CSRF token")
        answer = self.request("POST", "/login", {"csrf_token": token[1], "name": name,
                                                 "password": password})
        if answer.status != 302:
            raise RuntimeError(f"sign-in refused ({answer.status})")


def _time_page(client: _Client, path: str, marker: bytes, requests: int,
               progress: Progress | None) -> dict[str, Any]:
    for _ in range(WARM_UP):
        _page(client, path, marker)
    times = []
    with _task(progress, f"panneau : {requests} × {path}", requests) as advance:
        for _ in range(requests):
            began = monotonic()
            size = _page(client, path, marker)
            times.append(monotonic() - began)
            advance(1)
    ms = np.array(times) * 1000
    return {"path": path, "p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p95_ms": round(float(np.percentile(ms, 95)), 1),
            "max_ms": round(float(ms.max()), 1), "bytes": size}


def _page(client: _Client, path: str, marker: bytes) -> int:
    response = client.request("GET", path)
    if response.status != 200 or marker not in response.data:
        raise RuntimeError(f"GET {path}: {response.status}, not the page "
                           f"({response.data[:200]!r})")
    return len(response.data)


def _export_over_http(client: _Client, first: date, last: date,
                      progress: Progress | None) -> dict[str, Any]:
    query = {"from": first.isoformat(), "to": last.isoformat(), "zone": EXPORT_ZONE,
             "resolution": "raw", "format": "csv"}
    path = f"{EXPORT_ROUTE}?{urlencode(query)}"
    size = lines = 0
    with _task(progress, f"export : GET {path}", None) as advance:
        began = monotonic()
        response = client.request("GET", path, stream=True)
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status} {response.read()[:300]!r}")
        for chunk in response.stream(1 << 16):
            size += len(chunk)
            lines += chunk.count(b"\n")
            advance(len(chunk))
        seconds = monotonic() - began
        response.release_conn()
    return {"measured": f"HTTP GET {EXPORT_ROUTE}, streamed", "request": path,
            "seconds": round(seconds, 2), "bytes": size, "lines": lines,
            "content_type": response.headers.get("Content-Type")}


# -- progress -----------------------------------------------------------------------------


@dataclass
class _Advance:
    progress: Progress | None
    task: Any = field(default=None)

    def __call__(self, amount: int) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.advance(self.task, amount)


@contextmanager
def _task(progress: Progress | None, label: str, total: int | None
          ) -> Iterator[Callable[[int], None]]:
    advance = _Advance(progress, progress.add_task(label, total=total) if progress else None)
    try:
        yield advance
    finally:
        if progress is not None and advance.task is not None:
            progress.remove_task(advance.task)
