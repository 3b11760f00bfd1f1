"""Whole-night benchmark (`make bench`): two generated nights through the real DAG (issue #9).

EQUITY_BENCH_SCALE: 100k (default here), 1m, national (13 M persons; generating it takes 40+ min).
EQUITY_BENCH_KEEP_DB=1 keeps the bench database (its URL goes to stderr and the JSON) to profile single models.
Writes docs/bench/night.json (one entry per scale); docs/benchmarks.md "## Night" has the table.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import bench_admin_url


@pytest.mark.bench
def test_night_benchmark():
    from equity.bench_night import run

    scale = os.environ.get("EQUITY_BENCH_NIGHT_SCALE", os.environ.get("EQUITY_BENCH_SCALE", "100k"))
    admin = bench_admin_url()
    result = run(admin, scale, naive=os.environ.get("EQUITY_BENCH_NAIVE", "1") != "0")
    for n in result["nights"]:
        print(f"{scale} {n['date']}: {n['run_status']}, wall {n['wall_seconds']} s, steps {n['timings']},"
              f" overhead factor {n['overhead_factor']}, db {n['db_size_mb']} MB, peak RSS {n['peak_rss']}")
        for source, ld in n["loads"].items():
            print(f"   {source} ({ld['mode']}): {ld['rows_loaded']:,} rows in {ld['seconds']} s"
                  f" = {ld['rows_per_s']} rows/s; bare COPY {ld['bare_copy_seconds']} s,"
                  f" ratio {ld['ratio_to_bare_copy']}, naive {ld.get('naive_seconds')} s")
    print(f"incremental / full night: {result['incremental_over_full']}, load average {result['machine_after']}")
    out = Path(__file__).resolve().parents[1] / "docs" / "bench" / "night.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = json.loads(out.read_text()) if out.exists() else {}
    doc[scale] = result
    out.write_text(json.dumps(doc, indent=2, default=str) + "\n")

    assert [n["dag_state"] for n in result["nights"]] == ["success"] * len(result["nights"]), result["nights"]
    assert all(n["run_status"] in ("success", "degraded") for n in result["nights"])
    for n in result["nights"]:
        assert set(n["loads"]) == {"enrolment", "welfare", "registry"}
        assert {"start", "transform", "gate_marts", "publish"} <= set(n["timings"])
