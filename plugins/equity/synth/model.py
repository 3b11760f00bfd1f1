"""The simulation's records. Delivered records are frozen: what a source said on a date stays.

All use `__slots__` (no per-object `__dict__`): at national scale there are tens of millions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


@dataclass(slots=True)
class Household:
    hh_id: str
    subdistrict: str
    adults: int
    mother_pid: str
    father_pid: str
    income: Decimal
    caregiver: str
    housing: str
    electricity: bool
    clean_water: bool
    farm_land: bool
    vehicle: str
    welfare_card: bool
    members: list[str] = field(default_factory=list)
    house_id: str = ""

    @property
    def size(self) -> int:
        return self.adults + len(self.members)


@dataclass(slots=True)
class Person:
    pid: str
    id_type: str            # NATIONAL_ID | G_CODE
    sex: str                # M | F
    birth: date             # the true birth date
    reg_birth: str          # registry's YYYYMMDD (BE), may hold 00 parts or an error
    school_birth: date      # what schools write
    first_name: str
    last_name: str
    nationality: str
    hh: Household
    subdistrict: str        # current home subdistrict
    house_id: str
    in_registry: bool       # national-ID holder on the population register
    reg_address: bool = True  # current registry address (after the last delivered event)
    alive: bool = True
    absence_rate: float = 0.02
    disability: int = 0


@dataclass(frozen=True, slots=True)
class School:
    code: str
    name: str
    affiliation: str
    subdistrict: str
    kind: str               # primary | secondary | vocational | nonformal | private


@dataclass(slots=True)
class EnrolRecord:
    """A live roster line (mutable while the term runs)."""
    person_id: str
    school_code: str
    grade: str
    status: str
    status_date: date
    days_absent: int
    disability: int
    home_subdistrict: str


@dataclass(frozen=True, slots=True)
class SnapRow:
    """One enrolment row as delivered in a snapshot."""
    person_id: str
    school_code: str
    school_name: str
    affiliation: str
    school_subdistrict_code: str
    academic_year: int
    term: int
    grade: str
    status: str
    status_date: date
    first_name: str
    last_name: str
    sex: str
    birth_date: date
    disability: int
    home_subdistrict_code: str
    days_absent: int


@dataclass(frozen=True, slots=True)
class RegistryEvent:
    pid: str
    birth_date: str         # YYYYMMDD BE, may contain 00
    sex: int                # 1 male, 2 female
    nationality: str
    house_id: str
    subdistrict_code: str
    lao_code: str
    event: str
    event_date: date
    mother_pid: str
    father_pid: str


@dataclass(frozen=True, slots=True)
class Screening:
    screening_id: str
    person_id: str
    household_id: str
    screened_on: date
    household_size: int
    household_income_month: Decimal
    caregiver: str
    has_welfare_card: bool
    housing: str
    electricity: bool
    clean_water: bool
    farm_land: bool
    vehicle: str
    action: str = "UPSERT"
