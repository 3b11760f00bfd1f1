"""The simulated world: persons, households, schools, the live roster, screenings, and what each
source delivers on a day. population.py builds the first day, dynamics.py moves it forward."""

from __future__ import annotations

import heapq
import random
from collections import Counter
from datetime import date
from decimal import Decimal

from equity.synth.geography import Reference
from equity.synth.ids import IdFactory
from equity.synth.model import EnrolRecord, Household, Person, RegistryEvent, School, Screening
from equity.synth.names import school_name
from equity.synth.params import Params

AFFILIATION_DIGIT = {"OBEC": "1", "OPEC": "2", "DLA": "3", "BPP": "4", "OVEC": "5", "ONIE": "6"}
TAK = "63"
# Provinces on a land border (Myanmar, Laos, Cambodia, Malaysia).
BORDER_PROVINCES = frozenset((
    "22", "23", "27", "31", "32", "33", "34", "38", "42", "43", "48", "49", "50", "53", "55",
    "56", "57", "58", "63", "65", "70", "71", "76", "77", "85", "86", "90", "91", "95", "96",
))
KHM_BORDER = frozenset(("22", "23", "27", "31", "32", "33"))
LAO_BORDER = frozenset(("34", "38", "42", "43", "48", "49", "53", "55", "56", "65"))
# Household income level by province, relative to the national median (rough regional pattern).
# The poorest provinces (Mae Hong Son 58, Tak 63, the deep South 94-96) are set so that their share
# of extremely poor screened children reaches ~35-45 %, as in the means-test statistics, against a
# few % in Bangkok (docs/generator.md).
INCOME_FACTOR = {"10": 1.8, "11": 1.4, "12": 1.4, "13": 1.4, "58": 0.45, "63": 0.5,
                 "94": 0.55, "95": 0.6, "96": 0.5}
# ... where poor households are also more deprived (Params.remote_deprivation_factor).
REMOTE_POOR_PROVINCES = frozenset(("58", "63", "94", "95", "96"))
# Population weight of a province = its number of subdistricts x this boost (Bangkok, its ring).
PROVINCE_BOOST = {"10": 3.0, "11": 1.5, "12": 1.5, "13": 1.5, "20": 1.3}
REGION_FACTOR = {"1": 1.1, "2": 1.2, "3": 0.75, "4": 0.75, "5": 0.8, "6": 0.9, "7": 1.0,
                 "8": 1.05, "9": 1.0}
TERMINAL_GRADES = ("P6", "M3", "M6", "V3")
NEXT_GRADE = {
    "K1": "K2", "K2": "K3", "K3": "P1", "P1": "P2", "P2": "P3", "P3": "P4", "P4": "P5",
    "P5": "P6", "M1": "M2", "M2": "M3", "M4": "M5", "M5": "M6", "V1": "V2", "V2": "V3",
}


def grade_for_age(age_at_year_start: int, vocational: bool) -> str | None:
    """Grade by completed age on 16 May: 3 -> K1, 6 -> P1, 12 -> M1, 17 -> M6 (V1-V3 at 15-17)."""
    a = age_at_year_start
    if a < 3 or a > 18:
        return None
    if a <= 5:
        return f"K{a - 2}"
    if a <= 11:
        return f"P{a - 5}"
    if a == 18:
        return "V3" if vocational else "M6"  # one year behind
    if vocational and a >= 15:
        return f"V{a - 14}"
    return f"M{a - 11}"


class World:
    def __init__(self, params: Params, ref: Reference, pol: dict[str, int], seed: int | str,
                 start: date, shard=None, hh_seq: int = 0, screening_seq: int = 0):
        """`shard` (an equity.synth.shards.Shard) restricts the world to its provinces; `hh_seq` and
        `screening_seq` continue the household / screening id sequences of the previous shard."""
        self.p = params
        self.ref = ref
        self.pol = pol
        self.rng = random.Random(seed)
        self.start = start
        self.ids = IdFactory(self.rng)
        self.persons: dict[str, Person] = {}
        self.person_ids: list[str] = []
        self.households: list[Household] = []
        self.schools: dict[str, School] = {}
        self._school_at: dict[tuple[str, str], str] = {}
        self._school_seq: Counter[str] = Counter()
        self.roster: dict[tuple[str, str], EnrolRecord] = {}
        self.roster_keys: list[tuple[str, str]] = []   # for random picks (may hold removed keys)
        self.schools_of: dict[str, list[str]] = {}      # person -> school codes ever on the roster
        self.screenings: dict[str, Screening] = {}      # live (delivered, not withdrawn)
        self.screening_ids: list[str] = []              # for random picks (may hold withdrawn)
        self._screening_seq = screening_seq
        self._hh_seq = hh_seq
        self.pending: list[tuple[date, int, str, tuple]] = []
        self._pending_seq = 0
        self.counts: Counter[str] = Counter()
        self.floor_today = 0  # set each day by dynamics.step
        # what the sources deliver for the current day
        self.today_registry: list[RegistryEvent] = []
        self.today_welfare: list[Screening] = []
        self.touched_today: set[str] = set()  # person and screening ids in today's deltas
        subs = list(ref.subdistricts.values())
        self.subs_by_province: dict[str, list[str]] = {}
        self.subs_by_district: dict[str, list[str]] = {}
        for s in subs:
            self.subs_by_province.setdefault(s.province_code, []).append(s.code)
            self.subs_by_district.setdefault(s.district_code, []).append(s.code)
        self.provinces = sorted(self.subs_by_province)
        self.shard = shard
        if shard is not None:  # a province shard: everything drawn stays in its provinces
            self.provinces = sorted(shard.provinces)
        # population weight of a province: its subdistricts, Bangkok and its ring boosted
        self.province_weights = [len(self.subs_by_province[pc]) * PROVINCE_BOOST.get(pc, 1.0)
                                 for pc in self.provinces]
        self.border = sorted(pc for pc in BORDER_PROVINCES if pc in self.subs_by_province)

    # --- areas --------------------------------------------------------------------------------
    def lao(self, sub: str) -> str:
        return self.ref.subdistricts[sub].lao_code

    def lao_type(self, sub: str) -> str:
        return self.ref.laos[self.lao(sub)].lao_type

    def pick_subdistrict(self, province: str | None = None) -> str:
        if province is None:
            province = self.rng.choices(self.provinces, self.province_weights)[0]
        return self.rng.choice(self.subs_by_province[province])

    def pick_migrant_province(self) -> str:
        if self.shard is not None:
            return self.rng.choices(self.shard.migrant_provinces, self.shard.migrant_weights)[0]
        if self.rng.random() < self.p.g_code_tak_share:
            return TAK
        return self.rng.choice(self.border)

    def income_factor(self, province: str) -> float:
        return INCOME_FACTOR.get(province, REGION_FACTOR[province[0]])

    # --- schools ------------------------------------------------------------------------------
    def school(self, kind: str, sub: str) -> School:
        """The school of a kind serving a subdistrict (created on first use)."""
        s = self.ref.subdistricts[sub]
        area = {"primary": sub, "private": sub, "secondary": s.district_code,
                "nonformal": s.district_code, "vocational": s.province_code}[kind]
        key = (kind, area)
        if key in self._school_at:
            return self.schools[self._school_at[key]]
        if kind in ("secondary", "nonformal"):
            site = self.subs_by_district[area][0]
        elif kind == "vocational":
            site = self.subs_by_district[area + "01"][0] if area + "01" in self.subs_by_district \
                else self.subs_by_province[area][0]
        else:
            site = sub
        affiliation = {"private": "OPEC", "secondary": "OBEC", "nonformal": "ONIE",
                       "vocational": "OVEC"}.get(kind, "")
        if kind == "primary":
            r = self.rng.random()
            lao_type = self.lao_type(sub)
            if lao_type in ("CITY", "TOWN") and r < 0.5 or lao_type == "SUBDISTRICT_MUNICIPALITY" and r < 0.25:
                affiliation = "DLA"
            elif lao_type == "SAO" and s.province_code in BORDER_PROVINCES and r < 0.15 + 0.25 * (
                    s.province_code == TAK):
                affiliation = "BPP"
            else:
                affiliation = "OBEC"
        self._school_seq[site] += 1
        seq = self._school_seq[site]
        code = AFFILIATION_DIGIT[affiliation] + site + f"{seq:03d}"
        site_ref = self.ref.subdistricts[site]
        name = school_name(affiliation, kind, site_ref.name, site_ref.district_name,
                           site_ref.province_name, seq)
        school = School(code, name, affiliation, site, kind)
        self.schools[code] = school
        self._school_at[key] = code
        return school

    def school_kind_for(self, grade: str, age: int, sub: str, allow_special: bool = True) -> str:
        if grade.startswith("V"):
            return "vocational"
        r = self.rng.random()
        if allow_special and age >= 13 and r < self.p.onie_share:
            return "nonformal"
        if allow_special and self.lao_type(sub) in ("CITY", "TOWN") and \
                self.rng.random() < self.p.private_share_urban:
            return "private"
        return "secondary" if grade.startswith("M") else "primary"

    def other_school(self, current: School, grade: str, sub: str) -> School:
        """A different school for the same grade near `sub` (a transfer destination)."""
        district = self.ref.subdistricts[sub].district_code
        province = district[:2]
        kind = current.kind if current.kind not in ("nonformal",) else (
            "secondary" if grade.startswith("M") else "primary")
        for _ in range(6):
            if kind == "vocational":
                cand_sub = self.pick_subdistrict()
            elif kind == "secondary":
                cand_sub = self.rng.choice(self.subs_by_province[province])
            else:
                cand_sub = self.rng.choice(self.subs_by_district[district])
            cand = self.school(kind, cand_sub)
            if cand.code != current.code:
                return cand
        cand = self.school("private", sub)
        return cand if cand.code != current.code else self.school("nonformal", sub)

    # --- roster -------------------------------------------------------------------------------
    def enrol(self, person: Person, school: School, grade: str, status_date: date,
              days_absent: int = 0) -> EnrolRecord:
        key = (person.pid, school.code)
        rec = EnrolRecord(person.pid, school.code, grade, "ENROLLED", status_date, days_absent,
                          person.disability, person.subdistrict)
        if key not in self.roster:
            self.roster_keys.append(key)
        codes = self.schools_of.setdefault(person.pid, [])
        if school.code not in codes:
            codes.append(school.code)
        self.roster[key] = rec
        return rec

    def enrolled_records(self, pid: str) -> list[EnrolRecord]:
        return [r for r in self.person_records(pid) if r.status == "ENROLLED"]

    def person_records(self, pid: str) -> list[EnrolRecord]:
        return [self.roster[(pid, c)] for c in self.schools_of.get(pid, ()) if (pid, c) in self.roster]

    def random_enrolled(self, accept=None) -> EnrolRecord | None:
        for _ in range(200):
            key = self.rng.choice(self.roster_keys)
            rec = self.roster.get(key)
            if rec and rec.status == "ENROLLED" and self.persons[rec.person_id].alive and (
                    accept is None or accept(rec)):
                return rec
        return None

    # --- registry -----------------------------------------------------------------------------
    def registry_event(self, person: Person, event: str, event_date: date,
                       sub: str | None = None, house_id: str | None = None) -> RegistryEvent:
        sub = sub or person.subdistrict
        ev = RegistryEvent(
            person.pid, person.reg_birth, 1 if person.sex == "M" else 2, person.nationality,
            house_id or person.house_id, sub, self.lao(sub), event, event_date,
            person.hh.mother_pid, person.hh.father_pid,
        )
        self.today_registry.append(ev)
        self.touched_today.add(person.pid)
        self.counts["registry_" + event] += 1
        return ev

    # --- welfare ------------------------------------------------------------------------------
    def next_screening_id(self) -> str:
        self._screening_seq += 1
        return f"WS{self._screening_seq:010d}"

    def next_household_id(self) -> str:
        self._hh_seq += 1
        return f"HH{self._hh_seq:09d}"

    def screening_of(self, person: Person, screened_on: date, sid: str | None = None,
                     income: Decimal | None = None) -> Screening:
        hh = person.hh
        return Screening(
            sid or self.next_screening_id(), person.pid, hh.hh_id, screened_on, hh.size,
            hh.income if income is None else income, hh.caregiver, hh.welfare_card, hh.housing,
            hh.electricity, hh.clean_water, hh.farm_land, hh.vehicle,
        )

    def deliver_screening(self, s: Screening) -> None:
        if s.action == "DELETE":
            self.screenings.pop(s.screening_id, None)
        else:
            if s.screening_id not in self.screenings:
                self.screening_ids.append(s.screening_id)
            self.screenings[s.screening_id] = s
        self.today_welfare.append(s)
        self.touched_today.add(s.screening_id)

    # --- pending actions ----------------------------------------------------------------------
    def schedule(self, when: date, kind: str, payload: tuple) -> None:
        self._pending_seq += 1
        heapq.heappush(self.pending, (when, self._pending_seq, kind, payload))

    def due(self, today: date) -> list[tuple[str, tuple]]:
        out = []
        while self.pending and self.pending[0][0] <= today:
            _, _, kind, payload = heapq.heappop(self.pending)
            out.append((kind, payload))
        return out

    def daily_count(self, rate: float, pool: int) -> int:
        """Events of one kind today: Poisson(rate * pool), at least today's share of the floor."""
        lam = rate * pool
        if lam > 50:
            n = max(0, round(self.rng.gauss(lam, lam ** 0.5)))
        else:
            n, prod, limit = 0, self.rng.random(), pow(2.718281828459045, -lam)
            while prod > limit:
                n += 1
                prod *= self.rng.random()
        return max(n, self.floor_today)
