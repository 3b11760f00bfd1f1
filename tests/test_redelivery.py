"""A re-delivery and the re-run of a range equal a clean run (issue: orchestration).

Its own module: the longest test of the suite (10 nights through the DAG), so the workers can run it
beside tests/test_orchestration.py instead of after it.
"""

from __future__ import annotations

import shutil
from datetime import timedelta

import psycopg
import pytest
from nights import (
    DAYS,
    MARTS,
    START,
    _marts,
    _redeliver_enrolment_as_revision_2,
    _redeliver_registry_as_revision_2,
    _run,
    generate_clean_landing,
)


@pytest.fixture(scope="module")
def clean_landing(tmp_path_factory):
    return generate_clean_landing(tmp_path_factory)


@pytest.mark.slow  # ten nights: `make test-slow` (CI runs it after `make test`)
@pytest.mark.parametrize("server", ["embedded"])
def test_redelivery_and_rerun_of_a_range_equals_a_clean_run(server, warehouse, new_database, clean_landing,
                                                             tmp_path, monkeypatch):
    # Four of the landing's nights: date 3 has a night before it (incremental state to rebuild from)
    # and one after it (which must pick up the correction).
    day3, last = START + timedelta(days=2), START + timedelta(days=min(DAYS, 4) - 1)
    # A: the nights as they happened, then date 3 re-delivered as revision 2 and dates 3-4 re-run.
    landing_a = tmp_path / "a"
    shutil.copytree(clean_landing, landing_a)
    assert {r["state"] for r in _run(warehouse, landing_a, START, last, monkeypatch)} == {"success"}
    _redeliver_enrolment_as_revision_2(landing_a, day3)
    _redeliver_registry_as_revision_2(landing_a, day3)  # the incremental registry state must rebuild
    assert {r["state"] for r in _run(warehouse, landing_a, day3, last, monkeypatch)} == {"success"}
    # B: a clean warehouse that only ever saw revision 2.
    landing_b = tmp_path / "b"
    shutil.copytree(landing_a, landing_b)
    other = new_database()
    assert {r["state"] for r in _run(other, landing_b, START, last, monkeypatch)} == {"success"}

    a, b = _marts(warehouse), _marts(other)
    for mart in MARTS:
        assert a[mart] == b[mart], f"{mart} differs after re-delivery and re-run"
    with psycopg.connect(warehouse) as conn:
        batches = conn.execute("select revision, status from audit.load_batches where source = 'enrolment'"
                               " and extract_date = %s order by batch_id", (day3,)).fetchall()
        dropped = conn.execute("select count(*) from marts.child_equity_profile where as_of_date = %s"
                               " and out_of_school_reason = 'DROPPED_OUT'", (day3,)).fetchone()[0]
        registry = conn.execute("select revision, status from audit.load_batches where source = 'registry'"
                                " and extract_date = %s order by batch_id", (day3,)).fetchall()
    # the lower revision is kept in the audit trail, not in raw; the correction shows in the marts
    assert batches[0] == (1, "superseded") and batches[-1] == (2, "loaded")
    assert registry[0] == (1, "superseded") and registry[-1] == (2, "loaded")
    assert dropped > 0
