"""An ordinary night reads only what is new (issue: dbt, item 8): the earlier batches of every source
are not scanned again, by the loader, the gates or dbt, and the marts still equal the ground truth.

The proof is PostgreSQL's own counter of scans per table: raw is partitioned by batch, so a night
that re-read an earlier delivery (the registry's `full`, a past roster) would bump that batch's
partition's `seq_scan`.
"""

from __future__ import annotations

import time
from datetime import date, timedelta

import psycopg
import pytest

from equity.paths import state_dir
from equity.synth import generate

START = date(2026, 11, 20)
DAYS = 3


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    out = tmp_path_factory.mktemp("landing")
    generate(out, persons=600, start=START, days=DAYS, seed=5, faults="clean")
    return out


def _partition_scans(url: str) -> dict[tuple[str, date], int]:
    """(source, extract_date) -> scans so far of that batch's raw partition."""
    time.sleep(1.5)  # backends publish their counters on exit or within a second of going idle
    with psycopg.connect(url) as conn:
        conn.execute("select pg_stat_clear_snapshot()")
        rows = conn.execute(
            "select b.source, b.extract_date, coalesce(s.seq_scan, 0) + coalesce(s.idx_scan, 0)"
            " from audit.load_batches b"
            " join pg_inherits i on true"
            " join pg_class c on c.oid = i.inhrelid"
            " join pg_stat_user_tables s on s.relid = c.oid"
            " where b.status = 'loaded' and c.relname like '%\\_b' || b.batch_id").fetchall()
    return {(source, day): scans for source, day, scans in rows}


def _analyses(url: str) -> dict[str, int]:
    """Intermediate table -> times ANALYZE ran on it (the relation now under that name)."""
    time.sleep(1.5)
    with psycopg.connect(url) as conn:
        conn.execute("select pg_stat_clear_snapshot()")
        return dict(conn.execute("select relname, analyze_count from pg_stat_user_tables"
                                 " where schemaname = 'intermediate'").fetchall())


def test_an_ordinary_night_does_not_scan_earlier_batches(warehouse, landing, monkeypatch):
    from equity.orchestrate import run_dates

    monkeypatch.setenv("EQUITY_LANDING", str(landing))
    last = START + timedelta(days=DAYS - 1)
    assert {r["state"] for r in run_dates(START, last - timedelta(days=1))} == {"success"}
    before = _partition_scans(warehouse)
    earlier = {k for k in before if k[1] < last}
    assert {s for s, _ in earlier} == {"enrolment", "welfare", "registry"}

    # A parallel scan bumps the counter once per process that takes part (int_enrolment__changed asks
    # for workers): serial plans tonight, so that the counter counts reads.
    with psycopg.connect(warehouse, autocommit=True) as conn:
        name = conn.execute("select current_database()").fetchone()[0]
        conn.execute(f'alter database "{name}" set max_parallel_workers_per_gather = 0')
    analysed_before = _analyses(warehouse)
    dbt_log = state_dir() / "dbt" / "logs" / "dbt.log"
    logged = dbt_log.stat().st_size
    assert run_dates(last, last)[0]["state"] == "success"
    # dbt did not parse the project again from scratch for the new date (it reads the date at run time:
    # macros/policy.sql); a backfill of many dates pays the parse once
    text = dbt_log.read_text(errors="replace")
    tonight_log = text[logged:] if len(text) >= logged else text  # (dbt rotates its log at 10 MB)
    assert "Command `dbt build` succeeded" in tonight_log
    assert "Unable to do partial parsing" not in tonight_log
    assert "skipping partial parsing" in tonight_log or "Partial parsing enabled" in tonight_log
    after = _partition_scans(warehouse)
    analysed_after = _analyses(warehouse)

    rescanned = {k: (before[k], after[k]) for k in earlier if after[k] != before[k]}
    # The one earlier batch read is the snapshot before tonight's, twice, both by the raw gate
    # (equity.gate_changes): once to find tonight's rows without a twin there (judged, and their persons
    # stored), once to find its rows without a twin tonight (their persons stored);
    # int_enrolment__changed reads the persons stored.
    previous_snapshot = ("enrolment", last - timedelta(days=1))
    assert rescanned.pop(previous_snapshot, (0, 1)) == (before[previous_snapshot], before[previous_snapshot] + 2)
    assert not rescanned, f"earlier batches read again on an ordinary night: {rescanned}"
    tonight = {k: v for k, v in after.items() if k[1] == last}
    assert set(tonight) == {("enrolment", last), ("welfare", last), ("registry", last)}
    assert all(v > 0 for v in tonight.values()), tonight  # the counter does count this night's reads

    # Statistics (macros/statistics.sql): the state tables, changed by a few delta rows tonight, are
    # not sampled again; the child versions, which the close and publish look up by tonight's dates, are.
    for table in ("int_registry__current_state", "int_welfare__screenings_latest"):
        assert analysed_after[table] == analysed_before[table] > 0, table
    assert analysed_after["int_children__versioned"] == analysed_before["int_children__versioned"] + 1
    assert analysed_after["int_enrolment__changed"] >= 1, analysed_after  # built afresh tonight: analysed

    with psycopg.connect(warehouse) as conn:
        modes = dict(conn.execute("select mode, count(*) from audit.load_batches where extract_date = %s"
                                  " group by mode", (last,)).fetchall())
        published = conn.execute("select count(*) from marts.child_equity_profile where as_of_date = %s",
                                 (last,)).fetchone()[0]
    assert modes == {"snapshot": 1, "delta": 2} and published > 300
    with psycopg.connect(warehouse) as conn:  # the raw gate judged tonight's roster on its changed rows
        judged = conn.execute(
            "select distinct r.judged_against, e.extract_date, r.element_count < b.rows_loaded"
            " from audit.validation_results r join audit.load_batches b on b.batch_id = r.batch_id"
            " join audit.load_batches e on e.batch_id = r.judged_against"
            " where b.source = 'enrolment' and b.extract_date = %s", (last,)).fetchall()
    assert [(d, fewer) for _, d, fewer in judged] == [(last - timedelta(days=1), True)]
    # the municipality summary was counted from the previous night's rows and the night's versions
    compiled = next((state_dir() / "dbt" / "target" / "compiled").rglob("municipality_equity_summary.sql"))
    assert f"-- counted: the rows of date '{last - timedelta(days=1)}'" in compiled.read_text()
    # and the roster diff read the persons the raw gate stored, instead of pairing the rows again
    compiled = next((state_dir() / "dbt" / "target" / "compiled").rglob("int_enrolment__changed.sql"))
    assert "-- tonight: the persons the raw gate stored" in compiled.read_text()
    # and the night's persons were picked from the registry and welfare states by their indexes (the
    # rows rewritten since the last night, the birthdays, the screenings entering or leaving their
    # window), not by reading every state row: with sequential scans priced out, none is left
    compiled = next((state_dir() / "dbt" / "target" / "compiled").rglob("int_children__changed.sql"))
    with psycopg.connect(warehouse) as conn:
        conn.execute("set enable_seqscan = off")
        plan = "\n".join(r[0] for r in conn.execute("explain " + compiled.read_text()))
    for state in ("int_registry__current_state", "int_welfare__screenings_latest"):
        assert f"Seq Scan on {state}" not in plan, plan
    for index in ("int_registry__current_state_written_for", "int_registry__current_state_birthday",
                  "int_welfare__screenings_latest_written_for", "int_welfare__screenings_latest_screened_on"):
        assert f" on {index} " in plan or f" using {index} " in plan, (index, plan)

    # The tests of the child-level versions read the night's versions only (a night writes its own;
    # earlier ones were tested when written): a broken version on an earlier date is not their
    # business, one on D is.
    from equity.transform import DbtFailed, run_dbt

    def break_a_version(day):
        with psycopg.connect(warehouse) as conn:
            conn.execute("update intermediate.int_children__versioned set education_status = 'ABSENT'"
                         " where ctid = (select ctid from intermediate.int_children__versioned"
                         "               where valid_from = %s and present limit 1)", (day,))

    select = ["test", "--select", "int_children__versioned,test_name:accepted_values"]
    break_a_version(START)
    assert {r["status"] for r in run_dbt(warehouse, select, as_of=last)} == {"pass"}
    break_a_version(last)
    with pytest.raises(DbtFailed, match="accepted_values_int_children__versioned_education_status"):
        run_dbt(warehouse, select, as_of=last)

    # The state tables' keys are unique because PostgreSQL enforces it (a unique index), and their dbt
    # test checks that index instead of grouping 13 M rows a night: without the index, it fails.
    state = ["test", "--select", "int_registry__current_state,test_name:unique_by_index"]
    assert [r["status"] for r in run_dbt(warehouse, state, as_of=last)] == ["pass"]
    with psycopg.connect(warehouse) as conn:
        index = conn.execute("select i.indexrelid::regclass::text from pg_index i"
                             " where i.indrelid = 'intermediate.int_registry__current_state'::regclass"
                             " and i.indisunique").fetchone()[0]
        conn.execute(f"drop index {index}")
        conn.execute("insert into intermediate.int_registry__current_state"
                     " select * from intermediate.int_registry__current_state limit 1")
    with pytest.raises(DbtFailed, match="unique_by_index_int_registry__current_state_person_id"):
        run_dbt(warehouse, state, as_of=last)
