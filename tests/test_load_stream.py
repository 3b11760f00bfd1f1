"""The loader's stream: values reach raw exactly as delivered, lines are counted as a person counts
them, repeated keys are found across files, and a file that cannot be split into fields is refused
with its line named and none of its text."""

from __future__ import annotations

from datetime import date

import numpy as np
import psycopg
import pyarrow as pa
import pytest

from deliveries import REGISTRY_HEADER, enrolment_csv, enrolment_row, write_delivery
from equity.landing import DeliveryRefused
from equity.load import load_delivery
from equity.paths import SHIPPED_REFERENCE_DIR
from equity.reference import load_reference
from equity.row_stream import key_hashes
from equity.warehouse import bootstrap

D = date(2026, 11, 20)


def _rows(url, sql, *args):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args).fetchall()


@pytest.fixture
def wh(warehouse):
    bootstrap(warehouse)
    load_reference(warehouse, SHIPPED_REFERENCE_DIR)
    return warehouse


def test_awkward_values_reach_raw_byte_for_byte(wh, tmp_path):
    """Backslashes, tabs, a literal \\N, quotes, commas, a line break and a carriage return inside a
    quoted value survive; an empty quoted value stays '' and an empty unquoted one is null."""
    names = ['back\\slash \\N', 'tab\there', 'line\nbreak', 'carriage\rreturn', 'quote " and, comma']
    rows = [enrolment_row(f"11017002034{i}", school_name=name) for i, name in
            zip(("50", "68", "76", "84", "92"), names, strict=True)]
    rows.append(enrolment_row("1101700203506").replace('"โรงเรียนบ้านหนองบัว"', '""'))  # quoted empty
    rows.append(enrolment_row("1101700203514").replace('"โรงเรียนบ้านหนองบัว"', ''))  # unquoted empty
    data = enrolment_csv(rows)
    write_delivery(tmp_path, "enrolment", D, {"enrolment_20261120_001.csv": (data, "utf-8", 7)})
    out = load_delivery(wh, str(tmp_path), "enrolment", D, "run-1")
    assert (out.status, out.rows, out.rejected) == ("loaded", 7, 0)
    got = _rows(wh, "select school_name from raw.enrolment_roster order by _line")
    assert [g[0] for g in got] == [*names, "", None]


def test_a_line_break_inside_a_value_counts_as_a_line_for_later_rows(wh, tmp_path):
    """Line numbers are the file's lines (header = 1), as a person opening the file counts them."""
    rows = [enrolment_row(school_name="two\nlines"), enrolment_row("1101700203468", school_name="three\nlines\nhere"),
            enrolment_row("1101700203451")]  # line 7: a wrong check digit
    write_delivery(tmp_path, "enrolment", D, {"enrolment_20261120_001.csv": (enrolment_csv(rows), "utf-8", 3)})
    out = load_delivery(wh, str(tmp_path), "enrolment", D, "run-1")
    assert (out.rows, out.rejected) == (2, 1)
    assert _rows(wh, "select _line from raw.enrolment_roster order by _line") == [(2,), (4,)]
    assert _rows(wh, "select _line, reason from quarantine.enrolment_rejects") == [(7, "invalid_person_id")]


def test_repeated_keys_are_found_across_files(wh, tmp_path):
    one = enrolment_csv([enrolment_row(), enrolment_row("1101700203468")])
    two = enrolment_csv([enrolment_row("1101700203476"), enrolment_row(),  # exact copy of file 1, line 2
                         enrolment_row("1101700203468", days_absent=9)])  # same key, other values
    write_delivery(tmp_path, "enrolment", D, {"enrolment_20261120_001.csv": (one, "utf-8", 2),
                                              "enrolment_20261120_002.csv": (two, "utf-8", 3)})
    out = load_delivery(wh, str(tmp_path), "enrolment", D, "run-1")
    assert (out.rows, out.rejected) == (2, 3)
    assert _rows(wh, "select _file, _line, reason from quarantine.enrolment_rejects order by _file, _line") == [
        ("enrolment_20261120_001.csv", 3, "conflicting_key"),
        ("enrolment_20261120_002.csv", 3, "duplicate_row"),
        ("enrolment_20261120_002.csv", 4, "conflicting_key"),
    ]
    assert _rows(wh, "select _file, _line from raw.enrolment_roster order by 1, 2") == [
        ("enrolment_20261120_001.csv", 2), ("enrolment_20261120_002.csv", 2)]


def test_key_hash_is_a_function_of_the_value_alone():
    """The same key hashes the same in a batch of one width (read as words) and in a mixed one."""
    uniform = pa.record_batch({"a": pa.array(["1101700203450", "1101700203468"]), "b": pa.array(["X", "Y"])})
    mixed = pa.record_batch({"a": pa.array(["1101700203468", "G12", None, "1101700203450"]),
                             "b": pa.array(["Y", "LONGER VALUE", "Z", "X"])})
    u, m = key_hashes(uniform, ("a", "b")), key_hashes(mixed, ("a", "b"))
    assert u[0] == m[3] and u[1] == m[0]
    assert len(np.unique(m)) == 4
    # Few distinct values of several widths in a long batch (an event type): hashed through a dictionary.
    events = ["BASELINE", "MOVE_IN", "DEATH", "X"] * 50
    many = pa.record_batch({"a": pa.array(["1101700203450"] * 200), "b": pa.array(events)})
    few = pa.record_batch({"a": pa.array(["1101700203450"] * 4), "b": pa.array(events[:4])})
    assert list(key_hashes(many, ("a", "b"))[:4]) == list(key_hashes(few, ("a", "b")))


def test_a_line_that_does_not_split_into_the_contract_fields_refuses_the_delivery(wh, tmp_path):
    good = f"1101700203450|25580214|1|THA|63010012345|630101|{_lao(wh)}|BASELINE|25690101||"
    ragged = "1101700203468|25580214|1|THA|สมชาย ใจดี"  # a name where it should not be, and fields missing
    data = "\n".join([REGISTRY_HEADER, good, good.replace("1101700203450", "1101700203476"), ragged]) + "\n"
    write_delivery(tmp_path, "registry", D, {"registry_20261120_001.txt": (data.encode("cp874"), "windows-874", 3)},
                   mode="full")
    with pytest.raises(DeliveryRefused) as refused:
        load_delivery(wh, str(tmp_path), "registry", D, "run-1")
    message = str(refused.value)
    assert "registry_20261120_001.txt" in message and "malformed_row" in message and "line 4" in message
    assert "สมชาย" not in message and "1101700203468" not in message  # no personal data in the error
    assert _rows(wh, "select status from audit.load_batches") == [("refused",)]
    assert _rows(wh, "select count(*) from raw.registry_events") == [(0,)]


def _lao(url):
    return _rows(url, "select lao_code from reference.subdistricts where subdistrict_code = '630101'")[0][0]


def test_candidate_keys_are_part_of_the_contract_key():
    """A hash of part of the key finds every repeated key (and some rows the exact check then keeps)."""
    from equity.contracts import CONTRACTS
    from equity.load import CANDIDATE_KEY

    for source, columns in CANDIDATE_KEY.items():
        assert columns and set(columns) <= set(CONTRACTS[source].key)
