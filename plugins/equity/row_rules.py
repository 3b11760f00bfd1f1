"""The extract contracts' row rules, judged on Arrow batches in the loader's process.

The loader parses each delivery file in Arrow (C++) on its way to COPY, so the rules run here, on
the client's core while the server's core runs the COPY: no second pass over the batch in
PostgreSQL. Byte-level checks (codes, check digits, dates, reference codes) are compiled loops in
equity.text_kernels; the rest are Arrow compute calls. Each source has an ordered list of
(reason, rule); a row's reason is the first rule it breaks. A rule returns a boolean array, with
SQL's three-valued logic where it is an Arrow array (null where SQL would give null); null counts as
broken, as `coalesce(condition, true)` did in the SQL rules these replace: tests/test_bench_load.py
proves both give the same reason on every edge case.

Enum lists and the reason vocabulary come from equity.contracts; the code lists from the reference
tables (see `context`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from equity import contracts as c
from equity import text_kernels as tk


class CodeSet:
    """A reference code list, looked up as `value in (codes)`.

    Codes of one width, all digits (subdistricts: 6, LAOs: 7), are looked up as numbers in a table of
    flags (1 MB / 10 MB) by a compiled loop; any other list by Arrow's hash lookup."""

    def __init__(self, codes: list[str]):
        self.codes = pa.array(codes, pa.string())
        widths = {len(code) for code in codes}
        self.width = widths.pop() if len(widths) == 1 else 0
        self.table = None
        if 0 < self.width <= 7 and all(code.isascii() and code.isdigit() for code in codes):
            self.table = np.zeros(10 ** self.width, bool)
            self.table[np.array([int(code) for code in codes], np.int64)] = True

    def contains(self, col) -> np.ndarray:
        """Per value: in the list (false for null)."""
        if self.table is None:
            return pc.fill_null(pc.is_in(col, value_set=self.codes), False).to_numpy(zero_copy_only=False)
        return tk.codes_in(*tk.buffers(col), self.width, self.table)


@dataclass(frozen=True)
class RuleContext:
    extract_ymd: int  # the extract date as the integer yyyymmdd
    subdistricts: CodeSet
    laos: CodeSet


def context(conn, extract_date: date) -> RuleContext:
    """The extract date and the reference code lists the rules look codes up in."""
    return RuleContext(
        extract_ymd=extract_date.year * 10000 + extract_date.month * 100 + extract_date.day,
        subdistricts=CodeSet([r[0] for r in conn.execute("select subdistrict_code from reference.subdistricts")]),
        laos=CodeSet([r[0] for r in conn.execute("select lao_code from reference.laos")]),
    )


# --- SQL-shaped helpers: null in, null out, as in PostgreSQL ---------------------------------------

def _and(*xs):
    out = xs[0]
    for x in xs[1:]:
        out = pc.and_kleene(out, x)
    return out


def _or(*xs):
    out = xs[0]
    for x in xs[1:]:
        out = pc.or_kleene(out, x)
    return out


def _not(x):
    return pc.invert(x)


def _in(col, values) -> pa.Array:
    """col in (values): null for a null col."""
    value_set = values if isinstance(values, pa.Array) else pa.array(list(values), pa.string())
    return pc.if_else(pc.is_null(col), pa.scalar(None, pa.bool_()), pc.is_in(col, value_set=value_set))


def _not_in_or_null(col, values) -> pa.Array:
    """`col is null or col not in (values)`, also `not (col = any(values))` under coalesce(..., true):
    Arrow's is_in is false for a null when the set holds none. Never null."""
    value_set = values if isinstance(values, pa.Array) else pa.array(list(values), pa.string())
    return pc.invert(pc.is_in(col, value_set=value_set))


def _re(col, pattern: str):
    return pc.match_substring_regex(col, pattern)


def _digits(col, n: int):
    """col is exactly n ASCII digits (null for null): length n and `^[0-9]+$`, as in SQL."""
    offsets, data, valid = tk.buffers(col)
    return pa.array(tk.digits(offsets, data, valid, n), mask=~valid)


def _blank(col):
    """nullif(trim(col), '') is null."""
    return pc.or_(pc.is_null(col), pc.fill_null(pc.equal(pc.utf8_trim(col, characters=" "), ""), True))


def _filled(mask) -> np.ndarray:
    return pc.fill_null(mask, False).to_numpy(zero_copy_only=False)


def _national_id(col) -> np.ndarray:
    """A 13-digit national ID not starting with 9 whose check digit is right; false for null."""
    return tk.national_id(*tk.buffers(col))


def _gcode(col) -> np.ndarray:
    """`length(v) = 13 and v ~ '^G[0-9]+$'` (false for null)."""
    return tk.gcode(*tk.buffers(col))


# --- dates ---------------------------------------------------------------------------------------

class _Dates:
    """(shape, exists, yyyymmdd) of one date column, memoised per batch (three rules read the birth
    date); see text_kernels.dates."""

    def __init__(self, t: pa.Table):
        self.t, self.cache = t, {}

    def _parts(self, name: str, layout: int, year_offset: int, unknown_parts: bool = False):
        key = (name, layout, unknown_parts)
        if key not in self.cache:
            self.cache[key] = tk.dates(*tk.buffers(self.t[name]), layout, year_offset, unknown_parts)
        return self.cache[key]

    def iso(self, name: str):
        """yyyy-mm-dd."""
        return self._parts(name, tk.ISO, 0)

    def be_dmy(self, name: str):
        """Buddhist-Era dd/mm/yyyy."""
        return self._parts(name, tk.DMY, 543)

    def be_ymd(self, name: str, unknown_parts: bool):
        """Buddhist-Era yyyymmdd; with unknown_parts month 00 is 1 July, day 00 the 15th."""
        return self._parts(name, tk.YMD, 543, unknown_parts)


def _invalid(parts) -> np.ndarray:
    """The value has not the layout, or its numbers make no date."""
    shape, exists, _ = parts
    return ~(shape & exists)


def _after(parts, ymd: int) -> np.ndarray:
    return parts[2] > ymd


def _older_than_24(parts, ymd: int) -> np.ndarray:
    """Age at the extract date above 24, for a birth date not after it."""
    born = parts[2]
    return ymd // 10000 - born // 10000 - (ymd % 10000 < born % 10000).astype(np.int64) > 24


# --- the rules -----------------------------------------------------------------------------------

Rule = Callable[[pa.Table, _Dates, RuleContext], "pa.Array | np.ndarray"]


def _enrolment() -> list[tuple[str, Rule]]:
    def number(t, _d, _x):
        absent = t["days_absent"]
        return _or(_not(_digits(t["academic_year"], 4)), pc.is_null(t["term"]), _not(_in(t["term"], ("1", "2"))),
                   _not(_digits(t["disability"], 1)),
                   _not(_and(pc.less_equal(pc.binary_length(absent), 3), pc.ascii_is_decimal(absent))))

    return [
        ("blank_person_id", lambda t, d, x: _blank(t["person_id"])),
        ("invalid_person_id", lambda t, d, x: ~(_national_id(t["person_id"]) | _gcode(t["person_id"]))),
        ("unknown_enum", lambda t, d, x: _not_in_or_null(t["affiliation"], c.AFFILIATIONS)),
        ("unknown_enum", lambda t, d, x: _not_in_or_null(t["grade"], c.GRADES)),
        ("unknown_enum", lambda t, d, x: _not_in_or_null(t["status"], c.ENROLMENT_STATUSES)),
        ("unknown_enum", lambda t, d, x: _not_in_or_null(t["sex"], ("M", "F"))),
        ("invalid_date", lambda t, d, x: _invalid(d.iso("status_date"))),
        ("invalid_date", lambda t, d, x: _invalid(d.be_dmy("birth_date"))),
        ("birth_in_future", lambda t, d, x: _after(d.be_dmy("birth_date"), x.extract_ymd)),
        ("age_out_of_range", lambda t, d, x: _older_than_24(d.be_dmy("birth_date"), x.extract_ymd)),
        ("invalid_number", number),
        ("unknown_code", lambda t, d, x: _not(_digits(t["school_code"], 10))),
        ("unknown_code", lambda t, d, x: ~x.subdistricts.contains(t["school_subdistrict_code"])),
        ("unknown_code", lambda t, d, x: ~x.subdistricts.contains(t["home_subdistrict_code"])),
    ]


def _welfare() -> list[tuple[str, Rule]]:
    def screened(t, d, x):
        return _invalid(d.iso("screened_on")) | _after(d.iso("screened_on"), x.extract_ymd)

    def negative(t, _d, _x):
        income = t["household_income_month"]
        return _and(pc.starts_with(income, "-"), _re(income, "[1-9]"))

    def size_below_one(t, _d, _x):
        size = t["household_size"]
        ok = _filled(_re(size, "^-?[0-9]{1,6}$"))
        return pc.cast(pc.fill_null(pc.if_else(pa.array(ok), size, pa.scalar("1")), "1"), pa.int64()).to_numpy(
            zero_copy_only=False) < 1

    return [
        ("blank_person_id", lambda t, d, x: _blank(t["person_id"])),
        ("invalid_person_id", lambda t, d, x: ~(_national_id(t["person_id"]) | _gcode(t["person_id"]))),
        ("blank_key", lambda t, d, x: _blank(t["screening_id"])),
        ("unknown_enum", lambda t, d, x: _not_in_or_null(t["caregiver"], c.CAREGIVERS)),
        ("unknown_enum", lambda t, d, x: _not_in_or_null(t["housing"], c.HOUSING)),
        ("unknown_enum", lambda t, d, x: _not_in_or_null(t["vehicle"], c.VEHICLES)),
        ("unknown_enum", lambda t, d, x: _not_in_or_null(t["action"], c.WELFARE_ACTIONS)),
        ("invalid_date", screened),
        ("invalid_number", lambda t, d, x: _or(_not(_re(t["household_size"], "^-?[0-9]{1,6}$")),
                                               _not(_re(t["household_income_month"],
                                                        r"^-?[0-9]{1,10}(\.[0-9]{1,2})?$")))),
        ("negative_income", negative),
        ("invalid_household_size", size_below_one),
    ]


def _not_three_capitals(col) -> np.ndarray:
    """`col is null or not (length(col) = 3 and col ~ '^[A-Z]+$')`."""
    return ~tk.capitals(*tk.buffers(col), 3)


def _registry() -> list[tuple[str, Rule]]:
    def parent_ok(col) -> np.ndarray:
        """Empty, null or 13 digits."""
        offsets, data, valid = tk.buffers(col)
        return ~valid | (np.diff(offsets) == 0) | tk.digits(offsets, data, valid, 13)

    def address(code: str, codes: Callable[[RuleContext], CodeSet]) -> Rule:
        # MOVE_OUT and DEATH may come without an address; every other event needs a known one.
        def broken(t, d, x):
            may_lack = pc.fill_null(pc.is_in(t["event"], value_set=pa.array(["MOVE_OUT", "DEATH"])), False)
            return np.where(pc.is_valid(t[code]).to_numpy(zero_copy_only=False), ~codes(x).contains(t[code]),
                            ~may_lack.to_numpy(zero_copy_only=False))
        return broken

    return [
        ("blank_person_id", lambda t, d, x: _blank(t["pid"])),
        ("gcode_in_registry", lambda t, d, x: pc.starts_with(t["pid"], "G")),
        ("invalid_person_id", lambda t, d, x: ~(_national_id(t["pid"]) & parent_ok(t["mother_pid"])
                                                 & parent_ok(t["father_pid"]))),
        ("unknown_enum", lambda t, d, x: _not_in_or_null(t["event"], c.REGISTRY_EVENTS)),
        ("unknown_enum", lambda t, d, x: _not_in_or_null(t["sex"], ("1", "2"))),
        ("unknown_enum", lambda t, d, x: _not_three_capitals(t["nationality"])),
        ("invalid_date", lambda t, d, x: _invalid(d.be_ymd("birth_date", True))),
        ("invalid_date", lambda t, d, x: _invalid(d.be_ymd("event_date", False))),
        ("birth_in_future", lambda t, d, x: _after(d.be_ymd("birth_date", True), x.extract_ymd)),
        ("age_out_of_range", lambda t, d, x: _older_than_24(d.be_ymd("birth_date", True), x.extract_ymd)),
        ("invalid_number", lambda t, d, x: _not(pc.fill_null(_digits(t["house_id"], 11), False))),
        ("unknown_code", address("subdistrict_code", lambda x: x.subdistricts)),
        ("unknown_code", address("lao_code", lambda x: x.laos)),
    ]


RULES: dict[str, list[tuple[str, Rule]]] = {"enrolment": _enrolment(), "welfare": _welfare(),
                                            "registry": _registry()}
assert all(reason in c.REJECT_REASONS for rules in RULES.values() for reason, _ in rules)


def first_broken(source: str, table: pa.Table, ctx: RuleContext) -> np.ndarray:
    """Per row, 1 + the index in RULES[source] of the first rule it breaks, or 0 for a good row."""
    code = np.zeros(table.num_rows, np.int16)
    dates = _Dates(table)
    for i, (_reason, rule) in enumerate(RULES[source], start=1):
        broken = rule(table, dates, ctx)
        if not isinstance(broken, np.ndarray):
            broken = pc.fill_null(broken, True).to_numpy(zero_copy_only=False)
        code[(code == 0) & broken] = i
    return code


def reason_of(source: str, code: int) -> str:
    return RULES[source][code - 1][0]
