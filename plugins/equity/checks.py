"""Row-level contract checks, run set-wise in PostgreSQL on a freshly copied batch.

Each source has an ordered list of (reason, SQL condition that is TRUE when the row breaks it).
The first that applies is the row's reason; then duplicates and conflicting keys are found among
the rows that passed. Conditions refer to the contract's columns of the batch's own table (unqualified)
and to `%(extract_date)s` / `%(extract_ymd)s` (see `params`). Enum lists come from equity.contracts:
one place for the vocabulary.
"""

from __future__ import annotations

from psycopg import sql

from equity import contracts as c


def _in(col: str, values) -> str:
    items = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return f"{col} is null or {col} not in ({items})"


# The casts run only under a CASE that matched the digits first (AND would not promise the order).
# Dates are checked with integer arithmetic on the digits, not by building a date: util's functions
# (make_date + interval + extract per row) cost ~1.3 us a call and the CASE needs the birth date three
# times. Each condition below only has to agree with util's definition *given that the rules before it
# did not fire* (the CASE stops at the first that does); tests/test_bench_load.py checks them against
# util.iso_date / be_dmy_date / be_ymd_date and age() on every day of several years and malformed values.
# %(extract_ymd)s is the extract date as the integer yyyymmdd.

def _days_in_month(y: str, m: str) -> str:
    return (f"case when {m} = 2 then case when (mod({y}, 4) = 0 and mod({y}, 100) <> 0) or mod({y}, 400) = 0"
            f" then 29 else 28 end when {m} in (4, 6, 9, 11) then 30 else 31 end")


def _ymd_ok(y: str, m: str, d: str) -> str:
    """util.make_date_or_null(y, m, d) is not null (y, m, d int expressions, never null here)."""
    return f"({y} between 1 and 9999 and {m} between 1 and 12 and {d} between 1 and {_days_in_month(y, m)})"


def _future(y: str, m: str, d: str) -> str:
    return f"({y}) * 10000 + ({m}) * 100 + ({d}) > %(extract_ymd)s"


def _older_than_24(y: str, m: str, d: str) -> str:
    """extract(year from age(extract_date, born)) > 24, for a birth date not after the extract date."""
    return (f"%(extract_ymd)s / 10000 - ({y})"
            f" - (mod(%(extract_ymd)s, 10000) < ({m}) * 100 + ({d}))::int > 24")


# enrolment birth_date: Buddhist-Era dd/mm/yyyy
_DMY = ("substr(birth_date, 7, 4)::int - 543", "substr(birth_date, 4, 2)::int", "substr(birth_date, 1, 2)::int")
# registry: Buddhist-Era YYYYMMDD; in birth_date month 00 means 1 July and day 00 the 15th
_YMD_Y = "substr({c}, 1, 4)::int - 543"
_YMD_M = "substr({c}, 5, 2)::int"
_YMD_D = "substr({c}, 7, 2)::int"
_BIRTH = (_YMD_Y.format(c="birth_date"),
          f"case when {_YMD_M.format(c='birth_date')} = 0 then 7 else {_YMD_M.format(c='birth_date')} end",
          f"case when {_YMD_M.format(c='birth_date')} = 0 then 1 when {_YMD_D.format(c='birth_date')} = 0 then 15"
          f" else {_YMD_D.format(c='birth_date')} end")
_EVENT = (_YMD_Y.format(c="event_date"), _YMD_M.format(c="event_date"), _YMD_D.format(c="event_date"))


# Reference lookups against the code lists passed as array parameters (see `params`): a constant
# array is hashed once per query, and unlike a `not in (subquery)` (a SubPlan) it lets the scan run in
# parallel workers. A null code is not "= any" (null -> rejected), as with `not exists`.
_SUBDISTRICTS = "%(subdistricts)s::text[]"
_LAOS = "%(laos)s::text[]"


def _digits(col: str, n: int | str) -> str:
    """col ~ '^[0-9]{n}$' (null for null): a length test and an unbounded class, as a counted
    repetition costs PostgreSQL's regex engine about three times more per row."""
    length = f"length({col}) = {n}" if isinstance(n, int) else f"length({col}) {n}"
    return f"({length} and {col} ~ '^[0-9]+$')"


def _national_id(v: str) -> str:
    """util.national_id_ok(v), for a v that is not null (the blank rule comes first)."""
    weighted = " + ".join(f"substr({v}, {i + 1}, 1)::int * {13 - i}" for i in range(12))
    return (f"(case when length({v}) = 13 and {v} ~ '^[0-8][0-9]+$' then"
            f" (11 - mod({weighted}, 11)) %% 10 = substr({v}, 13, 1)::int else false end)")


_G_CODE = "(length({v}) = 13 and {v} ~ '^G[0-9]+$')"

RULES: dict[str, list[tuple[str, str]]] = {
    "enrolment": [
        ("blank_person_id", "nullif(trim(person_id), '') is null"),
        ("invalid_person_id", f"not ({_national_id('person_id')} or {_G_CODE.format(v='person_id')})"),
        ("unknown_enum", _in("affiliation", c.AFFILIATIONS)),
        ("unknown_enum", _in("grade", c.GRADES)),
        ("unknown_enum", _in("status", c.ENROLMENT_STATUSES)),
        ("unknown_enum", _in("sex", ("M", "F"))),
        ("invalid_date", "not (case when length(status_date) = 10 and status_date ~ '^[0-9]+-[0-9]+-[0-9]+$'"
                         " and substr(status_date, 5, 1) = '-' and substr(status_date, 8, 1) = '-' then "
                         + _ymd_ok("substr(status_date, 1, 4)::int", "substr(status_date, 6, 2)::int",
                                   "substr(status_date, 9, 2)::int") + " end)"),
        ("invalid_date", "not (case when length(birth_date) = 10 and birth_date ~ '^[0-9]+/[0-9]+/[0-9]+$'"
                         " and substr(birth_date, 3, 1) = '/' and substr(birth_date, 6, 1) = '/' then "
                         + _ymd_ok(*_DMY) + " end)"),
        ("birth_in_future", _future(*_DMY)),
        ("age_out_of_range", _older_than_24(*_DMY)),
        ("invalid_number", f"not {_digits('academic_year', 4)} or term is null or term not in ('1', '2')"
                           f" or not {_digits('disability', 1)} or not {_digits('days_absent', 'between 1 and 3')}"),
        ("unknown_code", f"not {_digits('school_code', 10)}"),
        ("unknown_code", f"not (school_subdistrict_code = any({_SUBDISTRICTS}))"),
        ("unknown_code", f"not (home_subdistrict_code = any({_SUBDISTRICTS}))"),
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
    "registry": [
        ("blank_person_id", "nullif(trim(pid), '') is null"),
        ("gcode_in_registry", "pid like 'G%%'"),
        ("invalid_person_id", f"not {_national_id('pid')}"
                              f" or not (coalesce(mother_pid, '') = '' or {_digits('mother_pid', 13)})"
                              f" or not (coalesce(father_pid, '') = '' or {_digits('father_pid', 13)})"),
        ("unknown_enum", _in("event", c.REGISTRY_EVENTS)),
        ("unknown_enum", _in("sex", ("1", "2"))),
        ("unknown_enum", "nationality is null or not (length(nationality) = 3 and nationality ~ '^[A-Z]+$')"),
        # 00 month/day allowed in birth_date only
        ("invalid_date", f"not (case when {_digits('birth_date', 8)} then {_ymd_ok(*_BIRTH)} end)"),
        ("invalid_date", f"not (case when {_digits('event_date', 8)} then {_ymd_ok(*_EVENT)} end)"),
        ("birth_in_future", _future(*_BIRTH)),
        ("age_out_of_range", _older_than_24(*_BIRTH)),
        ("invalid_number", f"not coalesce({_digits('house_id', 11)}, false)"),
        # MOVE_OUT and DEATH may come without an address; every other event needs a known one.
        ("unknown_code", "(event not in ('MOVE_OUT', 'DEATH') or subdistrict_code is not null)"
                         f" and not (subdistrict_code = any({_SUBDISTRICTS}))"),
        ("unknown_code", "(event not in ('MOVE_OUT', 'DEATH') or lao_code is not null)"
                         f" and not (lao_code = any({_LAOS}))"),
    ],
}


def reason_expression(source: str) -> sql.Composable:
    """CASE expression giving the first broken rule's reason, or null for a good row."""
    whens = " ".join(f"when coalesce(({cond}), true) then '{reason}'" for reason, cond in RULES[source])
    return sql.SQL("case " + whens + " end")


def params(conn, extract_date) -> dict:
    """The query parameters the conditions use: the extract date and the reference code lists."""
    return {
        "extract_date": extract_date,
        "extract_ymd": extract_date.year * 10000 + extract_date.month * 100 + extract_date.day,
        "subdistricts": [r[0] for r in conn.execute("select subdistrict_code from reference.subdistricts")],
        "laos": [r[0] for r in conn.execute("select lao_code from reference.laos")],
    }
