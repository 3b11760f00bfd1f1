"""Ingestion benchmark (`make bench`) and the proof that the loader's fast row checks are the contract's.

- `test_fast_checks_agree_with_util_definitions` (in the normal suite): the loader's row rules
  (equity.row_rules.RULES: vectorised Arrow, integer date arithmetic, check digit on int64) give the
  same reason as the straightforward SQL definitions on util.iso_date / be_dmy_date / be_ymd_date /
  national_id_ok / age() and the reference tables, on every day of several years (leap years
  included), 00 parts, malformed values, IDs and numbers.
- `test_ingestion_benchmark` (`-m bench`): national-size deliveries (EQUITY_BENCH_SCALE = 100k | 1m |
  national, default national) loaded by the real loader, against a bare COPY of the same bytes into
  an UNLOGGED table in the same run; figures to docs/bench/ingestion.json.
"""

from __future__ import annotations

import json
import os
import platform
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest
from psycopg import sql

from conftest import bench_admin_url
from equity import contracts as c
from equity import row_rules
from equity.paths import SHIPPED_REFERENCE_DIR
from equity.reference import load_reference
from equity.row_rules import RULES
from equity.warehouse import bootstrap

D = date(2026, 11, 20)


def _in(col, values):
    return f"{col} is null or {col} not in (" + ", ".join(f"'{v}'" for v in values) + ")"


def _age_bad(birth):
    return f"extract(year from age(%(extract_date)s::date, {birth})) not between 0 and 24"


# The rules as first written (before the speed-up): util functions, regexes, correlated lookups.
REFERENCE_RULES = {
    "enrolment": [
        ("blank_person_id", "nullif(trim(person_id), '') is null"),
        ("invalid_person_id", "not (util.national_id_ok(person_id) or person_id ~ '^G[0-9]{12}$')"),
        ("unknown_enum", _in("affiliation", c.AFFILIATIONS)),
        ("unknown_enum", _in("grade", c.GRADES)),
        ("unknown_enum", _in("status", c.ENROLMENT_STATUSES)),
        ("unknown_enum", _in("sex", ("M", "F"))),
        ("invalid_date", "util.iso_date(status_date) is null"),
        ("invalid_date", "util.be_dmy_date(birth_date) is null"),
        ("birth_in_future", "util.be_dmy_date(birth_date) > %(extract_date)s::date"),
        ("age_out_of_range", _age_bad("util.be_dmy_date(birth_date)")),
        ("invalid_number", "academic_year !~ '^[0-9]{4}$' or term is null or term not in ('1', '2')"
                           " or disability !~ '^[0-9]$' or days_absent !~ '^[0-9]{1,3}$'"),
        ("unknown_code", "school_code !~ '^[0-9]{10}$'"),
        ("unknown_code", "not exists (select 1 from reference.subdistricts s"
                         " where s.subdistrict_code = t.school_subdistrict_code)"),
        ("unknown_code", "not exists (select 1 from reference.subdistricts s"
                         " where s.subdistrict_code = t.home_subdistrict_code)"),
    ],
    "registry": [
        ("blank_person_id", "nullif(trim(pid), '') is null"),
        ("gcode_in_registry", "pid ~ '^G'"),
        ("invalid_person_id", "not util.national_id_ok(pid)"
                              " or coalesce(mother_pid, '') !~ '^([0-9]{13})?$'"
                              " or coalesce(father_pid, '') !~ '^([0-9]{13})?$'"),
        ("unknown_enum", _in("event", c.REGISTRY_EVENTS)),
        ("unknown_enum", _in("sex", ("1", "2"))),
        ("unknown_enum", "nationality is null or nationality !~ '^[A-Z]{3}$'"),
        ("invalid_date", "util.be_ymd_date(birth_date) is null"),
        ("invalid_date", "util.be_ymd_date(event_date) is null"
                         " or substr(event_date, 5, 2) = '00' or substr(event_date, 7, 2) = '00'"),
        ("birth_in_future", "util.be_ymd_date(birth_date) > %(extract_date)s::date"),
        ("age_out_of_range", _age_bad("util.be_ymd_date(birth_date)")),
        ("invalid_number", "coalesce(house_id, '') !~ '^[0-9]{11}$'"),
        ("unknown_code", "(event not in ('MOVE_OUT', 'DEATH') or subdistrict_code is not null)"
                         " and not exists (select 1 from reference.subdistricts s"
                         " where s.subdistrict_code = t.subdistrict_code)"),
        ("unknown_code", "(event not in ('MOVE_OUT', 'DEATH') or lao_code is not null)"
                         " and not exists (select 1 from reference.laos l where l.lao_code = t.lao_code)"),
    ],
    "welfare": [
        ("blank_person_id", "nullif(trim(person_id), '') is null"),
        ("invalid_person_id", "not (util.national_id_ok(person_id) or person_id ~ '^G[0-9]{12}$')"),
        ("blank_key", "nullif(trim(screening_id), '') is null"),
        ("unknown_enum", _in("caregiver", c.CAREGIVERS)),
        ("unknown_enum", _in("housing", c.HOUSING)),
        ("unknown_enum", _in("vehicle", c.VEHICLES)),
        ("unknown_enum", _in("action", c.WELFARE_ACTIONS)),
        ("invalid_date", "util.iso_date(screened_on) is null or util.iso_date(screened_on) > %(extract_date)s::date"),
        ("invalid_number", "household_size !~ '^-?[0-9]{1,6}$'"
                           " or household_income_month !~ '^-?[0-9]{1,10}(\\.[0-9]{1,2})?$'"),
        ("negative_income", "household_income_month::numeric < 0"),
        ("invalid_household_size", "household_size::int < 1"),
    ],
}
for _source in REFERENCE_RULES:
    assert [r for r, _ in REFERENCE_RULES[_source]] == [r for r, _ in RULES[_source]]

GOOD = {
    "enrolment": dict(person_id="1101700203450", school_code="1063010001", school_name="x", affiliation="OBEC",
                      school_subdistrict_code="630101", academic_year="2569", term="2", grade="P3",
                      status="ENROLLED", status_date="2026-05-16", first_name="a", last_name="b", sex="M",
                      birth_date="14/02/2558", disability="0", home_subdistrict_code="630101", days_absent="2"),
    "registry": dict(pid="1101700203450", birth_date="25580214", sex="1", nationality="THA",
                     house_id="63010012345", subdistrict_code="630101", lao_code=None, event="BASELINE",
                     event_date="25690101", mother_pid="", father_pid="1101700203468"),
    "welfare": dict(screening_id="S2026112000001", person_id="1101700203450", household_id="H1",
                    screened_on="2026-10-01", household_size="4", household_income_month="2500.50",
                    caregiver="PARENTS", has_welfare_card="true", housing="OWN", electricity="true",
                    clean_water="false", farm_land="false", vehicle="NONE", action="UPSERT"),
}
MALFORMED = ["", " ", "abc", "2569", "25690", "2569-01-1", "2569/01/01", "256901011", "2569010", "๒๕๖๙๐๑๐๑",
             "-2569-01-01", "0000-00-00", "00000000", "00/00/0000", "2026-1-120", "1/1/25580", None]
IDS = ["1101700203450", "1101700203451", "0101700203452", "9101700203450", "110170020345", "11017002034500",
       "G123456789012", "G12345678901", "g123456789012", "1101700203450 ", "", " ", None, "110170020345x",
       "๑๑๐๑๗๐๐๒๐๓๔๕๐"]


def _dates(fmt):
    out = []
    day = date(2000, 1, 1)
    while day < date(2001, 3, 5):
        out.append(fmt(day.year + 543, day.month, day.day))
        day += timedelta(days=1)
    for y in (1999, 2000, 2001, 2004, 2026, 2027, 2100, 1, 9999, 10000 - 543, 543 - 543):
        for m in range(0, 14):
            for d in (0, 1, 15, 28, 29, 30, 31, 32):
                out.append(fmt(y + 543, m, d))
    # around the 25th birthday and the extract date
    for base in (D, D - timedelta(days=1), D + timedelta(days=1)):
        for years in (0, 24, 25, 26):
            for delta in (-1, 0, 1):
                try:
                    b = base.replace(year=base.year - years) + timedelta(days=delta)
                except ValueError:
                    continue
                out.append(fmt(b.year + 543, b.month, b.day))
    out.append(fmt(2000 + 543 + 24, 2, 29))
    return out + MALFORMED


def _cases(source):
    good = GOOD[source]
    cases = []
    if source == "enrolment":
        for v in _dates(lambda y, m, d: f"{d:02d}/{m:02d}/{y:04d}"):
            cases.append(dict(good, birth_date=v))
        for v in _dates(lambda y, m, d: f"{y - 543:04d}-{m:02d}-{d:02d}"):
            cases.append(dict(good, status_date=v))
        for v in IDS:
            cases.append(dict(good, person_id=v))
        for col, vals in (("school_code", ["1063010001", "106301000", "10630100011", "106301000x", None]),
                          ("academic_year", ["2569", "256", "25690", "x569", None]),
                          ("disability", ["0", "9", "10", "x", "", None]),
                          ("days_absent", ["0", "999", "1000", "", "-1", None]),
                          ("home_subdistrict_code", ["630101", "999999", "", None]),
                          ("school_subdistrict_code", ["630101", "999999", None])):
            cases += [dict(good, **{col: v}) for v in vals]
    elif source == "welfare":
        for v in _dates(lambda y, m, d: f"{y - 543:04d}-{m:02d}-{d:02d}"):
            cases.append(dict(good, screened_on=v))
        for v in IDS:
            cases.append(dict(good, person_id=v))
        for col, vals in (("screening_id", ["", " ", None, "x"]),
                          ("household_size", ["1", "0", "-0", "-1", "123456", "1234567", "1.0", "x", "", None]),
                          ("household_income_month", ["0", "-0", "-0.00", "-0.01", "-1", "0.5", "1.234", "1234567890",
                                                      "12345678901", "1e3", ".5", "", None]),
                          ("caregiver", list(c.CAREGIVERS) + ["parents", "", None]),
                          ("housing", ["OWN", "X", None]), ("vehicle", ["CAR", "BUS", None]),
                          ("action", ["UPSERT", "DELETE", "upsert", None])):
            cases += [dict(good, **{col: v}) for v in vals]
    else:
        for v in _dates(lambda y, m, d: f"{y:04d}{m:02d}{d:02d}"):
            cases.append(dict(good, birth_date=v))
            cases.append(dict(good, event_date=v))
        for v in IDS:
            cases += [dict(good, pid=v), dict(good, mother_pid=v), dict(good, father_pid=v)]
        for col, vals in (("nationality", ["THA", "TH", "THAI", "tha", "T1A", None]),
                          ("house_id", ["63010012345", "6301001234", "630100123456", "6301001234x", "", None]),
                          ("event", ["BASELINE", "MOVE_OUT", "DEATH", "BIRTH", "X", None]),
                          ("subdistrict_code", ["630101", "999999", None]),
                          ("lao_code", [None, "9999999"])):
            cases += [dict(good, **{col: v}) for v in vals]
        cases += [dict(good, event=e, subdistrict_code=s, lao_code=lao)
                  for e in ("MOVE_OUT", "DEATH", "MOVE_IN") for s in (None, "999999") for lao in (None, "9999999")]
    return cases


@pytest.mark.parametrize("source", ["enrolment", "welfare", "registry"])
def test_fast_checks_agree_with_util_definitions(warehouse, source):
    bootstrap(warehouse)
    load_reference(warehouse, SHIPPED_REFERENCE_DIR)
    contract = c.CONTRACTS[source]
    cases = _cases(source)
    with psycopg.connect(warehouse) as conn:
        lao = conn.execute("select lao_code from reference.subdistricts where subdistrict_code = '630101'").fetchone()
        for case in cases:
            if source == "registry" and case["lao_code"] is None and case["event"] not in ("MOVE_OUT", "DEATH"):
                case["lao_code"] = lao[0]
        conn.execute(sql.SQL("create temp table t (n int, {})").format(
            sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(col)) for col in contract.columns)))
        with conn.cursor().copy(sql.SQL("copy t from stdin")) as copy:
            for i, case in enumerate(cases):
                copy.write_row([i] + [case[col] for col in contract.columns])
        old = sql.SQL("case " + " ".join(f"when coalesce(({cond}), true) then '{reason}'"
                                         for reason, cond in REFERENCE_RULES[source]) + " end")
        rows = conn.execute(sql.SQL("select n, {old} from t order by n").format(old=old),
                            {"extract_date": D}).fetchall()
        ctx = row_rules.context(conn, D)
    table = pa.table({col: pa.array([case[col] for case in cases], pa.string()) for col in contract.columns})
    codes = row_rules.first_broken(source, table, ctx)
    new = [row_rules.reason_of(source, code) if code else None for code in codes]
    differ = [(cases[n], new[n], old) for n, old in rows if new[n] != old]
    assert not differ, f"{len(differ)} of {len(rows)} differ, first: {differ[:5]}"
    assert len({old for *_, old in rows}) >= 6  # the cases do reach the rules
    # Columns that start inside their buffers (a slice) or come in chunks are read alike.
    assert list(row_rules.first_broken(source, table.slice(7), ctx)) == list(codes[7:])
    chunked = pa.concat_tables([table.slice(0, 7), table.slice(7)])
    assert list(row_rules.first_broken(source, chunked, ctx)) == list(codes)


def _numbered(batch, numbers, codes):
    """The bad rows as the quarantine spill writes them from a parsed batch (RejectSpill.add)."""
    from equity.row_stream import copy_text

    bad = codes != 0
    chosen = batch.filter(pa.array(bad))
    return copy_text(pa.RecordBatch.from_arrays([pa.array(codes[bad].astype(str)), *chosen.columns],
                                                names=["_code", *chosen.schema.names]), numbers[bad])


def test_the_word_at_a_time_byte_tests_are_exact():
    """bytes_equal and bytes_below, which the enrolment pass uses to find commas, quotes and bytes COPY
    escapes eight at a time, flag exactly the bytes they name, for every byte value in every position
    of a word and whatever its neighbours hold."""
    import numpy as np

    from equity import text_kernels as tk

    rng = np.random.default_rng(7)
    for position in range(8):
        for value in range(256):
            raw = rng.integers(0, 256, 8, dtype=np.uint8)
            raw[position] = value
            word = np.frombuffer(raw.tobytes(), "<u8")[0]
            for byte in (9, 34, 44, 92):
                flags = int(tk.bytes_equal(word, byte))
                assert [(flags >> (8 * k + 7)) & 1 for k in range(8)] == [int(b == byte) for b in raw]
            flags = int(tk.bytes_below(word, 14))
            assert [(flags >> (8 * k + 7)) & 1 for k in range(8)] == [int(b < 14) for b in raw]


def _records_byte_by_byte(text: bytes, final: bool):
    """CSV records as the loader must split them, one byte at a time: a quote opens a quoted value only
    at a field's start; inside one "" is a quote and a line break is part of the value; a record ends
    at LF, CR LF or a lone CR outside quotes. Returns ([(start, end, breaks inside)], bytes used)."""
    records, begin, inside, state, i = [], 0, 0, "start", 0
    while i < len(text):
        b = text[i:i + 1]
        if state == "quoted":
            state = "closed" if b == b'"' else state
            inside += b == b"\n"
        elif b in b"\r\n":
            if b == b"\r" and i + 1 == len(text) and not final:
                break
            following = i + 2 if text[i:i + 2] == b"\r\n" else i + 1
            records.append((begin, i, inside))
            begin, inside, state, i = following, 0, "start", following
            continue
        elif b == b'"' and state in ("start", "closed"):
            state = "quoted"
        else:
            state = "start" if b == b"," else "in"
        i += 1
    if final and begin < len(text):
        records.append((begin, len(text), inside))
        begin = len(text)
    return records, begin


def test_csv_records_are_split_as_byte_by_byte_whatever_the_bytes():
    """text_kernels.csv_records, which skips eight bytes at a time where none can end a record or open
    or close a quote, splits random text of commas, quotes, CR, LF, multi-byte letters and plain runs
    of every length exactly as the byte-by-byte rules do, at a block's end and a file's."""
    import numpy as np

    from equity import text_kernels as tk

    rng = np.random.default_rng(11)
    pieces = [b",", b'"', b'""', b"\n", b"\r", b"\r\n", "ก".encode(), b"a", b"abcdefgh", b"0123456789012", b",,"]
    for case in range(3000):
        text = b"".join(pieces[k] for k in rng.integers(0, len(pieces), rng.integers(0, 60)))
        data = np.frombuffer(text, np.uint8)
        for final in (True, False):
            starts, ends, breaks = (np.empty(len(text) + 1, np.int64) for _ in range(3))
            n, used = tk.csv_records(data, final, starts, ends, breaks)
            got = [(int(starts[k]), int(ends[k]), int(breaks[k])) for k in range(n)], int(used)
            assert got == _records_byte_by_byte(text, final), (case, text, final)


def test_the_registry_line_pass_agrees_with_the_rules_on_columns(warehouse):
    """equity.registry_lines (one compiled pass over each line) gives every edge case above the same
    reason as row_rules on the parsed columns, and for the good lines the same COPY text, key hash and
    page size as the column path."""
    import numpy as np

    from equity import registry_lines
    from equity.heap_layout import row_sizes
    from equity.load import CANDIDATE_KEY
    from equity.row_stream import LineSpans, copy_text, key_hashes

    bootstrap(warehouse)
    load_reference(warehouse, SHIPPED_REFERENCE_DIR)
    columns = c.REGISTRY.columns
    with psycopg.connect(warehouse) as conn:
        lao = conn.execute("select lao_code from reference.subdistricts where subdistrict_code = '630101'").fetchone()
        ctx = row_rules.context(conn, D)
    cases = _cases("registry")
    for case in cases:
        if case["lao_code"] is None and case["event"] not in ("MOVE_OUT", "DEATH"):
            case["lao_code"] = lao[0]
    # Good lines of many lengths, with empty fields and without (the pass reads eight bytes at a time).
    parent = GOOD["registry"]["father_pid"]
    for event in c.REGISTRY_EVENTS:
        for mother, father in (("", ""), ("", parent), (parent, ""), (parent, parent)):
            for where in (("630101", lao[0]), ("", "")):
                cases.append(dict(GOOD["registry"], event=event, mother_pid=mother, father_pid=father,
                                  subdistrict_code=where[0], lao_code=where[1]))
    cases.append(dict.fromkeys(columns, ""))  # ten bars and nothing else
    # A pipe file has no quoting: an empty field is null, as the column path reads it.
    rows = [[case[col] or None for col in columns] for case in cases]
    text = "".join("|".join(v or "" for v in row) + "\n" for row in rows).encode()
    data = np.frombuffer(text, np.uint8)
    ends = np.flatnonzero(data == 10)
    lines = LineSpans(data, np.concatenate(([0], ends[:-1] + 1)), ends)
    numbers = np.arange(2, len(rows) + 2, dtype=np.int64)
    assert registry_lines.applies(ctx)
    judged = registry_lines.judge(lines, numbers, ctx, "registry_20261120_001.txt")
    table = pa.table({col: pa.array([row[k] for row in rows], pa.string()) for k, col in enumerate(columns)})
    expected = row_rules.first_broken("registry", table, ctx)
    differ = [(cases[n], int(judged.codes[n]), int(expected[n])) for n in range(len(cases))
              if judged.codes[n] != expected[n]]
    assert not differ, f"{len(differ)} of {len(cases)} differ, first: {differ[:5]}"
    assert not judged.fallback and len(set(expected.tolist())) >= 6
    batch = table.to_batches()[0]
    good = expected == 0
    lengths = lines.ends - lines.starts
    assert set(lengths[good] % 8) == set(range(8))
    assert bytes(judged.text) == bytes(copy_text(batch, numbers, good))
    assert bytes(judged.bad_text) == bytes(_numbered(batch, numbers, expected))
    assert list(judged.hashes) == list(key_hashes(batch, CANDIDATE_KEY["registry"])[good])
    assert list(judged.sizes) == list(row_sizes(batch, np.flatnonzero(good), "registry_20261120_001.txt"))
    # A line without its eleven fields sends the block to Arrow, which names it.
    short = LineSpans(data, lines.starts.copy(), lines.ends.copy())
    short.ends[3] = short.starts[3] + 20
    assert registry_lines.judge(short, numbers, ctx, "f").fallback
    tiny = np.frombuffer(b"1|2", np.uint8)  # under eight bytes: split byte by byte
    assert registry_lines.judge(LineSpans(tiny, np.array([0]), np.array([3])), numbers[:1], ctx, "f").fallback
    # So does a bare carriage return inside a line (Arrow ends a row there).
    cr = np.frombuffer(text.replace(b"|BASELINE|", b"|BASE\rLINE|", 1), np.uint8)
    cr_ends = np.flatnonzero(cr == 10)
    assert registry_lines.judge(LineSpans(cr, np.concatenate(([0], cr_ends[:-1] + 1)), cr_ends), numbers, ctx,
                                "f").fallback


def _csv_field(value, quote: bool) -> str:
    if value is None:
        return ""
    if quote or value == "" or any(ch in value for ch in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


def test_the_enrolment_record_pass_agrees_with_the_rules_on_columns(warehouse):
    """equity.enrolment_lines (one compiled pass over each CSV record) gives every edge case above the
    same reason as row_rules on the columns Arrow parses from the same bytes, and for the good records
    the same COPY text, key hash and page size; fields quoted or not, names with quotes, commas and
    line breaks; unquoted records of every length modulo 8, which the pass reads eight bytes at a time."""
    import numpy as np

    from equity import enrolment_lines
    from equity.heap_layout import row_sizes
    from equity.row_stream import LineSpans, copy_text, key_hashes, parse_lines

    bootstrap(warehouse)
    load_reference(warehouse, SHIPPED_REFERENCE_DIR)
    columns = c.ENROLMENT.columns
    with psycopg.connect(warehouse) as conn:
        ctx = row_rules.context(conn, D)
    cases = _cases("enrolment")
    names = ["ก", 'say "hi", then\nleave', "", None, "back\\slash\ttab", '"quoted" start', "ok", "ขอ" * 70, "abcdefg"]
    records = []
    for n, case in enumerate(cases):
        case = dict(case, school_name=names[n % len(names)], last_name=names[(n + 3) % len(names)],
                    first_name="x" * (n % 8))
        # every fourth record has some fields quoted; the rest only where a value needs it
        records.append(",".join(_csv_field(case[col], quote=n % 4 == 0 and (n + k) % 5 == 0)
                                for k, col in enumerate(columns)))
    plain = [r for r in records if '"' not in r and not any(ch in r for ch in "\\\t")]
    assert {len(r.encode()) % 8 for r in plain} == set(range(8)), "unquoted records of every length mod 8"
    text = ("\r\n".join(records) + "\r\n").encode()
    data = np.frombuffer(text, np.uint8)
    starts, ends, breaks = (np.empty(len(text), np.int64) for _ in range(3))
    from equity import text_kernels as tk

    n, used = tk.csv_records(data, True, starts, ends, breaks)
    assert (n, used) == (len(records), len(text))
    numbers = np.arange(2, n + 2, dtype=np.int64) + np.concatenate(([0], np.cumsum(breaks[:n])[:-1]))
    lines = LineSpans(data, starts[:n], ends[:n])
    assert enrolment_lines.applies(ctx)
    judged = enrolment_lines.judge(lines, numbers, ctx, "enrolment_20261120_001.csv")
    assert not judged.fallback
    table = pa.Table.from_batches([b for b, _ in parse_lines(lines, numbers, columns, "csv")])
    expected = row_rules.first_broken("enrolment", table, ctx)
    differ = [(cases[k], int(judged.codes[k]), int(expected[k])) for k in range(n) if judged.codes[k] != expected[k]]
    assert not differ, f"{len(differ)} of {n} differ, first: {differ[:5]}"
    assert len(set(expected.tolist())) >= 6
    batch = table.combine_chunks().to_batches()[0]
    good = expected == 0
    # the same text includes the same _row_hash: a row keeps its hash whichever path wrote it
    assert bytes(judged.text) == bytes(copy_text(batch, numbers, good, row_hash=True))
    assert bytes(judged.bad_text) == bytes(_numbered(batch, numbers, expected))
    assert list(judged.hashes) == list(key_hashes(batch, c.ENROLMENT.key)[good])
    assert list(judged.sizes) == list(row_sizes(batch, np.flatnonzero(good), "enrolment_20261120_001.csv",
                                                row_hash=True))
    # each good row's hash is its values' text (tabs included) hashed: equal values, equal hashes
    rows = bytes(judged.text).decode().split("\n")[:-1]
    hashes = [int(r.rsplit("\t", 1)[1]) for r in rows]
    values = ["\t".join(r.split("\t")[:17]) for r in rows]
    assert all(0 <= h < 2 ** 63 for h in hashes)
    # every bit of the hash is mixed: each of the low and high bits is set in about half the rows
    distinct = sorted(set(hashes))
    for bit in (0, 1, 2, 31, 61, 62):
        assert 0.4 < sum(h >> bit & 1 for h in distinct) / len(distinct) < 0.6, bit
    assert len(set(zip(values, hashes))) == len(set(values)) == len(set(hashes)), (len(set(values)), len(set(hashes)))
    # A "" inside a field the rules read, or a record of other than 17 fields: Arrow judges the block.
    for record in (records[0].replace(records[0].split(",")[0], '"1101700203450"""', 1), records[0] + ",x"):
        one = np.frombuffer(record.encode(), np.uint8)
        assert enrolment_lines.judge(LineSpans(one, np.array([0]), np.array([len(one)])), numbers[:1], ctx,
                                     "f").fallback


# --- the benchmark -------------------------------------------------------------------------------

@pytest.mark.bench
def test_ingestion_benchmark():
    from equity.bench import run

    scale = os.environ.get("EQUITY_BENCH_SCALE", "national")
    repeats = int(os.environ.get("EQUITY_BENCH_REPEATS", "2" if scale == "national" else "1"))
    admin = bench_admin_url()
    result = run(admin, scale, repeats=repeats)
    result["machine"] = {"cores": os.cpu_count(), "platform": platform.platform(),
                         "python": platform.python_version()}
    for r in result["runs"]:
        print(f"{scale} #{r['repeat']} {r['source']}: {r['rows']:,} rows, {r['bytes'] / 1e6:,.0f} MB,"
              f" load {r['load_seconds']} s ({r['load_rows_per_s']:,} rows/s, {r['load_mb_per_s']} MB/s),"
              f" bare COPY {r['bare_copy_seconds']} s, ratio {r['ratio_to_bare_copy']},"
              f" peak RSS {r['peak_rss_mib']} MiB, phases {r['load_phases_seconds']}")
    out = Path(__file__).resolve().parents[1] / "docs" / "bench" / "ingestion.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = json.loads(out.read_text()) if out.exists() else {}
    doc[scale] = result
    out.write_text(json.dumps(doc, indent=2) + "\n")
    for r in result["runs"]:
        assert r["peak_rss_mib"] < 1024
