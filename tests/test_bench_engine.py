"""``gtb bench engine`` end to end on two devices: its figures are those of the README
only when run in full (``gtb bench engine --json``); here, that it counts at the devices
what the engine sent them, against the fewest their points need."""

from __future__ import annotations

from gtb.bench.engine import bench_engine


def test_the_engine_bench_counts_at_the_devices() -> None:
    result = bench_engine(ticks=5, devices=2)
    assert (result.points, result.devices, result.ticks) == (200, 2, 5)
    assert result.counted_at == "devices"
    # The Modbus server: a request a table (4). The BACnet device: 100 objects, 80 REALs
    # of 16 octets and 20 binary states of 13 in the answers, 1,540 octets over the
    # 1,473 a 1,476-octet APDU leaves: 2. The driver reads them in 4 and 86 + 14 objects.
    assert result.min_requests_per_tick == 4 + 2
    assert result.requests_per_tick == 4 + 2
    # No command changes in these five minutes of a winter Monday from 05:00 (the first
    # tick, which writes every command, is not measured), and no Who-Is after it.
    assert (result.writes_per_tick, result.other_requests_per_tick) == (0, 0)
    # 12 octets a Modbus read; a ReadPropertyMultiple 10 and 9 an object
    assert result.bytes_per_tick == 4 * 12 + (10 + 9 * 86) + (10 + 9 * 14)
    assert 0 < result.tick_p50_s <= result.tick_p99_s
