"""``gtb bench web`` end to end on a small load: its figures are those of the README only
when run in full (``gtb bench web --json``); here, that it measures what it says."""

from __future__ import annotations

from gtb.bench.web import bench_web


def test_the_web_bench_times_the_pages_and_the_export_over_http() -> None:
    result = bench_web(days=2, requests=20)
    store = result["store"]
    assert (store["zones"], store["series"]) == (50, 550)  # 10 points and a mode per zone
    assert store["samples"] == 550 * 2 * 288
    assert set(result["pages"]) == {"overview", "building", "zone"}
    for page in (*result["pages"].values(), result["zone_chart_data"]):
        assert 0 < page["p50_ms"] <= page["p95_ms"] <= page["max_ms"]
        assert page["bytes"] > 1000
    assert result["page_p95_ms"] == max(p["p95_ms"] for p in result["pages"].values())
    exported = result["export"]
    assert exported["measured"].startswith("HTTP GET /export/download")
    assert exported["content_type"].startswith("text/csv")
    # A row per sample of the zone's 11 series, after the comments and the column names.
    assert exported["lines"] > 11 * 2 * 288
    assert result["export_1y_zone_s"] > 0
