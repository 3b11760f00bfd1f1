"""The extract contracts' row rules, judged on Arrow batches in the loader's process.

The loader parses each delivery file in Arrow (C++) on its way to COPY, so the rules run here,
vectorised, on the client's core while the server's core runs the COPY: no second pass over the
batch in PostgreSQL. Each source has an ordered list of (reason, rule); a row's reason is the first
rule it breaks. A rule returns a boolean array with SQL's three-valued logic (null where SQL would
give null), and null counts as broken, as `coalesce(condition, true)` did in the SQL rules these
replace: tests/test_bench_load.py proves both give the same reason on every edge case.

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
from numpy.lib.stride_tricks import sliding_window_view

from equity import contracts as c


@dataclass(frozen=True)
class RuleContext:
    extract_ymd: int  # the extract date as the integer yyyymmdd
    subdistricts: pa.Array
    laos: pa.Array


def context(conn, extract_date: date) -> RuleContext:
    """The extract date and the reference code lists the rules look codes up in."""
    return RuleContext(
        extract_ymd=extract_date.year * 10000 + extract_date.month * 100 + extract_date.day,
        subdistricts=pa.array([r[0] for r in conn.execute("select subdistrict_code from reference.subdistricts")],
                              pa.string()),
        laos=pa.array([r[0] for r in conn.execute("select lao_code from reference.laos")], pa.string()),
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


def fixed_width_bytes(col, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(valid, fits, bytes): which values are not null, which are `width` bytes long, and those
    values' bytes as an (n, width) matrix (zeros elsewhere). Fixed-width codes are checked on this
    matrix with integer arithmetic: an order of magnitude cheaper than a regex per value."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    n = len(col)
    offsets = np.frombuffer(col.buffers()[1], np.int32)[col.offset:col.offset + n + 1]
    data = np.frombuffer(col.buffers()[2], np.uint8) if col.buffers()[2] is not None else np.zeros(0, np.uint8)
    valid = np.ones(n, bool) if col.null_count == 0 else pc.is_valid(col).to_numpy(zero_copy_only=False)
    fits = valid & (np.diff(offsets) == width)
    if fits.all():  # the usual case: the values lie back to back, a zero-copy view
        return valid, fits, data[offsets[0]:offsets[0] + n * width].reshape(n, width)
    matrix = np.zeros((n, width), np.uint8)
    if fits.any():  # each fitting value's bytes, copied out of a sliding-window view of the buffer
        windows = sliding_window_view(np.concatenate([data, np.zeros(width, np.uint8)]), width)
        matrix[fits] = windows[offsets[:-1][fits]]
    return valid, fits, matrix


def _all_digits(matrix: np.ndarray) -> np.ndarray:
    # Column by column: numpy reduces fastest across rows. uint8 wraps: bytes below '0' become large.
    if matrix.shape[1] == 0:
        return np.ones(matrix.shape[0], bool)
    highest = matrix[:, 0] - np.uint8(48)
    for k in range(1, matrix.shape[1]):
        np.maximum(highest, matrix[:, k] - np.uint8(48), out=highest)
    return highest < 10


def _number(matrix: np.ndarray) -> np.ndarray:
    """The digits of each row read as an integer (rows that are digits)."""
    value = np.zeros(matrix.shape[0], np.int64)
    for k in range(matrix.shape[1]):
        value = value * 10 + (matrix[:, k].astype(np.int64) - 48)
    return value


def _digits(col, n: int):
    """col is exactly n ASCII digits (null for null): length n and `^[0-9]+$`, as in SQL."""
    valid, fits, matrix = fixed_width_bytes(col, n)
    return pa.array(fits & _all_digits(matrix), mask=~valid)


def _blank(col):
    """nullif(trim(col), '') is null."""
    return pc.or_(pc.is_null(col), pc.fill_null(pc.equal(pc.utf8_trim(col, characters=" "), ""), True))


def _filled(mask) -> np.ndarray:
    return pc.fill_null(mask, False).to_numpy(zero_copy_only=False)


def _ymd_ok(y, m, d) -> np.ndarray:
    """The numbers make a date that exists (proleptic Gregorian, year 1-9999)."""
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    days = np.where(m == 2, np.where(leap, 29, 28), np.where(np.isin(m, (4, 6, 9, 11)), 30, 31))
    return (y >= 1) & (y <= 9999) & (m >= 1) & (m <= 12) & (d >= 1) & (d <= days)


def _guarded(guard: np.ndarray, ok: np.ndarray) -> pa.Array:
    """`case when <guard> then <ok> end`: null where the guard fails (so `not (...)` stays null)."""
    return pa.array(np.where(guard, ok, False), mask=~guard)


_WEIGHTS = np.arange(13, 1, -1, dtype=np.int64)  # digits 1..12 of a national ID weigh 13..2


def _national_id(col):
    """A 13-digit national ID not starting with 9 whose check digit is right; false for null."""
    _, fits, m = fixed_width_bytes(col, 13)
    shape = fits & _all_digits(m) & (m[:, 0] != ord("9"))
    total = np.zeros(len(m), np.int32)
    for k, weight in enumerate(_WEIGHTS):
        total += (m[:, k].astype(np.int32) - 48) * int(weight)
    return pa.array(shape & ((11 - total % 11) % 10 == m[:, 12].astype(np.int32) - 48))


def _gcode(col):
    """`length(v) = 13 and v ~ '^G[0-9]+$'` (null for null)."""
    valid, fits, m = fixed_width_bytes(col, 13)
    return pa.array(fits & (m[:, 0] == ord("G")) & _all_digits(m[:, 1:]), mask=~valid)


# --- dates ---------------------------------------------------------------------------------------

class _Dates:
    """Parsed date parts of one column, memoised per batch (three rules read the birth date)."""

    def __init__(self, t: pa.Table):
        self.t, self.cache = t, {}

    def _parts(self, key, name: str, width: int, seps: dict[int, str], y: slice, m: slice, d: slice):
        if key not in self.cache:
            _, fits, mx = fixed_width_bytes(self.t[name], width)
            digit_at = [i for i in range(width) if i not in seps]
            shape = fits & _all_digits(mx[:, digit_at])
            for i, sep in seps.items():
                shape &= mx[:, i] == ord(sep)
            self.cache[key] = (shape, _number(mx[:, y]), _number(mx[:, m]), _number(mx[:, d]))
        return self.cache[key]

    def iso(self, name: str):
        """yyyy-mm-dd -> (shape, y, m, d)."""
        return self._parts(("iso", name), name, 10, {4: "-", 7: "-"}, slice(0, 4), slice(5, 7), slice(8, 10))

    def be_dmy(self, name: str):
        """Buddhist-Era dd/mm/yyyy -> (shape, y, m, d) in the common era."""
        shape, y, m, d = self._parts(("dmy", name), name, 10, {2: "/", 5: "/"}, slice(6, 10), slice(3, 5),
                                     slice(0, 2))
        return shape, y - 543, m, d

    def be_ymd(self, name: str, unknown_parts: bool):
        """Buddhist-Era yyyymmdd -> (shape, y, m, d); with unknown_parts month 00 is 1 July, day 00 the 15th."""
        shape, y, m, d = self._parts(("ymd", name), name, 8, {}, slice(0, 4), slice(4, 6), slice(6, 8))
        if unknown_parts:
            m, d = np.where(m == 0, 7, m), np.where(m == 0, 1, np.where(d == 0, 15, d))
        return shape, y - 543, m, d


def _invalid(parts) -> pa.Array:
    shape, y, m, d = parts
    return _not(_guarded(shape, _ymd_ok(y, m, d)))


def _after(parts, ymd: int) -> np.ndarray:
    _, y, m, d = parts
    return y * 10000 + m * 100 + d > ymd


def _older_than_24(parts, ymd: int) -> np.ndarray:
    """Age at the extract date above 24, for a birth date not after it."""
    _, y, m, d = parts
    return ymd // 10000 - y - (ymd % 10000 < m * 100 + d).astype(np.int64) > 24


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
        ("invalid_person_id", lambda t, d, x: _not(_or(_national_id(t["person_id"]), _gcode(t["person_id"])))),
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
        ("unknown_code", lambda t, d, x: _not_in_or_null(t["school_subdistrict_code"], x.subdistricts)),
        ("unknown_code", lambda t, d, x: _not_in_or_null(t["home_subdistrict_code"], x.subdistricts)),
    ]


def _welfare() -> list[tuple[str, Rule]]:
    def screened(t, d, x):
        shape, y, m, dd = d.iso("screened_on")
        ok = _ymd_ok(y, m, dd)
        return ~(shape & ok) | _after((shape, y, m, dd), x.extract_ymd)

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
        ("invalid_person_id", lambda t, d, x: _not(_or(_national_id(t["person_id"]),
                                                       _gcode(t["person_id"])))),
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
    _, fits, m = fixed_width_bytes(col, 3)
    return ~(fits & ((m >= ord("A")) & (m <= ord("Z"))).all(axis=1))


def _registry() -> list[tuple[str, Rule]]:
    def parent_ok(col):
        return _or(pc.equal(pc.fill_null(col, ""), ""), _digits(col, 13))

    def address(code: str, codes: Callable[[RuleContext], pa.Array]) -> Rule:
        # MOVE_OUT and DEATH may come without an address; every other event needs a known one.
        return lambda t, d, x: _and(_or(_not(_in(t["event"], ("MOVE_OUT", "DEATH"))), pc.is_valid(t[code])),
                                    _not(_in(t[code], codes(x))))

    return [
        ("blank_person_id", lambda t, d, x: _blank(t["pid"])),
        ("gcode_in_registry", lambda t, d, x: pc.starts_with(t["pid"], "G")),
        ("invalid_person_id", lambda t, d, x: _or(_not(_national_id(t["pid"])), _not(parent_ok(t["mother_pid"])),
                                                  _not(parent_ok(t["father_pid"])))),
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
