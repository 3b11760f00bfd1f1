"""The enrolment roster's CSV records judged, hashed, sized and written as COPY text in one compiled pass.

The same job as equity.registry_lines for the other national-size delivery (11 million records): one
loop per record splits its fields as Arrow's CSV reader does (a quote opens a quoted value only at a
field's start; "" inside it is a quote), applies the enrolment rules in RULES order through the same
`text_kernels.*_at` checks as equity.row_rules, and for a good record writes its values as COPY text
and works out its key hash and page size. A record the pass does not take as it stands - not 17
fields, or a checked field with a "" or text after its closing quote - sends its block to Arrow
and the column rules (`Judged.fallback`), so Arrow keeps the last word on what a line holds.
tests/test_bench_load.py holds both paths to the same verdict on every edge case.

Most records hold no quote and no byte COPY escapes: `_split_plain` reads those eight bytes at a time
(commas found by bit tricks on the word), writing the COPY text and its row hash as it goes; the
byte-by-byte `_split` takes the rest. That cut the pass's time by two fifths (docs/benchmarks.md).

numba caches the pass beside this file and checks it against this file only: it compiles the
`text_kernels` functions it calls into itself, so a change there is seen here once this file changes
(docs/design.md, "Known limits").
"""

from __future__ import annotations

import numpy as np

from equity import contracts as c
from equity import heap_layout
from equity import text_kernels as tk
from equity.row_rules import RULES, RuleContext
from equity.row_stream import Judged, LineSpans, pass_buffers
from equity.text_kernels import _KERNEL, njit

COLUMNS = c.ENROLMENT.columns
(PERSON, SCHOOL, SCHOOL_NAME, AFFILIATION, SCHOOL_SUBDISTRICT, YEAR, TERM, GRADE, STATUS, STATUS_DATE, FIRST,
 LAST, SEX, BIRTH, DISABILITY, HOME_SUBDISTRICT, ABSENT) = range(17)
assert COLUMNS == ("person_id", "school_code", "school_name", "affiliation", "school_subdistrict_code",
                   "academic_year", "term", "grade", "status", "status_date", "first_name", "last_name", "sex",
                   "birth_date", "disability", "home_subdistrict_code", "days_absent")
# The rule numbers the kernel returns are positions in row_rules.RULES["enrolment"], 1-based.
assert [reason for reason, _ in RULES["enrolment"]] == [
    "blank_person_id", "invalid_person_id", "unknown_enum", "unknown_enum", "unknown_enum", "unknown_enum",
    "invalid_date", "invalid_date", "birth_in_future", "age_out_of_range", "invalid_number", "unknown_code",
    "unknown_code", "unknown_code"]
assert c.ENROLMENT.key == ("person_id", "school_code")  # the key hash below
# Fields the rules read: one of these quoted with "" inside, or with text after its closing quote,
# sends the block to Arrow.
_CHECKED = np.zeros(17, np.bool_)
_CHECKED[[PERSON, SCHOOL, AFFILIATION, SCHOOL_SUBDISTRICT, YEAR, TERM, GRADE, STATUS, STATUS_DATE, SEX, BIRTH,
          DISABILITY, HOME_SUBDISTRICT, ABSENT]] = True
_AFFILIATIONS = tk.word_list(c.AFFILIATIONS)
_GRADES = tk.word_list(c.GRADES)
_STATUSES = tk.word_list(c.ENROLMENT_STATUSES)


def applies(ctx: RuleContext) -> bool:
    """The pass looks codes up in a flag table only."""
    return ctx.subdistricts.table is not None


def judge(lines: LineSpans, numbers: np.ndarray, ctx: RuleContext, file_name: str) -> Judged:
    offset, header, header_with_null = heap_layout.fixed_part(file_name, len(COLUMNS), row_hash=True)
    out, bad_out, codes, hashes, sizes = pass_buffers(lines, len(COLUMNS))
    written, good, bad_written, fallback = _judge(
        lines.data, lines.starts, lines.ends, numbers, ctx.extract_ymd, ctx.subdistricts.table,
        ctx.subdistricts.width, *_AFFILIATIONS, *_GRADES, *_STATUSES, _CHECKED, offset, header, header_with_null,
        out, bad_out, codes, hashes, sizes)
    return Judged(memoryview(out)[:written], codes, hashes[:good], sizes[:good], memoryview(bad_out)[:bad_written],
                  fallback)


@njit(**_KERNEL)
def _split(data, start, end, fs, fl, fq) -> int:
    """Split one record into its fields: value start fs[k] and length fl[k], and fq[k] 0 unquoted, 1
    quoted (the value inside the quotes), 2 quoted with "" or trailing text (fs, fl then span the
    field as written). Returns the number of fields, or -1 for a quote left open."""
    field, k = 0, start
    while True:
        begin = k
        if k < end and data[k] == 34:
            k += 1
            kind = 1
            while True:
                if k >= end:
                    return -1
                if data[k] == 34:
                    if k + 1 < end and data[k + 1] == 34:
                        kind = 2
                        k += 2
                        continue
                    break
                k += 1
            value_start, value_end = begin + 1, k
            k += 1
            if k < end and data[k] != 44:
                kind = 2
                while k < end and data[k] != 44:
                    k += 1
            if kind == 2:
                value_start, value_end = begin, k
        else:
            kind = 0
            while k < end and data[k] != 44:
                k += 1
            value_start, value_end = begin, k
        if field < len(fs):
            fs[field], fl[field], fq[field] = value_start, value_end - value_start, kind
        field += 1
        if k >= end:
            return field
        k += 1  # the comma


@njit(**_KERNEL)
def _split_plain(data, start, end, fs, fl, offset, out, at):
    """_split for the common record, eight bytes at a time: exactly 17 fields, none quoted, no byte COPY
    escapes (nor any control byte). On the way it writes the record at out[at] as COPY text would be
    with no empty field (commas made tabs, then a tab) and folds those bytes into hash_at's value.
    Returns (taken, laid, has_null, hashed): laid is the data offset after the values as heap_layout
    lays them from `offset`, has_null an empty field (then the text and hash must be made again with
    \\N). Any other record is not taken (False) and goes byte by byte through _split."""
    n = end - start
    if n < 8:
        return False, 0, False, np.uint64(0)
    field, begin, laid, has_null, k = 0, start, offset, False, start
    # hash_at folds whole words, then a last one: the bytes after the last whole word, and the tab
    hashed, tail = np.uint64(0), np.uint64(9)
    while k < end:
        base = min(k, end - 8)  # the last word ends at the record's end, overlapping bytes already read
        word = tk.load8(data, base)
        new = ~np.uint64(0) << np.uint64(8 * (k - base))
        if (tk.bytes_equal(word, 34) | tk.bytes_equal(word, 92) | tk.bytes_below(word, 14)) & new:
            return False, 0, False, np.uint64(0)
        commas = tk.bytes_equal(word, 44)
        word -= (commas >> np.uint64(7)) * np.uint64(44 - 9)  # each comma a tab: no byte borrows from the next
        tk.store8(out, at + base - start, word)
        if base == k:
            hashed = (hashed ^ word) * tk._P
        else:
            kept = end - k
            tail = (word >> np.uint64(8 * (8 - kept))) | (np.uint64(9) << np.uint64(8 * kept))
        commas &= new
        while commas:
            if field == len(fs) - 1:
                return False, 0, False, np.uint64(0)
            comma = base + tk.lowest_byte(commas)
            laid, has_null = heap_layout.place_field(fs, fl, field, begin, comma, laid, has_null)
            field += 1
            begin = comma + 1
            commas &= commas - np.uint64(1)
        k = base + 8
    if field != len(fs) - 1:
        return False, 0, False, np.uint64(0)
    laid, has_null = heap_layout.place_field(fs, fl, field, begin, end, laid, has_null)
    out[at + n] = 9
    return True, laid, has_null, ((hashed ^ tail) * tk._P) ^ np.uint64(n + 1)


@njit(**_KERNEL)
def _unquoted(data, start, length, out, at, write) -> int:
    """A field written as data[start:start + length] that opens with a quote, as Arrow reads it: ""
    inside the quotes is a quote, the rest after the closing quote is taken as it stands. With `write`,
    puts the value (COPY-escaped) at out[at] and returns the position after; else returns its length."""
    k, end, quoted, size = start + 1, start + length, True, 0
    while k < end:
        b = data[k]
        if quoted and b == 34:
            if k + 1 < end and data[k + 1] == 34:
                k += 1  # the second quote of "" is the value's byte
            else:
                quoted = False
                k += 1
                continue
        if write:
            at = tk.put_escaped(out, at, data, k, 1)
        size += 1
        k += 1
    return at if write else size


@njit(**_KERNEL)
def _rule_broken(data, fs, fl, fq, extract_ymd, sub_table, sub_width, affiliations, affiliation_lengths, grades,
                 grade_lengths, statuses, status_lengths) -> int:
    """The enrolment rules in RULES["enrolment"] order over one record's fields (a null is an empty
    unquoted field): 0, or 1 + the index of the first broken."""
    if (fl[PERSON] == 0 and fq[PERSON] == 0) or tk.blank_at(data, fs[PERSON], fl[PERSON]):
        return 1
    person_ok = tk.national_id_at(data, fs[PERSON], fl[PERSON]) or (
        fl[PERSON] == 13 and data[fs[PERSON]] == 71 and tk.width_within_at(data, fs[PERSON] + 1, 12, 12, 48, 57))
    if not person_ok:
        return 2
    if tk.in_list_at(data, fs[AFFILIATION], fl[AFFILIATION], affiliations, affiliation_lengths) < 0:
        return 3
    if tk.in_list_at(data, fs[GRADE], fl[GRADE], grades, grade_lengths) < 0:
        return 4
    if tk.in_list_at(data, fs[STATUS], fl[STATUS], statuses, status_lengths) < 0:
        return 5
    if not (fl[SEX] == 1 and (data[fs[SEX]] == 77 or data[fs[SEX]] == 70)):  # M, F
        return 6
    shape, exists, _ = tk.date_at(data, fs[STATUS_DATE], fl[STATUS_DATE], tk.ISO, 0, False)
    if not (shape and exists):
        return 7
    shape, exists, born = tk.date_at(data, fs[BIRTH], fl[BIRTH], tk.DMY, 543, False)
    if not (shape and exists):
        return 8
    if born > extract_ymd:
        return 9
    if tk.older_than(extract_ymd, born, 24):
        return 10
    if not (tk.width_within_at(data, fs[YEAR], fl[YEAR], 4, 48, 57)
            and fl[TERM] == 1 and (data[fs[TERM]] == 49 or data[fs[TERM]] == 50)
            and tk.width_within_at(data, fs[DISABILITY], fl[DISABILITY], 1, 48, 57)
            and 1 <= fl[ABSENT] <= 3 and tk.width_within_at(data, fs[ABSENT], fl[ABSENT], fl[ABSENT], 48, 57)):
        return 11
    if not tk.width_within_at(data, fs[SCHOOL], fl[SCHOOL], 10, 48, 57):
        return 12
    if not tk.code_at(data, fs[SCHOOL_SUBDISTRICT], fl[SCHOOL_SUBDISTRICT], sub_width, sub_table):
        return 13
    if not tk.code_at(data, fs[HOME_SUBDISTRICT], fl[HOME_SUBDISTRICT], sub_width, sub_table):
        return 14
    return 0


@njit(**_KERNEL)
def _judge(data, starts, ends, numbers, extract_ymd, sub_table, sub_width, affiliations, affiliation_lengths,
           grades, grade_lengths, statuses, status_lengths, checked, offset, header, header_with_null, out, bad_out,
           codes, hashes, sizes):
    """Returns (bytes written, good records, bad bytes written, fallback)."""
    columns = 17
    fs = np.zeros(columns, np.int64)
    fl = np.zeros(columns, np.int64)
    fq = np.zeros(columns, np.int64)
    unquoted = np.zeros(columns, np.int64)  # fq of a record _split_plain took
    at, bad_at, good = 0, 0, 0
    for i in range(len(starts)):
        plain, laid, has_null, hashed = _split_plain(data, starts[i], ends[i], fs, fl, offset, out, at)
        if plain:
            q = unquoted
        else:
            if _split(data, starts[i], ends[i], fs, fl, fq) != columns:
                return at, good, bad_at, True
            for f in range(columns):
                if fq[f] == 2 and checked[f]:
                    return at, good, bad_at, True
            q = fq
        code = _rule_broken(data, fs, fl, q, extract_ymd, sub_table, sub_width, affiliations,
                            affiliation_lengths, grades, grade_lengths, statuses, status_lengths)
        codes[i] = code
        if code:  # for the quarantine: the rule's number, then the record as COPY text
            bad_at = _put_record(bad_out, tk.put_number(bad_out, bad_at, code, 9), data, fs, fl, q, numbers[i])
            continue
        # The key hash (row_stream.key_hashes) and the size on a page (heap_layout.row_sizes).
        h = (np.uint64(0) * tk._MIX) ^ tk.hash_at(data, fs[PERSON], fl[PERSON])
        hashes[good] = (h * tk._MIX) ^ tk.hash_at(data, fs[SCHOOL], fl[SCHOOL])
        if not plain:
            laid, has_null = offset, False
            for f in range(columns):
                if fq[f] == 0 and fl[f] == 0:
                    has_null = True
                elif fq[f] == 2:
                    laid = heap_layout.text_laid_at(laid, _unquoted(data, fs[f], fl[f], out, at, False))
                else:
                    laid = heap_layout.text_laid_at(laid, fl[f])
        size = (header_with_null if has_null else header) + laid
        sizes[good] = (size + 7) & ~7
        good += 1
        # The values, the line, then the hash of the values as written (the batch table's _row_hash).
        if plain and not has_null:  # the values are written and hashed (_split_plain)
            at = tk.put_hash_digits(out, tk.put_number(out, at + ends[i] - starts[i] + 1, numbers[i], 9), hashed)
            continue
        start = at
        # A record with no quoted field is written in one pass over it; else field by field.
        quoted = False
        for f in range(columns):
            if q[f] != 0:
                quoted = True
                break
        if quoted:
            at = _put_values(out, at, data, fs, fl, fq)
        else:
            at = tk.put_fields(out, at, data, starts[i], ends[i], fs, fl, 44)
        values_end = at
        at = tk.put_row_hash(out, start, values_end - start, tk.put_number(out, at, numbers[i], 9))
    return at, good, bad_at, False


@njit(**_KERNEL)
def _put_record(out, at, data, fs, fl, fq, number) -> int:
    """One record's values as COPY text (\\N for an empty unquoted field), then its line number."""
    return tk.put_number(out, _put_values(out, at, data, fs, fl, fq), number, 10)


@njit(**_KERNEL)
def _put_values(out, at, data, fs, fl, fq) -> int:
    """One record's values as COPY text, each followed by a tab."""
    for f in range(len(fs)):
        if fq[f] == 0 and fl[f] == 0:
            out[at], out[at + 1] = 92, 78
            at += 2
        elif fq[f] == 2:
            at = _unquoted(data, fs[f], fl[f], out, at, True)
        else:
            at = tk.put_escaped(out, at, data, fs[f], fl[f])
        out[at] = 9
        at += 1
    return at
