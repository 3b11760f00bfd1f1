"""Ingestion: verify before any row moves, COPY into raw, replace a date's batch whole; values reach raw
byte for byte, lines are counted as a person counts them, repeated keys are found across files, and a
ragged line refuses its delivery without quoting it."""

from __future__ import annotations

from datetime import date

import numpy as np
import psycopg
import pyarrow as pa
import pytest

from deliveries import REGISTRY_HEADER, enrolment_csv, enrolment_row, write_delivery
from equity import row_rules
from equity.landing import DeliveryRefused
from equity.load import load_delivery
from equity.paths import SHIPPED_REFERENCE_DIR
from equity.reference import load_reference
from equity.row_stream import key_hashes
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
    ("windows-874", "encoding"), ("utf-8-in-a-rejected-row", "encoding"),
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
    elif fault == "utf-8-in-a-rejected-row":  # a row the rules reject, whose name is no UTF-8
        data = enrolment_csv([enrolment_row(), enrolment_row("1101700203451", name="x")])
        files[bad_name] = (data.replace(b",x,", b",\xff\xfe,"), "utf-8", 2)
    elif fault == "windows-874":  # 0xDB is no character in windows-874
        data = enrolment_csv([enrolment_row()], encoding="windows-874")
        files[bad_name] = (data.replace(b"0,630101", b"0,63\xdb101"), "windows-874", 1)
    write_delivery(tmp_path, "enrolment", D, files, **kwargs)
    with pytest.raises(DeliveryRefused) as err:
        load_delivery(wh, str(tmp_path), "enrolment", D, "run-1")
    assert err.value.rule == rule and err.value.file == bad_name
    assert "enrolment 2026-11-20" in str(err.value)
    assert _raw(wh, "select count(*) from raw.enrolment_roster") == [(0,)]  # nothing half-loaded
    assert _raw(wh, "select status from audit.load_batches") == [("refused",)]
    if fault == "header":
        assert "absent_days" in err.value.detail and "days_absent" in err.value.detail
    if fault == "windows-874":
        assert err.value.detail.startswith("not valid windows-874 at byte ")


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


# --- the stream: values byte for byte, lines as a person counts them, repeats across files, ragged lines

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
    got = _raw(wh, "select school_name from raw.enrolment_roster order by _line")
    assert [g[0] for g in got] == [*names, "", None]


def test_a_line_break_inside_a_value_counts_as_a_line_for_later_raw(wh, tmp_path):
    """Line numbers are the file's lines (header = 1), as a person opening the file counts them."""
    rows = [enrolment_row(school_name="two\nlines"), enrolment_row("1101700203468", school_name="three\nlines\nhere"),
            enrolment_row("1101700203451")]  # line 7: a wrong check digit
    write_delivery(tmp_path, "enrolment", D, {"enrolment_20261120_001.csv": (enrolment_csv(rows), "utf-8", 3)})
    out = load_delivery(wh, str(tmp_path), "enrolment", D, "run-1")
    assert (out.rows, out.rejected) == (2, 1)
    assert _raw(wh, "select _line from raw.enrolment_roster order by _line") == [(2,), (4,)]
    assert _raw(wh, "select _line, reason from quarantine.enrolment_rejects") == [(7, "invalid_person_id")]


def test_repeated_keys_are_found_across_files(wh, tmp_path):
    one = enrolment_csv([enrolment_row(), enrolment_row("1101700203468")])
    two = enrolment_csv([enrolment_row("1101700203476"), enrolment_row(),  # exact copy of file 1, line 2
                         enrolment_row("1101700203468", days_absent=9)])  # same key, other values
    write_delivery(tmp_path, "enrolment", D, {"enrolment_20261120_001.csv": (one, "utf-8", 2),
                                              "enrolment_20261120_002.csv": (two, "utf-8", 3)})
    out = load_delivery(wh, str(tmp_path), "enrolment", D, "run-1")
    assert (out.rows, out.rejected) == (2, 3)
    assert _raw(wh, "select _file, _line, reason from quarantine.enrolment_rejects order by _file, _line") == [
        ("enrolment_20261120_001.csv", 3, "conflicting_key"),
        ("enrolment_20261120_002.csv", 3, "duplicate_row"),
        ("enrolment_20261120_002.csv", 4, "conflicting_key"),
    ]
    assert _raw(wh, "select _file, _line from raw.enrolment_roster order by 1, 2") == [
        ("enrolment_20261120_001.csv", 2), ("enrolment_20261120_002.csv", 2)]


def _many_pages_of_rows(first: int, count: int, rng) -> list[str]:
    """Rows over many pages: school names of 0 to 300 Thai characters (1-byte and 4-byte lengths on the
    page), some empty and unquoted (null), valid national IDs."""
    from equity.contracts import national_id_check_digit

    rows = []
    for i in range(first, first + count):
        twelve = f"1101{i:08d}"
        name = "ก" * int(rng.integers(0, 300))
        row = enrolment_row(twelve + str(national_id_check_digit(twelve)), school_name=name)
        rows.append(row.replace('""', '') if not name and i % 2 else row)
    return rows


@pytest.mark.parametrize("longest", [300, 3000], ids=["placed", "too-long-to-place"])
def test_repeated_keys_are_read_back_where_the_loader_placed_them_else_found_by_a_scan(wh, tmp_path, caplog,
                                                                                       longest):
    """Three files over many pages: the repeated keys' rows are read back by the places the loader
    worked out (no scan); a row too long to place (PostgreSQL may compress it) makes it scan instead,
    with the same verdicts."""
    rng = np.random.default_rng(5)
    files = [_many_pages_of_rows(0, 400, rng), _many_pages_of_rows(400, 400, rng), _many_pages_of_rows(800, 400, rng)]
    files[1][10] = files[0][100]                                    # an exact copy: duplicate_row
    files[2][399] = files[0][5].replace(",2,P4,", ",2,P5,")        # same key, other grade: conflicting_key
    files[2][0] = enrolment_row(files[2][0].split(",")[0], school_name="ข" * longest)
    write_delivery(tmp_path, "enrolment", D, {f"enrolment_20261120_00{n + 1}.csv": (enrolment_csv(rows), "utf-8", 400)
                                              for n, rows in enumerate(files)})
    with caplog.at_level("WARNING", logger="equity.load"):
        out = load_delivery(wh, str(tmp_path), "enrolment", D, "run-1")
    assert (out.rows, out.rejected) == (1197, 3)
    assert _raw(wh, "select _file, _line, reason from quarantine.enrolment_rejects order by _file, _line") == [
        ("enrolment_20261120_001.csv", 7, "conflicting_key"),
        ("enrolment_20261120_002.csv", 12, "duplicate_row"),
        ("enrolment_20261120_003.csv", 401, "conflicting_key"),
    ]
    assert _raw(wh, "select count(*) from raw.enrolment_roster where _file = 'enrolment_20261120_001.csv'"
                " and _line = 102") == [(1,)]  # the first copy stays
    scanned = [r.getMessage() for r in caplog.records if "scanning the batch" in r.getMessage()]
    assert len(scanned) == (0 if longest == 300 else 1), scanned


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


def _awkward_registry_lines(lao: str) -> list[str]:
    good = f"1101700203450|25580214|1|THA|63010012345|630101|{lao}|BASELINE|25690101||"
    return [
        good,                                                               # the two parent IDs empty (null)
        "|" + good.split("|", 1)[1],                                        # the first field empty
        good.replace("|THA|", "|back\\slash\\N|").replace("1101700203450", "1101700203468"),
        good.replace("|THA|", "|tab\there|").replace("1101700203450", "1101700203476"),
        good.replace("|THA|", "|ไทย|").replace("1101700203450", "1101700203484") + "\r",  # CR LF, Thai
        good.replace("1101700203450", "1101700203492") + "1101700203450",  # the last field filled
        "|" * 10,                                                           # every field empty
    ]


@pytest.mark.parametrize("final_break", [True, False], ids=["ends-with-a-line-break", "no-final-line-break"])
def test_pipe_lines_are_rewritten_to_copy_text_exactly_as_the_parsed_values_would_be(wh, tmp_path, final_break):
    """The registry's lines go to COPY rewritten from their bytes by its line pass (equity.registry_lines):
    byte for byte what writing the values Arrow parses gives, good rows and quarantined ones alike (CR LF,
    windows-874, empty fields, escapes, with or without a final line break), and in raw the values."""
    from equity import registry_lines
    from equity.landing import FileCheck, LandingZone
    from equity.row_stream import copy_text, parse_lines, pipe_lines

    lines = _awkward_registry_lines(_lao(wh))
    data = "\n".join([REGISTRY_HEADER, *lines]) + ("\n" if final_break else "")
    write_delivery(tmp_path, "registry", D, {"registry_20261120_001.txt": (data.encode("cp874"), "windows-874", 7)},
                   mode="full")
    zone = LandingZone(str(tmp_path))
    delivery = zone.read_manifest("registry", D)
    f = delivery.files[0]
    with psycopg.connect(wh) as conn:
        ctx = row_rules.context(conn, D)
    with zone.open(zone.existing_path(delivery, f)) as fh:
        first = fh.read(1 << 20)
        check = FileCheck(delivery, f, decode=False)
        check.update(first)
        blocks = list(pipe_lines(first, fh, check, f.encoding))
    assert [int(n) for _, numbers in blocks for n in numbers] == [2, 3, 4, 5, 6, 7, 8]
    for block, numbers in blocks:
        judged = registry_lines.judge(block, numbers, ctx, f.name)
        batch = pa.Table.from_batches([b for b, _ in parse_lines(block, numbers, delivery.contract.columns, "pipe")])
        batch = batch.combine_chunks().to_batches()[0]
        good = judged.codes == 0
        assert list(judged.codes) == list(row_rules.first_broken("registry", batch, ctx))
        assert bytes(judged.text) == bytes(copy_text(batch, numbers, good))
        bad = batch.filter(pa.array(~good))
        numbered = pa.RecordBatch.from_arrays([pa.array(judged.codes[~good].astype(str)), *bad.columns],
                                              names=["_code", *bad.schema.names])
        assert bytes(judged.bad_text) == bytes(copy_text(numbered, numbers[~good]))

    out = load_delivery(wh, str(tmp_path), "registry", D, "run-1")
    assert (out.rows, out.rejected) == (2, 5)
    assert _raw(wh, "select mother_pid, father_pid, _line from raw.registry_events order by _line") == [
        (None, None, 2), (None, "1101700203450", 7)]
    originals = _raw(wh, "select _line, reason, original->>'pid', original->>'nationality' "
                     " from quarantine.registry_rejects order by _line")
    assert originals == [(3, "blank_person_id", None, "THA"),
                         (4, "unknown_enum", "1101700203468", "back\\slash\\N"),
                         (5, "unknown_enum", "1101700203476", "tab\there"),
                         (6, "unknown_enum", "1101700203484", "ไทย"),
                         (8, "blank_person_id", None, None)]


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
    assert _raw(wh, "select status from audit.load_batches") == [("refused",)]
    assert _raw(wh, "select count(*) from raw.registry_events") == [(0,)]


def _lao(url):
    return _raw(url, "select lao_code from reference.subdistricts where subdistrict_code = '630101'")[0][0]


def test_candidate_keys_are_part_of_the_contract_key():
    """A hash of part of the key finds every repeated key (and some rows the exact check then keeps)."""
    from equity.contracts import CONTRACTS
    from equity.load import CANDIDATE_KEY

    for source, columns in CANDIDATE_KEY.items():
        assert columns and set(columns) <= set(CONTRACTS[source].key)


def test_a_quote_left_open_refuses_the_file_instead_of_holding_it_in_memory(tmp_path, monkeypatch):
    import equity.row_stream
    from equity.landing import FileCheck, LandingZone

    monkeypatch.setattr(equity.row_stream, "LONGEST_RECORD", 64 << 10)
    monkeypatch.setattr(equity.row_stream, "READ_BLOCK", 16 << 10)
    rows = [enrolment_row(), enrolment_row("1101700203468").replace('"โรงเรียนบ้านหนองบัว"', '"open quote')]
    rows += [enrolment_row("1101700203476").replace('"โรงเรียนบ้านหนองบัว"', "no quotes")] * 2000
    write_delivery(tmp_path, "enrolment", D, {"enrolment_20261120_001.csv": (enrolment_csv(rows), "utf-8", 2002)})
    zone = LandingZone(str(tmp_path))
    delivery = zone.read_manifest("enrolment", D)
    f = delivery.files[0]
    read = []
    with zone.open(zone.existing_path(delivery, f)) as fh:
        first = fh.read(16 << 10)
        check = FileCheck(delivery, f, decode=False)
        check.update(first)
        with pytest.raises(DeliveryRefused) as refused:
            for _lines, numbers in equity.row_stream.csv_lines(first, fh, check, "utf-8"):
                read += list(numbers)
        assert fh.tell() < 200 << 10  # it stopped reading soon after the limit
    assert refused.value.rule == "malformed_row" and "line 3: a record longer than" in refused.value.detail
    assert read == [2]


def test_a_row_the_server_cannot_store_refuses_the_delivery_without_quoting_it(wh, tmp_path):
    """A NUL byte is valid UTF-8 but no PostgreSQL text can hold it: refused whole, named, no value."""
    rows = [enrolment_row(), enrolment_row("1101700203468", school_name="โรงเรียน\x00สมชาย")]
    write_delivery(tmp_path, "enrolment", D, {"enrolment_20261120_001.csv": (enrolment_csv(rows), "utf-8", 2)})
    with pytest.raises(DeliveryRefused) as refused:
        load_delivery(wh, str(tmp_path), "enrolment", D, "run-1")
    message = str(refused.value)
    assert "unloadable_row" in message and "enrolment_20261120_001.csv" in message
    assert "สมชาย" not in message and "1101700203468" not in message
    assert _raw(wh, "select status from audit.load_batches") == [("refused",)]
    assert _raw(wh, "select count(*) from raw.enrolment_roster") == [(0,)]
