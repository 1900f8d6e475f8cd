"""Field-bus clients for tests: real pymodbus and BAC0 calls with bounded waits, and the
time helpers of the driver tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from pymodbus.client import AsyncModbusTcpClient

from gtb.model.points import ROLES, ModbusBinding, Role
from protocols.modbus import decode, encode

T = TypeVar("T")
TIMEOUT_S = 5.0


def bounded(awaitable: Awaitable[T]) -> Awaitable[T]:
    """Every network wait of these tests fails within seconds instead of hanging."""
    return asyncio.wait_for(awaitable, TIMEOUT_S)


async def read_modbus(client: AsyncModbusTcpClient, binding: ModbusBinding) -> float:
    reads = {
        "coil": client.read_coils,
        "discrete_input": client.read_discrete_inputs,
        "holding_register": client.read_holding_registers,
        "input_register": client.read_input_registers,
    }
    response = await bounded(
        reads[binding.table](binding.address, count=binding.width, device_id=binding.unit)
    )
    assert not response.isError(), response
    if binding.data_type == "bool":
        return decode(binding, response.bits[0])
    return decode(binding, response.registers)


async def write_modbus(client: AsyncModbusTcpClient, binding: ModbusBinding, value: float) -> None:
    raw = encode(binding, value)
    if isinstance(raw, bool):
        response = await bounded(client.write_coil(binding.address, raw, device_id=binding.unit))
    else:
        response = await bounded(
            client.write_registers(binding.address, raw, device_id=binding.unit)
        )
    assert not response.isError(), response


def bacnet_text(role: Role, value: float) -> str:
    """A value as BAC0's write string spells it."""
    if ROLES[role].kind == "binary":
        return "active" if value else "inactive"
    return f"{value:g}"


class Clock:
    """Monotonic seconds for the driver's backoff, moved by hand."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


def elapsed() -> Callable[[], float]:
    """Seconds since the call, on the event loop's clock."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    return lambda: loop.time() - began
