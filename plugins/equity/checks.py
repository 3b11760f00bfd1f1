"""Row-level contract checks, run set-wise in PostgreSQL on a freshly copied batch.

Each source has an ordered list of (reason, SQL condition that is TRUE when the row breaks it).
The first that applies is the row's reason; then duplicates and conflicting keys are found among
the rows that passed. Conditions refer to the contract's columns of the temp table `_incoming` and
to `%(extract_date)s`. Enum lists come from equity.contracts: one place for the vocabulary.
"""

from __future__ import annotations

from psycopg import sql

from equity import contracts as c


def _in(col: str, values) -> str:
    items = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return f"{col} is null or {col} not in ({items})"


def _age_bad(birth: str) -> str:
    return (f"extract(year from age(%(extract_date)s::date, {birth})) not between 0 and 24")


RULES: dict[str, list[tuple[str, str]]] = {
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
                         " where s.subdistrict_code = _incoming.school_subdistrict_code)"),
        ("unknown_code", "not exists (select 1 from reference.subdistricts s"
                         " where s.subdistrict_code = _incoming.home_subdistrict_code)"),
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
        ("gcode_in_registry", "pid ~ '^G'"),
        ("invalid_person_id", "not util.national_id_ok(pid)"
                              " or coalesce(mother_pid, '') !~ '^([0-9]{13})?$'"
                              " or coalesce(father_pid, '') !~ '^([0-9]{13})?$'"),
        ("unknown_enum", _in("event", c.REGISTRY_EVENTS)),
        ("unknown_enum", _in("sex", ("1", "2"))),
        ("unknown_enum", "nationality is null or nationality !~ '^[A-Z]{3}$'"),
        ("invalid_date", "util.be_ymd_date(birth_date) is null"),  # 00 month/day allowed here only
        ("invalid_date", "util.be_ymd_date(event_date) is null"
                         " or substr(event_date, 5, 2) = '00' or substr(event_date, 7, 2) = '00'"),
        ("birth_in_future", "util.be_ymd_date(birth_date) > %(extract_date)s::date"),
        ("age_out_of_range", _age_bad("util.be_ymd_date(birth_date)")),
        ("invalid_number", "coalesce(house_id, '') !~ '^[0-9]{11}$'"),
        # MOVE_OUT and DEATH may come without an address; every other event needs a known one.
        ("unknown_code", "(event not in ('MOVE_OUT', 'DEATH') or subdistrict_code is not null)"
                         " and not exists (select 1 from reference.subdistricts s"
                         " where s.subdistrict_code = _incoming.subdistrict_code)"),
        ("unknown_code", "(event not in ('MOVE_OUT', 'DEATH') or lao_code is not null)"
                         " and not exists (select 1 from reference.laos l where l.lao_code = _incoming.lao_code)"),
    ],
}


def reason_expression(source: str) -> sql.Composable:
    """CASE expression giving the first broken rule's reason, or null for a good row."""
    whens = " ".join(f"when coalesce(({cond}), true) then '{reason}'" for reason, cond in RULES[source])
    return sql.SQL("case " + whens + " end")
