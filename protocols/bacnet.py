"""BACnet/IP: the engine's client, reading many points per ReadPropertyMultiple request.

One BAC0 application serves the whole process (BAC0 owns the socket, the local device
object and its I-Am). The requests go to the bacpypes3 application underneath it, because
BAC0's string API parses text on every call, asks Who-Is on its own without a time bound,
and reports a device's error reply as ``NoResponseFromController``, which a driver must
tell apart from silence. bacpypes3 in turn spends about 0.15 ms decoding each object of a
ReadPropertyMultiple acknowledgement into generic sequences, more than the rest of a tick
together; so the acknowledgements of this driver's own requests skip that decoding and
are read by ``decode_rpm_ack``, which knows only what is asked here: present values.
"""

from __future__ import annotations

import asyncio
import math
import socket
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import BAC0
from bacpypes3.apdu import (
    AbortPDU,
    AbortReason,
    APCISequence,
    ComplexAckPDU,
    ConfirmedRequestPDU,
    ConfirmedServiceChoice,
    ErrorPDU,
    ErrorRejectAbortNack,
    ReadPropertyMultipleRequest,
    ReadPropertyRequest,
    RejectPDU,
    WritePropertyRequest,
)
from bacpypes3.basetypes import (
    BinaryPV,
    EngineeringUnits,
    ErrorClass,
    ErrorCode,
    ObjectType,
    PriorityArray,
    PropertyIdentifier,
    PropertyReference,
    ReadAccessSpecification,
    Segmentation,
)
from bacpypes3.comm import ServiceAccessPoint
from bacpypes3.constructeddata import SequenceOf
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import Null, ObjectIdentifier, Real, Unsigned

from gtb.model import PointRef
from gtb.model.points import BACNET_UNITS, ROLES, BacnetBinding
from protocols.base import (
    BindingProblem,
    DeviceError,
    DeviceRejected,
    DeviceTimeout,
    Driver,
    Reading,
)

MAX_APDU = 1476
"""Largest APDU of BACnet/IP without segmentation; the client declares it in its requests."""

_ACK_HEADER = 3
"""Complex-ACK header of an unsegmented answer: type and flags, invoke id, service choice."""

_RESULT_BYTES = 17
"""The most one object's present value (or its error) takes in a ReadPropertyMultiple
answer: object identifier 5, list opening 1, property identifier 2, result opening 1,
a REAL (5) or an error class and code (6, with codes past 255), result closing 1, list
closing 1."""

RPM_OBJECTS = (MAX_APDU - _ACK_HEADER) // _RESULT_BYTES
"""Objects per ReadPropertyMultiple, 86: the answer always fits one unsegmented APDU, so
that devices which cannot segment can answer it, and no answer waits on segment acks.
The request takes 9 bytes per object: 86 objects fit 1024-byte devices as well."""

_PLANS_KEPT = 8
"""Plans cached, one per point set: the engine reads the same set every tick."""

_PRESENT_VALUE = int(PropertyIdentifier("presentValue"))
_RPM_SERVICE = int(ConfirmedServiceChoice("readPropertyMultiple"))


# --- reading a ReadPropertyMultiple acknowledgement -------------------------------------

_APPLICATION, _CONTEXT, _OPENING, _CLOSING = range(4)
_APPLICATION_TAGS = (
    "null", "boolean", "unsigned", "signed", "real", "double", "octet string",
    "character string", "bit string", "enumerated", "date", "time", "object identifier",
)

Outcome = float | str
"""A present value, or why there is none (a BACnet error, a value that is not a number)."""


def _tag(data: bytes, pos: int) -> tuple[int, int, int, int, int]:
    """The BACnet tag at ``pos``: (kind, tag number, length/value/type, start, end of its
    content). A boolean application tag has no content: its value is the lvt."""
    first = data[pos]
    pos += 1
    number = first >> 4
    if number == 15:
        number = data[pos]
        pos += 1
    lvt = first & 0x07
    if first & 0x08:
        if lvt == 6:
            return _OPENING, number, lvt, pos, pos
        if lvt == 7:
            return _CLOSING, number, lvt, pos, pos
        kind = _CONTEXT
    else:
        kind = _APPLICATION
        if number == 1:
            return kind, number, lvt, pos, pos
    length = lvt
    if lvt == 5:
        length = data[pos]
        pos += 1
        if length == 254:
            length = int.from_bytes(data[pos : pos + 2], "big")
            pos += 2
        elif length == 255:
            length = int.from_bytes(data[pos : pos + 4], "big")
            pos += 4
    if pos + length > len(data):
        raise ValueError(f"a tag at byte {pos} runs past the end of the answer")
    return kind, number, lvt, pos, pos + length


def _expect(data: bytes, pos: int, kind: int, number: int) -> tuple[int, int]:
    """The content (start, end) of the tag at ``pos``, which must be of this kind and number."""
    found, tag_number, _, start, end = _tag(data, pos)
    if (found, tag_number) != (kind, number):
        raise ValueError(f"unexpected tag at byte {pos}")
    return start, end


def _number(tag_number: int, lvt: int, content: bytes) -> Outcome:
    """An application-tagged primitive as a float, or what it is instead."""
    value: float
    if tag_number == 1:
        value = float(lvt)
    elif tag_number in (2, 9):  # unsigned, enumerated (binary states: inactive 0, active 1)
        value = float(int.from_bytes(content, "big"))
    elif tag_number == 3:
        value = float(int.from_bytes(content, "big", signed=True))
    elif tag_number in (4, 5):
        if len(content) != (4 if tag_number == 4 else 8):
            raise ValueError(f"a {_APPLICATION_TAGS[tag_number]} of {len(content)} bytes")
        value = struct.unpack(">f" if tag_number == 4 else ">d", content)[0]
    elif tag_number == 0:
        return "the present value is null"
    else:
        name = _APPLICATION_TAGS[tag_number] if tag_number < len(_APPLICATION_TAGS) else (
            f"application tag {tag_number}")
        return f"the present value is a {name}, not a number"
    if not math.isfinite(value):
        return f"the present value is {value}, not a number"
    return value


def _skip_to_closing(data: bytes, pos: int, number: int) -> int:
    """The position after the closing tag ``number`` that matches an opening before ``pos``."""
    depth = 0
    while True:
        kind, tag_number, _, _, pos = _tag(data, pos)
        if kind == _OPENING:
            depth += 1
        elif kind == _CLOSING:
            if depth == 0:
                if tag_number != number:
                    raise ValueError(f"unexpected closing tag before byte {pos}")
                return pos
            depth -= 1


def _read_result(data: bytes, pos: int) -> tuple[Outcome, int]:
    """A property value ([4] ... [4]) or access error ([5] ... [5]), and where it ends."""
    kind, number, _, _, pos = _tag(data, pos)
    if (kind, number) == (_OPENING, 5):
        start, end = _expect(data, pos, _APPLICATION, 9)
        error_class = int.from_bytes(data[start:end], "big")
        start, pos = _expect(data, end, _APPLICATION, 9)
        error_code = int.from_bytes(data[start:pos], "big")
        _, pos = _expect(data, pos, _CLOSING, 5)
        return f"error {ErrorClass(error_class)}: {ErrorCode(error_code)}", pos
    if (kind, number) != (_OPENING, 4):
        raise ValueError(f"expected a value or an error before byte {pos}")
    kind, number, lvt, start, end = _tag(data, pos)
    if kind == _APPLICATION:
        closing, closing_number, _, _, after = _tag(data, end)
        if (closing, closing_number) == (_CLOSING, 4):
            return _number(number, lvt, data[start:end]), after
    return "the present value is not a single primitive value", _skip_to_closing(data, pos, 4)


def decode_rpm_ack(data: bytes) -> dict[tuple[int, int], Outcome]:
    """Present values in the service data of a ReadPropertyMultiple acknowledgement, by
    (object type number, instance); other properties are skipped. Raises ``ValueError``
    when the data is not a well-formed acknowledgement."""
    outcomes: dict[tuple[int, int], Outcome] = {}
    pos = 0
    try:
        while pos < len(data):
            start, pos = _expect(data, pos, _CONTEXT, 0)
            if pos - start != 4:
                raise ValueError(f"an object identifier of {pos - start} bytes")
            identifier = int.from_bytes(data[start:pos], "big")
            obj = (identifier >> 22, identifier & 0x3FFFFF)
            _, pos = _expect(data, pos, _OPENING, 1)
            while True:
                kind, number, _, start, end = _tag(data, pos)
                if (kind, number) == (_CLOSING, 1):
                    pos = end
                    break
                if (kind, number) != (_CONTEXT, 2):
                    raise ValueError(f"expected a property identifier at byte {pos}")
                prop = int.from_bytes(data[start:end], "big")
                pos = end
                kind, number, _, _, end = _tag(data, pos)
                if (kind, number) == (_CONTEXT, 3):  # an array index: not asked, skipped
                    pos = end
                outcome, pos = _read_result(data, pos)
                if prop == _PRESENT_VALUE:
                    outcomes[obj] = outcome
    except IndexError:
        raise ValueError("the answer ends in the middle of a result") from None
    return outcomes


# --- the request plan -------------------------------------------------------------------


@dataclass(frozen=True)
class _Device:
    """One BACnet device, as the site file names it."""

    address: str
    """Its IP:port, or its router's."""
    instance: int
    network: int | None = None
    mac: int | None = None

    @property
    def station(self) -> str:
        """Where requests go: the IP:port, or ``network:mac`` through the router."""
        return self.address if self.network is None else f"{self.network}:{self.mac}"

    def __str__(self) -> str:
        if self.network is None:
            return f"{self.address} device {self.instance}"
        return f"{self.address} network {self.network} MAC {self.mac} device {self.instance}"


@dataclass(frozen=True)
class _Chunk:
    """One ReadPropertyMultiple request, encoded once, and the points its answer serves."""

    service_data: bytes
    objects: Mapping[tuple[int, int], tuple[str, tuple[str, ...]]]
    """(type number, instance) -> (``analogInput:1`` for messages, the point keys)."""

    def point_keys(self) -> Iterable[str]:
        for _, keys in self.objects.values():
            yield from keys


_Item = tuple[tuple[int, int], tuple[str, tuple[str, ...]]]
"""An object of a request: (type number, instance), and (its name, the point keys)."""


def _chunk(items: Sequence[_Item]) -> _Chunk:
    """The request reading the present values of ``items``, encoded."""
    request = ReadPropertyMultipleRequest(
        listOfReadAccessSpecs=SequenceOf(ReadAccessSpecification)([
            ReadAccessSpecification(
                objectIdentifier=ObjectIdentifier(obj),
                listOfPropertyReferences=[PropertyReference(propertyIdentifier=_PRESENT_VALUE)],
            )
            for obj, _ in items
        ])
    )
    return _Chunk(bytes(request.encode().pduData), dict(items))


@dataclass
class _DevicePlan:
    """A device's objects and its requests, encoded once for each request size used."""

    bacnet_address: Any  # bacpypes3 Address, parsed once
    items: tuple[_Item, ...]
    by_size: dict[int, tuple[_Chunk, ...]]

    def chunks(self, per_request: int) -> tuple[_Chunk, ...]:
        chunks = self.by_size.get(per_request)
        if chunks is None:
            chunks = self.by_size[per_request] = tuple(
                _chunk(self.items[first : first + per_request])
                for first in range(0, len(self.items), per_request)
            )
        return chunks


def _binding(point: PointRef) -> BacnetBinding:
    binding = point.binding
    if not isinstance(binding, BacnetBinding):
        raise TypeError(f"{point.key} is not a BACnet point")
    return binding


def _device(binding: BacnetBinding) -> _Device:
    return _Device(binding.address, binding.device_instance, binding.network, binding.mac)


def _object_name(binding: BacnetBinding) -> str:
    return f"{binding.object_type}:{binding.object_instance}"


def _plan(members: Sequence[tuple[str, BacnetBinding]]) -> dict[_Device, _DevicePlan]:
    """Group the points by device, each object once."""
    objects: dict[_Device, dict[tuple[str, int], list[str]]] = {}
    for key, binding in members:
        on_device = objects.setdefault(_device(binding), {})
        on_device.setdefault((binding.object_type, binding.object_instance), []).append(key)
    return {
        device: _DevicePlan(Address(device.station), tuple(
            ((int(ObjectType(type_name)), instance), (f"{type_name}:{instance}", tuple(keys)))
            for (type_name, instance), keys in on_device.items()
        ), {})
        for device, on_device in objects.items()
    }


# --- the raw acknowledgements -----------------------------------------------------------


class _RawAcks:
    """Lets the acknowledgements of this driver's ReadPropertyMultiple requests reach it
    undecoded, so that ``decode_rpm_ack`` reads them instead of bacpypes3's generic
    decoder. Every other answer, and every answer to anyone else, takes the usual path.

    bacpypes3 decodes a complex acknowledgement in its application service access
    point's ``sap_response``, just before handing it to the application, which resolves
    the request's future with it; this wraps that one method of this driver's own
    application.
    """

    def __init__(self, asap: Any) -> None:
        self.awaited: set[tuple[Any, int]] = set()
        """(device address, invoke id) of the requests whose answer is wanted raw."""
        self._asap = asap
        self._decoding_response = asap.sap_response
        asap.sap_response = self._sap_response

    async def _sap_response(self, apdu: Any) -> None:
        if (
            isinstance(apdu, ComplexAckPDU)
            and not isinstance(apdu, APCISequence)
            and (apdu.pduSource, apdu.apduInvokeID) in self.awaited
        ):
            await ServiceAccessPoint.sap_response(self._asap, apdu)
        else:
            await self._decoding_response(apdu)


# --- the driver -------------------------------------------------------------------------


@dataclass
class _Health:
    """What the driver knows of a device: whether its identity was checked, and its backoff."""

    identified: bool = False
    error: DeviceError | None = None
    delay: float = 0.0
    retry_at: float = 0.0


class _TooLarge(DeviceRejected):
    """The device aborted a request, or its answer, as larger than it can take or send."""


_TOO_LARGE = (AbortReason.segmentationNotSupported, AbortReason.bufferOverflow)

_SEGMENTS_ANSWERS = (Segmentation.segmentedTransmit, Segmentation.segmentedBoth)

_REQUEST_HEADER = 4
"""Confirmed-request header: type and flags, max segments and response, invoke id,
service choice."""

_REQUEST_BYTES = 9
"""One object's present value in a ReadPropertyMultiple request: object identifier 5,
list opening 1, property identifier 2, list closing 1."""


def _objects_fitting(max_apdu: int, segments: bool) -> int:
    """Objects per ReadPropertyMultiple for a device that takes ``max_apdu`` bytes: the
    request must fit, and the answer too unless the device can segment it."""
    fitting = (max_apdu - _REQUEST_HEADER) // _REQUEST_BYTES
    if not segments:
        fitting = min(fitting, (max_apdu - _ACK_HEADER) // _RESULT_BYTES)
    return max(1, fitting)


def _refusal(device: _Device, what: str, reply: ErrorRejectAbortNack) -> DeviceRejected:
    """A device's error, reject or abort reply, with the BACnet reason, as an error."""
    if isinstance(reply, ErrorPDU):
        reason = f"error {getattr(reply, 'errorClass', '?')}: {getattr(reply, 'errorCode', '?')}"
    elif isinstance(reply, RejectPDU):
        reason = f"reject: {reply.reason}"
    else:
        reason = f"abort: {reply.reason}"
    return DeviceRejected(f"{device} refused {what} ({reason})")


class BacnetDriver(Driver):
    """BACnet/IP through one BAC0 client: ReadPropertyMultiple per device, WriteProperty at
    the binding's priority, directed Who-Is to check who answers at an address.

    Reads are planned once per point set: per device, each object once, ``RPM_OBJECTS``
    (86) objects a request unless ``max_objects_per_request`` says fewer (or more, if
    the devices segment), and fewer for a device whose I-Am announces a smaller
    max-APDU-length-accepted (the request must fit, and the answer too when it cannot
    segment): 28 for 480 bytes, 7 for 128. A device that still aborts a request as too
    large (segmentation not supported, buffer overflow) gets it in halves, and that size
    from then on. ``read`` asks every device at once and, on each device, one request
    after the other, each bounded by ``timeout_s`` (BAC0 alone would wait about 27 s for
    a dead device).

    Before its first request a device gets a directed Who-Is, so that points are never
    read from, or written to, another device that took the address; the I-Am must name
    the site file's instance. A device that does not answer, or is not the expected one,
    is left alone for a while: its points fail at once, saying when it will be tried
    again, from ``backoff_s[0]`` seconds doubling to ``backoff_s[1]``; then a Who-Is
    again, and reads resume. An answer resets the delay. ``now`` gives monotonic seconds
    for this bookkeeping.
    """

    def __init__(self, *, now: Callable[[], float], ip: str = "127.0.0.1/24",
                 port: int = 47808, device_id: int = 4194000, timeout_s: float = 3.0,
                 max_objects_per_request: int | None = None,
                 backoff_s: tuple[float, float] = (1.0, 60.0)) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, not {timeout_s}")
        if max_objects_per_request is not None and max_objects_per_request < 1:
            raise ValueError(
                f"max_objects_per_request must be 1 or more, not {max_objects_per_request}"
            )
        if not 0 < backoff_s[0] <= backoff_s[1]:
            raise ValueError(f"backoff_s must be (first, longest) with 0 < first <= longest, "
                             f"not {backoff_s}")
        if "/" not in ip:
            raise ValueError(f"ip must be address/prefix (e.g. 127.0.0.1/24), not {ip!r}")
        self._now = now
        self._ip = ip
        self._port = port
        self._device_id = device_id
        self._timeout_s = timeout_s
        self._max_objects = max_objects_per_request or RPM_OBJECTS
        self._backoff_s = backoff_s
        self._bacnet: Any = None
        self._raw: _RawAcks | None = None
        self._health: dict[_Device, _Health] = {}
        self._fits: dict[_Device, int] = {}
        self._plans: dict[tuple[tuple[str, BacnetBinding], ...], dict[_Device, _DevicePlan]] = {}

    async def start(self) -> None:
        """Start the BAC0 application on ``ip`` and ``port``; fails now if the port is taken.

        The local device declares 1476-byte APDUs (BAC0 declares 1024, which would make
        devices segment an 86-object answer). bacpypes3 gives up on a request when this
        driver does (no retry, the same timeout), so that nothing more is sent to a
        silent device behind the backoff's back.
        """
        if self._bacnet is not None:
            return
        # bacpypes3 binds with SO_REUSEPORT and would share a port another client holds
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((self._ip.split("/")[0], self._port))
        self._bacnet = BAC0.lite(ip=self._ip, port=self._port, deviceId=self._device_id,
                                 ping=False)
        app = self._bacnet.this_application.app
        app.device_object.maxApduLengthAccepted = MAX_APDU
        app.device_object.apduTimeout = math.ceil(self._timeout_s * 1000)
        app.device_object.numberOfApduRetries = 0
        self._raw = _RawAcks(app.asap)

    async def stop(self) -> None:
        """Stop the BAC0 application: this cancels every BAC0 task of the process."""
        if self._bacnet is None:
            return
        bacnet, self._bacnet, self._raw = self._bacnet, None, None
        await bacnet.disconnect()
        await asyncio.sleep(0)  # asyncio closes a datagram socket on the next iteration
        self._health.clear()

    # -- reading ---------------------------------------------------------------------------

    async def read(self, points: Sequence[PointRef]) -> dict[str, Reading]:
        plan = self._plan_of(points)
        results = await asyncio.gather(*(
            self._read_device(device, device_plan) for device, device_plan in plan.items()
        ))
        readings: dict[str, Reading] = {}
        for result in results:
            readings.update(result)
        return readings

    def _plan_of(self, points: Sequence[PointRef]) -> dict[_Device, _DevicePlan]:
        """The requests for this point set, planned and encoded once, reused every tick."""
        members = tuple((point.key, _binding(point)) for point in points)
        plan = self._plans.get(members)
        if plan is None:
            plan = _plan(members)
            if len(self._plans) >= _PLANS_KEPT:
                del self._plans[next(iter(self._plans))]
            self._plans[members] = plan
        return plan

    async def _read_device(self, device: _Device, plan: _DevicePlan) -> dict[str, Reading]:
        chunks = plan.chunks(self._max_objects)
        try:
            await self._ready(device, plan.bacnet_address)
        except DeviceError as error:
            return _failed(chunks, str(error))
        chunks = plan.chunks(self.objects_per_request(device))
        readings: dict[str, Reading] = {}
        for chunk in chunks:
            try:
                readings.update(await self._read_fitting(device, plan.bacnet_address, chunk))
            except DeviceTimeout as error:
                return readings | _failed(chunks, str(error), unless=readings)
            except DeviceError as error:
                readings.update(_failed([chunk], str(error)))
        return readings

    def objects_per_request(self, device: _Device | BacnetBinding) -> int:
        """Objects a ReadPropertyMultiple asks of the device: ``max_objects_per_request``,
        or fewer when its I-Am or an abort of a larger request said so."""
        if isinstance(device, BacnetBinding):
            device = _device(device)
        return self._fits.get(device, self._max_objects)

    async def _read_fitting(self, device: _Device, address: Any,
                            chunk: _Chunk) -> dict[str, Reading]:
        """Read a chunk; if the device aborts it as too large (it cannot segment the
        answer, or its buffer cannot take the request), halve it, remember the size for
        this device, and read the halves."""
        try:
            return await self._read_chunk(device, address, chunk)
        except _TooLarge:
            items = list(chunk.objects.items())
            if len(items) == 1:
                raise
            half = len(items) // 2
            self._fits[device] = min(self.objects_per_request(device), half)
            first = await self._read_fitting(device, address, _chunk(items[:half]))
            return first | await self._read_fitting(device, address, _chunk(items[half:]))

    async def _read_chunk(self, device: _Device, address: Any,
                          chunk: _Chunk) -> dict[str, Reading]:
        request = ConfirmedRequestPDU(_RPM_SERVICE, None, chunk.service_data,
                                      destination=address)
        ack = await self._confirmed(device, request, "ReadPropertyMultiple", raw=True)
        try:
            outcomes = decode_rpm_ack(bytes(ack.pduData))
        except ValueError as error:
            raise DeviceError(
                f"{device} sent a ReadPropertyMultiple answer that cannot be read: {error}"
            ) from None
        readings: dict[str, Reading] = {}
        for obj, (name, keys) in chunk.objects.items():
            outcome = outcomes.get(obj, "the answer has no value for it")
            reading = (
                Reading(outcome) if isinstance(outcome, float)
                else Reading.failed(f"{device} {name}: {outcome}")
            )
            readings.update(dict.fromkeys(keys, reading))
        return readings

    # -- writing ---------------------------------------------------------------------------

    async def write(self, point: PointRef, value: float) -> None:
        """WriteProperty of the present value at the binding's priority: a binary point as
        inactive/active, a multi-state one as its state number, an analog one as a REAL.
        A value the type cannot hold raises ``ValueError`` before anything is sent."""
        kind = ROLES[point.role].kind
        primitive: Any
        if not math.isfinite(value):
            raise ValueError(f"{point.key}: {value} is not a value to write")
        if kind == "binary":
            if value not in (0, 1):
                raise ValueError(f"{point.key}: a binary point is 0 or 1, not {value:g}")
            primitive = BinaryPV("active" if value == 1 else "inactive")
        elif kind == "multistate":
            if value != int(value) or value < 0:
                raise ValueError(f"{point.key}: a state is a whole number, not {value:g}")
            primitive = Unsigned(int(value))
        else:
            primitive = Real(value)
        await self._write(point, primitive, f"{value:g}")

    async def release(self, point: PointRef) -> None:
        """Write null at the binding's priority: the next priority, or the relinquish
        default, decides the present value again."""
        await self._write(point, Null(()), "null")

    async def _write(self, point: PointRef, primitive: Any, shown: str) -> None:
        priority = _binding(point).priority
        await self._ask(
            point, WritePropertyRequest, f"writing {shown} to {{object}} at priority {priority}",
            propertyIdentifier=_PRESENT_VALUE, propertyValue=primitive, priority=priority,
        )

    async def priority_array(self, point: PointRef) -> list[float | None]:
        """The 16 command slots of a commandable object, highest priority first, ``None``
        for an empty one: who holds the point, for diagnosis."""
        ack = await self._ask(point, ReadPropertyRequest, "reading the priority array of {object}",
                              propertyIdentifier=PropertyIdentifier("priorityArray"))
        slots = ack.propertyValue.cast_out(PriorityArray)
        return [
            None if slot.null is not None else float(getattr(slot, slot._choice))
            for slot in slots
        ]

    prioritised = True

    async def command_priority(self, point: PointRef) -> int | None:
        """The first filled slot of the priority array: the command the device follows."""
        slots = await self.priority_array(point)
        return next((number for number, slot in enumerate(slots, 1) if slot is not None), None)

    async def verify(self, point: PointRef) -> list[BindingProblem]:
        """The object exists (its present value reads), an analog one is in the point's
        unit when the device says one, and a command point has a priority array, without
        which a command could not be released. A device that cannot be asked raises."""
        binding = _binding(point)
        name = f"{_device(binding)} {_object_name(binding)}"
        try:
            await self._ask(point, ReadPropertyRequest, "reading {object}",
                            propertyIdentifier=_PRESENT_VALUE)
        except DeviceRejected as error:
            return [BindingProblem(str(error))]
        problems: list[BindingProblem] = []
        expected = BACNET_UNITS.get(point.point.si_unit)
        if binding.object_type.startswith("analog") and expected is not None:
            try:
                ack = await self._ask(point, ReadPropertyRequest, "reading the units of {object}",
                                      propertyIdentifier=PropertyIdentifier("units"))
                units = ack.propertyValue.cast_out(EngineeringUnits)
            except DeviceRejected:
                units = EngineeringUnits("noUnits")  # the device does not say
            if units not in (EngineeringUnits("noUnits"), EngineeringUnits(expected)):
                problems.append(BindingProblem(
                    f"{name} is in {units}, the point in {point.point.si_unit} "
                    f"({EngineeringUnits(expected)})"))
        if point.point.writable:
            try:
                await self.priority_array(point)
            except DeviceRejected:
                problems.append(BindingProblem(
                    f"{name} has no priority array: a command written there could not be "
                    f"released, it would stay when the engine lets go", uncommandable=True))
        return problems

    # -- requests, identity and backoff ----------------------------------------------------

    @property
    def _app(self) -> Any:
        if self._bacnet is None:
            raise RuntimeError("the BACnet driver is not started")
        return self._bacnet.this_application.app

    async def _confirmed(self, device: _Device, request: Any, what: str,
                         raw: bool = False) -> Any:
        """Send a confirmed request and wait at most ``timeout_s`` for its answer.

        An error, reject or abort reply raises ``DeviceRejected``; silence raises
        ``DeviceTimeout`` and starts (or lengthens) the device's backoff."""
        app = self._app
        answer = app.request(request)
        # bacpypes3 ends every request itself (an abort at its own APDU timeout, which is
        # ours): the answer is shielded, never cancelled, since bacpypes3 completing one
        # cancelled raises InvalidStateError in its task (a stray "Task exception was
        # never retrieved" in the log); and an answer nobody awaits any more is retrieved.
        answer.add_done_callback(_retrieved)
        token = (request.pduDestination, request.apduInvokeID)
        if raw and self._raw is not None:
            self._raw.awaited.add(token)
        try:
            return await asyncio.wait_for(asyncio.shield(answer), self._timeout_s)
        except TimeoutError:
            raise self._back_off(device, self._silence(device)) from None
        except ErrorRejectAbortNack as reply:  # a BaseException in bacpypes3
            # bacpypes3 reports its own give-up on an unanswered request as an abort
            if isinstance(reply, AbortPDU) and reply.reason == AbortReason.noResponse:
                raise self._back_off(device, self._silence(device)) from None
            if isinstance(reply, AbortPDU) and reply.reason in _TOO_LARGE:
                raise _TooLarge(str(_refusal(device, what, reply))) from None
            raise _refusal(device, what, reply) from None
        finally:
            if self._raw is not None:
                self._raw.awaited.discard(token)

    async def _ask(self, point: PointRef, request_type: Any, what: str, **fields: Any) -> Any:
        """Send a request about the object of ``point`` (``what`` names it ``{object}``)
        once its device is ready, and return the answer."""
        binding = _binding(point)
        device = _device(binding)
        address = Address(device.station)
        await self._ready(device, address)
        request = request_type(
            objectIdentifier=ObjectIdentifier((binding.object_type, binding.object_instance)),
            destination=address,
            **fields,
        )
        return await self._confirmed(device, request, what.format(object=_object_name(binding)))

    async def _ready(self, device: _Device, address: Any) -> None:
        """Raise the backoff's error while the device waits; identify it when it must be.

        A directed Who-Is answers two questions at once: is something there, and is it
        the device the site file says? A device that was silent is identified again,
        since whatever answers at its address now may be another one."""
        health = self._health.setdefault(device, _Health())
        if health.error is not None:
            remaining = health.retry_at - self._now()
            if remaining > 0:
                raise type(health.error)(
                    f"{health.error}; next attempt in {math.ceil(remaining):d} s"
                )
        if health.identified:
            return
        if device.network is not None:
            # The site file names the router: no Who-Is-Router-To-Network broadcast needed.
            nsap = self._app.nsap
            for snet in nsap.adapters:
                await nsap.router_info_cache.update_path_info(
                    snet, Address(device.address), {device.network})
        try:
            i_ams = await asyncio.wait_for(
                self._app.who_is(address=address, timeout=self._timeout_s), self._timeout_s
            )
        except TimeoutError:
            i_ams = []
        if not i_ams:
            raise self._back_off(device, self._silence(device))
        i_am = i_ams[0]
        found = i_am.iAmDeviceIdentifier[1]
        if found != device.instance:
            raise self._back_off(device, DeviceRejected(
                f"device at {device.station} is {found}, the site file says {device.instance}"
            ))
        self._health[device] = _Health(identified=True)
        fits = _objects_fitting(int(i_am.maxAPDULengthAccepted),
                                i_am.segmentationSupported in _SEGMENTS_ANSWERS)
        self._fits[device] = min(self.objects_per_request(device), fits)

    def _silence(self, device: _Device) -> DeviceTimeout:
        return DeviceTimeout(f"{device} did not answer within {self._timeout_s:g} s")

    def _back_off(self, device: _Device, error: DeviceError) -> DeviceError:
        """Start or lengthen the device's backoff; the error returned says when it is
        tried next, and the device is identified again then."""
        previous = self._health.get(device)
        first, longest = self._backoff_s
        delay = first if previous is None or previous.error is None else min(
            previous.delay * 2, longest)
        self._health[device] = _Health(False, error, delay, self._now() + delay)
        return type(error)(f"{error}; next attempt in {delay:g} s")


def _retrieved(answer: asyncio.Future[Any]) -> None:
    """Mark an answer's exception as seen (a late abort after our own timeout)."""
    if not answer.cancelled():
        answer.exception()


def _failed(chunks: Iterable[_Chunk], message: str,
            unless: Mapping[str, Reading] | None = None) -> dict[str, Reading]:
    """The same failure for every point of ``chunks`` not already in ``unless``."""
    reading = Reading.failed(message)
    return {
        key: reading
        for chunk in chunks
        for key in chunk.point_keys()
        if unless is None or key not in unless
    }
