"""Every tunable number of the simulation, with its default, in one dataclass.

Policy numbers (poverty line, ages, grace days, ...) are NOT here: they come from
`equity.policy.policy()`. Rates below are per person (or per enrolment record / screening) per day;
each dynamic kind also has a floor `min_events_per_kind` over the whole run (spread evenly over
the first days: 2 a day in a 5-day run) so that a small run (2,000 persons x 5 days) still shows
every kind a few times; a long run only gets the floor on its first days. Documented in docs/generator.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Params:
    # --- population -------------------------------------------------------------------------
    g_code_share: float = 0.025          # persons with a G-code (no national ID, not in registry)
    g_code_tak_share: float = 0.5        # of G-code households, share placed in Tak (63)
    non_thai_share: float = 0.03         # national-ID persons with first digit 0/6/7 (non-Thai)
    non_thai_share_border: float = 0.20  # same, in border provinces (Tak: twice this)
    max_children_per_household: int = 3
    # probability of being on a roll at the start, by age at the start of the academic year
    enrol_prob: dict[int, float] = field(default_factory=lambda: {
        3: 0.85, 4: 0.93, 5: 0.97, 6: 0.985, 7: 0.985, 8: 0.985, 9: 0.985, 10: 0.985, 11: 0.985,
        12: 0.97, 13: 0.97, 14: 0.97, 15: 0.92, 16: 0.92, 17: 0.92, 18: 0.60,
    })
    late_k1_share: float = 0.5          # children who turn 3 after 16 May and join K1 mid-year
    vocational_share: float = 0.30       # of ages 15-17 on a roll: V1-V3 at an OVEC college
    private_share_urban: float = 0.10    # pupils in CITY/TOWN areas at an OPEC school
    onie_share: float = 0.02             # ages 13-18 at a non-formal (ONIE) centre
    multiple_enrolment_share: float = 0.005
    disability_share: float = 0.02
    late_join_share: float = 0.10        # ENROLLED status_date inside the year instead of its start
    chronic_absentee_share: float = 0.06
    registry_unknown_day_share: float = 0.03
    registry_unknown_month_share: float = 0.01
    registry_wrong_birth_share: float = 0.01   # later fixed by a CORRECTION event
    school_birth_mismatch_share: float = 0.03  # school's birth date differs from the registry's
    # --- in-term history before the first extract --------------------------------------------
    pre_transfer_share: float = 0.010
    pre_dropout_share: float = 0.006
    pre_graduate_share: float = 0.03   # of students in P6, M3, M6, V3
    # --- welfare -----------------------------------------------------------------------------
    screened_share_enrolled: float = 0.60
    screened_share_other: float = 0.25
    expired_only_share: float = 0.05     # screened children whose only screening is > valid days old
    income_median_per_capita: float = 5200.0
    income_sigma: float = 0.6
    boundary_exact_share: float = 0.02   # income per capita exactly the poverty line
    boundary_cent_share: float = 0.01    # per capita = line + 0.01
    boundary_round_share: float = 0.01   # income = line * size + 0.01 (per capita rounds to line)
    # poor households in the poorest provinces (Mae Hong Son, Tak, the deep South): each
    # deprivation this many times likelier (capped at 0.95)
    remote_deprivation_factor: float = 1.8
    # --- daily dynamics (per person / record / screening per day) ----------------------------
    min_events_per_kind: int = 8         # floor over the whole run, spread over its first days
    birth_rate: float = 0.0001
    death_rate: float = 0.00002
    move_rate: float = 0.0003
    move_in_share: float = 0.8           # MOVE_OUT followed by a MOVE_IN (else MOVE_OUT only)
    move_in_max_lag: int = 3
    move_transfer_share: float = 0.5     # movers on a roll who also change school
    transfer_rate: float = 0.0002
    transfer_reenrol_share: float = 0.6  # TRANSFERRED students who reappear ENROLLED elsewhere
    reenrol_max_lag: int = 12
    dropout_rate: float = 0.0002
    dropout_status_share: float = 0.7    # DROPPED_OUT record; the rest vanish from the roster
    graduation_rate: float = 0.0001
    death_school_notice_share: float = 0.6
    new_screening_rate: float = 0.001
    screening_correction_rate: float = 0.0005
    screening_withdrawal_rate: float = 0.0002
    registry_correction_rate: float = 0.0002
    # --- files -------------------------------------------------------------------------------
    max_part_rows: int = 250_000
    min_enrolment_parts: int = 3
    min_dla_parts: int = 2
    min_full_parts: int = 2
    # --- national scale ----------------------------------------------------------------------
    # a run of more persons is simulated in province shards of about this many persons, one at a
    # time (bounded memory, see shards.py); 0 = never shard. Runs up to it are unsharded.
    shard_persons: int = 1_000_000
