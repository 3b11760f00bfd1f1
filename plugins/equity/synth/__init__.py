"""Synthetic deliveries for the equity warehouse, with their ground truth.

    from equity.synth import generate
    summary = generate(Path("landing"), children=2000, start=date(2026, 11, 20), days=5, seed=7)

writes `<out>/{enrolment,welfare,registry}/<YYYY-MM-DD>/` exactly per EXTRACTS.md and
`<out>/_truth/` (child_truth.parquet, faults.csv, summary.json). See docs/generator.md.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from equity.synth.geography import Reference, build_reference, load_reference, write_reference
from equity.synth.model import SnapRow
from equity.synth.params import Params
from equity.synth.thaidates import term_of

__all__ = ["FAULT_PROFILES", "Params", "Reference", "build_reference", "generate", "load_reference",
           "write_reference"]

FAULT_PROFILES = ("clean",)


def snapshot_rows(w, today: date) -> list[SnapRow]:
    """The enrolment snapshot of `today`: every roster line, frozen, sorted by school then person."""
    ay, term, _ = term_of(today)
    rows = []
    for (pid, code) in sorted(w.roster):
        rec = w.roster[(pid, code)]
        person, school = w.persons[pid], w.schools[code]
        rows.append(SnapRow(
            pid, code, school.name, school.affiliation, school.subdistrict, ay, term, rec.grade,
            rec.status, rec.status_date, person.first_name, person.last_name, person.sex,
            person.school_birth, rec.disability, rec.home_subdistrict, rec.days_absent,
        ))
    return rows


def generate(out: Path, children: int = 2000, start: date = date(2026, 11, 20), days: int = 5,
             seed: int = 7, faults: str = "clean",
             progress: Callable[[int, int, date], None] | None = None,
             params: Params | None = None, reference: Path | None = None) -> dict:
    """Simulate `children` persons aged 0-24 for `days` days from `start` and write every
    delivery plus the ground truth under `out`. Returns the summary (also in _truth/summary.json).

    `progress(done_days, total_days, extract_date)` is called after each day.
    `reference` is a folder with subdistricts.csv and laos.csv (default: the shipped set).
    """
    from equity.policy import policy
    from equity.synth import writers
    from equity.synth.dynamics import step
    from equity.synth.population import populate
    from equity.synth.truth import Delivered, write_truth
    from equity.synth.world import World

    if faults != "clean":
        raise NotImplementedError(
            f"fault profile {faults!r} is not implemented yet: only 'clean' is "
            "(see the TODO in docs/generator.md)")
    if children < 1 or days < 1:
        raise ValueError("children and days must be at least 1")
    out = Path(out)
    p = params or Params()
    ref = load_reference(reference)
    pol = dict(policy())
    w = World(p, ref, pol, seed, start)
    populate(w, children)
    delivered = Delivered(ref, pol)
    truth_rows: list[dict] = []
    per_day = []
    for i in range(days):
        today = start + timedelta(days=i)
        if i > 0:
            step(w, today, i, days)
        mode = "full" if i == 0 else "delta"
        snap = snapshot_rows(w, today)
        writers.write_enrolment(out, today, snap, p.min_enrolment_parts, p.min_dla_parts,
                                p.max_part_rows)
        writers.write_welfare(out, today, w.today_welfare, mode,
                              p.min_full_parts if i == 0 else 1, p.max_part_rows)
        writers.write_registry(out, today, w.today_registry, mode,
                               p.min_full_parts if i == 0 else 1, p.max_part_rows)
        delivered.load_registry(today, w.today_registry)
        delivered.load_enrolment(today, snap)
        delivered.load_welfare(today, w.today_welfare)
        rows = delivered.child_rows(today)
        truth_rows.extend(rows)
        per_day.append(_day_summary(today, rows, len(snap), len(w.today_welfare),
                                    len(w.today_registry)))
        if progress is not None:
            progress(i + 1, days, today)

    truth_dir = out / "_truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    write_truth(truth_dir, truth_rows)
    with open(truth_dir / "faults.csv", "w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerow(("file", "line", "kind"))
    summary = {
        "seed": seed, "start": start.isoformat(), "days": days, "faults": faults,
        "persons": len(w.persons), "households": len(w.households), "schools": len(w.schools),
        "schools_by_affiliation": dict(sorted(Counter(s.affiliation for s in w.schools.values())
                                              .items())),
        "g_code_persons": sum(pp.id_type == "G_CODE" for pp in w.persons.values()),
        "events": dict(sorted(w.counts.items())),
        "policy": pol,
        "per_day": per_day,
    }
    (truth_dir / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n",
                                            encoding="utf-8")
    return summary


def _day_summary(today: date, rows: list[dict], enrolment_rows: int, welfare_rows: int,
                 registry_rows: int) -> dict:
    status = Counter(r["education_status"] for r in rows)
    reasons = Counter(r["out_of_school_reason"] for r in rows if r["out_of_school_reason"])
    poverty = Counter(r["poverty_level"] for r in rows)
    return {
        "as_of_date": today.isoformat(),
        "delivered_rows": {"enrolment": enrolment_rows, "welfare": welfare_rows,
                           "registry": registry_rows},
        "children": len(rows),
        "education_status": dict(sorted(status.items())),
        "out_of_school_reason": dict(sorted(reasons.items())),
        "poverty_level": dict(sorted(poverty.items())),
        "priority": sum(r["is_priority"] for r in rows),
        "laos_with_children": len({r["lao_code"] for r in rows}),
    }
