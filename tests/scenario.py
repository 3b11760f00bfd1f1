"""One small hand-made scenario for the mart edge cases (tests/test_rules_edge_cases.py).

Every edge case is its own person (or a few), named in `Scenario.pid` (case name -> ID); the
deliveries are written byte for byte as EXTRACTS.md says (enrolment UTF-8 CSV and windows-874 DLA
parts, welfare Parquet with the contract's Arrow types, registry windows-874 pipe files) into a
landing folder:

    T0  = 2026-06-30  registry `full`, welfare `full`, enrolment snapshot (term 1)
    T0B = 2026-07-01  registry and welfare `full` re-statements; an enrolment snapshot whose gate
                      FAILED (so T0's stays the latest snapshot); a birthday falls on it
    T1  = 2026-11-14  registry delta, welfare delta, enrolment snapshot (term 2)
    T2  = 2026-11-20  registry delta, welfare delta, enrolment snapshot (term 2)

Unless a case says otherwise a person is born on 1 March, so their age is the same on every date.
Expectations live in the tests and come from docs/rules.md and MARTS.md, not from this file.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from equity.contracts import ENROLMENT, REGISTRY, WELFARE, national_id_check_digit
from equity.paths import SHIPPED_REFERENCE_DIR
from equity.synth.thaidates import be_compact, be_slash
from equity.synth.writers import WELFARE_SCHEMA

T0 = date(2026, 6, 30)
T0B = date(2026, 7, 1)
T1 = date(2026, 11, 14)
T2 = date(2026, 11, 20)
BUILD_DATES = (T0, T0B, T1, T2)
DELIVERY_DATES = (T0, T0B, T1, T2)
ROSTER_DATES = (T0, T1, T2)  # enrolment snapshots that pass their gate
# (source, extract_date) -> gate_status set after loading (every other batch: 'passed')
GATE_OVERRIDES = {("enrolment", T0B): "failed", ("registry", T2): "warned"}
TERM = {T0: (2569, 1), T0B: (2569, 1), T1: (2569, 2), T2: (2569, 2)}
BASELINE_DAY = date(2026, 1, 15)

# Reference geography (shipped set), province 63 Tak.
SUB_GENERAL = "630104"      # LAO 5630104 SAO หัวเดียด: where most cases live (no hand-counted row)
SUB_MOVE_FROM = "630105"    # LAO 5630105: only the mover lives here at first
SUB_MOVE_TO = "630106"      # LAO 5630106: only the mover lives here at the end
SUB_OUT_REG = "630107"      # LAO 5630107: registry address of the enrolled mover-out
SUB_OUT_HOME = "630108"     # LAO 5630108: that child's home on the school record
SUB_COUNTED = "630109"      # LAO 5630109: the LAO whose summary row is checked column by column
SUB_FAR = "630201"          # LAO 4630201 (district 6302): where the movers go
LAO_EMPTY = "2630601"       # เทศบาลนครแม่สอด: nobody in the scenario lives there


def _lao_of() -> dict[str, str]:
    with (SHIPPED_REFERENCE_DIR / "subdistricts.csv").open(encoding="utf-8-sig") as f:
        return {r["subdistrict_code"]: r["lao_code"] for r in csv.DictReader(f)}


LAO_OF = _lao_of()


@dataclass(frozen=True)
class School:
    code: str
    name: str
    affiliation: str
    subdistrict: str


SCHOOL_A = School("1063010001", "โรงเรียนบ้านระแหง", "OBEC", "630101")
SCHOOL_B = School("1063010002", "โรงเรียนเทศบาล ๑ \"วัดดอนแก้ว\"", "DLA", "630101")
SCHOOL_C = School("1063020003", "โรงเรียนตากออกวิทยา, เอกชน", "OPEC", "630201")
SCHOOL_D = School("1063010009", "โรงเรียนบ้านวังหิน", "OBEC", "630109")  # in the counted LAO
SCHOOL_V = School("1063010010", "วิทยาลัยเทคนิคตาก", "OVEC", "630101")


def nid(n: int, category: str = "1") -> str:
    """A valid 13-digit national ID (check digit per EXTRACTS.md) numbered n."""
    body = f"{category}6300{n:07d}"
    return body + str(national_id_check_digit(body))


def gcode(n: int) -> str:
    return f"G6300{n:08d}"


def born(age: int) -> date:
    """Born 1 March: `age` completed years on every scenario date."""
    return date(2026 - age, 3, 1)


def child_key(person_id: str, key: str) -> str:
    return hmac.new(key.encode("utf-8"), person_id.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass
class Scenario:
    enrolment: dict[date, list[list]] = field(default_factory=lambda: {d: [] for d in DELIVERY_DATES})
    registry: dict[date, list[list[str]]] = field(default_factory=lambda: {d: [] for d in DELIVERY_DATES})
    welfare: dict[date, list[dict]] = field(default_factory=lambda: {d: [] for d in DELIVERY_DATES})
    pid: dict[str, str] = field(default_factory=dict)  # case name -> person ID

    # --- the three sources ------------------------------------------------------------------------
    def reg(self, day: date, pid: str, event: str, event_date: date, birth: date | str, sex: str = "M",
            sub: str | None = SUB_GENERAL, nationality: str = "THA", lao: str | None = None) -> None:
        """A registry event in the delivery of `day`; birth is a date or the raw BE `YYYYMMDD` text."""
        birth_be = birth if isinstance(birth, str) else be_compact(birth)
        house = f"6301{int(pid[-8:-1]):07d}"  # required on every event, even without an address
        self.registry[day].append([
            pid, birth_be, "1" if sex == "M" else "2", nationality, house, sub or "",
            lao or (LAO_OF[sub] if sub else ""), event, be_compact(event_date), "", "",
        ])

    def enrol(self, day: date, pid: str, school: School, status: str, status_date: date, grade: str,
              birth: date, sex: str = "M", home: str = SUB_GENERAL, days_absent: int = 0,
              disability: int = 0) -> None:
        year, term = TERM[day]
        self.enrolment[day].append([
            pid, school.code, school.name, school.affiliation, school.subdistrict, year, term, grade,
            status, status_date.isoformat(), "เด็กชาย" if sex == "M" else "เด็กหญิง", "ทดสอบ", sex,
            be_slash(birth), disability, home, days_absent,
        ])

    def screen(self, day: date, sid: str, pid: str, screened_on: date, size: int, income: str,
               caregiver: str = "PARENTS", card: bool = False, housing: str = "OWN",
               electricity: bool = True, clean_water: bool = True, farm_land: bool = True,
               vehicle: str = "MOTORBIKE", action: str = "UPSERT") -> None:
        self.welfare[day].append(dict(
            screening_id=sid, person_id=pid, household_id=f"HH{sid}", screened_on=screened_on,
            household_size=size, household_income_month=Decimal(income), caregiver=caregiver,
            has_welfare_card=card, housing=housing, electricity=electricity, clean_water=clean_water,
            farm_land=farm_land, vehicle=vehicle, action=action,
        ))

    # --- conveniences ------------------------------------------------------------------------------
    def person(self, case: str, pid: str) -> str:
        assert case not in self.pid and pid not in self.pid.values(), case
        self.pid[case] = pid
        return pid

    def baseline(self, pid: str, birth: date | str, sex: str = "M", sub: str = SUB_GENERAL,
                 nationality: str = "THA") -> None:
        self.reg(T0, pid, "BASELINE", BASELINE_DAY, birth, sex, sub, nationality)

    def enrolled_throughout(self, pid: str, school: School, grade: str, birth: date, **kw) -> None:
        for day in ROSTER_DATES:
            self.enrol(day, pid, school, "ENROLLED", date(2026, 5, 16), grade, birth, **kw)

    # --- landing zone ------------------------------------------------------------------------------
    def write(self, root: Path) -> Path:
        for day in DELIVERY_DATES:
            ymd = day.strftime("%Y%m%d")
            rows = self.enrolment[day]
            if rows:
                main = [r for r in rows if r[3] != "DLA"]
                dla = [r for r in rows if r[3] == "DLA"]
                files = {f"enrolment_{ymd}_001.csv": (_csv(main, "utf-8"), "utf-8", len(main))}
                if dla:
                    files[f"enrolment_dla_{ymd}_001.csv"] = (_csv(dla, "cp874"), "windows-874", len(dla))
                _deliver(root, "enrolment", day, "snapshot", files)

            events = self.registry[day]
            if events:
                text = "|".join(REGISTRY.columns) + "\n" + "".join("|".join(e) + "\n" for e in events)
                _deliver(root, "registry", day, "full" if day in (T0, T0B) else "delta",
                         {f"registry_{ymd}_001.txt": (text.encode("cp874"), "windows-874", len(events))})

            screenings = self.welfare[day]
            if screenings:
                table = pa.Table.from_pylist(screenings, schema=WELFARE_SCHEMA)
                buf = io.BytesIO()
                pq.write_table(table, buf)
                _deliver(root, "welfare", day, "full" if day in (T0, T0B) else "delta",
                         {f"welfare_{ymd}_001.parquet": (buf.getvalue(), None, len(screenings))})
        return root


def _csv(rows: list[list], encoding: str) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n" if encoding == "cp874" else "\n")
    w.writerow(ENROLMENT.columns)
    w.writerows(rows)
    return out.getvalue().encode(encoding)


def _deliver(root: Path, source: str, day: date, mode: str, files: dict[str, tuple[bytes, str | None, int]]):
    folder = root / source / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, (data, encoding, rows) in files.items():
        (folder / name).write_bytes(data)
        entries.append({"name": name, "encoding": encoding, "sha256": hashlib.sha256(data).hexdigest(),
                        "rows": rows})
    (folder / "_manifest.json").write_text(json.dumps({  # written last
        "source": source, "extract_date": day.isoformat(), "schema_version": "1.0", "mode": mode,
        "revision": 1, "produced_at": f"{day.isoformat()}T23:59:00+07:00", "files": entries,
    }))


assert tuple(WELFARE_SCHEMA.names) == WELFARE.columns


# =================================================================================================
# The cases. Numbers only keep IDs distinct; names are what the tests use.
# =================================================================================================

def build_scenario() -> Scenario:  # noqa: PLR0915 - one flat list of cases reads best
    s = Scenario()
    A, B, C, D, V = SCHOOL_A, SCHOOL_B, SCHOOL_C, SCHOOL_D, SCHOOL_V
    may16 = date(2026, 5, 16)

    # --- enrolment history ------------------------------------------------------------------------
    p = s.person("dropout_vanishes", nid(1))
    s.baseline(p, born(14))
    s.enrol(T0, p, A, "ENROLLED", may16, "M2", born(14), disability=2)
    s.enrol(T1, p, A, "DROPPED_OUT", date(2026, 11, 10), "M2", born(14), disability=2)
    # T2: not on any roll

    p = s.person("left_every_roll", nid(2))
    s.baseline(p, born(12))
    s.enrol(T0, p, C, "ENROLLED", may16, "P6", born(12))
    # T1, T2: absent, no status change ever delivered

    p = s.person("transfer_29_days", nid(3))
    s.baseline(p, born(10))
    s.enrol(T0, p, A, "ENROLLED", may16, "P4", born(10))
    s.enrol(T1, p, A, "TRANSFERRED", date(2026, 10, 22), "P4", born(10))  # T2 - 29 days
    s.enrol(T2, p, A, "TRANSFERRED", date(2026, 10, 22), "P4", born(10), days_absent=25)

    p = s.person("transfer_30_days", nid(4))
    s.baseline(p, born(10))
    s.enrol(T0, p, A, "ENROLLED", may16, "P5", born(10))
    s.enrol(T1, p, A, "TRANSFERRED", date(2026, 10, 21), "P5", born(10))  # T2 - 30 days
    s.enrol(T2, p, A, "TRANSFERRED", date(2026, 10, 21), "P5", born(10))

    p = s.person("transfer_then_vanishes", nid(5))
    s.baseline(p, born(11))
    s.enrol(T0, p, B, "ENROLLED", may16, "P5", born(11))
    s.enrol(T1, p, B, "TRANSFERRED", date(2026, 10, 16), "P5", born(11))  # T1 - 29, T2 - 35 days
    # T2: absent

    p = s.person("reenrols", nid(6))
    s.baseline(p, born(10))
    s.enrol(T0, p, A, "ENROLLED", may16, "P4", born(10))
    s.enrol(T1, p, A, "DROPPED_OUT", date(2026, 11, 3), "P4", born(10))
    s.enrol(T2, p, A, "ENROLLED", date(2026, 11, 18), "P4", born(10))

    p = s.person("double_enrolment", nid(7))
    s.baseline(p, born(13))
    for day in ROSTER_DATES:  # the later status_date is on the smaller school code
        s.enrol(day, p, C, "ENROLLED", may16, "M1", born(13), days_absent=3)
        s.enrol(day, p, A, "ENROLLED", date(2026, 6, 2), "M2", born(13), days_absent=20, disability=4)

    p = s.person("double_enrolment_tie", nid(8))
    s.baseline(p, born(13))
    for day in ROSTER_DATES:
        s.enrol(day, p, C, "ENROLLED", may16, "M1", born(13), days_absent=1)
        s.enrol(day, p, A, "ENROLLED", may16, "M2", born(13), days_absent=2)

    p = s.person("transferred_then_enrolled_elsewhere", nid(60))
    s.baseline(p, born(12))
    s.enrol(T0, p, A, "ENROLLED", may16, "P6", born(12))
    for day in (T1, T2):  # one roll says TRANSFERRED, the new school's roll says ENROLLED
        s.enrol(day, p, A, "TRANSFERRED", date(2026, 11, 5), "P6", born(12))
        s.enrol(day, p, C, "ENROLLED", date(2026, 11, 6), "P6", born(12), days_absent=4)

    p = s.person("latest_record_tie_two_statuses", nid(61))
    s.baseline(p, born(12))
    s.enrol(T0, p, A, "ENROLLED", may16, "P6", born(12))
    s.enrol(T2, p, A, "DROPPED_OUT", date(2026, 11, 10), "P6", born(12))
    s.enrol(T2, p, C, "TRANSFERRED", date(2026, 11, 10), "M1", born(12))  # greater school_code

    p = s.person("never_enrolled", nid(9))
    s.baseline(p, born(9))
    s.enrol(T0B, p, A, "ENROLLED", may16, "P3", born(9))  # only on the roster whose gate failed

    p = s.person("latest_snapshot_beats_later_status_date", nid(69))
    s.baseline(p, born(12))
    s.enrol(T0, p, A, "ENROLLED", may16, "P6", born(12))
    s.enrol(T1, p, A, "DROPPED_OUT", date(2026, 11, 10), "P6", born(12))
    s.enrol(T2, p, C, "TRANSFERRED", date(2026, 10, 25), "P6", born(12))  # late record, older date

    p = s.person("k3_in_transfer", nid(70))
    s.baseline(p, born(5))
    s.enrol(T2, p, A, "TRANSFERRED", date(2026, 11, 10), "K3", born(5))

    p = s.person("k3_transfer_expired", nid(71))
    s.baseline(p, born(5))
    s.enrol(T2, p, A, "TRANSFERRED", date(2026, 10, 1), "K3", born(5))

    p = s.person("k2_dropout", nid(72))
    s.baseline(p, born(4))
    s.enrol(T2, p, A, "DROPPED_OUT", date(2026, 11, 10), "K2", born(4))

    p = s.person("deceased_at_one_school_enrolled_at_other", nid(73))
    s.baseline(p, born(10))
    s.enrol(T2, p, C, "ENROLLED", may16, "P4", born(10))
    s.enrol(T2, p, A, "DECEASED", date(2026, 11, 5), "P4", born(10))

    p = s.person("old_deceased_record_enrolled_since", nid(74))
    s.baseline(p, born(10))
    s.enrol(T2, p, A, "DECEASED", date(2026, 5, 20), "P4", born(10))
    s.enrol(T2, p, C, "ENROLLED", date(2026, 11, 1), "P4", born(10))

    p = s.person("completed_m6", nid(10))
    s.baseline(p, born(17))
    s.enrol(T0, p, A, "GRADUATED", date(2026, 3, 31), "M6", born(17))
    # T1, T2: absent (finished school)

    p = s.person("completed_v3_aged_18", nid(11))
    s.baseline(p, born(18))
    s.enrol(T2, p, V, "GRADUATED", date(2026, 11, 2), "V3", born(18))

    p = s.person("not_continued_p6", nid(12))
    s.baseline(p, born(12))
    s.enrol(T0, p, A, "GRADUATED", date(2026, 3, 31), "P6", born(12))

    p = s.person("not_continued_m3", nid(13))
    s.baseline(p, born(15))
    s.enrol(T0, p, A, "GRADUATED", date(2026, 3, 31), "M3", born(15))

    p = s.person("not_school_age_4", nid(14))
    s.baseline(p, born(4))

    p = s.person("dropout_aged_18", nid(15))
    s.baseline(p, born(18))
    s.enrol(T0, p, A, "ENROLLED", may16, "M5", born(18))
    s.enrol(T1, p, A, "DROPPED_OUT", date(2026, 11, 4), "M5", born(18))

    # --- identity and birth dates -----------------------------------------------------------------
    p = s.person("gcode_only_at_school", gcode(16))
    s.enrolled_throughout(p, B, "M2", born(14), sex="F", home=SUB_GENERAL)
    s.screen(T0, "WS0016", p, date(2026, 6, 1), 3, "6000.00")

    p = s.person("gcode_dropout", gcode(78))
    s.enrol(T0, p, A, "ENROLLED", may16, "P5", born(11))
    s.enrol(T1, p, A, "DROPPED_OUT", date(2026, 11, 10), "P5", born(11))

    p = s.person("gcode_record_changes", gcode(79))
    s.enrol(T0, p, A, "ENROLLED", may16, "M1", date(2012, 3, 1), home=SUB_GENERAL)
    for day in (T1, T2):  # the school corrected the birth date; the family moved
        s.enrol(day, p, A, "ENROLLED", may16, "M1", date(2013, 3, 1), home=SUB_FAR)

    p = s.person("category_0_id", nid(17, category="0"))
    s.baseline(p, born(11), sex="F", nationality="MMR")
    s.enrolled_throughout(p, A, "P5", born(11), sex="F")

    p = s.person("birth_month_unknown", nid(18))
    s.baseline(p, "25660000")  # -> 1 July 2023: age 2 on 30 June 2026, 3 on 1 July 2026

    p = s.person("birth_month_unknown_day_known", nid(19))
    s.baseline(p, "25660020")  # month unknown: 1 July whatever the day part

    p = s.person("birth_day_unknown", nid(20))
    s.baseline(p, "25531100")  # -> 15 Nov 2010: 15 on 14 Nov 2026, 16 on 20 Nov 2026
    s.enrolled_throughout(p, A, "M4", date(2010, 11, 15))

    p = s.person("birth_day_unknown_turns_19", nid(21))
    s.baseline(p, "25500800")  # -> 15 Aug 2007: 18 on 30 June 2026 (child), 19 from 15 Aug

    # birthdays on the as_of_date itself (completed years): 5 -> 6, 17 -> 18, 2 -> 3, 18 -> 19 on T2
    for case, n, year in (("turns_6_on_T2", 62, 2020), ("turns_18_on_T2", 63, 2008),
                          ("turns_3_on_T2", 64, 2023), ("turns_19_on_T2", 65, 2007)):
        s.baseline(s.person(case, nid(n)), date(year, 11, 20))

    p = s.person("registry_correction", nid(66))
    s.baseline(p, date(2015, 3, 1), sex="M")
    s.reg(T1, p, "CORRECTION", date(2026, 11, 12), date(2014, 3, 1), sex="F")

    p = s.person("registry_school_birth_disagree", nid(22))
    s.baseline(p, date(2012, 3, 1), sex="F")  # registry: 14, female
    s.enrolled_throughout(p, A, "P5", date(2015, 3, 1), sex="M")  # school: 11, male

    # --- registry: moves and deaths ---------------------------------------------------------------
    p = s.person("moves_between_laos", nid(23))
    s.baseline(p, born(11), sub=SUB_MOVE_FROM)
    s.reg(T1, p, "MOVE_OUT", date(2026, 11, 10), born(11), sub=SUB_MOVE_FROM)
    s.reg(T2, p, "MOVE_IN", date(2026, 11, 18), born(11), sub=SUB_MOVE_TO)

    p = s.person("move_out_and_in_same_day", nid(67))
    s.baseline(p, born(11))
    s.reg(T1, p, "MOVE_OUT", date(2026, 11, 11), born(11))  # two events, one date, one delivery:
    s.reg(T1, p, "MOVE_IN", date(2026, 11, 11), born(11), sub=SUB_FAR)  # the later line decides

    p = s.person("move_in_and_out_same_day", nid(75))
    s.baseline(p, born(11))
    s.reg(T1, p, "MOVE_IN", date(2026, 11, 11), born(11), sub=SUB_FAR)  # the later line, MOVE_OUT,
    s.reg(T1, p, "MOVE_OUT", date(2026, 11, 11), born(11), sub=SUB_FAR)  # decides: no address

    p = s.person("same_day_events_in_two_deliveries", nid(76))
    s.baseline(p, born(11))
    s.reg(T1, p, "MOVE_IN", date(2026, 11, 11), born(11), sub=SUB_FAR)
    s.reg(T2, p, "MOVE_OUT", date(2026, 11, 11), born(11), sub=SUB_FAR)  # later delivery decides

    p = s.person("moved_out_enrolled_birth_disagree", nid(77))
    s.baseline(p, date(2014, 3, 1), sex="F")  # registry: 12, female
    s.reg(T1, p, "MOVE_OUT", date(2026, 11, 10), date(2014, 3, 1), sex="F")
    s.enrolled_throughout(p, A, "P5", date(2016, 3, 1), sex="M")  # school: 10, male

    p = s.person("registry_lao_differs_from_reference", nid(80))
    s.baseline(p, born(11))
    s.reg(T1, p, "MOVE_IN", date(2026, 11, 10), born(11), sub="630102", lao="4630103")

    p = s.person("dropped_by_registry_full", nid(81))
    s.baseline(p, born(11))  # not re-stated by the T0B full

    p = s.person("registry_event_dated_ahead", nid(68))
    s.baseline(p, born(11))
    s.reg(T1, p, "MOVE_IN", date(2026, 11, 18), born(11), sub=SUB_FAR)  # delivered on T1, dated T2 - 2

    p = s.person("moved_out_not_enrolled", nid(24))
    s.baseline(p, born(12))
    s.reg(T1, p, "MOVE_OUT", date(2026, 11, 10), born(12), sub=None)  # address may be blank

    p = s.person("moved_out_enrolled", nid(25))
    s.baseline(p, born(10), sub=SUB_OUT_REG)
    s.reg(T1, p, "MOVE_OUT", date(2026, 11, 10), born(10), sub=SUB_OUT_REG)
    s.enrolled_throughout(p, A, "P5", born(10), home=SUB_OUT_HOME)

    p = s.person("moved_away_still_enrolled", nid(26))
    s.baseline(p, born(13))
    s.reg(T2, p, "MOVE_IN", date(2026, 11, 17), born(13), sub=SUB_FAR)
    s.enrolled_throughout(p, A, "M1", born(13), home=SUB_GENERAL)

    p = s.person("registry_death", nid(27))
    s.baseline(p, born(9))
    s.reg(T1, p, "DEATH", date(2026, 11, 12), born(9), sub=None)
    s.enrolled_throughout(p, A, "P3", born(9))  # the school has not heard yet

    p = s.person("enrolment_deceased", nid(28))
    s.baseline(p, born(9))
    s.enrol(T0, p, A, "ENROLLED", may16, "P3", born(9))
    s.enrol(T1, p, A, "DECEASED", date(2026, 11, 5), "P3", born(9))
    # T2: off the roll; the registry still shows an address

    # --- welfare ------------------------------------------------------------------------------------
    def enrolled_child(case: str, n: int, age: int = 10, grade: str = "P4", **kw) -> str:
        p = s.person(case, nid(n))
        s.baseline(p, born(age))
        s.enrolled_throughout(p, A, grade, born(age), **kw)
        return p

    p = enrolled_child("screening_goes_stale", 30)
    s.screen(T0, "WS0030", p, date(2024, 11, 19), 3, "6000.00")  # 731 days before T2

    p = enrolled_child("screening_730_days_old", 31)
    s.screen(T0, "WS0031", p, date(2024, 11, 20), 3, "6000.00")  # exactly 730 days before T2

    p = enrolled_child("screening_withdrawn", 32)
    s.screen(T0, "WS0032A", p, date(2026, 5, 1), 2, "3000.00")
    s.screen(T0, "WS0032B", p, date(2025, 5, 1), 3, "30000.00")
    s.screen(T1, "WS0032A", p, date(2026, 5, 1), 2, "3000.00", action="DELETE")

    p = enrolled_child("screening_corrected", 33)
    s.screen(T0, "WS0033", p, date(2026, 5, 1), 4, "12000.00")
    s.screen(T1, "WS0033", p, date(2026, 5, 1), 4, "12004.00")

    p = s.person("age_4_extremely_poor", nid(48))
    s.baseline(p, born(4))
    s.screen(T0, "WS0048", p, date(2026, 6, 1), 4, "4000.00", caregiver="GRANDPARENTS", housing="INFORMAL")

    p = enrolled_child("screening_withdrawn_then_restored", 46)
    s.screen(T0, "WS0046", p, date(2026, 6, 1), 3, "6000.00")
    s.screen(T1, "WS0046", p, date(2026, 6, 1), 3, "6000.00", action="DELETE")
    s.screen(T2, "WS0046", p, date(2026, 6, 1), 3, "6000.00")

    p = enrolled_child("screening_dropped_by_full", 47)
    s.screen(T0, "WS0047", p, date(2026, 6, 1), 3, "6000.00")  # not re-stated by the T0B full

    p = enrolled_child("screenings_same_day", 34)
    s.screen(T0, "WS0034B", p, date(2026, 6, 1), 3, "30000.00", card=False)  # greater id, first line
    s.screen(T0, "WS0034A", p, date(2026, 6, 1), 3, "6000.00", card=True)

    p = enrolled_child("income_at_poverty_line", 35)
    s.screen(T0, "WS0035", p, date(2026, 6, 1), 3, "9000.00", card=True)

    p = enrolled_child("income_just_above_line", 36)
    s.screen(T0, "WS0036", p, date(2026, 6, 1), 3, "9000.03")

    p = enrolled_child("income_above_line_rounds_to_it", 37)
    s.screen(T0, "WS0037", p, date(2026, 6, 1), 3, "9000.01")

    p = enrolled_child("absent_17_poor", 38, days_absent=17)
    s.screen(T0, "WS0038", p, date(2026, 6, 1), 3, "6000.00")

    p = enrolled_child("absent_18_poor", 39, days_absent=18)
    s.screen(T0, "WS0039", p, date(2026, 6, 1), 3, "6000.00")

    p = enrolled_child("absent_25_not_poor", 40, days_absent=25)
    s.screen(T0, "WS0040", p, date(2026, 6, 1), 3, "30000.00")

    p = enrolled_child("deprivations_2", 41)
    s.screen(T0, "WS0041", p, date(2026, 6, 1), 1, "2000.00", electricity=False, housing="INFORMAL")

    p = enrolled_child("deprivations_1", 42)
    s.screen(T0, "WS0042", p, date(2026, 6, 1), 1, "2000.00", caregiver="GRANDPARENTS")

    p = enrolled_child("no_land_no_vehicle_is_one", 43)
    s.screen(T0, "WS0043", p, date(2026, 6, 1), 1, "2000.00", farm_land=False, vehicle="NONE")

    p = enrolled_child("no_land_no_vehicle_no_water", 44)
    s.screen(T0, "WS0044", p, date(2026, 6, 1), 1, "2000.00", farm_land=False, vehicle="NONE",
             clean_water=False)

    p = enrolled_child("deprived_but_above_line", 45)
    s.screen(T0, "WS0045", p, date(2026, 6, 1), 1, "3000.01", caregiver="NONE", housing="INFORMAL",
             electricity=False, clean_water=False, farm_land=False, vehicle="NONE")

    # --- the counted LAO (5630109), checked column by column at T2 ----------------------------------
    p = s.person("lao_k2_disabled", nid(50))
    s.baseline(p, born(4), sub=SUB_COUNTED)
    s.enrolled_throughout(p, A, "K2", born(4), home=SUB_COUNTED, disability=3)

    p = s.person("lao_poor_chronic", nid(51))
    s.baseline(p, born(10), sub=SUB_COUNTED)
    s.enrolled_throughout(p, D, "P4", born(10), home=SUB_COUNTED, days_absent=20)
    s.screen(T0, "WS0051", p, date(2026, 6, 1), 3, "6000.00")

    p = s.person("lao_never_enrolled_extreme", nid(52))
    s.baseline(p, born(9), sub=SUB_COUNTED)
    s.screen(T0, "WS0052", p, date(2026, 6, 1), 2, "2000.00", electricity=False, clean_water=False)

    p = s.person("lao_age_4_home", nid(53))
    s.baseline(p, born(4), sub=SUB_COUNTED)

    p = s.person("lao_age_18_home", nid(54))
    s.baseline(p, born(18), sub=SUB_COUNTED)

    p = s.person("lao_enrolled_not_poor", nid(55))
    s.baseline(p, born(14), sub=SUB_COUNTED)
    s.enrolled_throughout(p, D, "M2", born(14), home=SUB_COUNTED, days_absent=1)
    s.screen(T0, "WS0055", p, date(2026, 6, 1), 3, "30000.00")

    p = s.person("lao_age_2", nid(56))
    s.baseline(p, born(2), sub=SUB_COUNTED)

    p = s.person("lao_age_19", nid(57))
    s.baseline(p, born(19), sub=SUB_COUNTED)

    p = s.person("lao_gcode_home", gcode(58))
    s.enrolled_throughout(p, D, "P1", born(7), home=SUB_COUNTED)

    p = s.person("lao_school_there_lives_elsewhere", nid(59))
    s.baseline(p, born(8))  # registry address in SUB_GENERAL
    s.enrolled_throughout(p, D, "P2", born(8), home=SUB_COUNTED)

    # The welfare agency re-states its source on T0B (a `full`): every screening of T0 again, in the
    # same order, but for one it no longer holds.
    dropped = s.pid["screening_dropped_by_full"]
    s.welfare[T0B] = [dict(r) for r in s.welfare[T0] if r["person_id"] != dropped]
    # So does the registry: every BASELINE of T0 again but one.
    dropped = s.pid["dropped_by_registry_full"]
    s.registry[T0B] = [list(e) for e in s.registry[T0] if e[0] != dropped]
    return s
