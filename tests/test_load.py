"""Ingestion: verify before any row moves, COPY into raw, replace a date's batch whole."""

from __future__ import annotations

from datetime import date

import psycopg
import pytest

from deliveries import enrolment_csv, enrolment_row, write_delivery
from equity.landing import DeliveryRefused
from equity.load import load_delivery
from equity.paths import SHIPPED_REFERENCE_DIR
from equity.reference import load_reference
from equity.warehouse import bootstrap

D = date(2026, 11, 20)


def _raw(url, sql, *args):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args).fetchall()


@pytest.fixture
def wh(warehouse):
    bootstrap(warehouse)
    load_reference(warehouse, SHIPPED_REFERENCE_DIR)
    return warehouse


def test_loads_utf8_bom_crlf_and_windows874_parts_with_file_and_line(wh, tmp_path):
    utf8 = enrolment_csv([enrolment_row(), enrolment_row("1101700203468", school_name='โรงเรียน "วัด", ใหม่')],
                         bom=True, crlf=True)
    dla = enrolment_csv([enrolment_row("2101700203458", school="1063020002", name="สมหญิง")],
                        encoding="windows-874")
    write_delivery(tmp_path, "enrolment", D, {
        "enrolment_20261120_001.csv": (utf8, "utf-8", 2),
        "enrolment_dla_20261120_001.csv": (dla, "windows-874", 1),
    })
    out = load_delivery(wh, str(tmp_path), "enrolment", D, "run-1")
    assert (out.status, out.rows) == ("loaded", 3)
    rows = _raw(wh, "select _file, _line, person_id, school_name, first_name from raw.enrolment_roster"
                    " order by _file, _line")
    assert rows[0] == ("enrolment_20261120_001.csv", 2, "1101700203450", "โรงเรียนบ้านหนองบัว", "สมชาย")
    assert rows[1][3] == 'โรงเรียน "วัด", ใหม่'  # RFC 4180 quoting survives
    assert rows[2] == ("enrolment_dla_20261120_001.csv", 2, "2101700203458", "โรงเรียนบ้านหนองบัว", "สมหญิง")


def test_reload_of_a_date_replaces_its_batch_and_lower_revision_is_kept_out(wh, tmp_path):
    data = enrolment_csv([enrolment_row()])
    write_delivery(tmp_path, "enrolment", D, {"enrolment_20261120_001.csv": (data, "utf-8", 1)}, revision=2)
    first = load_delivery(wh, str(tmp_path), "enrolment", D, "run-1")
    second = load_delivery(wh, str(tmp_path), "enrolment", D, "run-2")
    assert first.batch_id != second.batch_id
    assert _raw(wh, "select _batch_id, count(*) from raw.enrolment_roster group by 1") == [(second.batch_id, 1)]
    write_delivery(tmp_path, "enrolment", D, {"enrolment_20261120_001.csv": (data, "utf-8", 1)}, revision=1)
    older = load_delivery(wh, str(tmp_path), "enrolment", D, "run-3")
    assert older.status == "skipped"
    assert _raw(wh, "select _batch_id from raw.enrolment_roster") == [(second.batch_id,)]
    statuses = _raw(wh, "select revision, status from audit.load_batches order by batch_id")
    assert statuses == [(2, "superseded"), (2, "loaded")]


@pytest.mark.parametrize("fault, rule", [
    ("sha", "sha256"), ("rows", "row_count"), ("header", "header"), ("encoding", "encoding"),
])
def test_broken_delivery_is_refused_whole_and_recorded(wh, tmp_path, fault, rule):
    good = enrolment_csv([enrolment_row()])
    files = {"enrolment_20261120_001.csv": (good, "utf-8", 1)}
    bad_name = "enrolment_20261120_002.csv"
    bad = enrolment_csv([enrolment_row("1101700203468")])
    kwargs = {}
    if fault == "sha":
        kwargs["sha_override"] = {bad_name: "0" * 64}
        files[bad_name] = (bad, "utf-8", 1)
    elif fault == "rows":
        files[bad_name] = (bad, "utf-8", 5)
    elif fault == "header":
        files[bad_name] = (bad.replace(b"days_absent", b"absent_days"), "utf-8", 1)
    elif fault == "encoding":
        files[bad_name] = (enrolment_csv([enrolment_row()], encoding="windows-874"), "utf-8", 1)
    write_delivery(tmp_path, "enrolment", D, files, **kwargs)
    with pytest.raises(DeliveryRefused) as err:
        load_delivery(wh, str(tmp_path), "enrolment", D, "run-1")
    assert err.value.rule == rule and err.value.file == bad_name
    assert "enrolment 2026-11-20" in str(err.value)
    assert _raw(wh, "select count(*) from raw.enrolment_roster") == [(0,)]  # nothing half-loaded
    assert _raw(wh, "select status from audit.load_batches") == [("refused",)]
    if fault == "header":
        assert "absent_days" in err.value.detail and "days_absent" in err.value.detail


def test_missing_manifest_is_an_outcome_not_an_error(wh, tmp_path):
    write_delivery(tmp_path, "enrolment", D, {"enrolment_20261120_001.csv": (enrolment_csv([]), "utf-8", 0)},
                   manifest=False)
    assert load_delivery(wh, str(tmp_path), "enrolment", D, "run-1").status == "missing"


def test_bad_rows_go_to_quarantine_with_file_line_reason_and_counts_reconcile(wh, tmp_path):
    rows = [
        enrolment_row(),                                          # line 2: good
        enrolment_row("1101700203451"),                           # line 3: bad check digit
        enrolment_row(""),                                        # line 4: blank person_id
        enrolment_row("1101700203468", grade="P9"),               # line 5: unknown enum
        enrolment_row("1101700203468").replace("14/02/2558", "31/02/2558"),  # line 6: no such date
        enrolment_row("1101700203468").replace("14/02/2558", "14/02/2575"),  # line 7: born in the future
        enrolment_row("1101700203468").replace(",630101,2", ",999999,2"),    # line 8: unknown subdistrict
        enrolment_row("G123456789012"),                           # line 9: good G-code
        enrolment_row("G123456789012"),                           # line 10: exact duplicate of line 9
        enrolment_row("1234567890121", days_absent=3),            # line 11: same key as 12, other values
        enrolment_row("1234567890121", days_absent=4),            # line 12
    ]
    write_delivery(tmp_path, "enrolment", D, {"enrolment_20261120_001.csv": (enrolment_csv(rows), "utf-8", 11)})
    out = load_delivery(wh, str(tmp_path), "enrolment", D, "run-1")
    assert (out.status, out.rows, out.rejected) == ("loaded", 2, 9)
    assert _raw(wh, "select _line, person_id from raw.enrolment_roster order by _line") == [
        (2, "1101700203450"), (9, "G123456789012")]
    rejects = _raw(wh, "select _file, _line, reason, original->>'person_id' from quarantine.enrolment_rejects"
                       " order by _line")
    assert [(line, reason) for _f, line, reason, _p in rejects] == [
        (3, "invalid_person_id"), (4, "blank_person_id"), (5, "unknown_enum"), (6, "invalid_date"),
        (7, "birth_in_future"), (8, "unknown_code"), (10, "duplicate_row"), (11, "conflicting_key"),
        (12, "conflicting_key")]
    assert rejects[0][0] == "enrolment_20261120_001.csv" and rejects[0][3] == "1101700203451"
    assert _raw(wh, "select rows_manifest, rows_loaded, rows_rejected from audit.load_batches") == [(11, 2, 9)]
