"""The simulated BACnet devices' fast answers to ReadPropertyMultiple of present values.

A raw UDP client on loopback sends the same requests, byte for byte, to a device with the
fast path and to one without it (bacpypes3 answering everything), and every datagram of
the answers must be the same: values as published and as commanded through the priority
array, objects the device lacks, requests the fast path leaves to bacpypes3, and answers
larger than the client accepts (segmented, or refused). Both devices count what they
received exactly as the client sent it, whichever code answered.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from bacpypes3.apdu import ReadPropertyMultipleRequest, WritePropertyRequest
from bacpypes3.app import Application
from bacpypes3.basetypes import (
    BinaryPV,
    ObjectType,
    PropertyReference,
    ReadAccessSpecification,
)
from bacpypes3.constructeddata import Any as AnyValue
from bacpypes3.primitivedata import Null, ObjectIdentifier, Real, Unsigned

from gtb.model import PointRef, Site
from gtb.model.points import ROLES, BacnetBinding
from gtb.sim.devices import BacnetDeviceServer
from gtb.sim.traffic import Traffic
from protocols.bacnet import decode_rpm_ack

from .field_clients import bounded

RPM, WRITE_PROPERTY = 14, 15
MAX_APDU_1476, MAX_APDU_128 = 5, 1
"""Max-APDU-length-accepted codes of a confirmed request's second octet."""


def rpm(*specs: tuple[tuple[str, int], list[PropertyReference]]) -> bytes:
    """The service data of a ReadPropertyMultiple request, as bacpypes3 encodes it."""
    request = ReadPropertyMultipleRequest(listOfReadAccessSpecs=[
        ReadAccessSpecification(objectIdentifier=ObjectIdentifier(obj),
                                listOfPropertyReferences=references)
        for obj, references in specs
    ])
    return bytes(request.encode().pduData)


def present_value(index: int | None = None) -> list[PropertyReference]:
    return [PropertyReference(propertyIdentifier="presentValue", propertyArrayIndex=index)]


def write(obj: tuple[str, int], value: Any, priority: int) -> bytes:
    request = WritePropertyRequest(objectIdentifier=ObjectIdentifier(obj),
                                   propertyIdentifier="presentValue",
                                   propertyValue=AnyValue(value), priority=priority)
    return bytes(request.encode().pduData)


class RawClient(asyncio.DatagramProtocol):
    """Sends confirmed requests as raw BACnet/IP datagrams and keeps every answer's bytes,
    acknowledging segments one at a time; it keeps what it sent, as a device counts it."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[bytes] = asyncio.Queue()
        self.transport: Any = None
        self.invoke_id = 0
        self.services: list[int] = []
        self.acknowledgements = 0
        self.octets_sent = 0

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.received.put_nowait(data)

    async def ask(self, port: int, service: int, data: bytes, max_apdu: int = MAX_APDU_1476,
                  segments_accepted: bool = True) -> list[bytes]:
        """Send one request; the datagrams of its answer, in order."""
        self.invoke_id += 1
        self.services.append(service)
        apdu = bytes((0x02 if segments_accepted else 0x00, max_apdu, self.invoke_id,
                      service)) + data
        self._send(port, apdu, expecting_reply=True)
        answer = []
        while True:
            datagram = await bounded(self.received.get())
            answer.append(datagram)
            header = datagram[6:]  # BVLL (4 octets) and a local NPDU (2)
            assert datagram[4:6] == b"\x01\x00" and header[1] == self.invoke_id
            if header[0] >> 4 != 3 or not header[0] & 0x08:  # not a segment
                return answer
            self._send(port, bytes((0x40, self.invoke_id, header[2], 1)),
                       expecting_reply=False)
            self.acknowledgements += 1
            if not header[0] & 0x04:  # the last segment
                return answer

    def _send(self, port: int, apdu: bytes, expecting_reply: bool) -> None:
        npdu = bytes((0x01, 0x04 if expecting_reply else 0x00)) + apdu
        self.transport.sendto(b"\x81\x0a" + struct.pack(">H", 4 + len(npdu)) + npdu,
                              ("127.0.0.1", port))
        self.octets_sent += 4 + len(npdu)

    def sent(self) -> Traffic:
        """What this client sent, as a device must count it."""
        return Traffic(reads=self.services.count(RPM),
                       writes=self.services.count(WRITE_PROPERTY),
                       other=self.acknowledgements, bytes_in=self.octets_sent)


def objects_of(server: BacnetDeviceServer, site: Site) -> Iterator[tuple[PointRef, Any]]:
    for key in server.keys:
        ref = site.point(key)
        assert isinstance(ref.binding, BacnetBinding)
        yield ref, (ref.binding.object_type, ref.binding.object_instance)


def initial_values(site: Site) -> dict[str, float]:
    """A value for every point, each exact or not as a REAL."""
    values = {}
    for index, ref in enumerate(site.points()):
        kind = ROLES[ref.role].kind
        values[ref.key] = (float(index % 2) if kind == "binary"
                           else float(1 + index % 4) if kind == "multistate"
                           else 10.1 + index * 0.25)
    return values


def published(ref: PointRef, initial: float) -> float:
    """A reading unlike its initial value."""
    return 1 - initial if ROLES[ref.role].kind == "binary" else initial + 2.3


def command(ref: PointRef, initial: float) -> Any:
    """A value to write to a command point, unlike its initial one."""
    kind = ROLES[ref.role].kind
    if kind == "binary":
        return BinaryPV("inactive" if initial else "active")
    return Unsigned(4 if initial != 4 else 3) if kind == "multistate" else Real(21.7)


Conversation = Callable[[BacnetDeviceServer, RawClient], Any]


async def transcript(server: BacnetDeviceServer, conversation: Conversation
                     ) -> tuple[list[list[bytes]], Traffic]:
    """The answers of ``server`` to the conversation, and what the client sent it."""
    loop = asyncio.get_running_loop()
    await server.start()
    transport, client = await loop.create_datagram_endpoint(
        RawClient, local_addr=("127.0.0.1", 0))
    try:
        answers: list[list[bytes]] = await conversation(server, client)
        return answers, client.sent()
    finally:
        transport.close()
        await server.stop()


@pytest.fixture
def rpm_calls(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The ReadPropertyMultiple requests that reached bacpypes3's application."""
    calls: list[object] = []
    bacpypes_answer = Application.do_ReadPropertyMultipleRequest

    async def counted(self: Application, apdu: object) -> None:
        calls.append(apdu)
        await bacpypes_answer(self, apdu)

    monkeypatch.setattr(Application, "do_ReadPropertyMultipleRequest", counted)
    return calls


def test_fast_answers_are_the_bytes_bacpypes3_sends(demo_site: Site,
                                                    rpm_calls: list[object]) -> None:
    values = initial_values(demo_site)
    gym = [ref for ref in demo_site.points() if isinstance(ref.binding, BacnetBinding)
           and ref.binding.device_instance == 1001]
    fast, reference = (BacnetDeviceServer(gym, values, fast_reads=fast) for fast in (True, False))
    objects = dict(objects_of(fast, demo_site))
    every_present_value = rpm(*((obj, present_value()) for obj in objects.values()))
    commands = [(ref, obj) for ref, obj in objects.items() if ref.point.writable]
    kinds = {ROLES[ref.role].kind for ref, _ in commands}
    assert kinds == {"analog", "binary", "multistate"}
    readings = [ref for ref in objects if not ref.point.writable]
    first = next(iter(objects.values()))
    answered_by_bacpypes3 = [
        rpm((first, [*present_value(), PropertyReference(propertyIdentifier="objectName")])),
        rpm((first, present_value(1))),
        rpm((("device", 1001), present_value())),
        rpm((("device", 4194303), present_value()), (first, present_value())),
        rpm((("analogInput", 999), present_value())),  # nothing there: an Error PDU
        rpm((first, [PropertyReference(propertyIdentifier="all")])),
    ]

    async def conversation(server: BacnetDeviceServer, client: RawClient) -> list[list[bytes]]:
        answers = [await client.ask(server.port, RPM, every_present_value)]
        for ref in readings:
            server.publish(ref.key, published(ref, values[ref.key]))
        for ref, obj in commands:
            answers.append(await client.ask(server.port, WRITE_PROPERTY,
                                            write(obj, command(ref, values[ref.key]), 8)))
        written = await client.ask(server.port, RPM, every_present_value)
        assert len(written) == 1
        read = decode_rpm_ack(written[0][6 + 3:])  # BVLL, NPDU, complex-ACK header
        assert [read[int(ObjectType(obj[0])), obj[1]] for obj in objects.values()] == [
            server.commanded(ref.key) if ref.point.writable
            else pytest.approx(published(ref, values[ref.key]), rel=1e-6)
            for ref in objects
        ]
        assert all(server.commanded(ref.key) != values[ref.key] for ref, _ in commands)
        answers.append(written)
        answers.append(await client.ask(server.port, RPM, rpm(
            (("analogInput", 999), present_value()), (first, present_value()),
            (("binaryValue", 7), present_value()), (first, present_value()),
        )))
        for _, obj in commands:
            answers.append(await client.ask(server.port, WRITE_PROPERTY,
                                            write(obj, Null(()), 8)))
        answers.append(await client.ask(server.port, RPM, every_present_value))
        for request in answered_by_bacpypes3:
            answers.append(await client.ask(server.port, RPM, request))
        # larger than the client accepts: in segments, or refused if it takes none
        answers.append(await client.ask(server.port, RPM, every_present_value,
                                        max_apdu=MAX_APDU_128))
        answers.append(await client.ask(server.port, RPM, every_present_value,
                                        max_apdu=MAX_APDU_128, segments_accepted=False))
        return answers

    async def scenario() -> None:
        fast_answers, sent = await transcript(fast, conversation)
        assert len(rpm_calls) == len(answered_by_bacpypes3)  # the others: the fast path
        reference_answers, _ = await transcript(reference, conversation)
        assert len(rpm_calls) == len(answered_by_bacpypes3) + sent.reads
        assert fast_answers == reference_answers
        assert fast.traffic() == reference.traffic() == sent
        assert sent.writes == 2 * len(commands) and sent.other > 0  # the segments' acks
        segmented, (refused,) = fast_answers[-2:]
        assert len(segmented) > 1 and all(d[6] & 0xF8 == 0x38 for d in segmented)
        assert refused[6] == 0x71 and refused[8] == 4  # abort: segmentation not supported

    asyncio.run(scenario())
