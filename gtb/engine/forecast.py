"""The outdoor temperature to come: fetched from a weather service in the engine's jobs,
checked, kept, and replaced by persistence when there is none to trust.

A site file's ``forecast:`` (``gtb.model.ForecastService``) names a service that answers
as Open-Meteo's forecast API does (hourly ``temperature_2m``; the virtual commune serves
the same, ``gtb.sim.forecast``). A job fetches it every ``refresh_minutes``, in a worker
thread, never on the tick's path; an answer is refused, with a logged reason naming the
URL, when it is not that JSON, holds a value that is not a plausible outdoor temperature
(NaN, beyond ±60 °C), times that do not increase, or does not reach ``MIN_AHEAD`` past
now. The decisions ask ``Forecasts.current``: the last good forecast while it is younger
than ``stale_after_hours`` and still reaches past now, else **persistence** (the outdoor
sensor's value now, held flat). Which of the two is in force is in each zone's status
(``ZoneStatus.forecast``), and an event in the audit log says when it changes (kind
``forecast``), not at every tick.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from controllers.forecast import ForecastSource, OutdoorForecast
from gtb.clock import Clock
from gtb.engine.journal import Journal
from gtb.model import ForecastService
from gtb.texts import Reason

log = logging.getLogger(__name__)

MIN_AHEAD = timedelta(hours=12)
"""An answer that does not reach this far past now is refused: a pre-heat looks up to
12 hours ahead (after a long absence)."""
PLAUSIBLE_C = (-60.0, 60.0)
"""Outdoor temperatures outside this range are a service's fault, not the weather."""
MAX_BYTES = 4_000_000
"""Open-Meteo's 16 days of one hourly variable are 20 kB: more is not a forecast."""

Fetch = Callable[[str, float], bytes]


class ForecastRefused(Exception):
    """A fetch that failed or an answer that cannot be used; ``reason`` says why."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.en)
        self.reason = reason


def fetch(url: str, timeout_s: float) -> bytes:
    """GET ``url``; every failure is a ``ForecastRefused`` naming it."""
    request = urllib.request.Request(url, headers={"Accept": "application/json",
                                                   "User-Agent": "gtb-engine"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:
            body: bytes = answer.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise ForecastRefused(Reason.of("forecast.http", url=url, status=exc.code,
                                        detail=_service_reason(exc))) from None
    except TimeoutError:
        raise ForecastRefused(Reason.of("forecast.timeout", url=url,
                                        seconds=timeout_s)) from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise ForecastRefused(Reason.of("forecast.timeout", url=url,
                                            seconds=timeout_s)) from None
        raise ForecastRefused(Reason.of("forecast.unreachable", url=url,
                                        error=str(exc.reason))) from None
    except OSError as exc:
        raise ForecastRefused(Reason.of("forecast.unreachable", url=url,
                                        error=str(exc))) from None
    if len(body) > MAX_BYTES:
        raise ForecastRefused(Reason.of("forecast.unreadable", url=url,
                                        detail=f"more than {MAX_BYTES} bytes"))
    return body


def _service_reason(error: urllib.error.HTTPError) -> str:
    """Open-Meteo says why it refused a request: ``{"error": true, "reason": ".."}``."""
    try:
        said = json.loads(error.read(10_000)).get("reason")
    except (ValueError, AttributeError, OSError):
        said = None
    return f"({said})" if isinstance(said, str) else f"({error.reason})"


def parse_open_meteo(body: bytes, url: str, now: datetime) -> OutdoorForecast:
    """An Open-Meteo answer (``hourly.time``, ``hourly.temperature_2m``, in the
    ``utc_offset_seconds`` of the request's ``timezone``, or unix times) as a forecast, or
    ``ForecastRefused``. A ``null`` value (an hour the model does not reach) is left out."""

    def unreadable(detail: str) -> ForecastRefused:
        return ForecastRefused(Reason.of("forecast.unreadable", url=url, detail=detail))

    try:
        data = json.loads(body, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise unreadable(f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise unreadable("not a JSON object")
    hourly = data.get("hourly")
    if not isinstance(hourly, dict):
        raise unreadable("no 'hourly' object")
    times, values = hourly.get("time"), hourly.get("temperature_2m")
    if not isinstance(times, list) or not isinstance(values, list):
        raise unreadable("no 'hourly.time' and 'hourly.temperature_2m' lists")
    if len(times) != len(values):
        raise unreadable(f"{len(times)} times for {len(values)} temperatures")
    unit = (data.get("hourly_units") or {}).get("temperature_2m", "°C")
    if unit != "°C":
        raise unreadable(f"temperatures in {unit!r}, not °C")
    offset = data.get("utc_offset_seconds", 0)
    if not isinstance(offset, int) or isinstance(offset, bool) or abs(offset) > 86_400:
        raise unreadable(f"utc_offset_seconds {offset!r} is not a whole number of seconds")
    zone = timezone(timedelta(seconds=offset))
    pairs: list[tuple[datetime, float]] = []
    for text, value in zip(times, values, strict=True):
        when = _instant(text, zone, unreadable)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise unreadable(f"temperature {value!r} at {text} is not a number")
        if not (math.isfinite(value) and PLAUSIBLE_C[0] <= value <= PLAUSIBLE_C[1]):
            raise ForecastRefused(Reason.of("forecast.implausible", url=url, value=value,
                                            time=when))
        if pairs and when <= pairs[-1][0]:
            raise unreadable(f"time {text} does not follow {pairs[-1][0]:%Y-%m-%dT%H:%M}")
        pairs.append((when, float(value)))
    if len(pairs) < 2:
        raise unreadable("fewer than two temperatures")
    hours = MIN_AHEAD / timedelta(hours=1)
    if pairs[-1][0] < now + MIN_AHEAD or pairs[0][0] > now + timedelta(hours=1):
        raise ForecastRefused(Reason.of("forecast.short", url=url, until=pairs[-1][0],
                                        hours=hours))
    return OutdoorForecast.of(pairs, "forecast")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _instant(text: object, zone: timezone,
             unreadable: Callable[[str], ForecastRefused]) -> datetime:
    """An ISO 8601 local time of the answer's zone, or unix seconds, in UTC."""
    if isinstance(text, int) and not isinstance(text, bool):
        return datetime.fromtimestamp(text, UTC)
    if not isinstance(text, str):
        raise unreadable(f"time {text!r} is neither ISO 8601 nor unix seconds")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise unreadable(f"time {text!r} is not ISO 8601") from None
    return (when if when.tzinfo else when.replace(tzinfo=zone)).astimezone(UTC)


@dataclass(frozen=True)
class Received:
    """The last good forecast, and when it was fetched (the engine's clock)."""

    forecast: OutdoorForecast
    at: datetime


class Forecasts:
    """The site's outdoor temperature to come, for the decisions: the service's last good
    forecast, or persistence. ``refresh`` is the job; ``current`` is asked at the tick."""

    def __init__(self, service: ForecastService | None, clock: Clock, journal: Journal,
                 fetch: Fetch = fetch) -> None:
        self.service = service
        self._clock = clock
        self._journal = journal
        self._fetch = fetch
        self._received: Received | None = None
        self._announced: ForecastSource | None = None
        """The source the audit log last said was in force (None: nothing said yet)."""
        self._keeping = threading.Lock()
        self._stopped = False

    def stop(self) -> None:
        """The engine stops: a fetch still under way keeps nothing and says nothing (the
        store is about to close)."""
        with self._keeping:
            self._stopped = True

    def refresh(self) -> None:
        """Fetch the forecast once and keep it if it is good; say in the audit log when
        the decisions change from forecast to persistence or back. Blocking (up to the
        service's timeout): a job in a worker thread, never the tick."""
        service = self.service
        if service is None:
            return
        now = self._clock.now()
        failure: Reason | None = None
        forecast: OutdoorForecast | None = None
        try:
            forecast = parse_open_meteo(self._fetch(service.url, service.timeout_s),
                                        service.url, now)
        except ForecastRefused as refused:
            failure = refused.reason
            log.warning("weather forecast refused: %s", refused.reason.en)
        with self._keeping:
            if self._stopped:
                return
            if forecast is not None:
                self._received = Received(forecast, now)
            self._announce(now, failure)

    def received(self, now: datetime) -> Received | None:
        """The last good forecast, if it may still be used at ``now``."""
        received, service = self._received, self.service
        if received is None or service is None:
            return None
        if (now - received.at > timedelta(hours=service.stale_after_hours)
                or received.forecast.times[-1] <= now):
            return None
        return received

    def source(self, now: datetime) -> ForecastSource:
        return "persistence" if self.received(now) is None else "forecast"

    def current(self, now: datetime, outdoor: float | None) -> OutdoorForecast | None:
        """The outdoor temperature to come as the decisions take it: the forecast, else
        ``outdoor`` (the building's sensor now) held flat, else None (nothing known)."""
        received = self.received(now)
        if received is not None:
            return received.forecast
        return None if outdoor is None else OutdoorForecast.persistence(now, outdoor)

    def _announce(self, now: datetime, failure: Reason | None) -> None:
        assert self.service is not None
        source = self.source(now)
        if source == self._announced:
            return
        self._announced = source
        url = self.service.url
        if source == "forecast":
            received = self._received
            assert received is not None
            self._journal.event("forecast", Reason.of("forecast.in_use"), Reason.of(
                "forecast.fetched", url=url, until=received.forecast.times[-1]))
            return
        why = failure or Reason.of("forecast.stale", url=url,
                                   hours=self.service.stale_after_hours)
        self._journal.event("forecast", Reason.of("forecast.persistence"), why)
