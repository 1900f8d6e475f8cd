"""LoRaWAN devices' own payloads, from their makers' public documentation.

A network server usually decodes uplinks with the device's codec and publishes the
decoded object; when it does not (no codec installed, or one the site does not trust), the
engine decodes the frame's bytes itself, and encodes the commands it sends. One device so
far: the Milesight WT101 radiator valve (thermostatic head), as documented by its maker in
Milesight-IoT/SensorDecoders (``wt-series/wt101``: the payload table of the README, and the
downlink encoder).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Mapping

from protocols.lorawan import Downlink, UplinkError

WT101_PORT = 85
"""The FPort the WT101 sends its reports on (the maker's example in The Things Network's
device repository), used for its commands as well."""

WT101_TARGET_LIMITS = (5.0, 35.0)
"""The widest target temperature range the WT101 accepts (°C): its range is set within
5..15 for the minimum and 16..35 for the maximum."""

_Reading = Callable[[bytes], float]


def _uint8(data: bytes) -> float:
    return float(data[0])


def _int16_tenths(data: bytes) -> float:
    return struct.unpack("<h", data)[0] / 10


def _uint16(data: bytes) -> float:
    return float(struct.unpack("<H", data)[0])


_WT101_TELEMETRY: dict[tuple[int, int], tuple[str, int, _Reading]] = {
    (0x01, 0x75): ("battery", 1, _uint8),  # %
    (0x03, 0x67): ("temperature", 2, _int16_tenths),  # °C
    (0x04, 0x67): ("target_temperature", 2, _int16_tenths),  # °C
    (0x05, 0x92): ("valve_opening", 1, _uint8),  # %
    (0x06, 0x00): ("tamper_status", 1, _uint8),  # 0 installed, 1 uninstalled
    (0x07, 0x00): ("window_detection", 1, _uint8),  # 0 normal, 1 open
    (0x08, 0xE5): ("motor_calibration_result", 1, _uint8),  # 0 success, 1..4 failures
    (0x09, 0x90): ("motor_stroke", 2, _uint16),
    (0x0A, 0x00): ("freeze_protection", 1, _uint8),  # 0 normal, 1 triggered
    (0x0B, 0x90): ("motor_position", 2, _uint16),
}
"""Channel id and type -> field, length in bytes, reading: the maker's telemetry table."""

_WT101_ATTRIBUTES: dict[tuple[int, int], int] = {
    (0xFF, 0x01): 1,  # IPSO version
    (0xFF, 0x09): 2,  # hardware version
    (0xFF, 0x0A): 2,  # firmware version
    (0xFF, 0xFF): 2,  # TSL version
    (0xFF, 0x16): 8,  # serial number
    (0xFF, 0x0F): 1,  # LoRaWAN class
    (0xFF, 0xFE): 1,  # reset event
    (0xFF, 0x0B): 1,  # device status
}
"""The device's description, sent when it joins: its length is known, its values are not
measurements and are passed over."""


def wt101_decode(payload: bytes) -> dict[str, float]:
    """The WT101's uplink bytes -> its fields as numbers, named as the maker's codec names
    them (states as the numbers of the maker's table). Raises ``UplinkError`` for a channel
    the table does not have or a payload cut short: what follows cannot be read."""
    fields: dict[str, float] = {}
    at = 0
    while at < len(payload):
        if at + 2 > len(payload):
            raise UplinkError(f"WT101: payload ends inside a channel header at byte {at}")
        channel = (payload[at], payload[at + 1])
        if channel in _WT101_TELEMETRY:
            name, length, read = _WT101_TELEMETRY[channel]
        elif channel in _WT101_ATTRIBUTES:
            name, length, read = "", _WT101_ATTRIBUTES[channel], _uint8
        else:
            raise UplinkError(f"WT101: channel {channel[0]:02X} {channel[1]:02X} at byte {at} "
                              "is not one of the maker's table")
        data = payload[at + 2:at + 2 + length]
        if len(data) < length:
            raise UplinkError(f"WT101: channel {channel[0]:02X} {channel[1]:02X} at byte {at} "
                              f"needs {length} bytes, {len(data)} left")
        if name:
            fields[name] = read(data)
        at += 2 + length
    return fields


_WT101_REPORTED = ("battery", "target_temperature", "temperature", "valve_opening")
"""The channels a WT101 reports periodically, in the order of the maker's sample report
(``tests/data/lorawan/wt101-uplinks.json``)."""


def wt101_encode(fields: Mapping[str, float]) -> bytes:
    """A WT101's periodic report as its bytes: the inverse of ``wt101_decode`` for the
    channels of the maker's table it reports (battery and valve opening in whole %,
    temperatures in tenths of °C), in the order of the maker's sample; for a
    simulated device. Raises
    ``ValueError`` for a field it does not report, or a value its channel cannot hold."""
    unknown = sorted(set(fields) - set(_WT101_REPORTED))
    if unknown:
        raise ValueError(f"WT101: it reports no {', '.join(unknown)}")
    channels = {name: channel for channel, (name, _, _) in _WT101_TELEMETRY.items()}
    payload = bytearray()
    for name in _WT101_REPORTED:
        if name not in fields:
            continue
        value = fields[name]
        if not math.isfinite(value):
            raise ValueError(f"WT101: {name} {value} is not a number")
        payload += bytes(channels[name])
        if name.endswith("temperature"):
            if not -3276.8 <= value <= 3276.7:
                raise ValueError(f"WT101: {name} {value:g} °C does not fit an int16 of tenths")
            payload += struct.pack("<h", round(value * 10))
        else:
            if not 0 <= round(value) <= 100:
                raise ValueError(f"WT101: {name} {value:g} % is not within 0..100")
            payload.append(round(value))
    return bytes(payload)


def wt101_set_target(target: float, tolerance: float = 1.0,
                     limits: tuple[float, float] = WT101_TARGET_LIMITS,
                     confirmed: bool = False) -> Downlink:
    """The downlink that sets the WT101's target temperature (°C, whole degrees: the
    device takes an int8, so the target is rounded to the nearest degree) with the
    tolerance around it (0.1..5 °C, in tenths). ``limits`` is the range the device was set
    to accept (within 5..35 °C); a target outside it is refused with ``ValueError``,
    never clamped: the device would refuse it, or worse, keep it."""
    low, high = limits
    if not WT101_TARGET_LIMITS[0] <= low <= high <= WT101_TARGET_LIMITS[1]:
        raise ValueError(f"WT101 target limits {low:g}..{high:g} °C are not within "
                         f"{WT101_TARGET_LIMITS[0]:g}..{WT101_TARGET_LIMITS[1]:g} °C")
    if not math.isfinite(target) or not low <= round(target) <= high:
        raise ValueError(f"WT101 target {target:g} °C is outside {low:g}..{high:g} °C")
    if not math.isfinite(tolerance) or not 1 <= round(tolerance * 10) <= 50:
        raise ValueError(f"WT101 tolerance {tolerance:g} °C is outside 0.1..5 °C")
    payload = bytes([0xFF, 0xB1]) + struct.pack("<bH", round(target), round(tolerance * 10))
    return Downlink(WT101_PORT, payload=payload, confirmed=confirmed)


def wt101_read_command(payload: bytes) -> dict[str, float]:
    """What the WT101 reads in a set-target downlink (``wt101_set_target``'s bytes): its
    ``target_temperature`` and ``temperature_tolerance`` (°C). Raises ``ValueError`` for
    bytes that are not that command: the device ignores them."""
    if len(payload) != 5 or payload[:2] != b"\xff\xb1":
        raise ValueError(f"WT101: {payload.hex()} is not a set-target command (FF B1, 3 bytes)")
    target, tolerance = struct.unpack("<bH", payload[2:])
    return {"target_temperature": float(target), "temperature_tolerance": tolerance / 10}
