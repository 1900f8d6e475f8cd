"""Simulated field devices: real Modbus TCP servers and BACnet/IP devices on loopback.

They serve the points of any site file, so the engine, a BMS tool or a test talks real
protocol traffic to them. Points are grouped by where they live: one Modbus TCP server per
``host:port`` (serving every unit id found there) and one BACnet/IP device per address and
device instance, each on its own UDP port (bacpypes3 short-circuits any ``127.x:port``
destination that equals its own port, so two devices cannot share one). A device's network
is ``host/24``: whatever bacpypes3 broadcasts goes to ``127.0.0.255``, on loopback.

The simulation publishes readings (temperatures, meters, valves, occupancy...) into the
devices and reads back what clients commanded (setpoints, modes, relays, dimming). A
stop and a start is a network outage, not a power cycle: the values survive it.

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
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from bacpypes3.apdu import APDU, ComplexAckPDU, ConfirmedServiceChoice
from bacpypes3.app import Application
from bacpypes3.appservice import ServerSSM
from bacpypes3.basetypes import EngineeringUnits, PropertyIdentifier
from bacpypes3.errors import PropertyError
from bacpypes3.local.analog import AnalogInputObject, AnalogOutputObject, AnalogValueObjectCmd
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
from bacpypes3.primitivedata import Null, ObjectIdentifier
from pymodbus.constants import ExcCodes
from pymodbus.simulator import DataType, SimData, SimDevice

from gtb.model import PointRef, Site
from gtb.model.points import HEATING_MODES, BacnetBinding, ModbusBinding, Role
from gtb.sim.traffic import (
    BACNET_IP_MAX_APDU,
    CountingModbusServer,
    Traffic,
    TrafficCounter,
    count_bacnet_datagrams,
    fewest_modbus_reads,
    fewest_rpm_requests,
)
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


def device_servers(site: Site, initial: Mapping[str, float]) -> list[DeviceServer]:
    """A server for every device of the site, in file order, holding ``initial`` values.

    ``initial`` has a value for every point. For a command point it is what the device
    holds while nobody commands it: the holding register or coil, or for BACnet the
    relinquish default, to which the point returns when every priority is released.
    """
    refs = list(site.points())
    missing = [ref.key for ref in refs if ref.key not in initial]
    unknown = sorted(set(initial) - {ref.key for ref in refs})
    if missing or unknown:
        raise ValueError(
            f"initial values must cover the points of site {site.id} exactly: "
            f"missing {missing}, unknown {unknown}"
        )
    groups: dict[tuple[str, str, int], list[PointRef]] = {}
    for ref in refs:
        binding = ref.binding
        group = (
            ("modbus", binding.host, binding.port)
            if isinstance(binding, ModbusBinding)
            else binding.endpoint
        )
        groups.setdefault(group, []).append(ref)
    servers: list[DeviceServer] = []
    for (protocol, _, _), members in groups.items():
        if protocol == "modbus":
            servers.append(ModbusDeviceServer(members, initial))
        else:
            servers.append(BacnetDeviceServer(members, initial))
    return servers


def free_loopback_port(udp: bool = False) -> int:
    """A port on 127.0.0.1 that nothing listens on right now (TCP, or UDP for BACnet)."""
    kind = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def relocate_ports(text: str) -> str:
    """Give every Modbus server and BACnet device of a site file its own free port (the
    system may hand the same free port out twice in a row: each is taken once)."""
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
            memory[address : address + len(written)] = [int(value) for value in written]
            for key in dict.fromkeys(
                self._point_at.get((unit, table, address + i)) for i in range(len(written))
            ):
                if key is not None:
                    self._counter.wrote(key)
        elif table in _BIT_TABLES:
            registers[: len(memory) // 16] = [
                sum(bit << i for i, bit in enumerate(memory[word : word + 16]))
                for word in range(0, len(memory), 16)
            ]
        else:
            registers[: len(memory)] = memory
        return None


async def _no_such_unit(*_: Any) -> ExcCodes:
    return ExcCodes.GATEWAY_NO_RESPONSE


# --- BACnet/IP ---------------------------------------------------------------------------


class _StateCheck:
    """Refuses a write of a state the object does not have, as controllers do."""

    numberOfStates: int

    async def write_property(
        self, attr: Any, value: Any, index: int | None = None, priority: int | None = None
    ) -> None:
        if (
            attr == PropertyIdentifier.presentValue
            and not isinstance(value, Null)
            and not 1 <= int(value) <= self.numberOfStates
        ):
            raise PropertyError("valueOutOfRange")
        await super().write_property(attr, value, index, priority)  # type: ignore[misc]


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
    "analogOutput": AnalogOutputObject,
    "analogValue": AnalogValueObjectCmd,
    "binaryInput": _BinaryInput,
    "binaryOutput": BinaryOutputObject,
    "binaryValue": BinaryValueObjectCmd,
    "multiStateInput": _MultiStateInput,
    "multiStateOutput": _MultiStateOutput,
    "multiStateValue": _MultiStateValue,
}

_UNITS = {
    "°C": "degreesCelsius",
    "K": "degreesKelvin",
    "%": "percent",
    "ppm": "partsPerMillion",
    "Wh": "wattHours",
    "kWh": "kilowattHours",
    "MWh": "megawattHours",
    "W": "watts",
    "kW": "kilowatts",
    "MW": "megawatts",
    "m³": "cubicMeters",
    "m3": "cubicMeters",
    "l": "liters",
}
"""SI unit of a point -> BACnet engineering unit; anything else is ``noUnits``."""

_COV_INCREMENT = 0.1
"""Smallest analog change that COV subscribers hear of: a tenth of a unit."""

_REAL_MAX = struct.unpack(">f", b"\x7f\x7f\xff\xff")[0]
"""The largest finite REAL (single precision): an analog present value beyond it cannot
be sent."""

_BINARY_TEXT = {Role.OCCUPANCY: ("unoccupied", "occupied")}
_STATE_TEXT = [name.replace("_", " ") for _, name in sorted(HEATING_MODES.items())]


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
    """

    def __init__(self, refs: Sequence[PointRef], initial: Mapping[str, float], *,
                 fast_reads: bool = True) -> None:
        self._refs = {ref.key: ref for ref in refs}
        self._bindings = _bindings(refs, BacnetBinding)
        self.keys = tuple(self._refs)
        first = self._bindings[self.keys[0]]
        self.host, self.port = _loopback(first.host), first.port
        self.device_instance = first.device_instance
        self._fast_reads = fast_reads
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
        # bacpypes3 binds with SO_REUSEPORT and retries a busy port forever: bind once
        # without it so that a taken port is an error now.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((self.host, self.port))
        if self._device is None:
            owners = dict.fromkeys(key.split(".")[0] for key in self.keys)
            self._device = DeviceObject(
                objectIdentifier=("device", self.device_instance),
                objectName="+".join(owners),
                modelName="GTB simulated controller",
            )
            self._objects = {
                key: _bacnet_object(self._refs[key], self._bindings[key], self._values[key])
                for key in self.keys
            }
        network_port = NetworkPortObject(
            f"{self.host}/24:{self.port}",
            objectIdentifier=("network-port", 1),
            objectName="NetworkPort-1",
        )
        self._app = Application.from_object_list(
            [self._device, network_port, *self._objects.values()]
        )
        self._fast = _PresentValueReads(self._app, (
            (obj, self._bindings[key].object_type) for key, obj in self._objects.items()
        )) if self._fast_reads else None
        link = self._app.link_layers[network_port.objectIdentifier]
        count_bacnet_datagrams(link.server, self._counter, {
            _object_identifier(obj.objectIdentifier): key for key, obj in self._objects.items()
        })
        await asyncio.wait_for(link.server._local_transport_ready.wait(), STARTUP_TIMEOUT_S)

    async def stop(self) -> None:
        if self._app is not None:
            self._app.close()
            self._app = None
            # asyncio closes a datagram socket on the next loop iteration
            await asyncio.sleep(0)

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
        Max_APDU_Length_Accepted, which bounds what it receives). ``fewest_rpm_requests``
        says what it relaxes."""
        sizes = (_result_size(self._bindings[key].object_type) for key in self.keys)
        return fewest_rpm_requests(sizes, BACNET_IP_MAX_APDU)


def _bacnet_object(ref: PointRef, binding: BacnetBinding, value: float) -> Any:
    """The bacpypes3 object serving a point, holding ``value``."""
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
        properties["units"] = EngineeringUnits(_UNITS.get(ref.point.si_unit, "noUnits"))
        properties["covIncrement"] = _COV_INCREMENT
    elif binding.object_type.startswith("binary"):
        inactive, active = _BINARY_TEXT.get(ref.role, ("off", "on"))
        properties.update(polarity="normal", inactiveText=inactive, activeText=active)
    else:
        properties.update(numberOfStates=len(_STATE_TEXT), stateText=_STATE_TEXT)
    if binding.commandable:
        properties["relinquishDefault"] = present
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

    def __init__(self, app: Any, points: Iterable[tuple[Any, str]]) -> None:
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
        answer = self._reads.answer(bytes(apdu.pduData))
        if answer is None:
            await super().request(apdu)
        else:
            await self.confirmation(ComplexAckPDU(None, None, apdu, answer))
