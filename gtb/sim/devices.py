"""Simulated field devices: real Modbus TCP servers and BACnet/IP devices on loopback.

They serve the points of any site file, so the engine, a BMS tool or a test talks real
protocol traffic to them. Points are grouped by where they live: one Modbus TCP server per
``host:port`` (serving every unit id found there) and one BACnet/IP device per address and
device instance, each on its own UDP port (bacpypes3 short-circuits any ``127.x:port``
destination that equals its own port, so two devices cannot share one). A device's network
is ``host/24``: whatever bacpypes3 broadcasts goes to ``127.0.0.255``, on loopback.

The simulation publishes readings (temperatures, meters, valves, occupancy...) into the
devices and reads back what clients commanded (setpoints, modes, relays, dimming). A
stop and a start is a network outage, not a power cycle: the values survive it (a power
cycle is ``VirtualSite.power_cycle``). A write that would leave a command point outside
its physical range, or not a number, is refused as a controller refuses it: Modbus
exception 03, BACnet value-out-of-range; the device keeps what it held.

The BACnet devices are built on bacpypes3 directly, not with BAC0, because in BAC0
2026.7: stopping any BAC0 instance cancels every BAC0 task of the process (``Base._disconnect``
calls ``stopAllTasks``), which would kill the engine client's tasks when a device goes
down; its local-object factory keeps objects in class-level dictionaries, so a second
device receives the first one's objects and silently renumbered instances; and it cannot
build a commandable binaryOutput (MRO error). The clients (the engine) use BAC0.

bacpypes3 spends about 0.3 ms of CPU per object of a ReadPropertyMultiple request to
decode it, answer it and encode the answer, so that 25 devices of 100 objects would cost
the machine more than the engine reading them does: the benchmark would measure the
simulator. The one request the engine sends every tick, present values only, is answered
by ``_PresentValueReads`` from the objects directly, in the bytes bacpypes3 would send.

Every device counts what it receives (``traffic()``: requests by kind, and bytes) and
knows the fewest read requests its points need (``fewest_reads()``), so that a benchmark
grades a driver at the devices, not by the driver's own account (``gtb.sim.traffic``).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import math
import re
import socket
import struct
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from bacpypes3.apdu import (
    APDU,
    AbortPDU,
    AbortReason,
    ComplexAckPDU,
    ConfirmedServiceChoice,
    UnconfirmedServiceChoice,
    confirmed_request_types,
    unconfirmed_request_types,
)
from bacpypes3.app import Application
from bacpypes3.appservice import ServerSSM
from bacpypes3.basetypes import (
    EngineeringUnits,
    ObjectTypesSupported,
    PropertyIdentifier,
    ServicesSupported,
)
from bacpypes3.errors import PropertyError
from bacpypes3.local.analog import (
    AnalogInputObject,
    AnalogOutputObject,
    AnalogValueObject,
    AnalogValueObjectCmd,
)
from bacpypes3.local.binary import (
    BinaryInputObject,
    BinaryOutputObject,
    BinaryValueObjectCmd,
)
from bacpypes3.local.cmd import Commandable
from bacpypes3.local.device import DeviceObject
from bacpypes3.local.multistate import (
    MultiStateInputObject,
    MultiStateOutputObject,
    MultiStateValueObject,
)
from bacpypes3.local.networkport import NetworkPortObject
from bacpypes3.local.oos import OutOfService
from bacpypes3.primitivedata import Null, ObjectIdentifier, Real
from bacpypes3.vlan import VirtualNetwork
from pymodbus.constants import ExcCodes
from pymodbus.simulator import DataType, SimData, SimDevice

from gtb.model import PointRef, Site
from gtb.model.lorawan import LorawanBinding
from gtb.model.mqtt import MqttBinding
from gtb.model.points import (
    BACNET_UNITS,
    HEATING_MODES,
    BacnetBinding,
    ModbusBinding,
    Role,
)
from gtb.sim.traffic import (
    BACNET_IP_MAX_APDU,
    CountingModbusServer,
    Traffic,
    TrafficCounter,
    count_bacnet_datagrams,
    fewest_modbus_reads,
    fewest_rpm_requests,
)
from gtb.sim.world import command_refusal
from protocols.modbus import decode, encode

B = TypeVar("B", ModbusBinding, BacnetBinding)

STARTUP_TIMEOUT_S = 5.0
"""How long a device may take to bind its port before ``start()`` gives up."""


class DeviceServer(Protocol):
    """One simulated device (or Modbus server) and the points it serves."""

    label: str
    keys: tuple[str, ...]

    async def start(self) -> None:
        """Listen on the device's port; fails fast if the port is taken."""

    async def stop(self) -> None:
        """Stop listening and free the port; the values are kept for a later start."""

    def publish(self, key: str, value: float) -> None:
        """Set a reading (a point whose role is not a command) that clients will now read."""

    def commanded(self, key: str) -> float:
        """The value of a command point as the device holds it, after clients' writes."""

    def traffic(self) -> Traffic:
        """What the device has received since it was made, across stops and starts."""

    def writes_by_point(self) -> Counter[str]:
        """The write requests each of its points has received, as they arrived."""

    def fewest_reads(self) -> int:
        """A lower bound of the read requests that read all its points, from their layout
        and the protocol's limits: the yardstick of a client's reads."""


def device_servers(site: Site, initial: Mapping[str, float],
                   bacnet_options: Mapping[str, Mapping[str, Any]] | None = None
                   ) -> list[DeviceServer]:
    """A server for every Modbus and BACnet device of the site, in file order, holding
    ``initial`` values (LoRaWAN devices are on the air: ``gtb.sim.radio``).

    ``initial`` has a value for every point. For a command point it is what the device
    holds while nobody commands it: the holding register or coil, or for BACnet the
    relinquish default, to which the point returns when every priority is released.
    ``bacnet_options``: the BACnet device at an address (``host:port``) made with these
    options of ``BacnetDeviceServer`` (a device unlike the others).
    """
    refs = list(site.points())
    missing = [ref.key for ref in refs if ref.key not in initial]
    unknown = sorted(set(initial) - {ref.key for ref in refs})
    if missing or unknown:
        raise ValueError(
            f"initial values must cover the points of site {site.id} exactly: "
            f"missing {missing}, unknown {unknown}"
        )
    refuse_unsimulated(site)
    groups: dict[tuple[str, str, int], list[PointRef]] = {}
    for ref in refs:
        binding = ref.binding
        if isinstance(binding, LorawanBinding):
            continue  # on the air, through a simulated network server (gtb.sim.radio)
        group = (
            ("modbus", binding.host, binding.port)
            if isinstance(binding, ModbusBinding)
            else binding.endpoint
        )
        groups.setdefault(group, []).append(ref)
    routed: dict[tuple[str, int], set[tuple[int, int]]] = {}
    for ref in refs:
        binding = ref.binding
        if isinstance(binding, BacnetBinding) and binding.network is not None:
            assert binding.mac is not None
            routed.setdefault((binding.host, binding.port), set()).add(
                (binding.network, binding.mac))
    routers = {f"{host}:{port}": BacnetRouter(host, port, stations)
               for (host, port), stations in routed.items()}
    servers: list[DeviceServer] = []
    for (protocol, address, _), members in groups.items():
        if protocol == "modbus":
            servers.append(ModbusDeviceServer(members, initial))
        else:
            options = (bacnet_options or {}).get(address, {})
            servers.append(BacnetDeviceServer(members, initial, router=routers.get(address),
                                              **options))
    return servers


def refuse_unsimulated(site: Site) -> None:
    """``ValueError`` naming the points of ``site`` that the virtual commune cannot serve:
    generic MQTT points (``protocol: mqtt``)."""
    unsimulated = [ref.key for ref in site.points() if isinstance(ref.binding, MqttBinding)]
    if unsimulated:
        raise ValueError(f"the virtual commune does not simulate generic MQTT devices "
                         f"(protocol: mqtt) yet: {', '.join(unsimulated)}")


def free_loopback_port(udp: bool = False) -> int:
    """A port on 127.0.0.1 that nothing listens on right now (TCP, or UDP for BACnet)."""
    kind = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def relocate_ports(text: str) -> str:
    """Give every Modbus server, BACnet device and weather service of a site file its own
    free port (the system may hand the same free port out twice in a row: each is taken
    once)."""
    taken: set[int] = set()

    def distinct(udp: bool) -> int:
        port = free_loopback_port(udp=udp)
        while port in taken:
            port = free_loopback_port(udp=udp)
        taken.add(port)
        return port

    tcp = {port: distinct(udp=False) for port in set(re.findall(r"\bport: (\d+)", text))}
    udp = {port: distinct(udp=True)
           for port in set(re.findall(r'address: "127\.0\.0\.1:(\d+)"', text))}
    text = re.sub(r"\bport: (\d+)", lambda m: f"port: {tcp[m[1]]}", text)
    # The weather service the simulator serves (gtb.sim.forecast).
    text = re.sub(r"(url: http://127\.0\.0\.1:)(\d+)",
                  lambda m: f"{m[1]}{distinct(udp=False)}", text)
    return re.sub(
        r'address: "127\.0\.0\.1:(\d+)"', lambda m: f'address: "127.0.0.1:{udp[m[1]]}"', text
    )


def _loopback(host: str) -> str:
    """Simulated devices never leave the machine: refuse anything but a 127.x address."""
    try:
        loopback = ipaddress.IPv4Address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"simulated devices serve on IPv4 loopback only, not {host!r}")
    return host


def _bindings(refs: Sequence[PointRef], kind: type[B]) -> dict[str, B]:
    """Point key -> binding, for points grouped under one protocol."""
    bindings: dict[str, B] = {}
    for ref in refs:
        if not isinstance(ref.binding, kind):
            raise TypeError(f"{ref.key} is not bound by {kind.__name__}")
        bindings[ref.key] = ref.binding
    return bindings


def _check(refs: Mapping[str, PointRef], key: str, label: str, command: bool) -> None:
    """Refuse a key the device does not serve, or a reading taken for a command or back."""
    try:
        ref = refs[key]
    except KeyError:
        raise KeyError(f"{label} does not serve point {key!r}") from None
    if ref.point.writable != command:
        raise ValueError(
            f"{key} is a {ref.role} "
            + ("reading: publish() it" if command else "command: read it with commanded()")
        )


# --- Modbus TCP --------------------------------------------------------------------------

_BIT_TABLES = frozenset({"coil", "discrete_input"})
_TABLES = ("coil", "discrete_input", "holding_register", "input_register")
_TABLE_OF_FUNCTION = {
    1: "coil", 5: "coil", 15: "coil",
    2: "discrete_input",
    3: "holding_register", 6: "holding_register", 16: "holding_register",
    22: "holding_register", 23: "holding_register",
    4: "input_register",
}


class ModbusDeviceServer:
    """A pymodbus TCP server for every unit id on one ``host:port``.

    The register values live here, in one list per unit and table (coils and discrete
    inputs as 0/1), so that ``publish`` and ``commanded`` are plain synchronous calls. The
    pymodbus 3.16 datastore (``SimDevice``) copies its initial values and offers no
    synchronous access, so its documented ``action`` hook, called on every request, copies
    these lists into the served registers before a read and records what a client writes.
    Each table spans address 0 to the last address used (bit tables in whole 16-bit
    words, as pymodbus stores them; a table no point uses holds address 0 only); beyond
    it a request gets ILLEGAL_ADDRESS, and an unknown unit id gets GATEWAY_NO_RESPONSE,
    as from a gateway with nothing behind it. What the clients send is counted on each
    of their connections (``CountingModbusServer``), whatever unit or function it names.
    """

    def __init__(self, refs: Sequence[PointRef], initial: Mapping[str, float]) -> None:
        self._refs = {ref.key: ref for ref in refs}
        self._bindings = _bindings(refs, ModbusBinding)
        self.keys = tuple(self._refs)
        first = self._bindings[self.keys[0]]
        self.host, self.port = _loopback(first.host), first.port
        self.units = tuple(sorted({b.unit for b in self._bindings.values()}))
        sizes: dict[tuple[int, str], int] = {(u, t): 1 for u in self.units for t in _TABLES}
        for binding in self._bindings.values():
            table = (binding.unit, binding.table)
            sizes[table] = max(sizes[table], binding.address + binding.width)
        self._memory = {
            table: [0] * (math.ceil(size / 16) * 16 if table[1] in _BIT_TABLES else size)
            for table, size in sizes.items()
        }
        for key in self.keys:
            self._store(self._bindings[key], initial[key])
        units = ", ".join(map(str, self.units))
        self.label = (
            f"Modbus TCP {self.host}:{self.port} (unit{'s' if len(self.units) > 1 else ''} "
            f"{units}): {len(self.keys)} points"
        )
        self._writable: dict[tuple[int, str], list[str]] = {}
        for key, ref in self._refs.items():
            if ref.point.writable:
                binding = self._bindings[key]
                self._writable.setdefault((binding.unit, binding.table), []).append(key)
        self._point_at: dict[tuple[int, str, int], str] = {
            (b.unit, b.table, b.address + offset): key
            for key, b in self._bindings.items() for offset in range(b.width)
        }
        self._counter = TrafficCounter()
        self._failure: ExcCodes | None = None
        self._server: CountingModbusServer | None = None

    async def start(self) -> None:
        devices = [self._sim_device(unit) for unit in self.units]
        if 0 not in self.units:
            # A catch-all spanning every address, so that any request to a unit nobody
            # serves reaches the action hook and gets GATEWAY_NO_RESPONSE.
            everywhere = SimData(0, count=65536, datatype=DataType.REGISTERS)
            devices.append(SimDevice(0, simdata=everywhere, action=_no_such_unit))
        self._server = CountingModbusServer(devices, (self.host, self.port), self._counter)
        await asyncio.wait_for(self._server.serve_forever(background=True), STARTUP_TIMEOUT_S)

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.shutdown()
            self._server = None

    def publish(self, key: str, value: float) -> None:
        _check(self._refs, key, self.label, command=False)
        self._store(self._bindings[key], value)

    def commanded(self, key: str) -> float:
        _check(self._refs, key, self.label, command=True)
        binding = self._bindings[key]
        memory = self._memory[(binding.unit, binding.table)]
        if binding.table in _BIT_TABLES:
            return decode(binding, bool(memory[binding.address]))
        return decode(binding, memory[binding.address : binding.address + binding.width])

    def traffic(self) -> Traffic:
        return self._counter.total()

    def writes_by_point(self) -> Counter[str]:
        return self._counter.writes_by_point()

    def fewest_reads(self) -> int:
        return fewest_modbus_reads(self._bindings.values())

    def send_raw(self, key: str, registers: Sequence[int]) -> None:
        """A fault to inject: the registers of the reading ``key`` hold these words until
        the next ``publish``, whatever they mean (a float32 NaN or infinity, a sensor's
        error code): what no ``publish`` of a value could put there."""
        _check(self._refs, key, self.label, command=False)
        binding = self._bindings[key]
        if binding.table in _BIT_TABLES or len(registers) != binding.width:
            raise ValueError(f"{key}: {binding.width} register(s) of {binding.table}, "
                             f"not {len(registers)}")
        memory = self._memory[(binding.unit, binding.table)]
        memory[binding.address : binding.address + binding.width] = list(registers)

    def fail_with(self, code: ExcCodes | None) -> None:
        """A fault to inject: answer every request with the exception ``code`` (a device
        whose own sensors bus has failed answers SERVER_DEVICE_FAILURE), until ``None``."""
        self._failure = code

    def _store(self, binding: ModbusBinding, value: float) -> None:
        raw = encode(binding, value)
        memory = self._memory[(binding.unit, binding.table)]
        if isinstance(raw, bool):
            memory[binding.address] = int(raw)
        else:
            memory[binding.address : binding.address + binding.width] = raw

    def _sim_device(self, unit: int) -> SimDevice:
        def block(table: str) -> list[SimData]:
            size = len(self._memory[(unit, table)])
            datatype = DataType.BITS if table in _BIT_TABLES else DataType.REGISTERS
            return [SimData(0, count=size, values=0, datatype=datatype)]

        coils, discrete_inputs, holding, inputs = (block(table) for table in _TABLES)
        return SimDevice(
            unit,
            simdata=(coils, discrete_inputs, holding, inputs),
            action=functools.partial(self._on_request, unit),
        )

    async def _on_request(
        self,
        unit: int,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        written: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        if self._failure is not None:
            return self._failure
        table = _TABLE_OF_FUNCTION[function_code]
        memory = self._memory[(unit, table)]
        if written is not None:
            for key in dict.fromkeys(
                self._point_at.get((unit, table, address + i)) for i in range(len(written))
            ):
                if key is not None:
                    self._counter.wrote(key)
            after = list(memory)
            after[address : address + len(written)] = [int(value) for value in written]
            if self._refused(unit, table, address, len(written), after):
                return ExcCodes.ILLEGAL_VALUE
            memory[:] = after
        elif table in _BIT_TABLES:
            registers[: len(memory) // 16] = [
                sum(bit << i for i, bit in enumerate(memory[word : word + 16]))
                for word in range(0, len(memory), 16)
            ]
        else:
            registers[: len(memory)] = memory
        return None


    def _refused(self, unit: int, table: str, address: int, count: int,
                 after: list[int]) -> bool:
        """Whether a write leaves a command point it touches with a value the point cannot
        take (a setpoint of 95 °C, a NaN, a mode 0): a controller answers exception 03
        (illegal data value) and keeps what it held."""
        for key in self._writable.get((unit, table), ()):
            binding = self._bindings[key]
            if binding.address >= address + count or binding.address + binding.width <= address:
                continue
            span = after[binding.address : binding.address + binding.width]
            value = decode(binding, bool(span[0]) if table in _BIT_TABLES else span)
            ref = self._refs[key]
            if command_refusal(key, ref.role, ref.point.physical_range, value) is not None:
                return True
        return False


async def _no_such_unit(*_: Any) -> ExcCodes:
    return ExcCodes.GATEWAY_NO_RESPONSE


# --- BACnet/IP ---------------------------------------------------------------------------


class _PresentValueCheck:
    """Refuses a present-value write the object cannot hold (value-out-of-range), as
    controllers do; a NULL, a release, always goes through."""

    def _holds(self, value: Any) -> bool:
        raise NotImplementedError

    async def write_property(
        self, attr: Any, value: Any, index: int | None = None, priority: int | None = None
    ) -> None:
        if (
            attr == PropertyIdentifier.presentValue
            and not isinstance(value, Null)
            and not self._holds(value)
        ):
            raise PropertyError("valueOutOfRange")
        await super().write_property(attr, value, index, priority)  # type: ignore[misc]


class _StateCheck(_PresentValueCheck):
    """A state the object has: 1 to its Number_Of_States."""

    numberOfStates: int

    def _holds(self, value: Any) -> bool:
        return 1 <= int(value) <= self.numberOfStates


class _Rounding:
    """Keeps an analog command to the device's resolution, as many controllers keep a
    setpoint to the half degree: what a client reads back is not what it wrote."""

    _resolution: float | None = None
    """Set on an object by ``object.__setattr__`` (bacpypes3 guards its attributes)."""

    async def write_property(
        self, attr: Any, value: Any, index: int | None = None, priority: int | None = None
    ) -> None:
        step = self._resolution
        if attr == PropertyIdentifier.presentValue and step and not isinstance(value, Null):
            value = Real(round(float(value) / step) * step)
        await super().write_property(attr, value, index, priority)  # type: ignore[misc]


class _RangeCheck(_PresentValueCheck):
    """A number within the object's Min_Pres_Value and Max_Pres_Value (the point's
    physical range)."""

    minPresValue: float
    maxPresValue: float

    def _holds(self, value: Any) -> bool:
        return math.isfinite(value) and self.minPresValue <= value <= self.maxPresValue


class _AnalogOutput(_RangeCheck, _Rounding, AnalogOutputObject):
    """Out of range or NaN refused first (rounding NaN would fail), then rounded."""


class _AnalogValue(_RangeCheck, _Rounding, AnalogValueObjectCmd):
    """Out of range or NaN refused first (rounding NaN would fail), then rounded."""


class _Device(DeviceObject):
    """The device object, announcing the services and object types the device serves.

    bacpypes3 0.0.110 announces no object type at all, and names its unconfirmed services
    by the confirmed service of the same number (Who-Is as AddListElement): a client that
    reads Protocol_Services_Supported to choose how to talk to the device is misled."""

    @property
    def protocolServicesSupported(self) -> ServicesSupported:
        supported = ServicesSupported([])
        if self._app:
            for choices, requests in ((ConfirmedServiceChoice, confirmed_request_types),
                                      (UnconfirmedServiceChoice, unconfirmed_request_types)):
                for choice, request in requests.items():
                    if hasattr(self._app, f"do_{request.__name__}"):
                        supported[getattr(ServicesSupported, choices(choice).attr)] = 1
        return supported

    @protocolServicesSupported.setter
    def protocolServicesSupported(self, value: Any) -> None:
        """Worked out from the application, as bacpypes3's own: a value given is ignored."""

    @property
    def protocolObjectTypesSupported(self) -> ObjectTypesSupported:
        supported = ObjectTypesSupported([])
        if self._app:
            for object_type, _ in self._app.objectIdentifier:
                supported[int(object_type)] = 1
        return supported

    @protocolObjectTypesSupported.setter
    def protocolObjectTypesSupported(self, value: Any) -> None:
        """The types of the device's objects: a value given is ignored."""


def _null_writes_at_lowest_priority(app: Any) -> None:
    """A WriteProperty of NULL to a commandable present value without a priority
    relinquishes at priority 16, as a write without priority is at 16 (clause 19.2.1);
    bacpypes3 0.0.110 takes NULL only when a priority is given and answers an error."""
    answer = app.do_WritePropertyRequest

    async def do_WritePropertyRequest(apdu: Any) -> None:
        if (apdu.priority is None
                and apdu.propertyIdentifier == PropertyIdentifier.presentValue
                and isinstance(app.get_object_id(apdu.objectIdentifier), Commandable)
                and _is_null(apdu.propertyValue)):
            apdu.priority = 16
        await answer(apdu)

    app.do_WritePropertyRequest = do_WritePropertyRequest


def _is_null(value: Any) -> bool:
    """Whether a WriteProperty's value (an ``Any``) is a NULL."""
    try:
        value.cast_out(Null)
    except Exception:  # bacpypes3 raises various errors for other types
        return False
    return True


class _AnalogInput(OutOfService, AnalogInputObject):
    """Inputs refuse present-value writes unless out of service, as in the standard."""


class _BinaryInput(OutOfService, BinaryInputObject):
    pass


class _MultiStateInput(_StateCheck, OutOfService, MultiStateInputObject):
    pass


class _MultiStateOutput(_StateCheck, MultiStateOutputObject):
    pass


class _MultiStateValue(_StateCheck, Commandable, MultiStateValueObject):
    _required = ("priorityArray", "relinquishDefault", "currentCommandPriority")


_OBJECT_CLASSES: dict[str, Any] = {
    "analogInput": _AnalogInput,
    "analogOutput": _AnalogOutput,
    "analogValue": _AnalogValue,
    "binaryInput": _BinaryInput,
    "binaryOutput": BinaryOutputObject,
    "binaryValue": BinaryValueObjectCmd,
    "multiStateInput": _MultiStateInput,
    "multiStateOutput": _MultiStateOutput,
    "multiStateValue": _MultiStateValue,
}


_COV_INCREMENT = 0.1
"""Smallest analog change that COV subscribers hear of: a tenth of a unit."""

_REAL_MAX = struct.unpack(">f", b"\x7f\x7f\xff\xff")[0]
"""The largest finite REAL (single precision): an analog present value beyond it cannot
be sent."""

_BINARY_TEXT = {Role.OCCUPANCY: ("unoccupied", "occupied")}
_STATE_TEXT = [name.replace("_", " ") for _, name in sorted(HEATING_MODES.items())]


class BacnetRouter:
    """A BACnet router (bacpypes3) from BACnet/IP at ``host:port`` to virtual networks,
    one per network number of the devices behind it, as an MS/TP router is: the devices
    are reached at ``network:mac`` through it. Devices behind it share it: it starts
    with the first and stops with the last (``acquire``, ``release``).

    Its own station on each network is the first MAC no device takes, and its BACnet/IP
    side a network number none of them uses. Datagrams behind it are not counted."""

    def __init__(self, host: str, port: int, stations: Iterable[tuple[int, int]]) -> None:
        self.host, self.port = _loopback(host), port
        self._stations = set(stations)
        networks = {network for network, _ in self._stations}
        self._ip_network = next(n for n in range(65534, 0, -1) if n not in networks)
        self._users = 0
        self._app: Any = None

    def lan(self, network: int) -> str:
        """The name of the virtual network ``network`` behind this router."""
        return f"gtb:{self.host}:{self.port}:{network}"

    async def acquire(self) -> None:
        if self._users == 0:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.bind((self.host, self.port))
            ports = [NetworkPortObject(f"{self.host}/24:{self.port}",
                                       objectIdentifier=("network-port", 1),
                                       objectName="NetworkPort-1",
                                       networkNumber=self._ip_network,
                                       networkNumberQuality="configured")]
            for index, network in enumerate(sorted({n for n, _ in self._stations}), 2):
                name = self.lan(network)
                if name not in VirtualNetwork._networks:
                    VirtualNetwork(name)
                taken = {mac for n, mac in self._stations if n == network}
                ports.append(_virtual_port(index, network, next(
                    mac for mac in range(255) if mac not in taken), name))
            self._app = Application.from_object_list([
                DeviceObject(objectIdentifier=("device", 4194301),
                             objectName=f"router {self.host}:{self.port}",
                             modelName="GTB simulated router"), *ports])
            link = self._app.link_layers[ports[0].objectIdentifier]
            await asyncio.wait_for(link.server._local_transport_ready.wait(),
                                   STARTUP_TIMEOUT_S)
        self._users += 1

    async def release(self) -> None:
        self._users -= 1
        if self._users == 0 and self._app is not None:
            self._app.close()
            self._app = None
            await asyncio.sleep(0)


def _virtual_port(index: int, network: int, mac: int, lan: str) -> Any:
    """A network port on the virtual network ``lan`` (an MS/TP segment, here)."""
    return NetworkPortObject(
        None, objectIdentifier=("network-port", index), objectName=f"NetworkPort-{index}",
        networkType="virtual", protocolLevel="bacnet-application", macAddress=bytes((mac,)),
        networkNumber=network, networkNumberQuality="configured", networkInterfaceName=lan,
        statusFlags=[0, 0, 0, 0], reliability="no-fault-detected", outOfService=False,
        changesPending=False, linkSpeed=0.0)


class BacnetDeviceServer:
    """A BACnet/IP device (bacpypes3) with one object per point, named by the point key.

    Inputs hold readings; outputs and values are commandable, with a 16-slot priority
    array whose relinquish default is the initial value. Multi-state objects have the
    heating modes as states (1 comfort ... 4 off). bacpypes3 objects schedule work on the
    running event loop when created, so they are made by the first ``start()``; until
    then the values wait in a plain dictionary.

    ReadPropertyMultiple requests of present values only are answered by
    ``_PresentValueReads``, unless ``fast_reads`` is false: then bacpypes3 answers every
    request, which is what the fast answers are checked against. Either way every datagram
    is counted as it reaches the device's link layer (``count_bacnet_datagrams``).

    Real devices differ, and these can too: the analog values of ``plain`` keys have no
    priority array (a write takes whatever its priority, null is refused: the point can
    be written but not released), and ``resolution`` keeps analog commands to a step
    (a device that holds 19.0 when 19.04 was written). ``max_apdu`` is the largest APDU
    the device takes and sends (an MS/TP controller behind a router: 480, or 128), which
    its I-Am announces with whether it can ``segment`` its answers; such a device aborts
    a ReadPropertyMultiple of present values larger than that (buffer overflow), and one
    whose answer would be larger and that cannot segment (segmentation not supported),
    as a real one does. ``announced_max_apdu`` makes its I-Am say more than it takes, as
    one does behind a router whose buffers are smaller than the device's. A device whose
    bindings name a ``network`` and ``mac`` is behind the ``BacnetRouter`` at their
    address (``router``, or one of its own), on a virtual network; its datagrams are not
    counted.
    """

    def __init__(self, refs: Sequence[PointRef], initial: Mapping[str, float], *,
                 fast_reads: bool = True, plain: Collection[str] = (),
                 resolution: float | None = None, max_apdu: int = BACNET_IP_MAX_APDU,
                 segment: bool = True, announced_max_apdu: int | None = None,
                 router: BacnetRouter | None = None) -> None:
        self._refs = {ref.key: ref for ref in refs}
        self._bindings = _bindings(refs, BacnetBinding)
        self.keys = tuple(self._refs)
        first = self._bindings[self.keys[0]]
        self.host, self.port = _loopback(first.host), first.port
        self.device_instance = first.device_instance
        self.station = (
            None if first.network is None or first.mac is None else (first.network, first.mac))
        self._router = router
        if self.station is not None and router is None:
            self._router = BacnetRouter(self.host, self.port, [self.station])
        self._fast_reads = fast_reads
        unknown = sorted(set(plain) - {k for k, b in self._bindings.items()
                                       if b.object_type == "analogValue"})
        if unknown:
            raise ValueError(f"plain objects must be analog values of this device: {unknown}")
        if resolution is not None and not resolution > 0:
            raise ValueError(f"resolution must be positive, not {resolution}")
        self._plain = frozenset(plain)
        self._resolution = resolution
        for size in (max_apdu, announced_max_apdu or max_apdu):
            if size not in _MAX_APDU_SIZES:
                raise ValueError(f"an APDU size is one of {_MAX_APDU_SIZES}, not {size}")
        self.max_apdu = max_apdu
        self._announced_max_apdu = announced_max_apdu or max_apdu
        self.segment = segment
        for ref in refs:
            _present_value(ref.key, self._bindings[ref.key], initial[ref.key])
        self._values = {key: initial[key] for key in self.keys}
        self._counter = TrafficCounter()
        self._device: Any = None
        self._objects: dict[str, Any] = {}
        self.label = (
            f"BACnet/IP {self.host}:{self.port} device {self.device_instance}: "
            f"{len(self.keys)} objects"
        )
        self._app: Any = None
        self._fast: _PresentValueReads | None = None

    async def start(self) -> None:
        if self._router is not None:
            await self._router.acquire()
        else:
            # bacpypes3 binds with SO_REUSEPORT and retries a busy port forever: bind
            # once without it so that a taken port is an error now.
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.bind((self.host, self.port))
        if self._device is None:
            owners = dict.fromkeys(key.split(".")[0] for key in self.keys)
            self._device = _Device(
                objectIdentifier=("device", self.device_instance),
                objectName="+".join(owners),
                modelName="GTB simulated controller",
                maxApduLengthAccepted=self._announced_max_apdu,
                segmentationSupported="segmentedBoth" if self.segment else "noSegmentation",
            )
            self._objects = {
                key: _bacnet_object(self._refs[key], self._bindings[key], self._values[key],
                                    plain=key in self._plain)
                for key in self.keys
            }
            for obj in self._objects.values():
                if isinstance(obj, _Rounding):
                    object.__setattr__(obj, "_resolution", self._resolution)
        if self._router is not None and self.station is not None:
            network, mac = self.station
            network_port = _virtual_port(1, network, mac, self._router.lan(network))
        else:
            network_port = NetworkPortObject(
                f"{self.host}/24:{self.port}",
                objectIdentifier=("network-port", 1),
                objectName="NetworkPort-1",
            )
        self._app = Application.from_object_list(
            [self._device, network_port, *self._objects.values()]
        )
        _null_writes_at_lowest_priority(self._app)
        self._fast = _PresentValueReads(self._app, (
            (obj, self._bindings[key].object_type) for key, obj in self._objects.items()
        ), max_apdu=self.max_apdu, segment=self.segment) if self._fast_reads else None
        if self.station is None:
            link = self._app.link_layers[network_port.objectIdentifier]
            count_bacnet_datagrams(link.server, self._counter, {
                _object_identifier(obj.objectIdentifier): key
                for key, obj in self._objects.items()
            })
            await asyncio.wait_for(link.server._local_transport_ready.wait(),
                                   STARTUP_TIMEOUT_S)

    async def stop(self) -> None:
        if self._app is not None:
            self._app.close()
            self._app = None
            # asyncio closes a datagram socket on the next loop iteration
            await asyncio.sleep(0)
            if self._router is not None:
                await self._router.release()

    def publish(self, key: str, value: float) -> None:
        _check(self._refs, key, self.label, command=False)
        present = _present_value(key, self._bindings[key], value)
        obj = self._objects.get(key)
        if obj is None:
            self._values[key] = value
        elif isinstance(obj, Commandable):
            obj.relinquishDefault = present
            obj.recalculating()
        else:
            obj.presentValue = present

    def commanded(self, key: str) -> float:
        _check(self._refs, key, self.label, command=True)
        obj = self._objects.get(key)
        return self._values[key] if obj is None else float(obj.presentValue)

    def traffic(self) -> Traffic:
        return self._counter.total()

    def writes_by_point(self) -> Counter[str]:
        return self._counter.writes_by_point()

    def send_not_a_number(self, key: str) -> None:
        """A fault to inject: the analog input ``key`` reads NaN, as a REAL may (a
        transmitter out of its range, a broken wire), until the next ``publish``."""
        _check(self._refs, key, self.label, command=False)
        if not self._bindings[key].object_type.startswith("analog"):
            raise ValueError(f"{key}: only an analog object can read NaN")
        obj = self._objects.get(key)
        if obj is None:
            raise RuntimeError(f"{self.label}: start the device before injecting a fault")
        obj.presentValue = math.nan

    def withdraw(self, key: str, gone: bool = True) -> None:
        """A fault to inject: the object of ``key`` is gone from the device (its input
        module failed or was unplugged), so that reads of it answer unknown-object; with
        ``gone`` false it is back, with its value."""
        obj = self._objects.get(key)
        if obj is None or self._app is None:
            raise RuntimeError(f"{self.label}: start the device before injecting a fault")
        if gone:
            self._app.delete_object(obj)
        else:
            self._app.add_object(obj)
        if self._fast is not None:
            self._fast.withdraw(obj.objectIdentifier, gone)

    def fewest_reads(self) -> int:
        """A lower bound of the unsegmented ReadPropertyMultiple requests that read every
        present value of the device: each answer is one APDU of at most what any client
        may accept on BACnet/IP (``BACNET_IP_MAX_APDU``; an answer's size is bounded by
        the maximum the client declares in its request, not by the device's own
        Max_APDU_Length_Accepted, which bounds what it receives), or of at most its own
        ``max_apdu`` when it cannot segment (it sends nothing larger).
        ``fewest_rpm_requests`` says what it relaxes."""
        sizes = (_result_size(self._bindings[key].object_type) for key in self.keys)
        return fewest_rpm_requests(sizes, BACNET_IP_MAX_APDU if self.segment else self.max_apdu)


def _bacnet_object(ref: PointRef, binding: BacnetBinding, value: float,
                   plain: bool = False) -> Any:
    """The bacpypes3 object serving a point, holding ``value``; ``plain``: an analog
    value without a priority array."""
    present = _present_value(ref.key, binding, value)
    properties: dict[str, Any] = {
        "objectIdentifier": (binding.object_type, binding.object_instance),
        "objectName": ref.key,
        "description": ref.point.name or ref.key,
        "presentValue": present,
        "statusFlags": [0, 0, 0, 0],
        "eventState": "normal",
        "outOfService": False,
    }
    if binding.object_type.startswith("analog"):
        properties["units"] = EngineeringUnits(BACNET_UNITS.get(ref.point.si_unit, "noUnits"))
        properties["covIncrement"] = _COV_INCREMENT
    elif binding.object_type.startswith("binary"):
        inactive, active = _BINARY_TEXT.get(ref.role, ("off", "on"))
        properties.update(polarity="normal", inactiveText=inactive, activeText=active)
    else:
        properties.update(numberOfStates=len(_STATE_TEXT), stateText=_STATE_TEXT)
    if plain:
        return AnalogValueObject(**properties)
    if binding.commandable:
        properties["relinquishDefault"] = present
        if binding.object_type.startswith("analog"):
            properties["minPresValue"], properties["maxPresValue"] = ref.point.physical_range
    return _OBJECT_CLASSES[binding.object_type](**properties)


def _present_value(key: str, binding: BacnetBinding, value: float) -> float | str | int:
    """A point's value as its object's present value: a real, a binary state or a state."""
    if not math.isfinite(value):
        raise ValueError(f"{key}: {value} is not a value")
    if binding.object_type.startswith("analog"):
        if abs(value) > _REAL_MAX:
            raise ValueError(f"{key}: {value:g} does not fit a BACnet REAL")
        return value
    if binding.object_type.startswith("binary"):
        if value not in (0, 1):
            raise ValueError(f"{key}: a binary point is 0 or 1, not {value:g}")
        return "active" if value == 1 else "inactive"
    if value != int(value) or not 1 <= value <= len(_STATE_TEXT):
        raise ValueError(f"{key}: a mode is a state 1..{len(_STATE_TEXT)}, not {value:g}")
    return int(value)


# --- BACnet: present values read fast ----------------------------------------------------

_RPM = int(ConfirmedServiceChoice("readPropertyMultiple"))

_PRESENT_VALUE_ONLY = b"\x1e\x09\x55\x1f"
"""What follows an object identifier ([0], ``0c`` and 4 octets) in the request when only
its present value is asked: list [1] opening, property identifier [0] 85, list closing."""

_SPEC_LENGTH = 5 + len(_PRESENT_VALUE_ONLY)

_RESULT_START = b"\x1e\x29\x55\x4e"
"""After an object identifier in the answer: result list [1] opening, property
identifier [2] 85 (presentValue), property value [4] opening."""

_RESULT_END = b"\x4f\x1f"

_UNKNOWN_OBJECT = b"\x1e\x29\x55\x5e\x91\x01\x91\x1f\x5f\x1f"
"""A present value's result for an object the device does not have: access error [5],
error class object (1), error code unknown-object (31)."""

_WILDCARD_DEVICE = ObjectIdentifier(("device", 4194303))

_MAX_APDU_SIZES = (50, 128, 206, 480, 1024, 1476)
"""The max-APDU-length-accepted a device may announce (ASHRAE 135, 20.1.2.5)."""

_REQUEST_HEADER = 4
"""Confirmed-request header: type and flags, max segments and response, invoke id,
service choice."""

_ACK_HEADER = 3
"""Complex-ACK header of an unsegmented answer: type and flags, invoke id, service."""


def _object_identifier(identifier: Any) -> bytes:
    """The 4 octets of an object identifier: type in the top 10 bits, instance below."""
    object_type, instance = identifier
    return struct.pack(">L", int(object_type) << 22 | instance)


def _real(value: float) -> bytes:
    """An application-tagged REAL, as bacpypes3's ``Real`` encodes it."""
    return b"\x44" + struct.pack(">f", value)


def _small_integer(tag: int, value: int) -> bytes:
    """An application-tagged unsigned (``tag`` 0x20) or enumerated (0x90) in its fewest
    octets, as bacpypes3's ``Unsigned`` and ``Enumerated`` encode them: 32 bits, leading
    zero octets dropped, so the length always fits the tag octet."""
    content = struct.pack(">L", value).lstrip(b"\0") or b"\0"
    return bytes((tag | len(content),)) + content


def _value_encoder(object_type: str) -> Callable[[Any], bytes]:
    """How an object type's present value is encoded: a REAL, a binary state as an
    enumerated (inactive 0, active 1), a state number as an unsigned."""
    if object_type.startswith("analog"):
        return _real
    if object_type.startswith("binary"):
        return functools.partial(_small_integer, 0x90)
    return functools.partial(_small_integer, 0x20)


def _result_size(object_type: str) -> int:
    """Octets of one object's present value in a ReadPropertyMultiple answer: its object
    identifier (5), the result's tags around the value (6), and the value at its longest:
    a REAL 5, a binary state (enumerated 0 or 1) 2, a state number (unsigned 1 to 4) 2."""
    longest = len(_STATE_TEXT) if object_type.startswith("multiState") else 1
    encoded = _value_encoder(object_type)(longest)
    return 5 + len(_RESULT_START) + len(encoded) + len(_RESULT_END)


class _PresentValueReads:
    """Answers a device's ReadPropertyMultiple requests of present values only, from the
    objects, without bacpypes3's generic decoding, answering and encoding.

    It takes the service data of a request that asks, for each object, its present value
    and nothing else, in the shape every encoder gives it (9 octets an object), and writes
    the answer's service data directly: the value as bacpypes3 would encode it, or an
    unknown-object error for an object the device does not have. A request of any other
    shape, one that names another object of the device (the device object, its network
    port, the wildcard device), or one in which no object exists (bacpypes3 answers that
    with an Error PDU) goes to bacpypes3 as before, and so does every other service.

    The hook is the application service access point's ``confirmation``, where bacpypes3
    hands each incoming APDU to a new server transaction (``ServerSSM``) which decodes the
    request: such a request gets a ``_PresentValueTransaction`` instead. The transaction
    is otherwise bacpypes3's own, so duplicates, the client's max APDU length, segmented
    answers and aborts are handled as for any answer.

    A present value is read as bacpypes3's ``read_property`` reads it, from the object's
    attribute without its ``__getattribute__`` hook (which alone costs 40 µs): published
    values and the result of the priority array, as set by ``publish`` and by writes.
    """

    def __init__(self, app: Any, points: Iterable[tuple[Any, str]], *,
                 max_apdu: int = BACNET_IP_MAX_APDU, segment: bool = True) -> None:
        self.max_apdu = max_apdu
        self.segment = segment
        self._points = {
            _object_identifier(obj.objectIdentifier): (
                obj,
                b"\x0c" + _object_identifier(obj.objectIdentifier) + _RESULT_START,
                _value_encoder(object_type),
            )
            for obj, object_type in points
        }
        self._others = {
            _object_identifier(identifier) for identifier in app.objectIdentifier
        }.difference(self._points) | {_object_identifier(_WILDCARD_DEVICE)}
        self._withdrawn: set[bytes] = set()
        self._asap = app.asap
        self._bacpypes_confirmation = app.asap.confirmation
        app.asap.confirmation = self._confirmation

    async def _confirmation(self, pdu: Any) -> None:
        """An unsegmented ReadPropertyMultiple request, not a retry of one in progress,
        starts a ``_PresentValueTransaction``; anything else takes bacpypes3's path."""
        data = pdu.pduData
        if (
            len(data) > 4
            and data[0] & 0xF8 == 0  # a confirmed request (type 0), not segmented
            and data[3] == _RPM
            and self._asap.dccEnableDisable != "disable"
        ):
            apdu = APDU.decode(pdu)
            if not any(
                tr.invokeID == apdu.apduInvokeID and tr.pdu_address == apdu.pduSource
                for tr in self._asap.serverTransactions
            ):
                transaction = _PresentValueTransaction(self._asap, apdu.pduSource, self)
                self._asap.serverTransactions.append(transaction)
                await transaction.indication(apdu)
                return
        await self._bacpypes_confirmation(pdu)

    def withdraw(self, identifier: Any, gone: bool) -> None:
        """The object ``identifier`` is gone from the device (unknown-object), or back."""
        (self._withdrawn.add if gone else self._withdrawn.discard)(_object_identifier(identifier))

    def answer(self, request: bytes) -> bytes | None:
        """The service data of the ReadPropertyMultiple-ACK to ``request`` (service
        data), or ``None`` when bacpypes3 must answer it."""
        parts: list[bytes] = []
        known = False
        for start in range(0, len(request), _SPEC_LENGTH):
            spec = request[start : start + _SPEC_LENGTH]
            if spec[0] != 0x0C or spec[5:] != _PRESENT_VALUE_ONLY:
                return None
            identifier = spec[1:5]
            point = None if identifier in self._withdrawn else self._points.get(identifier)
            if point is not None:
                obj, head, encode = point
                parts += (head, encode(object.__getattribute__(obj, "presentValue")),
                          _RESULT_END)
                known = True
            elif identifier in self._others:
                return None
            else:
                parts += (b"\x0c", identifier, _UNKNOWN_OBJECT)
        return b"".join(parts) if known else None


class _PresentValueTransaction(ServerSSM):
    """bacpypes3's server transaction, but a request that ``_PresentValueReads`` can
    answer is answered by it, not decoded and handed to the application. The answer goes
    to the transaction's ``confirmation``, as the application's would: it is sent whole,
    or segmented, or refused with an abort, by what the client accepts."""

    def __init__(self, sap: Any, address: Any, reads: _PresentValueReads) -> None:
        super().__init__(sap, address)
        self._reads = reads

    async def request(self, apdu: Any) -> None:
        reads = self._reads
        if len(apdu.pduData) + _REQUEST_HEADER > reads.max_apdu:
            await self.confirmation(AbortPDU(True, self.invokeID, AbortReason.bufferOverflow))
            return
        answer = reads.answer(bytes(apdu.pduData))
        if answer is None:
            await super().request(apdu)
        elif len(answer) + _ACK_HEADER > reads.max_apdu and not reads.segment:
            await self.confirmation(
                AbortPDU(True, self.invokeID, AbortReason.segmentationNotSupported))
        else:
            await self.confirmation(ComplexAckPDU(None, None, apdu, answer))
