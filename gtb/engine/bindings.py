"""Bindings checked against the devices: what the site file says is there, is there.

The site file's validator knows only the file: a setpoint bound to an analogValue is
accepted, but on many devices an analogValue has no priority array, and a command written
there stays when the engine lets go of it. So the engine asks the devices at its start
(and ``gtb check --live`` asks them on demand): each object or register exists and reads,
is in the point's unit where the device says one, holds a value inside the point's
physical range, and each command point can be released. Devices are asked one after the
other point by point, all devices at once.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from gtb.engine.reading import implausible
from gtb.model import PointRef
from protocols.base import DeviceError, Driver


@dataclass(frozen=True)
class Finding:
    """A problem of one point's binding, or a device that could not be asked about it."""

    key: str
    message: str
    uncommandable: bool = False
    """A command point whose device could not release it: never to be written."""
    unchecked: bool = False
    """The device could not be asked: nothing is known of its bindings."""


async def check_bindings(refs: Iterable[PointRef],
                         drivers: Mapping[str, Driver]) -> list[Finding]:
    """Every problem found, in the order of ``refs``; a device that cannot be asked is
    one finding, on its first point, saying how many points went unchecked."""
    by_device: dict[tuple[str, str, int], list[PointRef]] = defaultdict(list)
    ordered = list(refs)
    for ref in ordered:
        by_device[ref.binding.endpoint].append(ref)
    found = await asyncio.gather(*(
        _check_device(members, drivers[members[0].binding.protocol])
        for members in by_device.values()
    ))
    order = {ref.key: index for index, ref in enumerate(ordered)}
    return sorted((f for device in found for f in device), key=lambda f: order[f.key])


async def _check_device(members: Sequence[PointRef], driver: Driver) -> list[Finding]:
    findings: list[Finding] = []
    for ref in members:
        try:
            problems = await driver.verify(ref)
        except DeviceError as error:
            unchecked = f"{error} ({len(members)} points not checked)"
            return [*findings, Finding(ref.key, unchecked, unchecked=True)]
        findings += [Finding(ref.key, p.message, p.uncommandable) for p in problems]
    readings = await driver.read(members)
    for ref in members:
        reading = readings.get(ref.key)
        if reading is not None and reading.value is not None:
            wrong = implausible(ref, reading.value)
            if wrong is not None:
                findings.append(Finding(ref.key, wrong.removeprefix(f"{ref.key}: ")))
    return findings
