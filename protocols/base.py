"""The one small interface every field-bus driver offers the engine.

A driver owns the connections to all the devices of its protocol. The engine hands it
every point of that protocol once per tick; the driver batches them per device (BACnet
ReadPropertyMultiple, Modbus contiguous blocks), asks the devices concurrently, and
answers with one ``Reading`` per point. A device that is dead, slow, or answers with an
error never raises out of ``read``: its points come back failed, each with the reason a
person can act on, and the tick goes on. Writes and releases concern one point and do
raise ``DeviceError``, so that the engine can record the failure and retry.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from gtb.model import PointRef
from gtb.texts import Reason


@dataclass(frozen=True)
class Pending:
    """A command the device was sent and has not yet reported applied: a LoRaWAN class A
    device takes it at its next uplink and reports it in the one after, minutes later.
    Not a failure, nor a device that lost what it was sent: the engine waits for the
    report, and shows the wait."""

    value: float
    sent_at: datetime
    due: datetime | None
    """When the report is expected (aware); None while the device has not been heard."""
    why: Reason
    """The wait in words: what was sent, when, and what it waits for."""


@dataclass(frozen=True)
class Reading:
    """What a driver read for one point: a value in SI units, or why there is none."""

    value: float | None
    error: str | None = None
    at: datetime | None = None
    """When the value arrived (aware), for a device that speaks when it wants (MQTT):
    the sample keeps that time; None for a value asked now (BACnet, Modbus)."""
    pending: Pending | None = None
    """A command of the point waiting for the device to report it; the value meanwhile
    is what the device reports (its former one)."""

    def __post_init__(self) -> None:
        if (self.value is None) == (self.error is None):
            raise ValueError("a reading has either a value or an error")

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def failed(cls, error: str) -> Reading:
        return cls(None, error)


@dataclass(frozen=True)
class BindingProblem:
    """Something wrong with a point's binding on its device, said so a person can fix it."""

    message: str
    uncommandable: bool = False
    """The device could not take a command back (no priority array): whatever the
    engine wrote there would stay after the engine let go, so it must not command it."""


class DeviceError(Exception):
    """A device could not do what was asked; the message says which device and why."""


class DeviceTimeout(DeviceError):
    """The device did not answer in time (dead, unplugged, or the network is cut)."""


class DeviceRejected(DeviceError):
    """The device answered, and said no (a Modbus exception, a BACnet error or reject)."""


class Driver(ABC):
    """Reads and writes the points of one protocol, for every device of that protocol."""

    prioritised = False
    """Whether the protocol's commands take a priority slot (BACnet): then ``release``
    gives a point back to the device's own logic, ``command_priority`` says who commands
    a point, and a person's command at a higher priority can be told from a device that
    lost the engine's. A protocol without priorities (Modbus) can only leave a released
    point at the last value written, and what the engine logs says so."""

    @abstractmethod
    async def start(self) -> None:
        """Open what the driver needs (a socket, a BACnet application)."""

    @abstractmethod
    async def stop(self) -> None:
        """Close every connection; idempotent."""

    @abstractmethod
    async def read(self, points: Sequence[PointRef]) -> dict[str, Reading]:
        """One reading per point key; never raises for a device's fault."""

    @abstractmethod
    async def write(self, point: PointRef, value: float) -> None:
        """Command a point (at its binding's priority); raises ``DeviceError``."""

    @abstractmethod
    async def release(self, point: PointRef) -> None:
        """Give a commanded point back to the device's own logic, or do nothing where the
        protocol cannot (not ``prioritised``); raises ``DeviceError``."""

    def reads_back(self, point: PointRef, value: float) -> float:
        """What the device will report for ``value`` once it holds it: its own rounding
        (a LoRaWAN valve's whole degrees), which is then no loss of the command; ``value``
        itself where nothing is known."""
        return value

    async def command_priority(self, point: PointRef) -> int | None:
        """The priority (1 highest ... 16) whose command the point follows now, ``None``
        when no slot holds one (its own default); raises ``DeviceError``. Only for a
        ``prioritised`` protocol."""
        raise NotImplementedError(f"{type(self).__name__} has no command priorities")

    async def verify(self, point: PointRef) -> list[BindingProblem]:
        """What is wrong with the point's binding on its device (an object or register
        that does not exist or cannot be read, a unit that is not the point's, a command
        the device could not take back); empty when nothing is. Here: whether it reads;
        a protocol that knows more of its devices says more."""
        reading = (await self.read([point]))[point.key]
        return [] if reading.ok else [BindingProblem(reading.error or "?")]
