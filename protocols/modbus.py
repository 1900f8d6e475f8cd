"""Modbus TCP: how a point's SI value becomes registers or a coil bit, and back.

A binding says ``value = raw * scale + offset``; ``raw`` is the integer (or float32) the
device stores in one or two 16-bit registers, or the bit of a coil or discrete input.
Encoding refuses what does not fit rather than wrapping around: a setpoint written as
-1 into a ``uint16`` would reach the device as 65535.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import cast

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import ConnectionException, ModbusIOException
from pymodbus.pdu import ModbusPDU

from gtb.model import PointRef
from gtb.model.points import ModbusBinding, ModbusTable
from protocols.base import (
    BindingProblem,
    DeviceError,
    DeviceRejected,
    DeviceTimeout,
    Driver,
    Reading,
)

_DATATYPE = {
    "int16": AsyncModbusTcpClient.DATATYPE.INT16,
    "uint16": AsyncModbusTcpClient.DATATYPE.UINT16,
    "int32": AsyncModbusTcpClient.DATATYPE.INT32,
    "uint32": AsyncModbusTcpClient.DATATYPE.UINT32,
    "float32": AsyncModbusTcpClient.DATATYPE.FLOAT32,
}

FLOAT32_MAX = 3.4028234663852886e38
"""Largest finite IEEE 754 single: beyond it a float32 register pair would hold infinity."""

_RANGE: dict[str, tuple[float, float]] = {
    "bool": (0, 1),
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "float32": (-FLOAT32_MAX, FLOAT32_MAX),
}


def encode(binding: ModbusBinding, value: float) -> list[int] | bool:
    """SI value -> the registers to write (high word first unless ``word_order: little``),
    or the coil bit for ``bool``.

    Integer types round to the nearest raw step; ``bool`` is a one-bit unsigned integer, so
    with the default scale 0 is off and 1 is on (and ``scale: -1, offset: 1`` inverts a
    normally-closed contact). Raises ``ValueError`` naming the type and its range when the
    value does not fit.
    """
    data_type = binding.data_type
    if not math.isfinite(value):
        raise ValueError(f"{value} cannot be stored in a Modbus {data_type}")
    raw = (value - binding.offset) / binding.scale
    number: float = raw if data_type == "float32" else round(raw)
    low, high = _RANGE[data_type]
    if not low <= number <= high:
        least, most = sorted((low * binding.scale + binding.offset,
                              high * binding.scale + binding.offset))
        raise ValueError(
            f"{value:g} does not fit a Modbus {data_type}: raw {number:g} is outside "
            f"{low:g}..{high:g} (scale {binding.scale:g}, offset {binding.offset:g}: "
            f"values {least:g}..{most:g})"
        )
    if data_type == "bool":
        return number == 1
    return AsyncModbusTcpClient.convert_to_registers(
        number, _DATATYPE[data_type], word_order=binding.word_order
    )


def decode(binding: ModbusBinding, raw: Sequence[int] | bool) -> float:
    """Registers (``binding.width`` of them, as read) or a coil bit -> SI value."""
    data_type = binding.data_type
    if data_type == "bool":
        if not isinstance(raw, bool):
            raise ValueError(f"a Modbus bool is one bit, not registers {list(raw)}")
        return float(raw) * binding.scale + binding.offset
    if isinstance(raw, bool):
        raise ValueError(f"a Modbus {data_type} is held in registers, not in a bit")
    registers = list(raw)
    if len(registers) != binding.width:
        raise ValueError(
            f"a Modbus {data_type} takes {binding.width} register(s), got {len(registers)}"
        )
    if not all(0 <= register <= 0xFFFF for register in registers):
        raise ValueError(f"registers {registers} are not all 16-bit values")
    number = AsyncModbusTcpClient.convert_from_registers(
        registers, _DATATYPE[data_type], word_order=binding.word_order
    )
    return float(cast(float, number)) * binding.scale + binding.offset


# --- the driver ----------------------------------------------------------------------------

Device = tuple[str, int, int]
"""``(host, port, unit)``: one Modbus server, or one unit behind a gateway."""

MAX_READ: dict[str, int] = {
    "coil": 2000, "discrete_input": 2000, "holding_register": 125, "input_register": 125,
}
"""Most bits (FC1, FC2) or registers (FC3, FC4) one read request may ask for."""

_SPLIT_CODES = frozenset({ExcCodes.ILLEGAL_ADDRESS, ExcCodes.ILLEGAL_VALUE})
"""Exceptions that may concern the bridged registers rather than the points: a gap the
device does not have (ILLEGAL_ADDRESS), or a quantity beyond what it serves at once
(ILLEGAL_DATA_VALUE, as the standard says for a count out of range)."""

_EXCEPTIONS: dict[int, str] = {
    ExcCodes.ILLEGAL_FUNCTION:
        "{what}: the device does not support {function} (ILLEGAL_FUNCTION)",
    ExcCodes.ILLEGAL_ADDRESS: "{what} does not exist (ILLEGAL_ADDRESS)",
    ExcCodes.ILLEGAL_VALUE:
        "{what}: the device refused the quantity or value sent (ILLEGAL_DATA_VALUE)",
    ExcCodes.DEVICE_FAILURE:
        "{what}: the device failed while handling the request (SERVER_DEVICE_FAILURE)",
    ExcCodes.ACKNOWLEDGE:
        "{what}: the device accepted the request but has not finished it (ACKNOWLEDGE)",
    ExcCodes.DEVICE_BUSY:
        "{what}: the device is busy with a long command; try again later (SERVER_DEVICE_BUSY)",
    ExcCodes.NEGATIVE_ACKNOWLEDGE:
        "{what}: the device cannot perform this request (NEGATIVE_ACKNOWLEDGE)",
    ExcCodes.MEMORY_PARITY_ERROR:
        "{what}: the device found a parity error in its memory; it needs servicing "
        "(MEMORY_PARITY_ERROR)",
    ExcCodes.GATEWAY_PATH_UNAVIABLE:
        "{what}: the gateway has no path to this unit; check the unit id "
        "(GATEWAY_PATH_UNAVAILABLE)",
    ExcCodes.GATEWAY_NO_RESPONSE:
        "{what}: the gateway got no answer from this unit; check the unit id, the device's "
        "power and its serial line (GATEWAY_TARGET_DEVICE_FAILED_TO_RESPOND)",
}
"""A Modbus exception code as a building manager can act on it."""

_FUNCTIONS = {
    1: "read coils (FC1)",
    2: "read discrete inputs (FC2)",
    3: "read holding registers (FC3)",
    4: "read input registers (FC4)",
    5: "write single coil (FC5)",
    6: "write single register (FC6)",
    16: "write multiple registers (FC16)",
}

_PLANS_KEPT = 8
"""Plans cached, one per point set: the engine reads the same set every tick."""


def _label(device: Device) -> str:
    host, port, unit = device
    return f"{host}:{port} unit {unit}"


def _span(table: str, start: int, count: int) -> str:
    """``input_register 40-41``: registers (or bits) as the device's documentation lists them."""
    return f"{table} {start}" if count == 1 else f"{table} {start}-{start + count - 1}"


def _refusal(device: Device, response: ModbusPDU, what: str) -> str:
    """The message for an exception response about the registers ``what``."""
    code = response.exception_code
    template = _EXCEPTIONS.get(
        code, "{what}: the device answered with exception code {code}, unknown to Modbus"
    )
    function_code = response.function_code & 0x7F
    function = _FUNCTIONS.get(function_code, f"function {function_code}")
    return f"{_label(device)}: " + template.format(what=what, function=function, code=code)


def _binding(point: PointRef) -> ModbusBinding:
    binding = point.binding
    if not isinstance(binding, ModbusBinding):
        raise TypeError(f"{point.key} is not a Modbus point")
    return binding


def _device(binding: ModbusBinding) -> Device:
    return (binding.host, binding.port, binding.unit)


@dataclass(frozen=True)
class _Block:
    """One read request, and the points its answer serves."""

    table: ModbusTable
    start: int
    count: int
    points: tuple[tuple[str, ModbusBinding], ...]


_Plan = dict[tuple[str, int], dict[int, list[_Block]]]
"""Connection ``(host, port)`` -> unit -> the blocks to read, in order."""

_Cut = tuple[str, int, int, str, int]
"""``(host, port, unit, table, address)``: never bridge a gap into this address."""


def _plan(points: Sequence[tuple[str, ModbusBinding]], max_gap: int,
          cuts: AbstractSet[_Cut]) -> _Plan:
    """Coalesce points into blocks, per device and table: neighbours share a request when
    at most ``max_gap`` unused registers (bits) lie between them, the block stays within
    the protocol limit, and no earlier ILLEGAL_ADDRESS put a cut between them."""
    tables: dict[tuple[Device, ModbusTable], list[tuple[str, ModbusBinding]]] = {}
    for key, binding in points:
        tables.setdefault((_device(binding), binding.table), []).append((key, binding))
    plan: _Plan = {}
    for device, table in sorted(tables):
        members = sorted(tables[device, table],
                         key=lambda member: (member[1].address, member[1].width))
        blocks = plan.setdefault(device[:2], {}).setdefault(device[2], [])
        current: list[tuple[str, ModbusBinding]] = []
        start = end = 0
        for key, binding in members:
            stop = binding.address + binding.width
            if (
                current
                and binding.address - end <= max_gap
                and max(end, stop) - start <= MAX_READ[table]
                and (binding.address == start or (*device, table, binding.address) not in cuts)
            ):
                current.append((key, binding))
                end = max(end, stop)
                continue
            if current:
                blocks.append(_Block(table, start, end - start, tuple(current)))
            current, start, end = [(key, binding)], binding.address, stop
        blocks.append(_Block(table, start, end - start, tuple(current)))
    return plan


def _read_request(client: AsyncModbusTcpClient, device: Device,
                  block: _Block) -> Awaitable[ModbusPDU]:
    unit = device[2]
    match block.table:
        case "coil":
            return client.read_coils(block.start, count=block.count, device_id=unit)
        case "discrete_input":
            return client.read_discrete_inputs(block.start, count=block.count, device_id=unit)
        case "holding_register":
            return client.read_holding_registers(block.start, count=block.count, device_id=unit)
        case "input_register":
            return client.read_input_registers(block.start, count=block.count, device_id=unit)


@dataclass(frozen=True)
class _Backoff:
    """A device that failed: what happened, and when to try again."""

    error: DeviceError
    delay: float
    retry_at: float


@dataclass
class _Connection:
    """One TCP connection to a ``host:port``, shared by every unit served there.

    The lock makes the requests of one connection sequential: many Modbus TCP servers
    (and most gateways to serial lines) answer one request at a time.
    """

    host: str
    port: int
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    client: AsyncModbusTcpClient | None = None

    async def open(self, timeout_s: float) -> AsyncModbusTcpClient:
        """The connected client, connecting a new one if there is none or it was dropped.

        A new client each time, rather than ``connect()`` again on the old one: after a
        timeout the old one may still expect an answer to a request it sent.
        """
        if self.client is not None and self.client.connected:
            return self.client
        self.close()
        # reconnect_delay=0: pymodbus would otherwise reconnect in the background on its
        # own schedule; the driver decides when to try again (its backoff).
        client = AsyncModbusTcpClient(self.host, port=self.port, timeout=timeout_s, retries=0,
                                      reconnect_delay=0, trace_connect=self._traced)
        try:
            connected = await asyncio.wait_for(client.connect(), timeout_s)
        except TimeoutError:
            client.close()
            raise self._unanswered(timeout_s) from None
        if not connected:
            client.close()
            raise await self._why_not(timeout_s)
        self.client = client
        return client

    async def _why_not(self, timeout_s: float) -> DeviceError:
        """Why the connection failed: pymodbus's ``connect()`` only says that it did, so
        one plain connection attempt tells a refused port (the device is up, nothing
        listens: wrong port, service stopped) from a network that cannot reach it."""
        address = f"{self.host}:{self.port}"
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), timeout_s
            )
        except ConnectionRefusedError:
            return DeviceError(f"connection refused by {address}")
        except TimeoutError:
            return self._unanswered(timeout_s)
        except OSError as error:
            return DeviceError(f"cannot reach {address}: {error.strerror or error}")
        writer.close()
        return DeviceError(f"could not connect to {address}")

    def _traced(self, connected: bool) -> None:
        """pymodbus leaves a request waiting for its whole timeout when the device closes
        (or resets) the connection, which would then read as silence: fail it at once,
        saying what happened."""
        if connected or self.client is None:
            return
        pending = self.client.ctx.response_future
        if not pending.done():
            pending.set_exception(_Closed())

    def _unanswered(self, timeout_s: float) -> DeviceTimeout:
        return DeviceTimeout(
            f"{self.host}:{self.port} did not accept a connection within {timeout_s:g} s"
        )

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None


class _Closed(ConnectionException):
    """The device closed the connection while a request waited for its answer."""

    def __init__(self) -> None:
        super().__init__("closed by the device")


class ModbusDriver(Driver):
    """Modbus TCP: coalesced reads per device, single-point writes, backoff on failure.

    Reads are planned once per point set: per device and table, points sorted by address
    share a request while at most ``max_gap`` registers (bits) they do not need lie
    between them and the request stays within 125 registers (2000 bits). Reading unused
    registers costs two bytes each; another request costs a round trip. A device that
    refuses a bridged block (ILLEGAL_ADDRESS: the gap is not in its map) has the block
    read point by point, and that gap is never bridged again.

    One pymodbus client per ``host:port``, created when first needed. ``read`` asks every
    connection at once and, on each connection, one request after the other, each
    bounded by ``timeout_s``. A device (one unit of a connection) that cannot be reached
    or does not answer is left alone for a while: its points fail at once, saying when
    it will be tried again, from ``backoff_s[0]`` seconds doubling to ``backoff_s[1]``;
    an answer resets the delay. ``now`` gives monotonic seconds for this bookkeeping.
    """

    def __init__(self, *, now: Callable[[], float], timeout_s: float = 2.0, max_gap: int = 16,
                 backoff_s: tuple[float, float] = (1.0, 60.0)) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, not {timeout_s}")
        if max_gap < 0:
            raise ValueError(f"max_gap must be 0 or more, not {max_gap}")
        if not 0 < backoff_s[0] <= backoff_s[1]:
            raise ValueError(f"backoff_s must be (first, longest) with 0 < first <= longest, "
                             f"not {backoff_s}")
        self._now = now
        self._timeout_s = timeout_s
        self._max_gap = max_gap
        self._backoff_s = backoff_s
        self._connections: dict[tuple[str, int], _Connection] = {}
        self._backoffs: dict[Device, _Backoff] = {}
        self._cuts: set[_Cut] = set()
        self._plans: dict[tuple[tuple[str, ModbusBinding], ...], _Plan] = {}

    async def start(self) -> None:
        """Nothing to open yet: each connection is made when its device is first asked."""

    async def stop(self) -> None:
        for connection in self._connections.values():
            connection.close()

    async def verify(self, point: PointRef) -> list[BindingProblem]:
        """What reading the point's register says of its binding: a refusal (an address
        the device does not map) is a problem of the binding; a device that did not
        answer at all (refused, closed, silent) says nothing of it, and raises that."""
        reading = (await self.read([point]))[point.key]
        if reading.ok:
            return []
        unreachable = self._backoffs.get(_device(_binding(point)))
        if unreachable is not None:
            raise type(unreachable.error)(reading.error or str(unreachable.error))
        return [BindingProblem(reading.error or "?")]

    # -- reading ---------------------------------------------------------------------------

    async def read(self, points: Sequence[PointRef]) -> dict[str, Reading]:
        plan = self._plan_of(points)
        results = await asyncio.gather(*(
            self._read_connection(self._connection(address), units)
            for address, units in plan.items()
        ))
        readings: dict[str, Reading] = {}
        for result in results:
            readings.update(result)
        return readings

    def _plan_of(self, points: Sequence[PointRef]) -> _Plan:
        """The blocks for this point set, planned once and reused every tick."""
        members = tuple((point.key, _binding(point)) for point in points)
        plan = self._plans.get(members)
        if plan is None:
            plan = _plan(members, self._max_gap, self._cuts)
            if len(self._plans) >= _PLANS_KEPT:
                del self._plans[next(iter(self._plans))]
            self._plans[members] = plan
        return plan

    async def _read_connection(self, connection: _Connection,
                               units: dict[int, list[_Block]]) -> dict[str, Reading]:
        readings: dict[str, Reading] = {}
        async with connection.lock:
            due: list[tuple[Device, list[_Block]]] = []
            for unit, blocks in units.items():
                device = (connection.host, connection.port, unit)
                waiting = self._waiting(device)
                if waiting is None:
                    due.append((device, blocks))
                else:
                    readings.update(_failed(blocks, str(waiting)))
            for index, (device, blocks) in enumerate(due):
                try:
                    client = await connection.open(self._timeout_s)
                except DeviceError as error:
                    # the other units of this connection cannot be reached either
                    for other, other_blocks in due[index:]:
                        readings.update(_failed(other_blocks, self._failure(other, error)))
                    break
                try:
                    for block in blocks:
                        readings.update(await self._read_block(connection, client, device,
                                                               block))
                except DeviceError as error:
                    message = self._failure(device, error)
                    readings.update(_failed(blocks, message, unless=readings))
                else:
                    self._backoffs.pop(device, None)
        return readings

    async def _read_block(self, connection: _Connection, client: AsyncModbusTcpClient,
                          device: Device, block: _Block) -> dict[str, Reading]:
        response = await self._send(connection, device,
                                    lambda: _read_request(client, device, block))
        what = _span(block.table, block.start, block.count)
        if response.isError():
            if response.exception_code in _SPLIT_CODES and len(block.points) > 1:
                return await self._read_singly(connection, client, device, block)
            return _failed([block], _refusal(device, response, what))
        bits = block.table in ("coil", "discrete_input")
        answered = len(response.bits if bits else response.registers)
        if answered < block.count:
            return _failed([block], f"{_label(device)}: {what}: the device answered with "
                                    f"{answered} values instead of {block.count}")
        readings = {}
        for key, binding in block.points:
            offset = binding.address - block.start
            raw: Sequence[int] | bool = (
                response.bits[offset] if bits
                else response.registers[offset : offset + binding.width]
            )
            readings[key] = Reading(decode(binding, raw))
        return readings

    async def _read_singly(self, connection: _Connection, client: AsyncModbusTcpClient,
                           device: Device, block: _Block) -> dict[str, Reading]:
        """Read a refused block point by point, so that one register the device does not
        have fails only its own point; then cut the block where it bridged a gap or
        joined a failed point, so that later ticks do not ask for it again."""
        readings: dict[str, Reading] = {}
        for key, binding in block.points:
            single = _Block(block.table, binding.address, binding.width, ((key, binding),))
            readings.update(await self._read_block(connection, client, device, single))
        end = block.start
        previous: str | None = None
        for key, binding in block.points:
            if previous is not None and (
                binding.address > end or not readings[key].ok or not readings[previous].ok
            ):
                self._cuts.add((*device, block.table, binding.address))
            previous, end = key, max(end, binding.address + binding.width)
        self._plans.clear()
        return readings

    # -- writing -------------------------------------------------------------------------

    async def write(self, point: PointRef, value: float) -> None:
        """Write a coil (FC5), one register (FC6) or two registers (FC16).

        The device is not asked when the table is read-only, when ``value`` does not fit
        the data type (``ValueError``), or while the device is backing off.
        """
        binding = _binding(point)
        device = _device(binding)
        what = _span(binding.table, binding.address, binding.width)
        if not binding.writable:
            raise DeviceRejected(f"{_label(device)}: {what} is read-only: Modbus writes "
                                 "coils and holding registers only")
        raw = encode(binding, value)
        connection = self._connection((binding.host, binding.port))
        async with connection.lock:
            waiting = self._waiting(device)
            if waiting is not None:
                raise waiting
            try:
                client = await connection.open(self._timeout_s)
                response = await self._send(connection, device,
                                            lambda: _write_request(client, binding, raw))
            except DeviceError as error:
                raise type(error)(self._failure(device, error)) from None
            self._backoffs.pop(device, None)
        if response.isError():
            raise DeviceRejected(f"{_refusal(device, response, what)}; {value:.10g} not written")

    async def release(self, point: PointRef) -> None:
        """Nothing to do: Modbus has no command priorities, so a device keeps the last
        value written until something writes another. Sends no request."""
        _binding(point)

    # -- connections and backoff -----------------------------------------------------------

    def _connection(self, address: tuple[str, int]) -> _Connection:
        connection = self._connections.get(address)
        if connection is None:
            connection = self._connections[address] = _Connection(*address)
        return connection

    async def _send(self, connection: _Connection, device: Device,
                    request: Callable[[], Awaitable[ModbusPDU]]) -> ModbusPDU:
        """Send one request and wait at most ``timeout_s`` for its answer (an exception
        response is an answer). Whatever leaves the connection in doubt closes it."""
        try:
            return await asyncio.wait_for(request(), self._timeout_s)
        except TimeoutError:
            connection.close()
            raise DeviceTimeout(
                f"{_label(device)} did not answer within {self._timeout_s:g} s"
            ) from None
        except ModbusIOException as error:
            connection.close()
            raise DeviceError(f"{_label(device)} gave an answer out of step ({error})") from None
        except _Closed:
            connection.close()
            raise DeviceError(
                f"{_label(device)} closed (or reset) the connection instead of answering"
            ) from None
        except (ConnectionException, OSError) as error:
            connection.close()
            raise DeviceError(
                f"connection to {connection.host}:{connection.port} lost ({error})"
            ) from None
        except asyncio.CancelledError:
            connection.close()  # its answer may still come, to a request nobody awaits
            raise

    def _waiting(self, device: Device) -> DeviceError | None:
        """The error to give, without asking, while ``device`` backs off; ``None`` if due."""
        backoff = self._backoffs.get(device)
        if backoff is None:
            return None
        remaining = backoff.retry_at - self._now()
        if remaining <= 0:
            return None
        return type(backoff.error)(
            f"{backoff.error}; next attempt in {math.ceil(remaining):d} s"
        )

    def _failure(self, device: Device, error: DeviceError) -> str:
        """Start or lengthen the device's backoff; the message says when it is tried next."""
        previous = self._backoffs.get(device)
        first, longest = self._backoff_s
        delay = first if previous is None else min(previous.delay * 2, longest)
        self._backoffs[device] = _Backoff(error, delay, self._now() + delay)
        return f"{error}; next attempt in {delay:g} s"


def _write_request(client: AsyncModbusTcpClient, binding: ModbusBinding,
                   raw: list[int] | bool) -> Awaitable[ModbusPDU]:
    if isinstance(raw, bool):
        return client.write_coil(binding.address, raw, device_id=binding.unit)
    if len(raw) == 1:
        return client.write_register(binding.address, raw[0], device_id=binding.unit)
    return client.write_registers(binding.address, raw, device_id=binding.unit)


def _failed(blocks: Iterable[_Block], message: str,
            unless: Mapping[str, Reading] | None = None) -> dict[str, Reading]:
    """The same failure for every point of ``blocks`` not already in ``unless``."""
    return {
        key: Reading.failed(message)
        for block in blocks
        for key, _ in block.points
        if unless is None or key not in unless
    }
