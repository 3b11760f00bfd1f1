"""Hand-made edge cases of the mart rules (MARTS.md, docs/rules.md), one small scenario per server.

The scenario (tests/scenario.py) gives every edge case its own person; it is loaded through the real
loader and built with `dbt build` (then published into `marts`) once per date, once per server for the
whole module. Every delivery is loaded before the first build, so each date's marts must also ignore
the deliveries dated after it. Expected values are written from docs/rules.md and MARTS.md, as a
municipal officer or analyst reads the marts.
"""

from __future__ import annotations

import uuid
from datetime import date

import psycopg
import pytest

from conftest import TEST_KEY, _admin_url
from scenario import (
    BUILD_DATES,
    DELIVERY_DATES,
    GATE_OVERRIDES,
    LAO_EMPTY,
    T0,
    T0B,
    T1,
    T2,
    build_scenario,
    child_key,
)

SOURCES = ("registry", "welfare", "enrolment")


class Marts:
    """Both marts of every build date, read once, looked up by case name."""

    def __init__(self, url: str, pids: dict[str, str]):
        self.url, self.pids = url, pids
        with psycopg.connect(url) as conn:
            cur = conn.execute("select * from marts.child_equity_profile")
            cols = [d.name for d in cur.description]
            self.children = {}
            for row in cur.fetchall():
                r = dict(zip(cols, row))
                self.children[(r["child_key"], r["as_of_date"])] = r
            cur = conn.execute("select * from marts.municipality_equity_summary")
            cols = [d.name for d in cur.description]
            self.summaries = {}
            for row in cur.fetchall():
                r = dict(zip(cols, row))
                self.summaries[(r["lao_code"], r["as_of_date"])] = r
            self.n_laos = conn.execute("select count(*) from reference.laos").fetchone()[0]

    def key(self, case: str) -> str:
        return child_key(self.pids[case], TEST_KEY)

    def child(self, case: str, day: date = T2) -> dict | None:
        return self.children.get((self.key(case), day))

    def summary(self, lao: str, day: date = T2) -> dict:
        return self.summaries[(lao, day)]


@pytest.fixture(scope="module", params=["embedded", "system"])
def marts(request, tmp_path_factory):
    from equity.load import load_delivery
    from equity.paths import SHIPPED_REFERENCE_DIR
    from equity.publish import publish
    from equity.reference import load_reference
    from equity.transform import build
    from equity.warehouse import bootstrap

    admin = _admin_url(request.param)
    name = f"equity_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    url = admin.rsplit("/", 1)[0] + f"/{name}"
    scenario = build_scenario()
    landing = scenario.write(tmp_path_factory.mktemp(f"landing-{request.param}"))
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("EQUITY_WAREHOUSE_URL", url)
            mp.setenv("EQUITY_HMAC_KEY", TEST_KEY)
            bootstrap(url)
            load_reference(url, SHIPPED_REFERENCE_DIR)
            for day in DELIVERY_DATES:
                for source in SOURCES:
                    out = load_delivery(url, str(landing), source, day, f"edge-{day}")
                    delivered = (landing / source / day.isoformat()).exists()
                    assert out.status == ("loaded" if delivered else "missing") and out.rejected == 0, (
                        f"scenario delivery {source} {day} not loaded clean: {out}\n"
                        + _rejects(url, source))
            with psycopg.connect(url) as conn:  # the GX gate is tested elsewhere: set its outcome
                conn.execute("update audit.load_batches set gate_status = 'passed' where status = 'loaded'")
                for (source, day), gate in GATE_OVERRIDES.items():
                    assert conn.execute(
                        "update audit.load_batches set gate_status = %s"
                        " where status = 'loaded' and source = %s and extract_date = %s",
                        (gate, source, day)).rowcount == 1
            for day in BUILD_DATES:  # build into marts_build, then publish the night into marts
                build(url, day)
                publish(url, day, f"edge-{day}")
            yield Marts(url, scenario.pid)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


def _rejects(url: str, source: str) -> str:
    with psycopg.connect(url) as conn:
        rows = conn.execute(f"select _line, reason, original from quarantine.{source}_rejects").fetchall()
    return "\n".join(map(str, rows))


def check(row: dict | None, **expected) -> None:
    """The named columns of a mart row, compared all at once so a failure shows every difference."""
    assert row is not None, f"no mart row (expected {expected})"
    got = {k: row[k] for k in expected}
    assert got == expected


def num(value) -> float | None:
    return None if value is None else float(value)


# --- enrolment history ---------------------------------------------------------------------------

def test_dropout_who_vanishes_from_next_roster_stays_dropped_out(marts):
    """DROPPED_OUT in one snapshot, absent from the next: still OUT_OF_SCHOOL / DROPPED_OUT, with the
    grade and school of the drop-out record (the latest record ever seen)."""
    for day in (T0, T0B):  # no roster delivered on T0B: T0's is still the latest snapshot
        check(marts.child("dropout_vanishes", day), education_status="ENROLLED", in_enrolment=True)
    for day in (T1, T2):
        check(marts.child("dropout_vanishes", day), education_status="OUT_OF_SCHOOL",
              out_of_school_reason="DROPPED_OUT", grade="M2", school_code="1063010001",
              affiliation="OBEC", disability=2, in_enrolment=False, days_absent=None,
              chronic_absence=False, is_priority=True)


def test_child_who_leaves_every_roll_without_status_change_is_dropped_out(marts):
    """ENROLLED in an older snapshot, on no roll now, no status change ever: OUT_OF_SCHOOL /
    DROPPED_OUT; grade and school of that last ENROLLED record."""
    check(marts.child("left_every_roll", T0), education_status="ENROLLED", grade="P6")
    for day in (T1, T2):
        check(marts.child("left_every_roll", day), education_status="OUT_OF_SCHOOL",
              out_of_school_reason="DROPPED_OUT", grade="P6", school_code="1063020003",
              affiliation="OPEC", in_enrolment=False, is_priority=True)


def test_transfer_grace_on_its_boundary_day(marts):
    """TRANSFERRED: IN_TRANSFER while as_of_date - status_date < 30 days; on day 30 it is
    OUT_OF_SCHOOL / LOST_IN_TRANSFER (and a priority child). Not enrolled, so no days_absent and
    no chronic absence whatever the TRANSFERRED record says."""
    check(marts.child("transfer_29_days", T2), education_status="IN_TRANSFER",
          out_of_school_reason=None, grade="P4", school_code="1063010001", in_enrolment=False,
          days_absent=None, chronic_absence=False, is_priority=False)
    check(marts.child("transfer_30_days", T1), education_status="IN_TRANSFER", is_priority=False)
    check(marts.child("transfer_30_days", T2), education_status="OUT_OF_SCHOOL",
          out_of_school_reason="LOST_IN_TRANSFER", grade="P5", school_code="1063010001",
          in_enrolment=False, is_priority=True)


def test_transfer_record_then_absent_from_roster_runs_out_its_grace(marts):
    """TRANSFERRED in one snapshot and absent from the next: the latest record ever seen still
    decides: IN_TRANSFER 29 days after, LOST_IN_TRANSFER 35 days after (grade of that record)."""
    check(marts.child("transfer_then_vanishes", T1), education_status="IN_TRANSFER",
          out_of_school_reason=None, grade="P5", school_code="1063010002", affiliation="DLA")
    check(marts.child("transfer_then_vanishes", T2), education_status="OUT_OF_SCHOOL",
          out_of_school_reason="LOST_IN_TRANSFER", grade="P5", school_code="1063010002",
          affiliation="DLA", is_priority=True)


def test_transferred_on_one_roll_and_enrolled_on_another_is_enrolled(marts):
    """TRANSFERRED at the old school and ENROLLED at the new one in the same snapshot: ENROLLED at the
    new school (one ENROLLED record, so not a multiple enrolment)."""
    check(marts.child("transferred_then_enrolled_elsewhere", T2), education_status="ENROLLED",
          school_code="1063020003", affiliation="OPEC", days_absent=4, multiple_enrolment=False,
          in_enrolment=True)


def test_latest_record_tie_on_status_date_goes_to_greater_school_code(marts):
    """Two non-ENROLLED records with the same status_date in the latest snapshot: the greater
    school_code is the latest record ever seen (TRANSFERRED 10 days ago: IN_TRANSFER, grade M1)."""
    check(marts.child("latest_record_tie_two_statuses", T2), education_status="IN_TRANSFER",
          out_of_school_reason=None, school_code="1063020003", grade="M1")


def test_latest_snapshot_decides_over_a_later_status_date_in_an_older_one(marts):
    """The latest record ever seen comes from the latest snapshot the child appears in, even when an
    older snapshot has a later status_date: TRANSFERRED (26 days) beats the earlier DROPPED_OUT."""
    check(marts.child("latest_snapshot_beats_later_status_date", T1), education_status="OUT_OF_SCHOOL",
          out_of_school_reason="DROPPED_OUT")
    check(marts.child("latest_snapshot_beats_later_status_date", T2), education_status="IN_TRANSFER",
          out_of_school_reason=None, school_code="1063020003")


def test_snapshot_whose_gate_failed_does_not_count(marts):
    """An enrolment delivery that failed its gate is not a snapshot: the previous one stays the latest,
    and a child only on the failed roster is still NEVER_ENROLLED."""
    check(marts.child("never_enrolled", T0B), education_status="OUT_OF_SCHOOL",
          out_of_school_reason="NEVER_ENROLLED", in_enrolment=False)
    check(marts.child("left_every_roll", T0B), education_status="ENROLLED", in_enrolment=True)


def test_under_school_age_transfers_and_dropouts(marts):
    """Under 6: IN_TRANSFER still applies within the grace (grade of the record); once it expires, or
    after dropping out, the child is NOT_SCHOOL_AGE, never OUT_OF_SCHOOL, with no grade."""
    check(marts.child("k3_in_transfer"), age=5, education_status="IN_TRANSFER", grade="K3",
          out_of_school_reason=None)
    check(marts.child("k3_transfer_expired"), age=5, education_status="NOT_SCHOOL_AGE", grade=None,
          out_of_school_reason=None, is_priority=False)
    check(marts.child("k2_dropout"), age=4, education_status="NOT_SCHOOL_AGE", grade=None,
          out_of_school_reason=None, is_priority=False)


def test_deceased_record_ends_the_child_only_when_it_is_the_latest(marts):
    """DECEASED in the latest record ever seen (latest status_date) ends the child even if another
    school still lists them ENROLLED; an older DECEASED record under a later ENROLLED one does not."""
    assert marts.child("deceased_at_one_school_enrolled_at_other") is None
    check(marts.child("old_deceased_record_enrolled_since"), education_status="ENROLLED",
          school_code="1063020003")


def test_child_who_reenrols_after_dropping_out_is_enrolled_again(marts):
    """DROPPED_OUT, then ENROLLED again in the latest snapshot: ENROLLED, no reason, not priority."""
    check(marts.child("reenrols", T1), education_status="OUT_OF_SCHOOL", out_of_school_reason="DROPPED_OUT")
    check(marts.child("reenrols", T2), education_status="ENROLLED", out_of_school_reason=None,
          in_enrolment=True, grade="P4", school_code="1063010001", is_priority=False)


def test_double_enrolment_later_status_date_counts(marts):
    """ENROLLED at two schools: multiple_enrolment; the record with the later status_date counts
    (grade, school, affiliation, disability, days_absent), even on the smaller school code; a status_date tie
    goes to the greater school_code."""
    check(marts.child("double_enrolment"), education_status="ENROLLED", multiple_enrolment=True,
          school_code="1063010001", affiliation="OBEC", grade="M2", days_absent=20, chronic_absence=True,
          disability=4)
    check(marts.child("double_enrolment_tie"), education_status="ENROLLED", multiple_enrolment=True,
          school_code="1063020003", affiliation="OPEC", grade="M1", days_absent=1, chronic_absence=False)
    check(marts.child("absent_17_poor"), multiple_enrolment=False)


def test_never_enrolled_school_age_child(marts):
    """In the registry, school age, in no snapshot ever: OUT_OF_SCHOOL / NEVER_ENROLLED, no grade,
    school or absence, disability 0, priority."""
    for day in BUILD_DATES:
        check(marts.child("never_enrolled", day), education_status="OUT_OF_SCHOOL",
              out_of_school_reason="NEVER_ENROLLED", grade=None, school_code=None, affiliation=None,
              in_registry=True, in_enrolment=False, multiple_enrolment=False, disability=0,
              days_absent=None, chronic_absence=False, is_priority=True)


def test_graduates_of_m6_and_v3_completed(marts):
    """Latest record ever seen GRADUATED from M6 or V3: COMPLETED (also once off every roll), not
    out of school, not priority; grade of the graduation record. COMPLETED does not need school
    age (an 18-year-old V3 graduate)."""
    for day in (T0, T1, T2):
        check(marts.child("completed_m6", day), education_status="COMPLETED", out_of_school_reason=None,
              grade="M6", school_code="1063010001", in_enrolment=False, is_priority=False)
    check(marts.child("completed_v3_aged_18", T2), age=18, education_status="COMPLETED",
          out_of_school_reason=None, grade="V3", affiliation="OVEC", is_priority=False)
    check(marts.child("completed_v3_aged_18", T1), age=18, education_status="NOT_SCHOOL_AGE")


def test_graduates_below_m6_who_do_not_continue(marts):
    """Latest record GRADUATED below M6/V3 (P6, M3) and on no roll since: OUT_OF_SCHOOL /
    NOT_CONTINUED, with the graduation grade."""
    for day in (T0, T2):
        check(marts.child("not_continued_p6", day), education_status="OUT_OF_SCHOOL",
              out_of_school_reason="NOT_CONTINUED", grade="P6", is_priority=True)
        check(marts.child("not_continued_m3", day), education_status="OUT_OF_SCHOOL",
              out_of_school_reason="NOT_CONTINUED", grade="M3", is_priority=True)


def test_not_school_age(marts):
    """Age 4, registry only: NOT_SCHOOL_AGE (no reason, no grade, not priority). An 18-year-old who
    dropped out is NOT_SCHOOL_AGE too (school age is 6-17), with no grade: no record decides it."""
    check(marts.child("not_school_age_4"), age=4, education_status="NOT_SCHOOL_AGE",
          out_of_school_reason=None, grade=None, school_code=None, is_priority=False)
    check(marts.child("dropout_aged_18", T0), age=18, education_status="ENROLLED")
    check(marts.child("dropout_aged_18", T2), age=18, education_status="NOT_SCHOOL_AGE",
          out_of_school_reason=None, grade=None, school_code=None, affiliation=None, is_priority=False)


# --- identity, birth dates, age ------------------------------------------------------------------

def test_gcode_and_category_0_ids(marts):
    """A G-code is id_type G_CODE (school-only child: birth date, sex and residence from the school
    record's home subdistrict; welfare joins on the G-code); a 0-prefixed national ID is NATIONAL_ID
    and its child_key is the HMAC of all 13 characters, leading zero included."""
    g = marts.child("gcode_only_at_school")
    check(g, id_type="G_CODE", in_registry=False, in_enrolment=True, in_welfare=True, sex="F", age=14,
          birth_year=2012, lao_code="5630104", subdistrict_code="630104", district_code="6301",
          province_code="63", education_status="ENROLLED", affiliation="DLA", poverty_level="POOR")
    assert g["child_key"] == child_key(marts.pids["gcode_only_at_school"], TEST_KEY)
    zero = marts.pids["category_0_id"]
    assert zero.startswith("0") and len(zero) == 13
    check(marts.child("category_0_id"), id_type="NATIONAL_ID", sex="F", in_registry=True,
          education_status="ENROLLED")


def test_school_only_child_who_drops_out_is_no_longer_a_child_row(marts):
    """A G-code child is known only from school rolls: after dropping out there is no current
    registry address and no roll, so by the child definition there is no row (MARTS.md)."""
    check(marts.child("gcode_dropout", T0), education_status="ENROLLED", id_type="G_CODE")
    assert marts.child("gcode_dropout", T1) is None
    assert marts.child("gcode_dropout", T2) is None


def test_school_only_child_takes_birth_date_and_home_from_latest_record(marts):
    """Not in the registry: birth date and residence from the latest record ever seen."""
    check(marts.child("gcode_record_changes", T0), birth_year=2012, age=14, lao_code="5630104")
    check(marts.child("gcode_record_changes", T2), birth_year=2013, age=13, lao_code="4630201",
          subdistrict_code="630201", district_code="6302")


def test_unknown_birth_month_is_first_of_july(marts):
    """Registry birth month 00 -> 1 July (whatever the day part): born 2023, age 2 on 30 June 2026
    (not yet a child), 3 on 1 July 2026 (a child, NOT_SCHOOL_AGE)."""
    for case in ("birth_month_unknown", "birth_month_unknown_day_known"):
        assert marts.child(case, T0) is None, f"{case}: age 2 on {T0}, not a child"
        check(marts.child(case, T0B), age=3, birth_year=2023, education_status="NOT_SCHOOL_AGE")
        check(marts.child(case, T2), age=3)


def test_unknown_birth_day_is_the_fifteenth(marts):
    """Registry birth day 00 -> the 15th: born Nov 2010, 15 on 14 Nov 2026 and 16 on 20 Nov 2026;
    born Aug 2007: 18 on 30 June 2026 (a child), 19 by November (no longer a child)."""
    check(marts.child("birth_day_unknown", T1), age=15, birth_year=2010)
    check(marts.child("birth_day_unknown", T2), age=16, birth_year=2010)
    check(marts.child("birth_day_unknown_turns_19", T0), age=18, birth_year=2007)
    assert marts.child("birth_day_unknown_turns_19", T1) is None


def test_birthday_on_the_as_of_date_counts_as_completed_year(marts):
    """Born on 20 November: the age goes up on 20 November itself, moving children across the
    school-age (6, 17/18) and child-age (3, 18/19) bounds, which are inclusive."""
    check(marts.child("turns_6_on_T2", T1), age=5, education_status="NOT_SCHOOL_AGE", is_priority=False)
    check(marts.child("turns_6_on_T2", T2), age=6, education_status="OUT_OF_SCHOOL",
          out_of_school_reason="NEVER_ENROLLED", is_priority=True)
    check(marts.child("turns_18_on_T2", T1), age=17, education_status="OUT_OF_SCHOOL",
          out_of_school_reason="NEVER_ENROLLED")
    check(marts.child("turns_18_on_T2", T2), age=18, education_status="NOT_SCHOOL_AGE",
          out_of_school_reason=None, is_priority=False)
    assert marts.child("turns_3_on_T2", T1) is None
    check(marts.child("turns_3_on_T2", T2), age=3, education_status="NOT_SCHOOL_AGE")
    check(marts.child("turns_19_on_T2", T1), age=18)
    assert marts.child("turns_19_on_T2", T2) is None


def test_registry_correction_fixes_birth_date_and_sex(marts):
    """A CORRECTION event is the latest event: birth date and sex come from it."""
    check(marts.child("registry_correction", T0), age=11, birth_year=2015, sex="M")
    check(marts.child("registry_correction", T2), age=12, birth_year=2014, sex="F", in_registry=True)


def test_registry_wins_over_school_on_birth_date_and_sex(marts):
    """Registry and school disagree: birth date (so age) and sex from the registry. The birth date
    is the registry's whenever the person has any registry event, even after a MOVE_OUT (sex too:
    "in the registry" read as for the birth date)."""
    check(marts.child("registry_school_birth_disagree"), birth_year=2012, age=14, sex="F")
    check(marts.child("moved_out_enrolled_birth_disagree", T2), in_registry=False, birth_year=2014, age=12,
          sex="F")


# --- residence, moves, deaths --------------------------------------------------------------------

def test_move_out_then_move_in_elsewhere_residence_follows(marts):
    """MOVE_OUT then MOVE_IN in another LAO: resident of the old LAO before, of no LAO in between
    (not on a roll, no current address: not a child), of the new LAO after; LAO counts follow."""
    check(marts.child("moves_between_laos", T0), lao_code="5630105", subdistrict_code="630105",
          in_registry=True, education_status="OUT_OF_SCHOOL", out_of_school_reason="NEVER_ENROLLED")
    assert marts.child("moves_between_laos", T1) is None
    check(marts.child("moves_between_laos", T2), lao_code="5630106", subdistrict_code="630106",
          district_code="6301", province_code="63", in_registry=True)
    check(marts.summary("5630105", T0), children=1, never_enrolled=1, out_of_school=1)
    check(marts.summary("5630105", T2), children=0, never_enrolled=0, out_of_school=0)
    check(marts.summary("5630106", T0), children=0)
    check(marts.summary("5630106", T2), children=1, children_school_age=1, never_enrolled=1,
          out_of_school=1, priority_children=1)


def test_move_out_and_move_in_on_the_same_day_later_line_decides(marts):
    """MOVE_OUT and MOVE_IN with one event_date in one delivery: the later line is the latest event,
    so the child has a current address in the new LAO."""
    check(marts.child("move_out_and_in_same_day", T1), in_registry=True, lao_code="4630201",
          subdistrict_code="630201")


def test_move_in_then_move_out_on_the_same_day_leaves_no_address(marts):
    """MOVE_IN then MOVE_OUT with one event_date in one delivery: the later line (MOVE_OUT) decides;
    on no roll, so not a child."""
    check(marts.child("move_in_and_out_same_day", T0), in_registry=True)
    assert marts.child("move_in_and_out_same_day", T1) is None


def test_same_day_events_in_two_deliveries_later_delivery_decides(marts):
    """Same event_date in two deliveries: the later extract_date decides (MOVE_OUT delivered on T2
    after a MOVE_IN of the same day delivered on T1), even though that batch's gate only warned."""
    check(marts.child("same_day_events_in_two_deliveries", T1), lao_code="4630201", in_registry=True)
    assert marts.child("same_day_events_in_two_deliveries", T2) is None


def test_registry_lao_code_is_taken_as_registered(marts):
    """Residence: the registry's lao_code and subdistrict_code as registered, even where the lao_code
    is not the reference LAO of that subdistrict (a municipal boundary cutting a tambon)."""
    check(marts.child("registry_lao_differs_from_reference", T2), subdistrict_code="630102",
          lao_code="4630103", in_registry=True)


def test_full_registry_restatement_drops_persons_it_does_not_hold(marts):
    """A registry `full` re-states the source: a person only in an earlier full is no longer in the
    registry (here: on no roll either, so no longer a child); those it re-states are unaffected."""
    check(marts.child("dropped_by_registry_full", T0), in_registry=True)
    assert marts.child("dropped_by_registry_full", T0B) is None
    check(marts.child("never_enrolled", T0B), in_registry=True)


def test_registry_event_dated_after_as_of_date_does_not_count_yet(marts):
    """An event delivered early but dated after as_of_date counts only from its date."""
    check(marts.child("registry_event_dated_ahead", T1), lao_code="5630104", in_registry=True)
    check(marts.child("registry_event_dated_ahead", T2), lao_code="4630201", in_registry=True)


def test_move_out_only_and_on_no_roll_is_not_a_child(marts):
    """MOVE_OUT with no later MOVE_IN (blank address) and on no school roll: not a child any more."""
    check(marts.child("moved_out_not_enrolled", T0), in_registry=True)
    assert marts.child("moved_out_not_enrolled", T1) is None
    assert marts.child("moved_out_not_enrolled", T2) is None


def test_move_out_only_but_enrolled_lives_at_school_home_address(marts):
    """MOVE_OUT only but ENROLLED: still a child, not in_registry; residence from the enrolment home
    subdistrict and its LAO."""
    check(marts.child("moved_out_enrolled", T0), in_registry=True, lao_code="5630107",
          subdistrict_code="630107")
    for day in (T1, T2):
        check(marts.child("moved_out_enrolled", day), in_registry=False, in_enrolment=True,
              education_status="ENROLLED", lao_code="5630108", subdistrict_code="630108")
    check(marts.summary("5630107", T2), children=0)
    check(marts.summary("5630108", T2), children=1, enrolled=1)


def test_child_who_moved_away_but_is_still_enrolled(marts):
    """MOVE_IN to another district while still on the old school's roll (home address on the school
    record not updated): residence follows the registry; still ENROLLED at the old school."""
    check(marts.child("moved_away_still_enrolled", T1), lao_code="5630104")
    check(marts.child("moved_away_still_enrolled", T2), lao_code="4630201", subdistrict_code="630201",
          district_code="6302", in_registry=True, education_status="ENROLLED", school_code="1063010001")


def test_registry_address_beats_school_home_address(marts):
    """Current registry address and a different home on the school record: the registry decides."""
    check(marts.child("lao_school_there_lives_elsewhere"), lao_code="5630104", subdistrict_code="630104",
          school_code="1063010009")


def test_death_in_registry_ends_the_child_even_while_still_on_a_roll(marts):
    """Registry DEATH: no longer alive and present, so no row, although the school still lists the
    child ENROLLED."""
    check(marts.child("registry_death", T0), education_status="ENROLLED")
    assert marts.child("registry_death", T1) is None
    assert marts.child("registry_death", T2) is None


def test_deceased_on_the_roll_ends_the_child(marts):
    """Enrolment DECEASED (then off the roll): no row, although the registry still has an address."""
    check(marts.child("enrolment_deceased", T0), education_status="ENROLLED")
    assert marts.child("enrolment_deceased", T1) is None
    assert marts.child("enrolment_deceased", T2) is None


# --- welfare and poverty -------------------------------------------------------------------------

def test_screening_older_than_730_days_no_longer_counts(marts):
    """A screening counts while as_of_date - screened_on <= 730: 731 days old -> UNSCREENED (not in
    welfare, no income, no card); exactly 730 days old -> still current."""
    check(marts.child("screening_goes_stale", T1), poverty_level="POOR", in_welfare=True)
    assert num(marts.child("screening_goes_stale", T1)["income_per_capita_month"]) == 2000.00
    check(marts.child("screening_goes_stale", T2), poverty_level="UNSCREENED", in_welfare=False,
          income_per_capita_month=None, has_welfare_card=None, is_priority=False)
    check(marts.child("screening_730_days_old", T2), poverty_level="POOR", in_welfare=True)


def test_withdrawn_screening_gives_way_to_the_previous_one(marts):
    """DELETE withdraws a screening: the child's older, still valid screening is current again."""
    row = marts.child("screening_withdrawn", T0)
    check(row, poverty_level="POOR")
    assert num(row["income_per_capita_month"]) == 1500.00
    row = marts.child("screening_withdrawn", T2)
    check(row, poverty_level="NOT_POOR", in_welfare=True)
    assert num(row["income_per_capita_month"]) == 10000.00


def test_withdrawn_screening_restored_by_a_later_upsert(marts):
    """Per screening_id its latest row decides: UPSERT, DELETE, UPSERT again -> counts again."""
    check(marts.child("screening_withdrawn_then_restored", T0), poverty_level="POOR")
    check(marts.child("screening_withdrawn_then_restored", T1), poverty_level="UNSCREENED", in_welfare=False)
    check(marts.child("screening_withdrawn_then_restored", T2), poverty_level="POOR", in_welfare=True)


def test_full_welfare_restatement_drops_what_it_does_not_hold(marts):
    """A `full` delivery re-states the source: a screening delivered before it and absent from it no
    longer counts; the screenings it re-states still do."""
    check(marts.child("screening_dropped_by_full", T0), poverty_level="POOR", in_welfare=True)
    for day in (T0B, T2):
        check(marts.child("screening_dropped_by_full", day), poverty_level="UNSCREENED", in_welfare=False)
    check(marts.child("income_at_poverty_line", T0B), poverty_level="POOR")


def test_corrected_screening_replaces_its_values(marts):
    """A later UPSERT of the same screening_id replaces the earlier values."""
    check(marts.child("screening_corrected", T0), poverty_level="POOR")
    row = marts.child("screening_corrected", T1)
    check(row, poverty_level="NOT_POOR")
    assert num(row["income_per_capita_month"]) == 3001.00


def test_two_screenings_on_the_same_day_greatest_screening_id_wins(marts):
    """Same screened_on: the greatest screening_id is current (not the first or last line)."""
    row = marts.child("screenings_same_day")
    check(row, poverty_level="NOT_POOR", has_welfare_card=False)
    assert num(row["income_per_capita_month"]) == 10000.00


def test_income_per_capita_at_and_above_the_poverty_line(marts):
    """income <= 3000 * size is poor: 9000.00 / 3 is POOR; 9000.03 / 3 is NOT_POOR; 9000.01 / 3
    shows as 3000.00 but the test uses the exact ratio: NOT_POOR."""
    at = marts.child("income_at_poverty_line")
    check(at, poverty_level="POOR", has_welfare_card=True, is_priority=False)
    assert num(at["income_per_capita_month"]) == 3000.00
    above = marts.child("income_just_above_line")
    check(above, poverty_level="NOT_POOR")
    assert num(above["income_per_capita_month"]) == 3000.01
    rounds = marts.child("income_above_line_rounds_to_it")
    check(rounds, poverty_level="NOT_POOR")
    assert num(rounds["income_per_capita_month"]) == 3000.00


def test_chronic_absence_threshold_and_priority(marts):
    """days_absent >= 18 is chronic: 17 not, 18 yes. POOR + chronic -> priority; POOR with 17 days
    is not; chronic but NOT_POOR is not."""
    check(marts.child("absent_17_poor"), days_absent=17, chronic_absence=False, poverty_level="POOR",
          is_priority=False)
    check(marts.child("absent_18_poor"), days_absent=18, chronic_absence=True, poverty_level="POOR",
          is_priority=True)
    check(marts.child("absent_25_not_poor"), days_absent=25, chronic_absence=True,
          poverty_level="NOT_POOR", is_priority=False)


def test_extreme_poverty_needs_two_deprivations(marts):
    """Poor by income with >= 2 deprivations is EXTREMELY_POOR (priority even when enrolled and not
    absent, or not school age); 1 deprivation is POOR; 'no farm land and vehicle NONE' counts once; deprivations do
    not matter above the poverty line."""
    check(marts.child("deprivations_2"), poverty_level="EXTREMELY_POOR", education_status="ENROLLED",
          chronic_absence=False, is_priority=True)
    check(marts.child("deprivations_1"), poverty_level="POOR", is_priority=False)
    check(marts.child("no_land_no_vehicle_is_one"), poverty_level="POOR", is_priority=False)
    check(marts.child("no_land_no_vehicle_no_water"), poverty_level="EXTREMELY_POOR", is_priority=True)
    check(marts.child("deprived_but_above_line"), poverty_level="NOT_POOR", is_priority=False)
    check(marts.child("age_4_extremely_poor"), education_status="NOT_SCHOOL_AGE",
          poverty_level="EXTREMELY_POOR", is_priority=True)


# --- municipality summary ------------------------------------------------------------------------

def test_lao_with_no_children_has_a_row_of_zeros(marts):
    """Every LAO of the reference has a row on every date; one with no children has zeros and null
    rates."""
    for day in BUILD_DATES:
        assert sum(1 for (_lao, d) in marts.summaries if d == day) == marts.n_laos
        row = marts.summary(LAO_EMPTY, day)
        check(row, lao_type="CITY", province_code="63", district_code="6306", children=0,
              children_school_age=0, enrolled=0, out_of_school=0, out_of_school_rate=None,
              no_education_record=0, screened=0, poor=0, extremely_poor=0, poverty_rate=None,
              priority_children=0)


def test_counted_lao_summary_column_by_column(marts):
    """LAO 5630109 on 20 Nov 2026: residents counted by residence (registry, else school home), not
    by school; ages 2 and 19 are not children; the school-only G-code child counts at home."""
    row = marts.summary("5630109")
    check(row, lao_type="SAO", province_code="63", district_code="6301",
          children=7, children_school_age=4, enrolled=3, out_of_school=1, no_education_record=3,
          dropped_out=0, not_continued=0, lost_in_transfer=0, never_enrolled=1, preprimary_enrolled=1,
          screened=3, poor=1, extremely_poor=1, with_disability=1, chronic_absence=1, priority_children=2)
    assert num(row["out_of_school_rate"]) == pytest.approx(0.25)
    assert num(row["poverty_rate"]) == pytest.approx(2 / 3)
    check(marts.child("lao_gcode_home"), lao_code="5630109", in_registry=False)
    check(marts.child("lao_k2_disabled"), education_status="ENROLLED", age=4, disability=3)
    assert marts.child("lao_age_2") is None and marts.child("lao_age_19") is None


SUMMARY_COUNTS = ("children", "children_school_age", "enrolled", "out_of_school", "no_education_record",
                  "dropped_out", "not_continued", "lost_in_transfer", "never_enrolled", "preprimary_enrolled",
                  "screened", "poor", "extremely_poor", "with_disability", "chronic_absence",
                  "priority_children")


def _counts_by_definition(children: list[dict]) -> dict[str, int]:
    """The summary's columns per MARTS.md, counted from child rows."""
    c = dict.fromkeys(SUMMARY_COUNTS, 0)
    for r in children:
        school_age = 6 <= r["age"] <= 17
        status, level = r["education_status"], r["poverty_level"]
        c["children"] += 1
        c["children_school_age"] += school_age
        c["enrolled"] += school_age and status == "ENROLLED"
        c["out_of_school"] += school_age and status == "OUT_OF_SCHOOL"
        c["no_education_record"] += status in ("OUT_OF_SCHOOL", "NOT_SCHOOL_AGE")
        for reason in ("dropped_out", "not_continued", "lost_in_transfer", "never_enrolled"):
            c[reason] += r["out_of_school_reason"] == reason.upper()
        c["preprimary_enrolled"] += 3 <= r["age"] <= 5 and status == "ENROLLED"
        c["screened"] += r["in_welfare"]
        c["poor"] += level == "POOR"
        c["extremely_poor"] += level == "EXTREMELY_POOR"
        c["with_disability"] += r["disability"] > 0
        c["chronic_absence"] += r["chronic_absence"]
        c["priority_children"] += r["is_priority"]
    return c


def test_every_lao_row_counts_its_resident_children_by_definition(marts):
    """Each LAO row on each date equals the MARTS.md definitions applied to the child rows resident
    there (and rates are ratio or null)."""
    by_lao: dict[tuple[str, date], list[dict]] = {}
    for (_key, day), r in marts.children.items():
        by_lao.setdefault((r["lao_code"], day), []).append(r)
    assert {day for (_lao, day) in by_lao} == set(BUILD_DATES)
    for (lao, day), row in marts.summaries.items():
        want = _counts_by_definition(by_lao.get((lao, day), []))
        got = {k: row[k] for k in SUMMARY_COUNTS}
        assert got == want, f"LAO {lao} on {day}"
        rate = want["out_of_school"] / want["children_school_age"] if want["children_school_age"] else None
        assert num(row["out_of_school_rate"]) == (pytest.approx(rate) if rate is not None else None)
        poverty = (want["poor"] + want["extremely_poor"]) / want["screened"] if want["screened"] else None
        assert num(row["poverty_rate"]) == (pytest.approx(poverty) if poverty is not None else None)
