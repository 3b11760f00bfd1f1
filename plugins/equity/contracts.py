"""The extract contracts of EXTRACTS.md as data: one place for columns, enums, files and encodings.

The generator writes from these, the loader checks against them, the GX suites and dbt staging
name the same columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SCHEMA_VERSION = "1.0"
SOURCES = ("enrolment", "welfare", "registry")
MANIFEST_NAME = "_manifest.json"


@dataclass(frozen=True)
class SourceContract:
    name: str
    raw_table: str  # table in schema `raw`
    columns: tuple[str, ...]
    file_format: str  # "csv" | "parquet" | "pipe"
    file_pattern: re.Pattern[str]  # data file names allowed in a delivery
    modes: tuple[str, ...]
    key: tuple[str, ...]


ENROLMENT = SourceContract(
    name="enrolment",
    raw_table="enrolment_roster",
    columns=(
        "person_id", "school_code", "school_name", "affiliation", "school_subdistrict_code",
        "academic_year", "term", "grade", "status", "status_date", "first_name", "last_name",
        "sex", "birth_date", "disability", "home_subdistrict_code", "days_absent",
    ),
    file_format="csv",
    file_pattern=re.compile(r"^enrolment_(dla_)?\d{8}_\d{3}\.csv$"),
    modes=("snapshot",),
    key=("person_id", "school_code"),
)

WELFARE = SourceContract(
    name="welfare",
    raw_table="welfare_screenings",
    columns=(
        "screening_id", "person_id", "household_id", "screened_on", "household_size",
        "household_income_month", "caregiver", "has_welfare_card", "housing", "electricity",
        "clean_water", "farm_land", "vehicle", "action",
    ),
    file_format="parquet",
    file_pattern=re.compile(r"^welfare_\d{8}_\d{3}\.parquet$"),
    modes=("delta", "full"),
    key=("screening_id",),
)

REGISTRY = SourceContract(
    name="registry",
    raw_table="registry_events",
    columns=(
        "pid", "birth_date", "sex", "nationality", "house_id", "subdistrict_code", "lao_code",
        "event", "event_date", "mother_pid", "father_pid",
    ),
    file_format="pipe",
    file_pattern=re.compile(r"^registry_\d{8}_\d{3}\.txt$"),
    modes=("delta", "full"),
    key=("pid", "event", "event_date"),
)

CONTRACTS: dict[str, SourceContract] = {c.name: c for c in (ENROLMENT, WELFARE, REGISTRY)}

# Sources whose batch tables carry `_row_hash`, a 63-bit hash of each row's values worked out by the
# loader as it writes the row (equity.load): the snapshot source, delivered whole every night, so that
# the raw gate (equity.gates) and the roster diff (int_enrolment__changed) pair a night's rows with the
# night before's on one bigint, not on 17 texts.
ROW_HASHED = frozenset({"enrolment"})

AFFILIATIONS = ("OBEC", "OPEC", "DLA", "BPP", "OVEC", "ONIE")
GRADES = tuple(
    [f"K{i}" for i in range(1, 4)] + [f"P{i}" for i in range(1, 7)]
    + [f"M{i}" for i in range(1, 7)] + [f"V{i}" for i in range(1, 4)]
)
ENROLMENT_STATUSES = ("ENROLLED", "TRANSFERRED", "DROPPED_OUT", "GRADUATED", "DECEASED")
CAREGIVERS = ("PARENTS", "ONE_PARENT", "GRANDPARENTS", "RELATIVES", "OTHER", "NONE")
HOUSING = ("OWN", "RENT", "RELATIVE", "INFORMAL")
VEHICLES = ("NONE", "MOTORBIKE", "CAR", "TRUCK")
WELFARE_ACTIONS = ("UPSERT", "DELETE")
REGISTRY_EVENTS = ("BASELINE", "BIRTH", "MOVE_IN", "MOVE_OUT", "DEATH", "CORRECTION")
LAO_TYPES = ("CITY", "TOWN", "SUBDISTRICT_MUNICIPALITY", "SAO")

# Reference files (UTF-8, comma-separated, header line)
SUBDISTRICT_COLUMNS = (
    "subdistrict_code", "subdistrict_name", "district_code", "district_name",
    "province_code", "province_name", "lao_code",
)
LAO_COLUMNS = ("lao_code", "lao_name", "lao_type", "province_code", "district_code")


def national_id_check_digit(first12: str) -> int:
    """Check digit of a Thai national ID from its first twelve digits."""
    total = sum(int(d) * (13 - i) for i, d in enumerate(first12))
    return (11 - total % 11) % 10


def is_valid_national_id(value: str) -> bool:
    return (
        len(value) == 13 and value.isdigit() and value[0] != "9"
        and national_id_check_digit(value[:12]) == int(value[12])
    )


G_CODE = re.compile(r"^G\d{12}$")


# Row-level reject reasons (quarantine.<source>_rejects.reason). The loader assigns the first that
# applies, in this order; the generator's fault log uses the same names for row faults.
REJECT_REASONS = (
    "blank_person_id",      # person_id / pid empty
    "gcode_in_registry",    # a G-code where only national IDs may stand (registry)
    "invalid_person_id",    # not a 13-digit ID with a valid check digit (or 9 first), nor a G-code
    "unknown_enum",         # a value outside the contract's list
    "invalid_date",         # malformed or non-existent date
    "birth_in_future",      # birth date after the extract date
    "age_out_of_range",     # age at the extract date outside 0-24
    "invalid_number",       # malformed integer/decimal, or out of the contract's range
    "negative_income",      # household_income_month < 0
    "invalid_household_size",  # household_size < 1
    "unknown_code",         # subdistrict / LAO code missing from the reference data
    "duplicate_row",        # an exact copy of an earlier row of the same delivery (the first is kept)
    "conflicting_key",      # the same key twice with different values (all such rows are rejected)
    "blank_key",            # a key column other than the person empty (screening_id)
)

# Faults that refuse a whole delivery (audit.load_batches.status = 'refused', nothing loaded).
DELIVERY_FAULTS = (
    "manifest_missing", "manifest_malformed", "sha256", "row_count", "encoding", "header",
)
