"""One simulated day after the first: calendar transitions, pending actions, then new events."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal

from equity.synth.population import REGISTRY_MAX_AGE, household_means, new_person
from equity.synth.thaidates import age_on, be_compact, is_school_day, term_of
from equity.synth.world import NEXT_GRADE, TERMINAL_GRADES, World, grade_for_age


def floor_for_day(minimum: int, day: int, days: int) -> int:
    """Share of the per-kind floor for dynamic day `day` (1-based) of `days - 1` dynamic days."""
    dynamic_days = max(1, days - 1)
    base, extra = divmod(minimum, dynamic_days)
    return base + (1 if day <= extra else 0)


def step(w: World, today: date, day: int = 1, days: int = 5) -> None:
    w.floor_today = floor_for_day(w.p.min_events_per_kind, day, days)
    w.today_registry = []
    w.today_welfare = []
    w.touched_today = set()
    calendar_transitions(w, today)
    for kind, payload in w.due(today):
        PENDING[kind](w, today, *payload)
    n = len(w.person_ids)
    p = w.p
    for _ in range(w.daily_count(p.birth_rate, n)):
        birth(w, today)
    for _ in range(w.daily_count(p.death_rate, n)):
        death(w, today)
    for _ in range(w.daily_count(p.move_rate, n)):
        move(w, today)
    nrec = len(w.roster)
    for _ in range(w.daily_count(p.transfer_rate, nrec)):
        transfer(w, today)
    for _ in range(w.daily_count(p.dropout_rate, nrec)):
        dropout(w, today)
    for _ in range(w.daily_count(p.graduation_rate, nrec)):
        graduate(w, today)
    for _ in range(w.daily_count(p.registry_correction_rate, n)):
        registry_correction(w, today)
    nscr = len(w.screenings)
    for _ in range(w.daily_count(p.new_screening_rate, n)):
        new_screening(w, today)
    for _ in range(w.daily_count(p.screening_correction_rate, nscr)):
        correct_screening(w, today)
    for _ in range(w.daily_count(p.screening_withdrawal_rate, nscr)):
        withdraw_screening(w, today)
    absences(w, today)


# --- calendar --------------------------------------------------------------------------------

def calendar_transitions(w: World, today: date) -> None:
    if (today.month, today.day) == (4, 1):  # end of the year: terminal grades graduate
        for rec in list(w.roster.values()):
            if rec.status == "ENROLLED" and rec.grade in TERMINAL_GRADES:
                rec.status, rec.status_date = "GRADUATED", today - timedelta(days=1)
                w.counts["year_end_GRADUATED"] += 1
    _ay, term, term_start = term_of(today)
    if today != term_start:
        return
    # a new term: only ENROLLED records carry over, absences restart
    graduates = [r for r in w.roster.values() if r.status == "GRADUATED"]
    for key in [k for k, r in w.roster.items() if r.status != "ENROLLED"]:
        del w.roster[key]
    for rec in w.roster.values():
        rec.days_absent = 0
    if term != 1:
        return
    for rec in w.roster.values():  # a new academic year: everyone moves up a grade
        rec.grade = NEXT_GRADE.get(rec.grade, rec.grade)
    for rec in graduates:  # most P6 and M3 graduates go on to the next level
        person = w.persons[rec.person_id]
        nxt = {"P6": "M1", "M3": "M4"}.get(rec.grade)
        if nxt and person.alive and w.rng.random() < (0.95 if nxt == "M1" else 0.85):
            if nxt == "M4" and w.rng.random() < w.p.vocational_share:
                nxt = "V1"
            kind = "vocational" if nxt == "V1" else "secondary"
            w.enrol(person, w.school(kind, person.subdistrict), nxt, today)
    for pid in w.person_ids:  # new entrants at K1 and P1
        person = w.persons[pid]
        if not person.alive or w.person_records(pid):
            continue
        a = age_on(person.birth, today)
        if a in (3, 6) and w.rng.random() < w.p.enrol_prob[a]:
            grade = grade_for_age(a, False)
            w.enrol(person, w.school("primary", person.subdistrict), grade, today)


def absences(w: World, today: date) -> None:
    if not is_school_day(today):
        return
    rng = w.rng
    for rec in w.roster.values():
        if rec.status == "ENROLLED" and rng.random() < w.persons[rec.person_id].absence_rate:
            rec.days_absent += 1


# --- registry --------------------------------------------------------------------------------

def reg_ok(person, today: date) -> bool:
    """A registry row for this person today passes the loader's age check (0-24), by the registry's
    birth date (as the rules fill its 00 parts) and by the true one (a CORRECTION writes it)."""
    from equity.synth.truth import registry_birth_date

    return age_on(person.birth, today) <= REGISTRY_MAX_AGE and \
        age_on(registry_birth_date(person.reg_birth), today) <= REGISTRY_MAX_AGE


def _random_person(w: World, accept) -> object | None:
    for _ in range(200):
        person = w.persons[w.rng.choice(w.person_ids)]
        if person.alive and person.pid not in w.touched_today and accept(person):
            return person
    return None


def birth(w: World, today: date) -> None:
    mother = _random_person(w, lambda p: p.in_registry and p.reg_address and p.hh.mother_pid
                            and p.nationality == "THA")
    if mother is None:
        return
    born = today - timedelta(days=w.rng.randint(0, 7))
    baby = new_person(w, mother.hh, born, g_code=False, migrant=False)
    baby.subdistrict, baby.house_id = mother.subdistrict, mother.house_id
    baby.reg_birth = be_compact(born)  # a birth registration knows the day
    w.registry_event(baby, "BIRTH", born)


def death(w: World, today: date) -> None:
    person = _random_person(w, lambda p: (p.in_registry and p.reg_address and reg_ok(p, today)) or
                            (not (p.in_registry and p.reg_address) and bool(w.enrolled_records(p.pid))))
    if person is None:
        return
    person.alive = False
    w.counts["deaths"] += 1
    enrolled = w.enrolled_records(person.pid)
    if person.in_registry and person.reg_address:
        w.registry_event(person, "DEATH", today)
        person.reg_address = False
        if enrolled and w.rng.random() < w.p.death_school_notice_share:
            later(w, today, today + timedelta(days=w.rng.randint(0, 3)), "deceased", (person.pid,))
    else:  # known to schools only
        deceased(w, today, person.pid)


def deceased(w: World, today: date, pid: str) -> None:
    for rec in w.enrolled_records(pid):
        rec.status, rec.status_date = "DECEASED", today
        w.counts["enrolment_DECEASED"] += 1


def move(w: World, today: date) -> None:
    person = _random_person(w, lambda p: p.in_registry and p.reg_address and reg_ok(p, today))
    if person is None:
        return
    w.registry_event(person, "MOVE_OUT", today)
    person.reg_address = False
    old_lao = w.lao(person.subdistrict)
    province = person.subdistrict[:2] if w.rng.random() < 0.6 else None
    new_sub = w.pick_subdistrict(province)
    while w.lao(new_sub) == old_lao:
        new_sub = w.pick_subdistrict()
    arrive = today + timedelta(days=w.rng.randint(0, w.p.move_in_max_lag))
    if w.rng.random() < w.p.move_in_share:
        house = w.ids.house_id(w.ref.subdistricts[new_sub].district_code)
        later(w, today, arrive, "move_in", (person.pid, new_sub, house))
    person.subdistrict = new_sub  # where the child now lives, registered or not
    enrolled = w.enrolled_records(person.pid)
    if enrolled and w.rng.random() < w.p.move_transfer_share:
        rec = enrolled[0]
        rec.status, rec.status_date = "TRANSFERRED", today
        w.counts["enrolment_TRANSFERRED"] += 1
        school = w.other_school(w.schools[rec.school_code], rec.grade, new_sub)
        later(w, today, arrive + timedelta(days=w.rng.randint(0, 7)), "reenrol",
              (person.pid, school.code, rec.grade))


def move_in(w: World, today: date, pid: str, sub: str, house: str) -> None:
    person = w.persons[pid]
    if not person.alive or person.reg_address or not reg_ok(person, today):
        return
    person.house_id = house
    person.reg_address = True
    w.registry_event(person, "MOVE_IN", today, sub=sub, house_id=house)


def registry_correction(w: World, today: date) -> None:
    person = _random_person(w, lambda p: p.in_registry and p.reg_address and reg_ok(p, today))
    if person is None:
        return
    right = be_compact(person.birth)
    if person.reg_birth != right:
        person.reg_birth = right  # fill in 00 parts or fix an error
    elif w.rng.random() < 0.5:
        person.sex = "F" if person.sex == "M" else "M"  # a sex recorded wrongly at birth
    w.registry_event(person, "CORRECTION", today)


# --- enrolment -------------------------------------------------------------------------------

def transfer(w: World, today: date) -> None:
    rec = w.random_enrolled()
    if rec is None:
        return
    rec.status, rec.status_date = "TRANSFERRED", today
    w.counts["enrolment_TRANSFERRED"] += 1
    if w.rng.random() < w.p.transfer_reenrol_share:
        person = w.persons[rec.person_id]
        school = w.other_school(w.schools[rec.school_code], rec.grade, person.subdistrict)
        later(w, today, today + timedelta(days=w.rng.randint(0, w.p.reenrol_max_lag)), "reenrol",
              (person.pid, school.code, rec.grade))


def reenrol(w: World, today: date, pid: str, school_code: str, grade: str) -> None:
    person = w.persons[pid]
    if not person.alive:
        return
    w.enrol(person, w.schools[school_code], grade, today)
    w.counts["enrolment_REENROLLED"] += 1


def dropout(w: World, today: date) -> None:
    def accept(rec) -> bool:  # drop-out is four times as likely at ages 12-17
        age = age_on(w.persons[rec.person_id].birth, today)
        return w.rng.random() < (1.0 if 12 <= age <= 17 else 0.25)
    rec = w.random_enrolled(accept)
    if rec is None:
        return
    vanish = w.rng.random() >= w.p.dropout_status_share
    if not w.counts["enrolment_VANISHED"] and \
            w.counts["enrolment_DROPPED_OUT"] >= w.p.min_events_per_kind // 2:
        vanish = True  # a small run shows both kinds of drop-out
    if not vanish:
        rec.status, rec.status_date = "DROPPED_OUT", today
        w.counts["enrolment_DROPPED_OUT"] += 1
    else:  # vanishes from the roster without a status change
        del w.roster[(rec.person_id, rec.school_code)]
        w.counts["enrolment_VANISHED"] += 1


def graduate(w: World, today: date) -> None:
    rec = w.random_enrolled(lambda r: r.grade in TERMINAL_GRADES)
    if rec is None:
        return
    rec.status, rec.status_date = "GRADUATED", today
    w.counts["enrolment_GRADUATED"] += 1


# --- welfare ---------------------------------------------------------------------------------

def new_screening(w: World, today: date) -> None:
    lo, hi = w.pol["child_age_min"], w.pol["child_age_max"]
    person = _random_person(w, lambda p: lo <= age_on(p.birth, today) <= hi)
    if person is None:
        return
    if w.rng.random() < 0.5:  # circumstances changed since the household was last seen
        household_means(w, person.hh, person.hh.subdistrict[:2])
    w.deliver_screening(w.screening_of(person, today - timedelta(days=w.rng.randint(0, 2))))
    w.counts["welfare_new"] += 1


def _random_live_screening(w: World):
    for _ in range(200):
        sid = w.rng.choice(w.screening_ids)
        s = w.screenings.get(sid)
        if s is not None and sid not in w.touched_today:
            return s
    return None


def correct_screening(w: World, today: date) -> None:
    s = _random_live_screening(w)
    if s is None:
        return
    line = Decimal(w.pol["poverty_line_thb"])
    r = w.rng.random()
    if r < 0.3:
        income = line * s.household_size  # corrected onto the line
    else:
        income = (s.household_income_month * Decimal(w.rng.choice(("0.5", "0.8", "1.25", "2")))
                  ).quantize(Decimal("0.01"))
    fixed = dataclasses.replace(s, household_income_month=income,
                                electricity=s.electricity if r < 0.6 else not s.electricity)
    w.deliver_screening(fixed)
    w.counts["welfare_corrected"] += 1


def withdraw_screening(w: World, today: date) -> None:
    s = _random_live_screening(w)
    if s is None:
        return
    w.deliver_screening(dataclasses.replace(s, action="DELETE"))
    w.counts["welfare_deleted"] += 1


def later(w: World, today: date, when: date, kind: str, payload: tuple) -> None:
    """Do a follow-up action now when it falls today, else schedule it."""
    if when <= today:
        PENDING[kind](w, today, *payload)
    else:
        w.schedule(when, kind, payload)


PENDING = {"move_in": move_in, "reenrol": reenrol, "deceased": deceased}
