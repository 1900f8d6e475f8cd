"""The virtual commune's weather service: its forecast over HTTP, as Open-Meteo serves one.

``gtb sim`` and ``gtb demo`` serve it where the site file's ``forecast: url:`` says, when
that is a loopback address, so the engine fetches the simulator's forecast with the same
client as a real site's (``gtb.engine.forecast``). The request and the answer are those
of Open-Meteo's forecast API (https://open-meteo.com/en/docs): ``GET /v1/forecast?
latitude=..&longitude=..&hourly=temperature_2m&timezone=UTC[&forecast_days=1..7]``
answers hourly values from 00:00 UTC today for ``forecast_days`` days (7 by default) as

    {"latitude": .., "longitude": .., "generationtime_ms": .., "utc_offset_seconds": 0,
     "timezone": "GMT", "timezone_abbreviation": "GMT", "elevation": ..,
     "hourly_units": {"time": "iso8601", "temperature_2m": "°C"},
     "hourly": {"time": ["2026-01-12T00:00", ..], "temperature_2m": [3.1, ..]}}

and a bad request as ``400 {"error": true, "reason": ".."}``. The hours to come are the
run of the last whole hour of the simulated clock (``Weather.forecast``); the hours of
today already gone are what each of their own runs said at the time (lead 0). Only UTC
is served: the times are then the instants themselves.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from gtb.sim.weather import MAX_LEAD_H, Weather

ELEVATION_M = 30.0
"""The grid cell's height Open-Meteo reports; the virtual commune's is the Lille plain's."""


class ForecastServer:
    """An Open-Meteo-shaped forecast of ``weather`` on ``host:port`` (0: a free port)."""

    def __init__(self, weather: Weather, now: Callable[[], datetime], latitude: float,
                 longitude: float, host: str = "127.0.0.1", port: int = 0) -> None:
        self.weather, self.now = weather, now
        self.latitude, self.longitude = latitude, longitude
        self.host, self.port = host, port
        self._http: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The request a site file names: this server's forecast at the site."""
        return (f"http://{self.host}:{self.port}/v1/forecast?latitude={self.latitude}"
                f"&longitude={self.longitude}&hourly=temperature_2m&timezone=UTC")

    def start(self) -> ForecastServer:
        """Listen and serve in a thread of its own; ``OSError`` saying where and what to
        change if the address is taken."""
        try:
            self._http = ThreadingHTTPServer((self.host, self.port), _handler(self))
        except OSError as exc:
            raise OSError(exc.errno, f"the weather forecast cannot be served on "
                          f"{self.host}:{self.port} ({exc.strerror}): change the port of "
                          "the site file's forecast: url:") from None
        self.port = int(self._http.server_address[1])
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True,
                                        name=f"forecast:{self.port}")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._http is None:
            return
        self._http.shutdown()
        self._http.server_close()
        if self._thread is not None:
            self._thread.join()
        self._http = self._thread = None

    def answer(self, query: dict[str, list[str]]) -> dict[str, Any]:
        """The JSON body for a request's query; ``ValueError`` says why it is refused."""
        began = time.perf_counter()
        for name in ("latitude", "longitude"):
            if name not in query:
                raise ValueError(f"Parameter '{name}' is required")
            try:
                float(query[name][0])
            except ValueError:
                raise ValueError(f"Parameter '{name}' must be a number") from None
        hourly = {v for item in query.get("hourly", []) for v in item.split(",")}
        if hourly != {"temperature_2m"}:
            raise ValueError("This server serves hourly=temperature_2m only")
        zone = query.get("timezone", ["GMT"])[0]
        if zone not in ("UTC", "GMT"):
            raise ValueError(f"This server serves timezone=UTC only, not {zone!r}")
        try:
            days = int(query.get("forecast_days", ["7"])[0])
        except ValueError:
            raise ValueError("Parameter 'forecast_days' must be an integer") from None
        if not 1 <= days <= MAX_LEAD_H // 24:
            raise ValueError(f"Parameter 'forecast_days' must be between 1 and "
                             f"{MAX_LEAD_H // 24}")
        now = self.now().astimezone(UTC)
        run = now.replace(minute=0, second=0, microsecond=0)
        midnight = run.replace(hour=0)
        end = midnight + timedelta(days=days)
        past = [self.weather.forecast(midnight + timedelta(hours=h), hours=0)
                for h in range(run.hour)]
        ahead = self.weather.forecast(run, hours=int((end - run) / timedelta(hours=1)) - 1)
        times = [f.times[0] for f in past] + list(ahead.times)
        values = [f.temperatures[0] for f in past] + list(ahead.temperatures)
        return {
            "latitude": self.latitude, "longitude": self.longitude,
            "generationtime_ms": round((time.perf_counter() - began) * 1000, 3),
            "utc_offset_seconds": 0, "timezone": "GMT", "timezone_abbreviation": "GMT",
            "elevation": ELEVATION_M,
            "hourly_units": {"time": "iso8601", "temperature_2m": "°C"},
            "hourly": {"time": [t.strftime("%Y-%m-%dT%H:%M") for t in times],
                       "temperature_2m": values},
        }


def _handler(server: ForecastServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != "/v1/forecast":
                self._send(404, {"error": True, "reason": f"No route {parts.path}"})
                return
            try:
                body = server.answer(parse_qs(parts.query))
            except ValueError as exc:
                self._send(400, {"error": True, "reason": str(exc)})
                return
            self._send(200, body)

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the engine's requests every hour are not news."""

    return Handler


def loopback_address(url: str) -> tuple[str, int] | None:
    """Where a site file's forecast URL listens, when it is this machine's loopback: the
    simulator serves it there; any other URL is a real service's, left alone."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host != "localhost" and not host.startswith("127."):
        return None
    return host, parts.port or 80
