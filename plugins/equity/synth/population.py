"""The world on the first extract date: households, persons, rolls, in-term history, screenings."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from equity.synth.model import Household, Person
from equity.synth.names import person_name
from equity.synth.thaidates import academic_year_start, age_on, be_compact, school_days_between, term_of
from equity.synth.world import (
    BORDER_PROVINCES,
    KHM_BORDER,
    LAO_BORDER,
    REMOTE_POOR_PROVINCES,
    TAK,
    TERMINAL_GRADES,
    World,
    grade_for_age,
)

CENT = Decimal("0.01")


def _money(x: float) -> Decimal:
    return Decimal(str(x)).quantize(CENT, rounding=ROUND_HALF_UP)


def household_means(w: World, hh: Household, province: str) -> None:
    """Draw income and the deprivation items; poorer households are more deprived."""
    rng, p = w.rng, w.p
    line = Decimal(w.pol["poverty_line_thb"])
    size = hh.size
    r = rng.random()
    if r < p.boundary_exact_share:
        income = line * size
    elif r < p.boundary_exact_share + p.boundary_cent_share:
        income = (line + CENT) * size
    elif r < p.boundary_exact_share + p.boundary_cent_share + p.boundary_round_share:
        income = line * size + CENT
    else:
        per_capita = p.income_median_per_capita * w.income_factor(province) * rng.lognormvariate(
            0, p.income_sigma)
        income = _money(per_capita * size)
        if rng.random() < 0.02:
            income = Decimal("0.00")  # no income at all: exists in the means test
    poor = income <= line * size
    k = p.remote_deprivation_factor if poor and province in REMOTE_POOR_PROVINCES else 1.0

    def chance(if_poor: float, otherwise: float) -> float:
        return min(0.95, if_poor * k) if poor else otherwise

    hh.income = income
    hh.electricity = not rng.random() < chance(0.08, 0.02)
    hh.clean_water = not rng.random() < chance(0.30, 0.10)
    hh.housing = "INFORMAL" if rng.random() < chance(0.20, 0.05) else rng.choices(
        ("OWN", "RENT", "RELATIVE"), (0.6, 0.25, 0.15))[0]
    if rng.random() < chance(0.35, 0.12):
        hh.farm_land, hh.vehicle = False, "NONE"
    else:
        hh.farm_land = rng.random() < 0.5
        hh.vehicle = rng.choices(("MOTORBIKE", "CAR", "TRUCK", "NONE"), (0.6, 0.2, 0.1, 0.1))[0]
        if not hh.farm_land and hh.vehicle == "NONE":
            hh.vehicle = "MOTORBIKE"
    if rng.random() < chance(0.40, 0.20):
        hh.caregiver = rng.choices(("GRANDPARENTS", "RELATIVES", "OTHER", "NONE"),
                                   (0.6, 0.25, 0.1, 0.05))[0]
    else:
        hh.caregiver = rng.choices(("PARENTS", "ONE_PARENT"), (0.7, 0.3))[0]
    hh.welfare_card = rng.random() < (0.55 if poor else 0.15)


REGISTRY_MAX_AGE = 24  # the registry feed holds persons aged 0-24 (EXTRACTS.md)


def registry_birth(w: World, birth: date) -> str:
    """The registry's birth date: usually right, sometimes with 00 parts or a (fixable) error.
    Never one that the loader would reject: as filled by the rules (00 month -> 1 July, 00 day ->
    the 15th) it is not after the first extract date and gives an age of 0-24 on it."""
    from equity.synth.truth import registry_birth_date

    value = _registry_birth(w, birth)
    filled = registry_birth_date(value)
    if filled > w.start or not 0 <= age_on(filled, w.start) <= REGISTRY_MAX_AGE:
        return be_compact(birth)
    return value


def _registry_birth(w: World, birth: date) -> str:
    r = w.rng.random()
    p = w.p
    by = birth.year + 543
    if r < p.registry_unknown_month_share:
        return f"{by:04d}0000"
    if r < p.registry_unknown_month_share + p.registry_unknown_day_share:
        return f"{by:04d}{birth.month:02d}00"
    if r < p.registry_unknown_month_share + p.registry_unknown_day_share + \
            p.registry_wrong_birth_share:
        return be_compact(birth + timedelta(days=w.rng.choice((-9, -3, 2, 5, 11))))
    return be_compact(birth)


def first_digit(w: World, province: str) -> tuple[str, str]:
    """(category digit, nationality) of a national-ID holder."""
    rng = w.rng
    share = w.p.non_thai_share
    if province in BORDER_PROVINCES:
        share = w.p.non_thai_share_border * (2 if province == TAK else 1)
    if rng.random() < share:
        nat = "KHM" if province in KHM_BORDER else "LAO" if province in LAO_BORDER else "MMR"
        return rng.choices(("0", "6", "7"), (0.5, 0.2, 0.3))[0], nat
    digit = rng.choices(("1", "2", "3", "4", "5", "8"), (0.93, 0.04, 0.01, 0.005, 0.005, 0.01))[0]
    return digit, "THA"


def new_person(w: World, hh: Household, birth: date, g_code: bool, migrant: bool) -> Person:
    rng = w.rng
    sub = hh.subdistrict
    district = w.ref.subdistricts[sub].district_code
    sex = "M" if rng.random() < 0.51 else "F"
    if g_code:
        pid, nationality, id_type = w.ids.g_code(district[:2]), "", "G_CODE"
    else:
        digit, nationality = ("0", "MMR") if migrant else first_digit(w, district[:2])
        pid, id_type = w.ids.national_id(digit, district), "NATIONAL_ID"
    first, last = person_name(rng, sex, migrant=g_code or nationality != "THA")
    school_birth = birth
    if rng.random() < w.p.school_birth_mismatch_share:
        school_birth = birth + timedelta(days=rng.choice((-366, -31, -1, 1, 30, 365)))
    person = Person(
        pid=pid, id_type=id_type, sex=sex, birth=birth, reg_birth=registry_birth(w, birth),
        school_birth=school_birth, first_name=first, last_name=last, nationality=nationality,
        hh=hh, subdistrict=sub, house_id=hh.house_id, in_registry=not g_code,
    )
    if rng.random() < w.p.chronic_absentee_share:
        person.absence_rate = rng.uniform(0.5, 0.9)
    else:
        person.absence_rate = rng.choice((0.0, 0.01, 0.03, 0.06))
    if rng.random() < w.p.disability_share:
        person.disability = rng.randint(1, 9)
    w.persons[pid] = person
    w.person_ids.append(pid)
    hh.members.append(pid)
    return person


def random_birth(w: World, age_lo: int, age_hi: int) -> date:
    """A birth date giving an age in [age_lo, age_hi] on the start date; younger cohorts smaller."""
    ages = list(range(age_lo, age_hi + 1))
    age = w.rng.choices(ages, [1.0 + 0.02 * a for a in ages])[0]
    latest = date(w.start.year - age, w.start.month, w.start.day)
    return latest - timedelta(days=w.rng.randrange(365))


def build_households(w: World, n_persons: int) -> None:
    rng, p = w.rng, w.p
    while len(w.person_ids) < n_persons:
        g_code = rng.random() < p.g_code_share
        province = w.pick_migrant_province() if g_code else None
        sub = w.pick_subdistrict(province)
        district = w.ref.subdistricts[sub].district_code
        kids = rng.choices(range(1, p.max_children_per_household + 1), (0.45, 0.4, 0.15))[0]
        adults = rng.choices((1, 2, 3, 4), (0.15, 0.55, 0.2, 0.1))[0]
        migrant = g_code
        mother = w.ids.national_id("0" if migrant else rng.choice("13"), district) \
            if rng.random() < 0.9 else ""
        father = w.ids.national_id("0" if migrant else rng.choice("13"), district) \
            if rng.random() < 0.75 else ""
        hh = Household(w.next_household_id(), sub, adults, mother, father, Decimal(0), "PARENTS",
                       "OWN", True, True, False, "NONE", False, house_id=w.ids.house_id(district))
        w.households.append(hh)
        for _ in range(kids):
            birth = random_birth(w, 3, 18) if g_code else random_birth(w, 0, 24)
            new_person(w, hh, birth, g_code, migrant)
        household_means(w, hh, sub[:2])


def build_rolls(w: World) -> None:
    """Put children on rolls by age; add the in-term history before the first extract."""
    rng, p = w.rng, w.p
    start = w.start
    year_start = academic_year_start(start)
    _, _, term_start = term_of(start)
    for pid in w.person_ids:
        person = w.persons[pid]
        a = age_on(person.birth, year_start)
        prob = p.enrol_prob.get(a, 0.0)
        late_k1 = a == 2 and age_on(person.birth, start) >= 3
        if late_k1:  # turned 3 after the year began
            a, prob = 3, p.late_k1_share
        if person.id_type == "G_CODE":
            prob = 0.97 if 3 <= a <= 18 else 0.0  # a G-code is issued by a school
        if rng.random() >= prob:
            continue
        grade = grade_for_age(a, vocational=rng.random() < p.vocational_share)
        if grade is None:
            continue
        kind = w.school_kind_for(grade, a, person.subdistrict)
        school = w.school(kind, person.subdistrict)
        status_date = year_start
        if late_k1:
            third = date(person.birth.year + 3, person.birth.month, person.birth.day)
            status_date = third + timedelta(days=rng.randrange(max(1, (start - third).days)))
        elif rng.random() < p.late_join_share:
            status_date = year_start + timedelta(days=rng.randrange((start - year_start).days))
        joined = max(status_date, term_start)
        absent = sum(rng.random() < person.absence_rate
                     for _ in range(school_days_between(joined, start + timedelta(days=1))))
        w.enrol(person, school, grade, status_date, absent)
        if grade[0] in "PM" and rng.random() < p.multiple_enrolment_share:
            other = w.school("nonformal", person.subdistrict) if kind != "nonformal" else \
                w.school("secondary", person.subdistrict)
            same_day = rng.random() < 0.3
            w.enrol(person, other, grade, status_date if same_day else
                    term_start + timedelta(days=rng.randrange((start - term_start).days or 1)), 0)
            w.counts["multiple_enrolment"] += 1

    # in-term history: status changes between the term start and the first extract
    days_in_term = (start - term_start).days
    if days_in_term < 1:
        return
    grace = w.pol["transfer_grace_days"]
    keys = list(w.roster)
    boundary = [start - timedelta(days=grace), start - timedelta(days=grace - 1)]
    for key in keys:
        rec = w.roster[key]
        person = w.persons[rec.person_id]
        if rec.status != "ENROLLED" or len(w.person_records(person.pid)) > 1:
            continue
        r = rng.random()
        when = max(term_start + timedelta(days=rng.randrange(days_in_term)), rec.status_date)
        if r < p.pre_transfer_share:
            at_edge = bool(boundary) and boundary[0] >= max(term_start, rec.status_date)
            rec.status, rec.status_date = "TRANSFERRED", boundary.pop(0) if at_edge else when
            w.counts["pre_TRANSFERRED"] += 1
            if not at_edge and rng.random() < p.transfer_reenrol_share:
                school = w.other_school(w.schools[rec.school_code], rec.grade, person.subdistrict)
                later = rec.status_date + timedelta(days=rng.randint(0, p.reenrol_max_lag))
                if later <= start:
                    w.enrol(person, school, rec.grade, later)
                else:
                    w.schedule(later, "reenrol", (person.pid, school.code, rec.grade))
        elif r < p.pre_transfer_share + p.pre_dropout_share:
            rec.status, rec.status_date = "DROPPED_OUT", when
            w.counts["pre_DROPPED_OUT"] += 1
        elif rec.grade in TERMINAL_GRADES and \
                r < p.pre_transfer_share + p.pre_dropout_share + p.pre_graduate_share:
            rec.status, rec.status_date = "GRADUATED", when
            w.counts["pre_GRADUATED"] += 1


def build_screenings(w: World) -> None:
    """Screenings delivered in the first (full) welfare extract."""
    rng, p = w.rng, w.p
    start = w.start
    valid = w.pol["screening_valid_days"]
    lo, hi = w.pol["child_age_min"], w.pol["child_age_max"]
    edge = [valid, valid - 3]  # one screening exactly at the validity limit, one expiring mid-run
    for pid in w.person_ids:
        person = w.persons[pid]
        if not lo <= age_on(person.birth, start) <= hi:
            continue
        share = p.screened_share_enrolled if w.enrolled_records(pid) else p.screened_share_other
        if rng.random() >= share:
            continue
        if edge:
            days = [edge.pop(0)]
        elif rng.random() < p.expired_only_share:
            days = [rng.randint(valid + 1, valid + 400)]
        else:
            days = [rng.randrange(0, valid - 30)]
            if rng.random() < 0.2:  # an older screening too
                days.append(days[0] + rng.randint(100, 700))
            if rng.random() < 0.02:  # two screenings on the same day: the greater id wins
                days.append(days[0])
        for d in sorted(set(days), reverse=True):
            s = w.screening_of(person, start - timedelta(days=d))
            w.deliver_screening(s)
            if days.count(d) > 1:  # same day, greater screening_id, different income
                w.deliver_screening(w.screening_of(person, s.screened_on,
                                                   income=s.household_income_month + Decimal(500)))


def baseline(w: World) -> None:
    """The registry's full delivery: one BASELINE per registered person."""
    for pid in w.person_ids:
        person = w.persons[pid]
        if not person.in_registry:
            continue
        earliest = max(person.birth, w.start - timedelta(days=5 * 365))
        span = (w.start - earliest).days
        when = earliest + timedelta(days=w.rng.randrange(span)) if span > 0 else w.start
        w.registry_event(person, "BASELINE", when)


def populate(w: World, n_persons: int) -> None:
    build_households(w, n_persons)
    build_rolls(w)
    build_screenings(w)
    baseline(w)
