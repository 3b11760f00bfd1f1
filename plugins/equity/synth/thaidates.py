"""Buddhist Era dates and the school calendar the generator uses.

School calendar (a simplification, documented in docs/generator.md): the academic year that starts
in Gregorian year y is BE y + 543; term 1 runs 16 May – 15 October, term 2 runs 16 October – 15 May
of the next year (the April – mid-May break belongs to term 2: rosters stay, no absences accrue,
and terminal grades graduate on 1 April, dated 31 March).
"""

from __future__ import annotations

from datetime import date, timedelta

BE_OFFSET = 543


def be_compact(d: date) -> str:
    """YYYYMMDD in the Buddhist Era."""
    return f"{d.year + BE_OFFSET:04d}{d.month:02d}{d.day:02d}"


def be_slash(d: date) -> str:
    """dd/mm/yyyy in the Buddhist Era."""
    return f"{d.day:02d}/{d.month:02d}/{d.year + BE_OFFSET:04d}"


def term_of(d: date) -> tuple[int, int, date]:
    """(academic_year BE, term, first day of that term) for a date."""
    if d >= date(d.year, 5, 16):
        if d >= date(d.year, 10, 16):
            return d.year + BE_OFFSET, 2, date(d.year, 10, 16)
        return d.year + BE_OFFSET, 1, date(d.year, 5, 16)
    return d.year - 1 + BE_OFFSET, 2, date(d.year - 1, 10, 16)


def academic_year_start(d: date) -> date:
    ay, _, _ = term_of(d)
    return date(ay - BE_OFFSET, 5, 16)


def is_school_day(d: date) -> bool:
    """Weekday in term time (not the 1 April – 15 May break)."""
    in_break = date(d.year, 4, 1) <= d < date(d.year, 5, 16)
    return d.weekday() < 5 and not in_break


def school_days_between(start: date, end: date) -> int:
    """School days in [start, end)."""
    n, d = 0, start
    while d < end:
        n += is_school_day(d)
        d += timedelta(days=1)
    return n


def age_on(birth: date, on: date) -> int:
    """Completed years at `on`."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
