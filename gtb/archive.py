"""The archive as an auditor reads it: the measurements and tags the engine ships to InfluxDB
(``gtb.influx``), what each means, and the example queries, in InfluxQL, Flux and SQL.

One place for all of it, so that the shipper, ``gtb export``, docs/history.md and the
panel's page for auditors say the same (the tests run every InfluxQL query on a real
InfluxDB and find every query, word for word, in docs/history.md). What each measurement,
tag and query means is in the catalogue (``archive.*``), in French and English.

The queries are for the demo commune (site ``marchiennes-le-vert``), the bucket or database
``gtb`` and March 2026: an auditor changes the site and the dates. The hours they count
are weighted by time, not counted in samples: each sample holds until the next, on a grid
of one minute, so that a one-minute history and an hourly one give the same hours.
"""

from __future__ import annotations

from dataclasses import dataclass

from gtb.model.points import Role
from gtb.texts import Lang, Reason

MEASUREMENTS: dict[Role, str] = {
    Role.ZONE_TEMPERATURE: "temperature",
    Role.OUTDOOR_TEMPERATURE: "temperature",
    Role.HEATING_SETPOINT: "setpoint",
    Role.HEATING_MODE: "mode_reported",
    Role.VALVE: "valve",
    Role.EMITTER_POWER: "heating_output",
    Role.FAN_SPEED: "heating_output",
    Role.OCCUPANCY: "occupancy",
    Role.CO2: "co2",
    Role.LIGHTING_RELAY: "lighting_relay",
    Role.CABINET_RELAY: "lighting_relay",
    Role.DIMMING_LEVEL: "lighting_dimming",
    Role.PLANT_ENABLE: "relay",
    Role.PLANT_AVAILABLE: "relay",
    Role.EQUIPMENT_RELAY: "relay",
    Role.ENERGY_METER: "energy",
    Role.POWER: "power",
    Role.MEASUREMENT: "measurement",
}
"""The measurement each role's samples go to."""

DECIDED_MODE = "mode_decided"
"""Where the level the engine decided for each zone goes (``zone_mode_key``), apart from
``mode_reported``, what a device's own mode point reads."""

SAMPLE_MEASUREMENTS: tuple[str, ...] = tuple(dict.fromkeys([DECIDED_MODE, *MEASUREMENTS.values()]))
"""Every measurement of samples: the zones' decided modes, then the roles' in their order."""

UNKNOWN_MEASUREMENT = "sample"
"""Where a stored point that the site file no longer names goes (tags ``site``, ``point``)."""

EVENT_MEASUREMENTS = ("command", "event")
"""The audit log: the commands the engine wrote, and every other line."""

TAGS = ("site", "building", "zone", "cabinet", "equipment", "point", "unit", "meter", "kind",
        "reason_code")
"""Every tag, in the order a reader meets them."""


def meaning(name: str, lang: Lang) -> str:
    """What a measurement or a tag (``TAGS``) holds, in ``lang``."""
    kind = "tag" if name in TAGS else "measurement"
    return Reason.of(f"archive.{kind}.{name}").text(lang)


@dataclass(frozen=True)
class ExampleQuery:
    """One question an audit asks, in each language InfluxDB speaks: InfluxQL (1.x, and
    2.x and 3.x through their v1 API), Flux (2.x) and SQL (3.x)."""

    id: str
    influxql: str
    flux: str
    sql: str

    def title(self, lang: Lang) -> str:
        return Reason.of(f"archive.query.{self.id}").text(lang)

    def explanation(self, lang: Lang) -> str:
        return Reason.of(f"archive.query.{self.id}.explained").text(lang)


CONSUMPTION = ExampleQuery(
    "consumption",
    influxql="""\
SELECT sum("kWh") AS "kWh" FROM (
  SELECT difference(last("value")) AS "kWh" FROM "energy"
  WHERE "site" = 'marchiennes-le-vert'
    AND time >= '2026-03-01T00:00:00+01:00' AND time < '2026-04-01T00:00:00+02:00'
  GROUP BY time(1d), "meter", "building", "cabinet", "point" tz('Europe/Paris')
) GROUP BY "meter", "building", "cabinet", "point\"""",
    flux="""\
import "timezone"

from(bucket: "gtb")
  |> range(start: 2026-02-01T00:00:00+01:00, stop: 2026-04-01T00:00:00+02:00)
  |> filter(fn: (r) => r._measurement == "energy" and r._field == "value"
                       and r.site == "marchiennes-le-vert")
  |> aggregateWindow(every: 1mo, fn: last, timeSrc: "_start", createEmpty: false,
                     location: timezone.location(name: "Europe/Paris"))
  |> difference()
  |> keep(columns: ["_time", "_value", "meter", "building", "cabinet", "point"])""",
    sql="""\
SELECT meter, building, cabinet, point,
       max(CASE WHEN time >= TIMESTAMP '2026-02-28T23:00:00Z' THEN value END)
         - max(CASE WHEN time < TIMESTAMP '2026-02-28T23:00:00Z' THEN value END) AS kwh
FROM energy
WHERE site = 'marchiennes-le-vert'
  AND time >= '2026-02-01T00:00:00+01:00' AND time < '2026-04-01T00:00:00+02:00'
GROUP BY meter, building, cabinet, point
ORDER BY meter, building, cabinet, point""",
)

COMFORT = ExampleQuery(
    "comfort",
    influxql="""\
SELECT mean("value") FROM "temperature", "setpoint"
WHERE "site" = 'marchiennes-le-vert' AND "zone" =~ /./
  AND time >= '2026-03-29T00:00:00+01:00' AND time < '2026-03-30T00:00:00+02:00'
GROUP BY time(1h), "building", "zone" fill(none) tz('Europe/Paris')""",
    flux="""\
from(bucket: "gtb")
  |> range(start: 2026-03-29T00:00:00+01:00, stop: 2026-03-30T00:00:00+02:00)
  |> filter(fn: (r) => (r._measurement == "temperature" or r._measurement == "setpoint")
                       and r._field == "value" and r.site == "marchiennes-le-vert"
                       and exists r.zone)
  |> aggregateWindow(every: 1h, fn: mean, createEmpty: false)
  |> group(columns: ["building", "zone"])
  |> pivot(rowKey: ["_time"], columnKey: ["_measurement"], valueColumn: "_value")
  |> map(fn: (r) => ({r with gap: r.setpoint - r.temperature}))""",
    sql="""\
SELECT tz(t.hour, 'Europe/Paris') AS hour, t.building, t.zone,
       t.temperature, s.setpoint, s.setpoint - t.temperature AS gap
FROM (SELECT date_bin(INTERVAL '1 hour', time) AS hour, building, zone,
             avg(value) AS temperature
      FROM temperature
      WHERE site = 'marchiennes-le-vert' AND zone IS NOT NULL
        AND time >= '2026-03-29T00:00:00+01:00' AND time < '2026-03-30T00:00:00+02:00'
      GROUP BY date_bin(INTERVAL '1 hour', time), building, zone) AS t
JOIN (SELECT date_bin(INTERVAL '1 hour', time) AS hour, building, zone,
             avg(value) AS setpoint
      FROM setpoint
      WHERE site = 'marchiennes-le-vert'
        AND time >= '2026-03-29T00:00:00+01:00' AND time < '2026-03-30T00:00:00+02:00'
      GROUP BY date_bin(INTERVAL '1 hour', time), building, zone) AS s
  ON t.hour = s.hour AND t.building = s.building AND t.zone = s.zone
ORDER BY t.building, t.zone, hour""",
)

MODES = ExampleQuery(
    "modes",
    influxql="""\
SELECT count("mode") / 60 AS "hours" FROM (
  SELECT last("value") AS "mode" FROM "mode_decided"
  WHERE "site" = 'marchiennes-le-vert'
    AND time >= '2026-03-01T00:00:00+01:00' AND time < '2026-04-01T00:00:00+02:00'
  GROUP BY time(1m), "building", "zone" fill(previous)
) WHERE "mode" = 2 GROUP BY "building", "zone\"""",
    flux="""\
from(bucket: "gtb")
  |> range(start: 2026-03-01T00:00:00+01:00, stop: 2026-04-01T00:00:00+02:00)
  |> filter(fn: (r) => r._measurement == "mode_decided" and r._field == "value"
                       and r.site == "marchiennes-le-vert")
  |> aggregateWindow(every: 1m, fn: last, createEmpty: true)
  |> fill(usePrevious: true)
  |> filter(fn: (r) => exists r._value)
  |> map(fn: (r) => ({r with mode: string(v: int(v: r._value))}))
  |> group(columns: ["building", "zone", "mode"])
  |> count()
  |> map(fn: (r) => ({r with hours: float(v: r._value) / 60.0}))""",
    sql="""\
SELECT building, zone, mode, sum(seconds) / 3600.0 AS hours
FROM (SELECT building, zone, CAST(value AS BIGINT) AS mode,
             date_part('epoch', coalesce(lead(time) OVER (PARTITION BY building, zone
                                                          ORDER BY time),
                                         TIMESTAMP '2026-03-31T22:00:00Z'))
               - date_part('epoch', time) AS seconds
      FROM mode_decided
      WHERE site = 'marchiennes-le-vert'
        AND time >= '2026-03-01T00:00:00+01:00' AND time < '2026-04-01T00:00:00+02:00'
     ) AS d
GROUP BY building, zone, mode
ORDER BY building, zone, mode""",
)

LIGHTING = ExampleQuery(
    "lighting",
    influxql="""\
SELECT count("on") / 60 AS "hours" FROM (
  SELECT last("value") AS "on" FROM "lighting_relay"
  WHERE "site" = 'marchiennes-le-vert' AND "cabinet" =~ /./
    AND time >= '2026-03-01T00:00:00+01:00' AND time < '2026-04-01T00:00:00+02:00'
  GROUP BY time(1m), "cabinet" fill(previous)
) WHERE "on" = 1 GROUP BY "cabinet\"""",
    flux="""\
from(bucket: "gtb")
  |> range(start: 2026-03-01T00:00:00+01:00, stop: 2026-04-01T00:00:00+02:00)
  |> filter(fn: (r) => r._measurement == "lighting_relay" and r._field == "value"
                       and r.site == "marchiennes-le-vert" and exists r.cabinet)
  |> aggregateWindow(every: 1m, fn: last, createEmpty: true)
  |> fill(usePrevious: true)
  |> filter(fn: (r) => exists r._value)
  |> filter(fn: (r) => r._value == 1.0)
  |> group(columns: ["cabinet"])
  |> count()
  |> map(fn: (r) => ({r with hours: float(v: r._value) / 60.0}))""",
    sql="""\
SELECT cabinet, sum(seconds) / 3600.0 AS hours
FROM (SELECT cabinet, value,
             date_part('epoch', coalesce(lead(time) OVER (PARTITION BY cabinet ORDER BY time),
                                         TIMESTAMP '2026-03-31T22:00:00Z'))
               - date_part('epoch', time) AS seconds
      FROM lighting_relay
      WHERE site = 'marchiennes-le-vert' AND cabinet IS NOT NULL
        AND time >= '2026-03-01T00:00:00+01:00' AND time < '2026-04-01T00:00:00+02:00'
     ) AS d
WHERE value = 1
GROUP BY cabinet
ORDER BY cabinet""",
)

EVENTS = ExampleQuery(
    "events",
    influxql="""\
SELECT "building", "zone", "cabinet", "point", "actor", "message", "reason", "value"
FROM "event"
WHERE "site" = 'marchiennes-le-vert' AND "kind" = 'override'
  AND time >= '2026-03-01T00:00:00+01:00' AND time < '2026-04-01T00:00:00+02:00'""",
    flux="""\
from(bucket: "gtb")
  |> range(start: 2026-03-01T00:00:00+01:00, stop: 2026-04-01T00:00:00+02:00)
  |> filter(fn: (r) => r._measurement == "event" and r.site == "marchiennes-le-vert"
                       and r.kind == "override")
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
  |> group()
  |> sort(columns: ["_time"])""",
    sql="""\
SELECT time, building, zone, cabinet, point, kind, actor, message, reason, value
FROM event
WHERE site = 'marchiennes-le-vert' AND kind = 'override'
  AND time >= '2026-03-01T00:00:00+01:00' AND time < '2026-04-01T00:00:00+02:00'
ORDER BY time""",
)

QUERIES: tuple[ExampleQuery, ...] = (CONSUMPTION, COMFORT, MODES, LIGHTING, EVENTS)
"""The examples, in the order docs/history.md and the panel show them."""
