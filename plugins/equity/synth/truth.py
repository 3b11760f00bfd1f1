"""Ground truth: the child profile docs/rules.md defines, from the simulation's own records.

`Delivered` is fed the very record objects the simulation hands to the writers, in delivery order,
one day at a time; it never reads the files back and never runs the pipeline. `child_rows(as_of)`
then applies docs/rules.md step by step, in plain Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pyarrow as pa
import pyarrow.parquet as pq

from equity.synth.geography import Reference
from equity.synth.model import RegistryEvent, Screening, SnapRow
from equity.synth.thaidates import age_on

ADDRESS_EVENTS = ("BASELINE", "BIRTH", "MOVE_IN", "CORRECTION")
FINAL_GRADES = ("M6", "V3")
NON_PARENT_CAREGIVERS = ("GRANDPARENTS", "RELATIVES", "OTHER", "NONE")

TRUTH_SCHEMA = pa.schema([
    ("as_of_date", pa.date32()), ("person_id", pa.string()), ("id_type", pa.string()),
    ("sex", pa.string()), ("birth_year", pa.int32()), ("age", pa.int32()),
    ("province_code", pa.string()), ("district_code", pa.string()),
    ("subdistrict_code", pa.string()), ("lao_code", pa.string()),
    ("in_registry", pa.bool_()), ("in_enrolment", pa.bool_()), ("in_welfare", pa.bool_()),
    ("education_status", pa.string()), ("out_of_school_reason", pa.string()),
    ("grade", pa.string()), ("school_code", pa.string()), ("affiliation", pa.string()),
    ("multiple_enrolment", pa.bool_()), ("disability", pa.int32()), ("days_absent", pa.int32()),
    ("chronic_absence", pa.bool_()), ("poverty_level", pa.string()),
    ("income_per_capita_month", pa.decimal128(12, 2)), ("has_welfare_card", pa.bool_()),
    ("is_priority", pa.bool_()),
])


def registry_birth_date(be_yyyymmdd: str) -> date:
    """Unknown month (00) -> 1 July; otherwise unknown day (00) -> the 15th."""
    year = int(be_yyyymmdd[:4]) - 543
    month, day = int(be_yyyymmdd[4:6]), int(be_yyyymmdd[6:8])
    if month == 0:
        return date(year, 7, 1)
    return date(year, month, day or 15)


class Delivered:
    """What the three sources have delivered so far, kept as the rules need it."""

    def __init__(self, ref: Reference, pol: dict[str, int]):
        self.ref = ref
        self.pol = pol
        # pid -> [((event_date, extract_date, line seq), event)]
        self.registry: dict[str, list[tuple[tuple[date, date, int], RegistryEvent]]] = {}
        self._seq = 0
        self.latest_snapshot: dict[str, list[SnapRow]] = {}
        self.last_seen: dict[str, list[SnapRow]] = {}  # person -> rows of the latest snapshot with them
        self.screenings: dict[str, Screening] = {}
        self.withdrawn: set[str] = set()

    # --- loading, in delivery order ------------------------------------------------------------
    def load_registry(self, extract_date: date, events: list[RegistryEvent]) -> None:
        for e in events:  # file order = line order (parts are in name order)
            self._seq += 1
            self.registry.setdefault(e.pid, []).append(((e.event_date, extract_date, self._seq), e))

    def load_enrolment(self, extract_date: date, rows: list[SnapRow]) -> None:
        snapshot: dict[str, list[SnapRow]] = {}
        for r in rows:
            snapshot.setdefault(r.person_id, []).append(r)
        self.latest_snapshot = snapshot
        self.last_seen.update(snapshot)

    def load_welfare(self, extract_date: date, rows: list[Screening]) -> None:
        for s in rows:
            if s.action == "DELETE":
                self.withdrawn.add(s.screening_id)
            else:
                self.screenings[s.screening_id] = s

    # --- the rules -----------------------------------------------------------------------------
    def _registry_state(self, pid: str, as_of: date) -> RegistryEvent | None:
        counted = [(k, e) for k, e in self.registry.get(pid, ()) if e.event_date <= as_of]
        if not counted:
            return None
        return max(counted, key=lambda ke: ke[0])[1]

    def _current_screenings(self, as_of: date) -> dict[str, Screening]:
        valid = self.pol["screening_valid_days"]
        best: dict[str, Screening] = {}
        for sid, s in self.screenings.items():
            if sid in self.withdrawn or s.screened_on > as_of or (as_of - s.screened_on).days > valid:
                continue
            cur = best.get(s.person_id)
            if cur is None or (s.screened_on, s.screening_id) > (cur.screened_on, cur.screening_id):
                best[s.person_id] = s
        return best

    def child_rows(self, as_of: date) -> list[dict]:
        return list(self.iter_child_rows(as_of))

    def iter_child_rows(self, as_of: date) -> Iterator[dict]:
        """The children on `as_of`, by person_id, one dict at a time."""
        lo, hi = self.pol["child_age_min"], self.pol["child_age_max"]
        screenings = self._current_screenings(as_of)
        for pid in sorted(self.registry.keys() | self.latest_snapshot.keys()):
            row = self._child(pid, as_of, screenings.get(pid))
            if row is not None:
                assert lo <= row["age"] <= hi
                yield row

    def _child(self, pid: str, as_of: date, screening: Screening | None) -> dict | None:
        pol = self.pol
        reg = self._registry_state(pid, as_of)
        snap = self.latest_snapshot.get(pid, [])
        enrolled = [r for r in snap if r.status == "ENROLLED"]
        seen = self.last_seen.get(pid)
        latest = max(seen, key=lambda r: (r.status_date, r.school_code)) if seen else None

        # alive and present
        if reg is not None and reg.event == "DEATH":
            return None
        if latest is not None and latest.status == "DECEASED":
            return None
        # birth date, sex
        if reg is not None:
            birth, sex = registry_birth_date(reg.birth_date), "M" if reg.sex == 1 else "F"
        else:
            assert latest is not None
            birth, sex = latest.birth_date, latest.sex
        age = age_on(birth, as_of)
        in_registry = reg is not None and reg.event in ADDRESS_EVENTS
        on_roll = bool(enrolled)
        if not (pol["child_age_min"] <= age <= pol["child_age_max"] and (in_registry or on_roll)):
            return None

        # residence
        if in_registry:
            sub, lao = reg.subdistrict_code, reg.lao_code
        elif latest.home_subdistrict_code in self.ref.subdistricts:
            sub = latest.home_subdistrict_code
            lao = self.ref.lao_of(sub)
        else:
            sub = latest.school_subdistrict_code
            lao = self.ref.lao_of(sub)

        # education status
        school_age = pol["school_age_min"] <= age <= pol["school_age_max"]
        reason = None
        record = None
        multiple = False
        if on_roll:
            status = "ENROLLED"
            record = max(enrolled, key=lambda r: (r.status_date, r.school_code))
            multiple = len(enrolled) >= 2
        elif latest is not None and latest.status == "GRADUATED" and latest.grade in FINAL_GRADES:
            status, record = "COMPLETED", latest
        elif latest is not None and latest.status == "TRANSFERRED" and \
                (as_of - latest.status_date).days < pol["transfer_grace_days"]:
            status, record = "IN_TRANSFER", latest
        elif school_age:
            status, record = "OUT_OF_SCHOOL", latest
            if latest is None:
                reason = "NEVER_ENROLLED"
            elif latest.status == "GRADUATED":
                reason = "NOT_CONTINUED"
            elif latest.status == "TRANSFERRED":
                reason = "LOST_IN_TRANSFER"
            else:  # DROPPED_OUT, or ENROLLED in an older snapshot and not on a roll now
                reason = "DROPPED_OUT"
        else:
            status = "NOT_SCHOOL_AGE"
        if record is not None:
            disability = record.disability
        else:
            disability = latest.disability if latest is not None else 0
        days_absent = record.days_absent if status == "ENROLLED" else None
        chronic = status == "ENROLLED" and days_absent >= pol["chronic_absence_days"]

        # welfare
        poverty, per_capita, card = "UNSCREENED", None, None
        if screening is not None:
            size, income = screening.household_size, screening.household_income_month
            per_capita = (income / size).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            card = screening.has_welfare_card
            deprivations = sum((
                not screening.electricity,
                not screening.clean_water,
                screening.housing == "INFORMAL",
                not screening.farm_land and screening.vehicle == "NONE",
                screening.caregiver in NON_PARENT_CAREGIVERS,
            ))
            if income <= pol["poverty_line_thb"] * size:
                poverty = "EXTREMELY_POOR" if deprivations >= pol["extreme_min_deprivations"] \
                    else "POOR"
            else:
                poverty = "NOT_POOR"
        priority = status == "OUT_OF_SCHOOL" or poverty == "EXTREMELY_POOR" or (
            poverty == "POOR" and chronic)

        return {
            "as_of_date": as_of, "person_id": pid,
            "id_type": "G_CODE" if pid.startswith("G") else "NATIONAL_ID",
            "sex": sex, "birth_year": birth.year, "age": age,
            "province_code": sub[:2], "district_code": sub[:4], "subdistrict_code": sub,
            "lao_code": lao, "in_registry": in_registry, "in_enrolment": on_roll,
            "in_welfare": screening is not None, "education_status": status,
            "out_of_school_reason": reason,
            "grade": record.grade if record else None,
            "school_code": record.school_code if record else None,
            "affiliation": record.affiliation if record else None,
            "multiple_enrolment": multiple, "disability": disability, "days_absent": days_absent,
            "chronic_absence": chronic, "poverty_level": poverty,
            "income_per_capita_month": per_capita, "has_welfare_card": card,
            "is_priority": priority,
        }


def write_truth(folder, rows: list[dict]) -> None:
    table = pa.Table.from_pylist(rows, schema=TRUTH_SCHEMA)
    pq.write_table(table, folder / "child_truth.parquet")


class TruthWriter:
    """`_truth/child_truth.parquet` written day by day: one file, row groups of at most `batch`
    rows, a day's rows never share a row group with another day's. Memory: one batch of dicts."""

    def __init__(self, path, batch: int = 100_000):
        self.path = path
        self.batch = batch
        self.writer = pq.ParquetWriter(path, TRUTH_SCHEMA)

    def write_day(self, rows: Iterable[dict]) -> Iterator[dict]:
        """Write the rows and pass each through (for the day's summary counters)."""
        buf: list[dict] = []
        for r in rows:
            buf.append(r)
            yield r
            if len(buf) >= self.batch:
                self.writer.write_table(pa.Table.from_pylist(buf, schema=TRUTH_SCHEMA))
                buf = []
        if buf:
            self.writer.write_table(pa.Table.from_pylist(buf, schema=TRUTH_SCHEMA))

    def close(self) -> None:
        self.writer.close()
