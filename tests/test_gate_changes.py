"""The raw gate on a snapshot judges the rows that differ from the last batch whose rows all passed
(equity.gate_changes): the verdicts a user reads stay those of judging every row."""

from __future__ import annotations

from datetime import date, timedelta

import psycopg
import pytest

from conftest import partition_scans
from deliveries import enrolment_csv, enrolment_row, write_delivery
from equity import gates
from equity.contracts import national_id_check_digit
from equity.load import load_delivery
from equity.paths import SHIPPED_REFERENCE_DIR
from equity.reference import load_reference
from equity.warehouse import bootstrap

D1 = date(2026, 11, 20)
D2 = D1 + timedelta(days=1)


def nid(n: int) -> str:
    first12 = f"1{n:011d}"
    return first12 + str(national_id_check_digit(first12))


@pytest.fixture
def wh(warehouse):
    bootstrap(warehouse)
    load_reference(warehouse, SHIPPED_REFERENCE_DIR)
    return warehouse


def deliver(url, root, day, rows: list[str]) -> int:
    name = f"enrolment_{day:%Y%m%d}_001.csv"
    write_delivery(root, "enrolment", day, {name: (enrolment_csv(rows), "utf-8", len(rows))})
    out = load_delivery(url, str(root), "enrolment", day, f"run-{day}")
    assert out.status == "loaded", out.message
    return out.batch_id


def results(url, batch_id) -> dict[str, tuple]:
    """expectation (with its column and severity) -> (success, unexpected, element_count, judged_against)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select expectation, column_name, severity, success, unexpected_count, element_count, judged_against"
            " from audit.validation_results where batch_id = %s and suite = 'raw.enrolment'", (batch_id,)).fetchall()
    return {(r[0], r[1], r[2]): r[3:] for r in rows}


def test_a_snapshot_is_judged_on_the_rows_that_differ_from_the_last_one_that_passed(wh, tmp_path):
    day1 = [enrolment_row(nid(n), days_absent=n % 3) for n in range(1, 41)]
    b1 = deliver(wh, tmp_path, D1, day1)
    first = gates.validate_raw_batch(wh, "enrolment", b1, "r1")
    assert (first.status, first.rows, first.judged_against) == ("passed", 40, None)
    assert {v[2:] for v in results(wh, b1).values() if v[1] is not None} == {(40, None)}

    # night 2: one row changed (a valid value), one new row without a first name (the gate warns on it)
    day2 = list(day1)
    day2[4] = enrolment_row(nid(5), days_absent=3)
    day2.append(enrolment_row(nid(41), name=""))
    b2 = deliver(wh, tmp_path, D2, day2)
    with psycopg.connect(wh) as conn:  # the loader hashed the rows: 39 of night 2's rows have a twin
        assert conn.execute(f"select count(*) from raw.enrolment_roster_b{b2} as t"
                            f" join raw.enrolment_roster_b{b1} as e using (_row_hash)").fetchone()[0] == 39
    second = gates.validate_raw_batch(wh, "enrolment", b2, "r2")
    assert (second.status, second.rows, second.judged_against) == ("warned", 41, b1)
    assert [(f.expectation, f.column) for f in second.failures] == [
        ("expect_column_values_to_not_be_null", "first_name")]
    with psycopg.connect(wh) as conn:  # the persons whose rows differ, stored for the night's roster diff
        stored = conn.execute("select against_batch_id, person_id from raw.enrolment_roster_changes"
                              " where _batch_id = %s order by person_id", (b2,)).fetchall()
        against = conn.execute("select changes_against from audit.load_batches where batch_id = %s",
                               (b2,)).fetchone()[0]
    assert (stored, against) == ([(b1, nid(5)), (b1, nid(41))], b1)
    audit = results(wh, b2)
    # row-wise entries judged the two rows that differ; the row count and date-relative checks every row
    assert audit["expect_column_values_to_not_be_null", "first_name", "warn"] == (False, 1, 2, b1)
    assert audit["expect_compound_key_to_be_unique", "person_id,school_code", "warn"] == (True, 0, 2, b1)
    assert audit["expect_column_values_to_satisfy_sql:age_0_to_24_at_extract", "birth_date", "warn"][2:] == (
        41, None)
    assert audit["expect_table_row_count_to_be_between", None, "warn"][3] is None

    # night 3 = night 2 again: night 2 warned, so it cannot stand for its rows; night 1 does, and the
    # verdict is the same as judging every row
    b3 = deliver(wh, tmp_path, D2 + timedelta(days=1), day2)
    third = gates.validate_raw_batch(wh, "enrolment", b3, "r3")
    assert (third.status, third.judged_against) == ("warned", b1)
    with psycopg.connect(wh) as conn:  # night 1 had no row without a twin tonight: only night 3's two
        assert conn.execute("select count(*), min(against_batch_id) from raw.enrolment_roster_changes"
                            " where _batch_id = %s", (b3,)).fetchone() == (2, b1)
    assert [(f.expectation, f.column) for f in third.failures] == [
        ("expect_column_values_to_not_be_null", "first_name")]


def test_other_reference_data_or_a_changed_suite_judges_every_row_again(wh, tmp_path):
    rows = [enrolment_row(nid(n)) for n in range(1, 21)]
    b1 = deliver(wh, tmp_path, D1, rows)
    assert gates.validate_raw_batch(wh, "enrolment", b1, "r1").status == "passed"
    with psycopg.connect(wh) as conn:
        conn.execute("insert into reference.subdistricts (subdistrict_code, subdistrict_name) values ('999999', 'x')")
    b2 = deliver(wh, tmp_path, D2, rows)
    second = gates.validate_raw_batch(wh, "enrolment", b2, "r2")
    assert (second.status, second.judged_against) == ("passed", None)
    assert {v[2] for v in results(wh, b2).values() if v[2] is not None} == {20}
    b3 = deliver(wh, tmp_path, D2 + timedelta(days=1), rows)
    third = gates.validate_raw_batch(wh, "enrolment", b3, "r3")
    assert (third.status, third.judged_against) == ("passed", b2)
    assert results(wh, b3)["expect_column_values_to_not_be_null", "school_name", "warn"][2] == 0


def test_a_row_sharing_its_key_with_a_changed_row_is_judged_with_it(wh, tmp_path):
    """The key check stays exact on the changed rows: an unchanged row whose key a changed row repeats
    is judged beside it (the loader never leaves a key twice; a row put into the batch by other
    means, without a hash, can). The search for such rows, one more read of the batch, is made only
    when a changed row has no hash."""
    day1 = [enrolment_row(nid(n)) for n in range(1, 31)]
    b1 = deliver(wh, tmp_path, D1, day1)
    assert gates.validate_raw_batch(wh, "enrolment", b1, "r1").status == "passed"
    # night 2, as the loader wrote it: a changed row, whose key no other row has
    day2 = [enrolment_row(nid(n), days_absent=4 if n == 3 else 2) for n in range(1, 31)]
    b2 = deliver(wh, tmp_path, D2, day2)
    before = partition_scans(wh, "enrolment", b2)
    loaded_only = gates.validate_raw_batch(wh, "enrolment", b2, "r2")
    loaded_only_scans = partition_scans(wh, "enrolment", b2) - before
    assert (loaded_only.status, loaded_only.judged_against) == ("passed", b1)
    assert results(wh, b2)["expect_compound_key_to_be_unique", "person_id,school_code", "warn"] == (True, 0, 1, b1)

    # night 3, the same rows, and a second row for person 7's key put in by other means (no hash)
    b3 = deliver(wh, tmp_path, D2 + timedelta(days=1), day2)
    with psycopg.connect(wh) as conn:
        conn.execute(f"create temp table extra as select * from raw.enrolment_roster_b{b3} where person_id = %s",
                     (nid(7),))
        conn.execute("update extra set _line = 999, _row_hash = null, school_name = 'Another name'")
        conn.execute(f"insert into raw.enrolment_roster_b{b3} select * from extra")
    before = partition_scans(wh, "enrolment", b3)
    third = gates.validate_raw_batch(wh, "enrolment", b3, "r3")
    assert partition_scans(wh, "enrolment", b3) - before == loaded_only_scans + 1
    assert (third.rows, third.judged_against) == (31, b2)
    audit = results(wh, b3)
    # judged: the row put in and person 7's loaded row, which shares its key; both are the repeat
    assert audit["expect_compound_key_to_be_unique", "person_id,school_code", "warn"] == (False, 2, 2, b2)
    # the other row-wise entries judged the same two rows
    assert audit["expect_column_values_to_not_be_null", "first_name", "warn"][2:] == (2, b2)
