"""The registry's lines judged, hashed, sized and written as COPY text in one compiled pass.

The registry is the largest delivery (13.5 million lines nationally) and the plainest: pipe-delimited,
no quoting, one line a row, every field a short code, ID or date. Parsing it into Arrow columns, judging
the columns and writing them back out as COPY text made the loader's core, not the server, the bound.
Here one loop per line splits the fields (eight bytes at a time, writing the COPY text as it goes),
applies the registry's rules in their order (the same checks as equity.row_rules, through the same
`text_kernels.*_at` functions), and for a good line finishes its COPY text and works out its key hash
and its size on the page. tests/test_bench_load.py holds both paths to the same verdict on every edge
case the SQL definitions are checked on.

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

COLUMNS = c.REGISTRY.columns
PID, BIRTH, SEX, NATIONALITY, HOUSE, SUBDISTRICT, LAO, EVENT, EVENT_DATE, MOTHER, FATHER = range(11)
assert COLUMNS == ("pid", "birth_date", "sex", "nationality", "house_id", "subdistrict_code", "lao_code",
                   "event", "event_date", "mother_pid", "father_pid")
# The rule numbers the kernel returns are positions in row_rules.RULES["registry"], 1-based.
assert [reason for reason, _ in RULES["registry"]] == [
    "blank_person_id", "gcode_in_registry", "invalid_person_id", "unknown_enum", "unknown_enum", "unknown_enum",
    "invalid_date", "invalid_date", "birth_in_future", "age_out_of_range", "invalid_number", "unknown_code",
    "unknown_code"]
KEY = (PID, EVENT_DATE)  # load.CANDIDATE_KEY["registry"]

_EVENTS, _EVENT_LENGTHS = tk.word_list(c.REGISTRY_EVENTS)
_MAY_LACK_ADDRESS = np.array([e in ("MOVE_OUT", "DEATH") for e in c.REGISTRY_EVENTS])


def applies(ctx: RuleContext) -> bool:
    """The kernel looks codes up in flag tables only: it applies when both code lists have one."""
    return ctx.subdistricts.table is not None and ctx.laos.table is not None


def judge(lines: LineSpans, numbers: np.ndarray, ctx: RuleContext, file_name: str) -> Judged:
    offset, header, header_with_null = heap_layout.fixed_part(file_name, len(COLUMNS))
    out, bad_out, codes, hashes, sizes = pass_buffers(lines, len(COLUMNS))
    written, good, bad_written, fallback = _judge(
        lines.data, lines.starts, lines.ends, numbers, ctx.extract_ymd,
        ctx.subdistricts.table, ctx.subdistricts.width, ctx.laos.table, ctx.laos.width,
        _EVENTS, _EVENT_LENGTHS, _MAY_LACK_ADDRESS, offset, header, header_with_null,
        out, bad_out, codes, hashes, sizes)
    return Judged(memoryview(out)[:written], codes, hashes[:good], sizes[:good], memoryview(bad_out)[:bad_written],
                  fallback)


@njit(**_KERNEL)
def _parent_ok(data, s, length) -> bool:
    """Empty (null) or 13 digits."""
    return length == 0 or tk.width_within_at(data, s, length, 13, 48, 57)


@njit(**_KERNEL)
def _rule_broken(data, fs, fl, extract_ymd, sub_table, sub_width, lao_table, lao_width, events, event_lengths,
                 may_lack) -> int:
    """The registry's rules in RULES["registry"] order over one line's fields (start fs[k], length
    fl[k]; an empty field is null): 0, or 1 + the index of the first broken."""
    if fl[PID] == 0 or tk.blank_at(data, fs[PID], fl[PID]):
        return 1
    if data[fs[PID]] == 71:  # 'G'
        return 2
    if not (tk.national_id_at(data, fs[PID], fl[PID]) and _parent_ok(data, fs[MOTHER], fl[MOTHER])
            and _parent_ok(data, fs[FATHER], fl[FATHER])):
        return 3
    event = tk.in_list_at(data, fs[EVENT], fl[EVENT], events, event_lengths)
    if event < 0:
        return 4
    if not (fl[SEX] == 1 and (data[fs[SEX]] == 49 or data[fs[SEX]] == 50)):
        return 5
    if not tk.width_within_at(data, fs[NATIONALITY], fl[NATIONALITY], 3, 65, 90):
        return 6
    shape, exists, born = tk.date_at(data, fs[BIRTH], fl[BIRTH], tk.YMD, 543, True)
    if not (shape and exists):
        return 7
    shape, exists, _ = tk.date_at(data, fs[EVENT_DATE], fl[EVENT_DATE], tk.YMD, 543, False)
    if not (shape and exists):
        return 8
    if born > extract_ymd:
        return 9
    if tk.older_than(extract_ymd, born, 24):
        return 10
    if not tk.width_within_at(data, fs[HOUSE], fl[HOUSE], 11, 48, 57):
        return 11
    # MOVE_OUT and DEATH may come without an address; every other event needs a known one.
    if fl[SUBDISTRICT] == 0:
        if not may_lack[event]:
            return 12
    elif not tk.code_at(data, fs[SUBDISTRICT], fl[SUBDISTRICT], sub_width, sub_table):
        return 12
    if fl[LAO] == 0:
        if not may_lack[event]:
            return 13
    elif not tk.code_at(data, fs[LAO], fl[LAO], lao_width, lao_table):
        return 13
    return 0


@njit(**_KERNEL)
def _split(data, start, end, fs, fl, offset, out, at):
    """Split a line at its bars, eight bytes at a time, and on the way write it at out[at] with its bars
    made tabs (the COPY text, if no field is empty and no byte needs COPY's escapes). Returns (fields,
    laid, has_null, plain): fields = -1 for a carriage return (a row's end for Arrow: the block goes to
    it); laid the data offset after the values as heap_layout lays them from `offset`; has_null an
    empty field; plain the text at out[at:at + end - start] is the line's. Lines under 8 bytes are
    split byte by byte."""
    columns = len(fs)
    field, begin, laid, has_null, plain = 0, start, offset, False, end - start >= 8
    k = start
    while k < end:
        if plain:
            base = min(k, end - 8)  # the last word ends at the line's end, overlapping bytes already read
            word = tk.load8(data, base)
            new = ~np.uint64(0) << np.uint64(8 * (k - base))
            if tk.bytes_equal(word, 13) & new:
                return -1, 0, False, False
            if (tk.bytes_equal(word, 92) | tk.bytes_below(word, 14)) & new:
                plain = False  # a byte COPY escapes: written field by field (tk.put_fields)
            bars = tk.bytes_equal(word, 124)
            tk.store8(out, at + base - start, word - (bars >> np.uint64(7)) * np.uint64(124 - 9))
            bars &= new
            k = base + 8
        else:
            bars = np.uint64(0)
            if data[k] == 13:
                return -1, 0, False, False
            if data[k] == 124:
                bars = np.uint64(0x80)
            base = k
            k += 1
        while bars:
            bar = base + tk.lowest_byte(bars)
            if field < columns:
                laid, has_null = heap_layout.place_field(fs, fl, field, begin, bar, laid, has_null)
            field += 1
            begin = bar + 1
            bars &= bars - np.uint64(1)
    if field < columns:
        laid, has_null = heap_layout.place_field(fs, fl, field, begin, end, laid, has_null)
    return field + 1, laid, has_null, plain


@njit(**_KERNEL)
def _put_with_nulls(out, at, data, fs, fl) -> int:
    """A line whose fields hold no byte COPY escapes as COPY text: each value, or \\N for an empty one,
    then a tab. Values are copied eight bytes at a time (the last word may run past the value: the tab
    and what follows overwrite it)."""
    for f in range(len(fs)):
        if fl[f] == 0:
            out[at], out[at + 1] = 92, 78
            at += 2
        else:
            s, k = fs[f], 0
            while k < fl[f]:
                if s + k + 8 <= len(data):
                    tk.store8(out, at + k, tk.load8(data, s + k))
                    k += 8
                else:
                    out[at + k] = data[s + k]
                    k += 1
            at += fl[f]
        out[at] = 9
        at += 1
    return at


@njit(**_KERNEL)
def _judge(data, starts, ends, numbers, extract_ymd, sub_table, sub_width, lao_table, lao_width, events,
           event_lengths, may_lack, offset, header, header_with_null, out, bad_out, codes, hashes, sizes):
    """Returns (bytes written, good lines, bad bytes written, fallback)."""
    columns = 11
    fs = np.zeros(columns, np.int64)
    fl = np.zeros(columns, np.int64)
    at, bad_at, good = 0, 0, 0
    for i in range(len(starts)):
        # A carriage return inside a line ends a row for Arrow: let it judge.
        field, laid, has_null, plain = _split(data, starts[i], ends[i], fs, fl, offset, out, at)
        if field != columns:
            return at, good, bad_at, True
        code = _rule_broken(data, fs, fl, extract_ymd, sub_table, sub_width, lao_table, lao_width, events,
                            event_lengths, may_lack)
        codes[i] = code
        if code:  # for the quarantine: the rule's number, then the line as COPY text
            bad_at = tk.put_number(bad_out, bad_at, code, 9)
            bad_at = tk.put_number(bad_out, tk.put_fields(bad_out, bad_at, data, starts[i], ends[i], fs, fl, 124),
                                   numbers[i], 10)
            continue
        # The key hash (row_stream.key_hashes) and the size on a page (heap_layout.row_sizes).
        h = np.uint64(0)
        for key in KEY:
            h = (h * tk._MIX) ^ tk.hash_at(data, fs[key], fl[key])
        hashes[good] = h
        size = (header_with_null if has_null else header) + laid
        sizes[good] = (size + 7) & ~7
        good += 1
        # No quoting applies: the split wrote the line's text unless a field is empty or needs escapes.
        if plain and not has_null:
            out[at + ends[i] - starts[i]] = 9
            at += ends[i] - starts[i] + 1
        elif plain:
            at = _put_with_nulls(out, at, data, fs, fl)
        else:
            at = tk.put_fields(out, at, data, starts[i], ends[i], fs, fl, 124)
        at = tk.put_number(out, at, numbers[i], 10)
    return at, good, bad_at, False

