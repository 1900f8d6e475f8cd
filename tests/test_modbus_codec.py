"""Modbus register codec: SI values <-> registers or coil bits, per data type and word order."""

from __future__ import annotations

import math
import re
import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gtb.model.points import ModbusBinding
from protocols.modbus import FLOAT32_MAX, decode, encode

INTEGER_RANGES = {
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
}
SCALINGS = [(1.0, 0.0), (0.1, 0.0), (0.01, -40.0), (10.0, 0.0), (0.5, 273.15), (-1.0, 0.0)]


def binding(data_type: str, word_order: str = "big", scale: float = 1.0,
            offset: float = 0.0) -> ModbusBinding:
    table = "coil" if data_type == "bool" else "holding_register"
    return ModbusBinding(protocol="modbus", host="127.0.0.1", table=table, address=0,
                         data_type=data_type, word_order=word_order, scale=scale, offset=offset)


def registers_of(value: Any) -> list[int]:
    assert isinstance(value, list)
    return value


word_orders = st.sampled_from(["big", "little"])
scalings = st.sampled_from(SCALINGS)


@given(st.sampled_from(sorted(INTEGER_RANGES)), word_orders, scalings, st.data())
def test_integer_raw_values_round_trip(data_type: str, word_order: str,
                                       scaling: tuple[float, float], data: st.DataObject) -> None:
    scale, offset = scaling
    low, high = INTEGER_RANGES[data_type]
    raw = data.draw(st.integers(low, high))
    b = binding(data_type, word_order, scale, offset)
    value = raw * scale + offset
    registers = registers_of(encode(b, value))
    assert len(registers) == b.width
    assert all(0 <= r <= 0xFFFF for r in registers)
    assert decode(b, registers) == pytest.approx(value, rel=1e-12, abs=1e-9)
    assert encode(b, decode(b, registers)) == registers


@given(st.sampled_from(sorted(INTEGER_RANGES)), word_orders, scalings, st.data())
def test_integer_encoding_rounds_to_the_nearest_step(
    data_type: str, word_order: str, scaling: tuple[float, float], data: st.DataObject
) -> None:
    scale, offset = scaling
    low, high = INTEGER_RANGES[data_type]
    edges = sorted((low * scale + offset, high * scale + offset))
    value = data.draw(st.floats(edges[0] + abs(scale), edges[1] - abs(scale)))
    b = binding(data_type, word_order, scale, offset)
    assert decode(b, encode(b, value)) == pytest.approx(value, abs=abs(scale) / 2 * 1.000001)


@given(word_orders, scalings, st.floats(-1e30, 1e30))
def test_float32_round_trips_to_single_precision(
    word_order: str, scaling: tuple[float, float], value: float
) -> None:
    scale, offset = scaling
    b = binding("float32", word_order, scale, offset)
    registers = registers_of(encode(b, value))
    assert len(registers) == 2
    raw = (value - offset) / scale
    single = struct.unpack(">f", struct.pack(">f", raw))[0]
    assert decode(b, registers) == pytest.approx(single * scale + offset, rel=1e-12, abs=1e-12)
    assert decode(b, registers) == pytest.approx(value, rel=2**-23, abs=abs(scale) * 2**-126
                                                 + abs(offset) * 2**-23)


@given(word_orders, st.integers(0, 0xFFFF), st.integers(0, 0xFFFF))
def test_float32_registers_round_trip(word_order: str, first: int, second: int) -> None:
    b = binding("float32", word_order)
    value = decode(b, [first, second])
    if math.isfinite(value):
        assert encode(b, value) == [first, second]


@given(st.sampled_from(["big", "little"]), scalings, st.booleans())
def test_bool_round_trips(word_order: str, scaling: tuple[float, float], bit: bool) -> None:
    b = binding("bool", word_order, *scaling)
    assert encode(b, decode(b, bit)) is bit


@pytest.mark.parametrize(
    ("data_type", "word_order", "scale", "value", "registers"),
    [
        ("float32", "big", 1.0, 19.5, [0x419C, 0x0000]),
        ("float32", "little", 1.0, 19.5, [0x0000, 0x419C]),
        ("float32", "big", 1.0, -1.0, [0xBF80, 0x0000]),
        ("int16", "big", 0.1, 21.5, [215]),
        ("int16", "big", 0.1, -3.5, [0xFFDD]),
        ("int16", "big", 1.0, -1.0, [0xFFFF]),
        ("uint16", "big", 0.1, 35.5, [355]),
        ("int32", "big", 1.0, -2.0, [0xFFFF, 0xFFFE]),
        ("uint32", "big", 1.0, 123456789.0, [0x075B, 0xCD15]),
        ("uint32", "little", 1.0, 123456789.0, [0xCD15, 0x075B]),
        ("uint32", "big", 0.1, 12345.6, [0x0001, 0xE240]),
    ],
)
def test_known_vectors(data_type: str, word_order: str, scale: float, value: float,
                       registers: list[int]) -> None:
    b = binding(data_type, word_order, scale)
    assert encode(b, value) == registers
    assert decode(b, registers) == pytest.approx(value)


def test_word_order_only_swaps_registers_of_32_bit_types() -> None:
    assert encode(binding("int16", "little"), -2) == [0xFFFE]
    assert encode(binding("uint32", "little"), 1) == [0x0001, 0x0000]


def test_offset_applies_before_scale() -> None:
    b = binding("int16", scale=0.5, offset=-20.0)
    assert encode(b, 0.0) == [40]
    assert decode(b, [40]) == 0.0


def test_inverted_contact() -> None:
    b = binding("bool", scale=-1.0, offset=1.0)
    assert encode(b, 1.0) is False
    assert decode(b, True) == 0.0


@pytest.mark.parametrize(
    ("data_type", "scale", "value", "message"),
    [
        ("int16", 0.1, 3276.8, "int16: raw 32768 is outside -32768..32767"),
        ("int16", 0.1, -3276.9, "int16: raw -32769 is outside -32768..32767"),
        ("uint16", 1.0, -1.0, "uint16: raw -1 is outside 0..65535"),
        ("uint16", 0.1, 6553.6, "values 0..6553.5"),
        ("uint32", 0.1, 5e8, "uint32: raw 5e+09 is outside 0..4.29497e+09"),
        ("int32", 1.0, 2.0**31, "int32"),
        ("float32", 1.0, 1e39, "float32"),
        ("float32", 1e-10, 1e30, "float32"),
        ("bool", 1.0, 2.0, "bool: raw 2 is outside 0..1"),
        ("bool", 1.0, -1.0, "bool"),
    ],
)
def test_values_that_do_not_fit_are_refused(data_type: str, scale: float, value: float,
                                            message: str) -> None:
    with pytest.raises(ValueError, match="does not fit") as caught:
        encode(binding(data_type, scale=scale), value)
    assert message in str(caught.value)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("data_type", ["bool", "int16", "float32"])
def test_non_finite_values_are_refused(data_type: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"cannot be stored in a Modbus {data_type}"):
        encode(binding(data_type), value)


def test_float32_limit_is_accepted() -> None:
    b = binding("float32")
    assert decode(b, encode(b, FLOAT32_MAX)) == FLOAT32_MAX


@pytest.mark.parametrize(
    ("data_type", "raw", "message"),
    [
        ("float32", [0x419C], "takes 2 register(s), got 1"),
        ("int16", [1, 2], "takes 1 register(s), got 2"),
        ("uint16", [0x10000], "not all 16-bit"),
        ("uint16", True, "not in a bit"),
        ("bool", [1], "one bit"),
    ],
)
def test_malformed_raw_values_are_refused(data_type: str, raw: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        decode(binding(data_type), raw)
