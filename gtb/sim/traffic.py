"""What the simulated devices receive, counted where it arrives, and the fewest read
requests their points need.

A benchmark that counts a driver's requests in the driver grades the driver by its own
account; these counts are taken at the other end of the wire. Each device keeps a
``TrafficCounter``: a Modbus server counts the bytes each client connection receives and
each request frame it decodes (``CountingModbusServer``), a BACnet device counts every UDP
datagram that reaches its sockets (``count_bacnet_datagrams``); both before anything
answers, so a request is counted once whichever code answers it.

The yardsticks (``fewest_modbus_reads``, ``fewest_rpm_requests``) are lower bounds
computed from a device's points and the protocol's limits alone, never from a driver's
settings: what a perfect client could not do better than.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import astuple, dataclass
from typing import Any, Literal

from bacpypes3.apdu import ConfirmedServiceChoice
from pymodbus.pdu.bit_message import ReadCoilsRequest, ReadDiscreteInputsRequest
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersRequest,
    ReadInputRegistersRequest,
)
from pymodbus.server import ModbusTcpServer
from pymodbus.server.requesthandler import ServerRequestHandler
from pymodbus.simulator import SimDevice

from gtb.model.points import ModbusBinding

Kind = Literal["reads", "writes", "other"]
"""What a request asks: to read, to write, or anything else (identification, a segment's
acknowledgement, a function or service the engine does not use)."""


@dataclass(frozen=True)
class Traffic:
    """What a device (or a set of them) has received: requests by kind, and bytes.

    Bytes are the payload of every TCP segment (Modbus: MBAP header and PDU) or UDP
    datagram (BACnet/IP: BVLL, NPDU and APDU) that arrived, requests or not. Totals add
    and subtract, so that what arrived between two readings is ``after - before``.
    """

    reads: int = 0
    writes: int = 0
    other: int = 0
    bytes_in: int = 0

    @property
    def requests(self) -> int:
        return self.reads + self.writes + self.other

    def __add__(self, other: Traffic) -> Traffic:
        return Traffic(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))

    def __sub__(self, other: Traffic) -> Traffic:
        return Traffic(*(a - b for a, b in zip(astuple(self), astuple(other), strict=True)))


class TrafficCounter:
    """The running totals of one device, bumped by its hooks on the device's event loop.

    It belongs to the device, not to a connection or a socket, so that the totals go on
    across a stop and a start (an outage is not a new device)."""

    def __init__(self) -> None:
        self._totals: dict[str, int] = dict.fromkeys(("reads", "writes", "other", "bytes_in"), 0)
        self._writes: Counter[str] = Counter()

    def received(self, size: int) -> None:
        self._totals["bytes_in"] += size

    def request(self, kind: Kind) -> None:
        self._totals[kind] += 1

    def wrote(self, key: str) -> None:
        """A write request to the point ``key`` arrived (counted besides ``request``)."""
        self._writes[key] += 1

    def writes_by_point(self) -> Counter[str]:
        """The write requests each point has received so far."""
        return Counter(self._writes)

    def total(self) -> Traffic:
        return Traffic(**self._totals)


# --- Modbus TCP --------------------------------------------------------------------------

_READ_FUNCTIONS = frozenset({1, 2, 3, 4})
_WRITE_FUNCTIONS = frozenset({5, 6, 15, 16, 22, 23})
"""Write single/multiple coils and registers, mask write, read/write multiple registers."""


def _modbus_kind(function_code: int) -> Kind:
    """Reads are FC1-4; writes FC5, 6, 15, 16, 22, 23; everything else is other."""
    if function_code in _READ_FUNCTIONS:
        return "reads"
    return "writes" if function_code in _WRITE_FUNCTIONS else "other"


class CountingModbusServer(ModbusTcpServer):
    """A pymodbus TCP server whose every client connection counts what it receives.

    pymodbus 3.16 makes the server side of each accepted connection in
    ``callback_new_connection``; here it is a ``_CountingConnection``, which sees the bytes
    as asyncio delivers them and each request as the framer cuts it out. (The datastore's
    ``action`` hook sees requests too, but neither their bytes nor those refused before
    the datastore, such as an unknown function code.)
    """

    def __init__(self, devices: list[SimDevice], address: tuple[str, int],
                 counter: TrafficCounter) -> None:
        super().__init__(devices, address=address)
        self.counter = counter

    def callback_new_connection(self) -> ServerRequestHandler:
        return _CountingConnection(self)


class _CountingConnection(ServerRequestHandler):
    """The server side of one client connection, counting before pymodbus handles it."""

    def __init__(self, server: CountingModbusServer) -> None:
        super().__init__(server, server.trace_packet, server.trace_pdu, server.trace_connect)
        self._counter = server.counter

    def data_received(self, data: bytes) -> None:
        self._counter.received(len(data))
        super().data_received(data)

    def callback_data(self, data: bytes, addr: tuple[str, int] | None = None) -> int:
        """Called with the bytes received and not yet used, each time some arrive; it
        returns how many a whole frame used (0 while a frame is incomplete)."""
        used = super().callback_data(data, addr)
        if self.last_pdu is not None:
            self._counter.request(_modbus_kind(self.last_pdu.function_code))
        elif used:  # a whole frame pymodbus could not decode: it answered ILLEGAL_FUNCTION
            self._counter.request("other")
        return used


_MAX_READ_COUNT: dict[str, int] = {
    "coil": ReadCoilsRequest.MAX_COUNT,
    "discrete_input": ReadDiscreteInputsRequest.MAX_COUNT,
    "holding_register": ReadHoldingRegistersRequest.MAX_COUNT,
    "input_register": ReadInputRegistersRequest.MAX_COUNT,
}
"""The most bits (FC1, FC2: 2000) or registers (FC3, FC4: 125) one read may ask for: the
Modbus specification's limits (V1.1b3, 6.1 to 6.4), as the pymodbus server enforces them
when it decodes a request."""


def fewest_modbus_reads(bindings: Iterable[ModbusBinding]) -> int:
    """A lower bound of the read requests that cover every point of one server: per unit
    and table, windows of the protocol's limit (125 registers, 2000 bits), each point's
    registers (or bit) inside one window.

    It relaxes one rule of real devices: a device may refuse a read over registers it
    does not map (ILLEGAL_ADDRESS), so a client may have to leave a gap out, at the cost
    of a request; here any gap may be bridged. (The simulated servers do map every
    address up to their last point's, so on them the bound is reached.) With gaps free,
    placing each window at the first point not yet covered is optimal: any window that
    covers that point starts at or before it, so it covers no more of the points after.
    """
    spans: dict[tuple[int, str], list[tuple[int, int]]] = {}
    for binding in bindings:
        spans.setdefault((binding.unit, binding.table), []).append(
            (binding.address, binding.address + binding.width)
        )
    requests = 0
    for (_, table), members in spans.items():
        window_end = -1
        for start, stop in sorted(members):
            if stop > window_end:
                requests += 1
                window_end = start + _MAX_READ_COUNT[table]
    return requests


# --- BACnet/IP ---------------------------------------------------------------------------

_NPDU_AT = {0x04: 10, 0x09: 4, 0x0A: 4, 0x0B: 4}
"""BVLL functions that carry an NPDU, and where it starts: Forwarded-NPDU (after the
original source's address), Distribute-Broadcast-To-Network, Original-Unicast-NPDU,
Original-Broadcast-NPDU. Every other BVLL function is a message of its own."""

_READ_SERVICES = frozenset(int(ConfirmedServiceChoice(name)) for name in (
    "readProperty", "readPropertyMultiple", "readRange"))
_WRITE_SERVICES = frozenset(int(ConfirmedServiceChoice(name)) for name in (
    "writeProperty", "writePropertyMultiple"))


def _apdu_at(datagram: bytes) -> int | None:
    """Where the APDU of a BACnet/IP datagram starts, read from the BVLL and NPDU headers;
    ``None`` when it carries none (a BVLL or network-layer message). Raises IndexError
    when the datagram is too short for its own headers."""
    if datagram[0] != 0x81 or datagram[1] not in _NPDU_AT:
        return None
    at = _NPDU_AT[datagram[1]]
    control = datagram[at + 1]
    if control & 0x80:  # a network-layer message, no APDU
        return None
    at += 2
    if control & 0x20:  # destination network, address length, address
        at += 3 + datagram[at + 2]
    if control & 0x08:  # source network, address length, address
        at += 3 + datagram[at + 2]
    if control & 0x20:  # the hop count, after both
        at += 1
    return at


def bacnet_kind(datagram: bytes) -> Kind | None:
    """What a BACnet/IP datagram asks, read from its headers; ``None`` for the second
    and later segments of a segmented request, which was counted at its first.

    A confirmed request of a reading service (ReadProperty, ReadPropertyMultiple,
    ReadRange) reads, of a writing one (WriteProperty, WritePropertyMultiple) writes;
    anything else is other: other services, unconfirmed requests (Who-Is), what a
    client sends in a transaction (segment acknowledgements, aborts), network-layer
    and BVLL messages, and what is too short to be any of them.
    """
    try:
        at = _apdu_at(datagram)
        if at is None:
            return "other"
        header = datagram[at]
        if header >> 4 != 0:  # not a confirmed request
            return "other"
        if header & 0x08:  # segmented: sequence number, window size, then the service
            if datagram[at + 3] != 0:
                return None
            service = datagram[at + 5]
        else:
            service = datagram[at + 3]
    except IndexError:
        return "other"
    if service in _READ_SERVICES:
        return "reads"
    return "writes" if service in _WRITE_SERVICES else "other"


_WRITE_PROPERTY = int(ConfirmedServiceChoice("writeProperty"))


def bacnet_written_object(datagram: bytes) -> bytes | None:
    """The object identifier (4 octets) an unsegmented WriteProperty request writes to,
    or ``None`` for any other datagram: its first parameter is the object, context tag 0
    of 4 octets (``0c``), right after the 4 octets of the request's header."""
    try:
        at = _apdu_at(datagram)
        if at is None or datagram[at] >> 4 != 0 or datagram[at] & 0x08:
            return None
        if datagram[at + 3] != _WRITE_PROPERTY or datagram[at + 4] != 0x0C:
            return None
        return bytes(datagram[at + 5 : at + 9]) if len(datagram) >= at + 9 else None
    except IndexError:
        return None


def count_bacnet_datagrams(server: Any, counter: TrafficCounter,
                           objects: Mapping[bytes, str]) -> None:
    """Count every datagram that reaches ``server``, the bacpypes3 ``IPv4DatagramServer``
    of a device's link layer, before it goes up the stack; a WriteProperty to one of
    ``objects`` (object identifier -> point key) is also counted for that point.

    Its sockets' protocols hand each datagram to the server's ``confirmation``; this
    wraps that one method of this one server, below everything that answers (bacpypes3
    or ``_PresentValueReads``), so each request is counted once by either path.
    """
    receive: Callable[[Any], Awaitable[None]] = server.confirmation

    async def confirmation(pdu: Any) -> None:
        datagram = pdu.pduData
        counter.received(len(datagram))
        kind = bacnet_kind(datagram)
        if kind is not None:
            counter.request(kind)
        if kind == "writes":
            written = objects.get(bacnet_written_object(datagram) or b"")
            if written is not None:
                counter.wrote(written)
        await receive(pdu)

    server.confirmation = confirmation


BACNET_IP_MAX_APDU = 1476
"""The largest APDU of BACnet/IP without segmentation (ASHRAE 135, the largest a client
may declare it accepts on BACnet/IP)."""

_ACK_HEADER = 3
"""Octets before the service data of an unsegmented Complex-ACK: type and flags, invoke
id, service choice."""


def fewest_rpm_requests(result_sizes: Iterable[int], max_apdu: int) -> int:
    """A lower bound of the ReadPropertyMultiple requests that read one device's present
    values, each answer one APDU of at most ``max_apdu`` octets (the most the client may
    accept): the octets of every object's result, over the room an
    answer has for them after its header. (The request, 4 octets and 9 an object, is
    always the shorter.)

    It relaxes that a result is indivisible: one object's result may straddle two
    answers, so that no answer has room left unused, where a real one may leave up to a
    result's size less one (15 octets of the 1,473 of a 1,476-octet APDU).

    Segmentation: a device that sends segmented answers (bacpypes3's devices declare
    segmentedBoth) could answer every present value to one request, in as many segments
    as the client accepts, each acknowledged by the client. The bound does not count on
    it: it counts the APDUs of the largest size that the answers take, which segmenting
    does not make fewer (a segment's header is 5 octets), and which are the requests when
    no answer is segmented, as the engine's driver intends.
    """
    room = max_apdu - _ACK_HEADER
    return math.ceil(sum(result_sizes) / room)
