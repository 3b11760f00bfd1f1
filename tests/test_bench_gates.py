"""Validation benchmark (`make bench`, issue #5): the raw suites at national size on PostgreSQL, against
GX's pandas engine on a sample (the mart suites at national size: the night benchmark).

EQUITY_BENCH_GATES_SCALE (else EQUITY_BENCH_SCALE): national (default) or 1m / 100k for a quick look.
Writes docs/bench/validation.json; docs/benchmarks.md "## Validation" has the table.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import bench_admin_url


@pytest.mark.bench
def test_validation_benchmark():
    from equity.bench_gates import run

    scale = os.environ.get("EQUITY_BENCH_GATES_SCALE", os.environ.get("EQUITY_BENCH_SCALE", "national"))
    admin = bench_admin_url()
    result = run(admin, scale)
    for s in result["suites"]:
        print(f"{s['suite']}: {s['rows']:,} rows, {s['expectations']} expectations, {s['seconds']} s, {s['status']}")
    print(f"raw suites: {result['raw_seconds_total']} s (goal {result['goal_raw_seconds']} s)")
    for b in result["pandas"]:
        print(f"pandas {b['source']}: {b['sample_rows']:,} rows read {b['read_seconds']} s + validate"
              f" {b['validate_seconds']} s -> {b['pandas_seconds_scaled']} s at {b['rows']:,};"
              f" SQL same subset {b['sql_seconds_same_subset']} s ({b['speedup_sql_over_pandas']}x)")
    out = Path(__file__).resolve().parents[1] / "docs" / "bench" / "validation.json"
    doc = json.loads(out.read_text()) if out.exists() else {}
    doc[scale] = result
    out.write_text(json.dumps(doc, indent=2, default=str) + "\n")

    # a replicated delivery (row faults quarantined by the loader) passes, with warnings at most
    assert all(s["status"] in ("passed", "warned") for s in result["suites"]), result["suites"]
    assert {s["suite"] for s in result["suites"]} == {"raw.enrolment", "raw.registry", "raw.welfare"}
    assert all(b["success"] for b in result["pandas"]), "the portable suites must pass on pandas too"
