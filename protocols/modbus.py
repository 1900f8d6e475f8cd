"""Modbus TCP: how a point's SI value becomes registers or a coil bit, and back.

A binding says ``value = raw * scale + offset``; ``raw`` is the integer (or float32) the
device stores in one or two 16-bit registers, or the bit of a coil or discrete input.
Encoding refuses what does not fit rather than wrapping around: a setpoint written as
-1 into a ``uint16`` would reach the device as 65535.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

from pymodbus.client import AsyncModbusTcpClient

from gtb.model import ModbusBinding

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
