"""Benchmarks: ``gtb bench engine``, measured on this machine, over loopback.

The engine bench builds a site of 5,000 points on 50 devices (25 Modbus TCP servers and
25 BACnet/IP devices of 100 points each), serves them from a separate process (so that
the engine's CPU time and memory are its own), and runs the real engine on them: drivers,
store, controllers, arbitration. It reports the tick latency, the CPU time per tick, the
peak memory, and what the devices received per tick: read requests against the fewest
their points need, writes, other requests and bytes. Those are counted by the devices as
requests arrive (``gtb.sim.traffic``), and the fewest is computed from the devices' points
and the protocols' limits, so that the engine's drivers are not graded by their own
account.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
import statistics
import tempfile
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from rich.progress import Progress

from gtb.clock import SimulatedClock, cpu_seconds, monotonic
from gtb.config import load_site
from gtb.engine import Engine, EngineSettings
from gtb.model.points import ROLES, Role
from gtb.sim.devices import device_servers, free_loopback_port
from gtb.sim.traffic import Traffic
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


_TRAFFIC, _STOP = "traffic", "stop"
"""What the benchmark asks the devices' process: what they have received, or to stop."""


def _serve_devices(site_file: str, benchmark: Connection) -> None:
    """The devices' process: serve fixed readings; once started, send the fewest read
    requests their points need; then answer each ``_TRAFFIC`` with what they have
    received, until told to stop or the benchmark is gone."""
    site = load_site(site_file)

    async def serve() -> None:
        servers = device_servers(site, {ref.key: _typical(ref.role) for ref in site.points()})
        for server in servers:
            await server.start()
        benchmark.send(sum(server.fewest_reads() for server in servers))
        loop = asyncio.get_running_loop()
        with suppress(EOFError):  # the benchmark's end closed
            # received in a thread, so that the devices answer while the question waits
            while await loop.run_in_executor(None, benchmark.recv) == _TRAFFIC:
                benchmark.send(sum((server.traffic() for server in servers), Traffic()))
        for server in servers:
            await server.stop()

    asyncio.run(serve())


class _ServedDevices:
    """The devices' process, seen from the benchmark: a request and its reply over a pipe
    for each question, asked between ticks only."""

    def __init__(self, site_file: Path) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, theirs = context.Pipe()
        self._process = context.Process(target=_serve_devices, args=(str(site_file), theirs),
                                        daemon=True)
        self._process.start()
        theirs.close()  # theirs is the process's now: if it dies, our end reads EOF

    def fewest_reads(self) -> int:
        """Wait for the devices to start; the fewest read requests their points need."""
        return int(self._reply(60, "start"))

    def traffic(self) -> Traffic:
        """What the devices have received so far, all together."""
        self._connection.send(_TRAFFIC)
        traffic = self._reply(10, "answer")
        if not isinstance(traffic, Traffic):
            raise RuntimeError(f"the benchmark's devices answered {traffic!r}")
        return traffic

    def _reply(self, timeout_s: float, what: str) -> Any:
        if not self._connection.poll(timeout_s):
            raise RuntimeError(f"the benchmark's devices did not {what} within {timeout_s:g} s")
        try:
            return self._connection.recv()
        except EOFError:
            raise RuntimeError("the benchmark's devices stopped on their own") from None

    def stop(self) -> None:
        with suppress(OSError):  # the process may be gone already
            self._connection.send(_STOP)
        self._connection.close()
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()


@dataclass(frozen=True)
class EngineBench:
    points: int
    devices: int
    ticks: int
    tick_p50_s: float
    tick_p99_s: float
    points_per_s: float
    requests_per_tick: float
    """Read requests the devices received per tick (Modbus FC1-4; BACnet ReadProperty,
    ReadPropertyMultiple, ReadRange)."""
    min_requests_per_tick: int
    """A lower bound of the read requests per tick, from the devices' points and the
    protocols' limits (``gtb.sim.traffic``)."""
    writes_per_tick: float
    """Write requests the devices received per tick: changes, and every command again
    each ``refresh_s``."""
    other_requests_per_tick: float
    """Any other request the devices received per tick (a BACnet Who-Is, for one)."""
    bytes_per_tick: float
    """Bytes the devices received per tick, every request together: TCP payloads (MBAP
    header and PDU) and UDP payloads (BVLL, NPDU and APDU)."""
    cpu_s_per_tick: float
    rss_mb: float
    counted_at: str = "devices"
    """Where requests and bytes are counted: by the devices, as they arrive."""

    def as_dict(self) -> dict[str, float | str]:
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
        served = _ServedDevices(site_file)
        try:
            fewest = served.fewest_reads()
            clock = SimulatedClock(START)
            drivers = {"modbus": ModbusDriver(now=monotonic),
                       "bacnet": BacnetDriver(now=monotonic, port=free_loopback_port(udp=True))}
            store = Store(Path(folder) / "bench.sqlite")
            engine = Engine(site, store, drivers, clock, EngineSettings(tick_s=60))
            refs = list(site.points())
            durations, received, cpu = asyncio.run(
                _run_ticks(engine, clock, ticks, served.traffic, progress))
            store.close()
        finally:
            served.stop()
    ordered = sorted(durations)
    p50 = statistics.median(ordered)
    return EngineBench(
        points=len(refs),
        devices=len({ref.binding.endpoint for ref in refs}),
        ticks=ticks,
        tick_p50_s=round(p50, 4),
        tick_p99_s=round(_percentile(ordered, 0.99), 4),
        points_per_s=round(len(refs) / p50),
        requests_per_tick=round(statistics.mean(t.reads for t in received), 2),
        min_requests_per_tick=fewest,
        writes_per_tick=round(statistics.mean(t.writes for t in received), 2),
        other_requests_per_tick=round(statistics.mean(t.other for t in received), 2),
        bytes_per_tick=round(statistics.mean(t.bytes_in for t in received)),
        cpu_s_per_tick=round(statistics.mean(cpu), 4),
        rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    )


async def _run_ticks(
    engine: Engine, clock: SimulatedClock, ticks: int, traffic: Callable[[], Traffic],
    progress: Progress | None,
) -> tuple[list[float], list[Traffic], list[float]]:
    """Time ``ticks`` ticks after a first one that connects and writes every command;
    what the devices received during each tick is asked before and after it, outside the
    time and CPU measured. Every request of a tick is answered (or given up) before the
    tick ends, and a device counts a request before it answers it."""
    durations: list[float] = []
    received: list[Traffic] = []
    cpu: list[float] = []
    await engine.start()
    try:
        await engine.tick()
        task = progress.add_task("ticks", total=ticks) if progress else None
        for _ in range(ticks):
            clock.advance(engine.settings.tick_s)
            before = traffic()
            used = cpu_seconds()
            began = monotonic()
            await engine.tick()
            durations.append(monotonic() - began)
            cpu.append(cpu_seconds() - used)
            received.append(traffic() - before)
            if progress is not None and task is not None:
                progress.advance(task)
    finally:
        await engine.stop()
    return durations, received, cpu


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
    yield "read requests per tick, at the devices", \
        f"{result.requests_per_tick:g} (fewest {fewest})", "≤ 1.1 × fewest"
    yield "writes per tick", f"{result.writes_per_tick:g}", ""
    yield "other requests per tick", f"{result.other_requests_per_tick:g}", ""
    yield "bytes to the devices per tick", f"{result.bytes_per_tick:,.0f}", ""
    yield "CPU per tick", f"{result.cpu_s_per_tick:.3f} s", ""
    yield "peak RSS", f"{result.rss_mb:.0f} MB", "< 250 MB"
