"""Benchmarks: ``gtb bench engine``, measured on this machine, over loopback.

The engine bench builds a site of 5,000 points on 50 devices (25 Modbus TCP servers and
25 BACnet/IP devices of 100 points each), serves them from a separate process (so that
the engine's CPU time and memory are its own), and runs the real engine on them: drivers,
store, controllers, arbitration. It reports the tick latency, the requests sent per tick
against the fewest possible, the CPU time per tick and the peak memory.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
import statistics
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from multiprocessing.synchronize import Event as ProcessEvent
from pathlib import Path

from rich.progress import Progress

from gtb.clock import SimulatedClock, cpu_seconds, monotonic
from gtb.config import load_site
from gtb.engine import Engine, EngineSettings
from gtb.model import ROLES, Role
from gtb.sim.devices import device_servers, free_loopback_port
from gtb.store import Store

ZONES_PER_DEVICE = 10
START = datetime(2026, 1, 12, 5, 0, tzinfo=UTC)  # a winter Monday: commands change

# (point id, role, Modbus table and type, BACnet object type, meter kind)
_ZONE_POINTS = (
    ("temperature", Role.ZONE_TEMPERATURE, "input_register", "int16", "analogInput", None),
    ("consigne", Role.HEATING_SETPOINT, "holding_register", "int16", "analogValue", None),
    ("vanne", Role.VALVE, "input_register", "uint16", "analogInput", None),
    ("presence", Role.OCCUPANCY, "discrete_input", "bool", "binaryInput", None),
    ("co2", Role.CO2, "input_register", "uint16", "analogInput", None),
    ("eclairage", Role.LIGHTING_RELAY, "coil", "bool", "binaryOutput", None),
    ("chaleur", Role.ENERGY_METER, "input_register", "uint32", "analogInput", "heating"),
    ("electricite", Role.ENERGY_METER, "input_register", "float32", "analogInput",
     "electricity"),
    ("puissance", Role.POWER, "input_register", "float32", "analogInput", "electricity"),
    ("puissance-eclairage", Role.POWER, "input_register", "float32", "analogInput", "lighting"),
)


def bench_site_yaml(devices: int = 50) -> str:
    """A site of ``devices`` buildings, half Modbus and half BACnet, 100 points each."""
    lines = ["id: bench", "name: Banc d'essai", "latitude: 50.4", "longitude: 3.28",
             "school_zone: B", "buildings:"]
    taken: set[int] = set()
    for d in range(devices):
        modbus = d % 2 == 0
        port = free_loopback_port(udp=not modbus)
        while port in taken:  # free now, but already given to an earlier device
            port = free_loopback_port(udp=not modbus)
        taken.add(port)
        lines += [f"  - id: b{d:02d}", f"    name: Bâtiment {d}", "    use: mairie",
                  "    floor_area_m2: 1000",
                  '    programme: {mon: ["08:00-18:00"], tue: ["08:00-18:00"], '
                  'wed: ["08:00-18:00"], thu: ["08:00-18:00"], fri: ["08:00-18:00"]}',
                  "    zones:"]
        registers = {"input_register": 0, "holding_register": 0, "coil": 0,
                     "discrete_input": 0}
        for z in range(ZONES_PER_DEVICE):
            lines += [f"      - id: z{z}", f"        name: Zone {z}", "        area_m2: 100",
                      "        points:"]
            for n, (ident, role, table, data_type, object_type, meter) in enumerate(_ZONE_POINTS):
                extra = f", meter: {meter}" if meter else ""
                if modbus:
                    address = registers[table]
                    registers[table] += 2 if data_type in ("uint32", "float32") else 1
                    scale = ", scale: 0.1" if data_type == "int16" else ""
                    binding = (f"{{protocol: modbus, host: 127.0.0.1, port: {port}, unit: 1, "
                               f"table: {table}, address: {address}, data_type: {data_type}"
                               f"{scale}}}")
                else:
                    binding = (f'{{protocol: bacnet, address: "127.0.0.1:{port}", '
                               f"device_instance: {1000 + d}, object_type: {object_type}, "
                               f"object_instance: {z * len(_ZONE_POINTS) + n}}}")
                lines.append(f"          - {{id: {ident}, role: {role}{extra}, "
                             f"binding: {binding}}}")
    return "\n".join(lines) + "\n"


def _typical(role: Role) -> float:
    """A plausible reading for every role, for devices that do not simulate a building."""
    info = ROLES[role]
    if info.kind != "analog":
        return info.low
    return {Role.ZONE_TEMPERATURE: 19.5, Role.HEATING_SETPOINT: 19.0, Role.CO2: 650.0,
            Role.ENERGY_METER: 12345.0, Role.POWER: 3.5}.get(role, 40.0)


def _serve_devices(site_file: str, ready: ProcessEvent, stop: ProcessEvent) -> None:
    """The devices' process: serve fixed readings until told to stop."""
    site = load_site(site_file)

    async def serve() -> None:
        servers = device_servers(site, {ref.key: _typical(ref.role) for ref in site.points()})
        for server in servers:
            await server.start()
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        for server in servers:
            await server.stop()

    asyncio.run(serve())


@dataclass(frozen=True)
class EngineBench:
    points: int
    devices: int
    ticks: int
    tick_p50_s: float
    tick_p99_s: float
    points_per_s: float
    requests_per_tick: float
    """Read requests (Modbus blocks, BACnet ReadPropertyMultiple, Who-Is) per tick."""
    min_requests_per_tick: int
    writes_per_tick: float
    """Commands written per tick: changes, and every command again each ``refresh_s``."""
    cpu_s_per_tick: float
    rss_mb: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def bench_engine(ticks: int = 50, devices: int = 50, progress: Progress | None = None
                 ) -> EngineBench:
    """Run ``ticks`` engine ticks on a generated site served from another process."""
    from protocols.bacnet import BacnetDriver
    from protocols.modbus import ModbusDriver

    with tempfile.TemporaryDirectory(prefix="gtb-bench-") as folder:
        site_file = Path(folder) / "bench.yaml"
        site_file.write_text(bench_site_yaml(devices), encoding="utf-8")
        site = load_site(site_file)
        context = multiprocessing.get_context("spawn")
        ready, stop = context.Event(), context.Event()
        serving = context.Process(target=_serve_devices, args=(str(site_file), ready, stop),
                                  daemon=True)
        serving.start()
        try:
            if not ready.wait(60):
                raise RuntimeError("the benchmark's devices did not start within 60 s")
            clock = SimulatedClock(START)
            drivers = {"modbus": ModbusDriver(now=monotonic),
                       "bacnet": BacnetDriver(now=monotonic, port=free_loopback_port(udp=True))}
            store = Store(Path(folder) / "bench.sqlite")
            engine = Engine(site, store, drivers, clock, EngineSettings(tick_s=60))
            refs = list(site.points())
            fewest = sum(d.fewest_requests([r for r in refs if r.binding.protocol == p])
                         for p, d in drivers.items())
            durations, requests, writes, cpu = asyncio.run(
                _run_ticks(engine, clock, ticks, progress))
            store.close()
        finally:
            stop.set()
            serving.join(10)
            if serving.is_alive():
                serving.kill()
    ordered = sorted(durations)
    p50 = statistics.median(ordered)
    return EngineBench(
        points=len(refs),
        devices=len({ref.binding.endpoint for ref in refs}),
        ticks=ticks,
        tick_p50_s=round(p50, 4),
        tick_p99_s=round(_percentile(ordered, 0.99), 4),
        points_per_s=round(len(refs) / p50),
        requests_per_tick=round(statistics.mean(requests), 2),
        min_requests_per_tick=fewest,
        writes_per_tick=round(statistics.mean(writes), 2),
        cpu_s_per_tick=round(statistics.mean(cpu), 4),
        rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    )


async def _run_ticks(
    engine: Engine, clock: SimulatedClock, ticks: int, progress: Progress | None
) -> tuple[list[float], list[int], list[int], list[float]]:
    """Time ``ticks`` ticks after a first one that connects and writes every command."""
    durations: list[float] = []
    requests: list[int] = []
    writes: list[int] = []
    cpu: list[float] = []
    await engine.start()
    try:
        await engine.tick()
        task = progress.add_task("ticks", total=ticks) if progress else None
        for _ in range(ticks):
            clock.advance(engine.settings.tick_s)
            sent = _requests(engine)
            used = cpu_seconds()
            began = monotonic()
            report = await engine.tick()
            durations.append(monotonic() - began)
            cpu.append(cpu_seconds() - used)
            written = report.writes + report.write_failures  # one request each
            requests.append(_requests(engine) - sent - written)
            writes.append(written)
            if progress is not None and task is not None:
                progress.advance(task)
    finally:
        await engine.stop()
    return durations, requests, writes, cpu


def _requests(engine: Engine) -> int:
    return sum(driver.requests for driver in engine.drivers.values())


def _percentile(ordered: list[float], share: float) -> float:
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def summary_rows(result: EngineBench) -> Iterator[tuple[str, str, str]]:
    """What a person reads: measure, value, target."""
    yield "points / devices", f"{result.points} / {result.devices}", "5000 / 50"
    yield "tick p50", f"{result.tick_p50_s:.3f} s", "< 1 s"
    yield "tick p99", f"{result.tick_p99_s:.3f} s", "< 2 s"
    yield "points read per second", f"{result.points_per_s:,.0f}", ""
    fewest = result.min_requests_per_tick
    yield "read requests per tick", f"{result.requests_per_tick:g} (fewest {fewest})", \
        "≤ 1.1 × fewest"
    yield "writes per tick", f"{result.writes_per_tick:g}", ""
    yield "CPU per tick", f"{result.cpu_s_per_tick:.3f} s", ""
    yield "peak RSS", f"{result.rss_mb:.0f} MB", "< 250 MB"
