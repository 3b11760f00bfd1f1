"""Synthetic deliveries for the equity warehouse, with their ground truth.

    from equity.synth import generate
    summary = generate(Path("landing"), persons=3200, start=date(2026, 11, 20), days=5, seed=7)

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

from equity.synth.faults import (
    EMPTY_PLAN,
    FAULT_KINDS,
    FAULT_LOG_COLUMNS,
    FAULT_PROFILES,
    FaultProfile,
    fault_profile,
)
from equity.synth.geography import Reference, build_reference, load_reference, write_reference
from equity.synth.model import SnapRow
from equity.synth.params import Params
from equity.synth.thaidates import term_of

__all__ = ["CHILDREN_PER_PERSON", "FAULT_KINDS", "FAULT_PROFILES", "FaultProfile", "Params", "Reference",
           "build_reference", "generate", "load_reference", "persons_for_children", "write_reference"]

# Children (MARTS.md: aged 3-18 on the as-of date) per simulated person aged 0-24, as measured on the
# generator's own output: 0.6316 at 100 k and 1 M persons, 0.6325 at 13 M (docs/benchmarks.md). People
# size a run by children (`equity generate --children 13000000` = Thailand's 3-18 population); the
# simulation is sized by persons, because the registry feed covers everyone aged 0-24.
CHILDREN_PER_PERSON = 0.632


def persons_for_children(children: int) -> int:
    """The number of persons aged 0-24 whose population holds about `children` children aged 3-18."""
    return max(1, round(children / CHILDREN_PER_PERSON))



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


def generate(out: Path, persons: int = 2000, start: date = date(2026, 11, 20), days: int = 5,
             seed: int = 7, faults: str | FaultProfile = "clean",
             progress: Callable[[date, int, int], None] | None = None,
             params: Params | None = None, reference: Path | None = None) -> dict:
    """Simulate `persons` persons aged 0-24 for `days` days from `start` and write every
    delivery plus the ground truth under `out`. Returns the summary (also in _truth/summary.json).

    `faults`: a profile name (`clean`, `default`) or a `FaultProfile`.
    `progress(extract_date, done_days, total_days)` is called after each day.
    `reference` is a folder with subdistricts.csv and laos.csv (default: the shipped set).
    """
    import dataclasses
    import gc

    from equity.policy import policy
    from equity.synth import writers
    from equity.synth.dynamics import step
    from equity.synth.faults import FaultInjector
    from equity.synth.population import populate
    from equity.synth.shards import plan_shards
    from equity.synth.truth import Delivered, TruthWriter
    from equity.synth.world import World

    profile = fault_profile(faults)
    if persons < 1 or days < 1:
        raise ValueError("persons and days must be at least 1")
    out = Path(out)
    p = params or Params()
    ref = load_reference(reference)
    pol = dict(policy())
    shards = plan_shards(ref, p, persons)
    sharded = shards is not None
    injector = FaultInjector(profile, seed, days, ref)
    truth_dir = out / "_truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    truth = TruthWriter(truth_dir / "child_truth.parquet")
    fault_file = open(truth_dir / "faults.csv", "w", encoding="utf-8", newline="")  # noqa: SIM115
    fault_log = csv.writer(fault_file, lineterminator="\n")
    fault_log.writerow(FAULT_LOG_COLUMNS)
    day_stats = [_DayStats() for _ in range(days)]
    day_counts = [dict.fromkeys(("enrolment", "welfare", "registry"), 0) for _ in range(days)]
    # sharded: every (source, day)'s files over all shards; manifests are written after the last
    manifest_files: dict[tuple[str, int], list[dict]] = {}
    totals = _Totals()
    hh_seq = screening_seq = 0
    try:
        for shard in shards or [None]:
            if shard is None:
                w = World(p, ref, pol, seed, start)
                populate(w, persons)
            else:
                w = World(dataclasses.replace(p, g_code_share=shard.g_code_share), ref, pol,
                          shard.seed(seed), start, shard=shard, hh_seq=hh_seq,
                          screening_seq=screening_seq)
                populate(w, shard.persons)
            delivered = Delivered(ref, pol)
            carry_registry: list = []   # rows of refused registry deltas, re-delivered with the next
            carry_welfare: dict = {}    # screening_id -> latest row of refused welfare deltas
            for i in range(days):
                today = start + timedelta(days=i)
                if i > 0:
                    step(w, today, i, days)
                snap = snapshot_rows(w, today)
                registry_rows = carry_registry + w.today_registry
                for s in w.today_welfare:
                    carry_welfare.pop(s.screening_id, None)
                    carry_welfare[s.screening_id] = s
                welfare_rows = list(carry_welfare.values())
                for source, rows in (("enrolment", snap), ("welfare", welfare_rows),
                                     ("registry", registry_rows)):
                    fault = injector.delivery_fault(source, i)
                    fmt = {"enrolment": writers.enrolment_values, "welfare": writers.welfare_values,
                           "registry": writers.registry_values}[source]
                    plan = injector.row_plan(source, i, today, rows, fmt) if fault is None \
                        else EMPTY_PLAN
                    log: list = []
                    so_far = manifest_files.setdefault((source, i), [])
                    if source == "enrolment":
                        n_dla = sum(f["name"].startswith("enrolment_dla_") for f in so_far)
                        files = writers.write_enrolment(
                            out, today, rows, p.min_enrolment_parts, p.min_dla_parts,
                            p.max_part_rows, plan, log, first=len(so_far) - n_dla + 1,
                            first_dla=n_dla + 1)
                        mode = "snapshot"
                    else:
                        write = writers.write_welfare if source == "welfare" else \
                            writers.write_registry
                        files = write(out, today, rows, p.min_full_parts if i == 0 else 1,
                                      p.max_part_rows, plan, log, first=len(so_far) + 1)
                        mode = "full" if i == 0 else "delta"
                    folder = out / source / today.isoformat()
                    # a delivery fault is decided once per (source, day) and applied to a file
                    # of the first shard; the delivery is refused in every shard
                    if fault is not None and (shard is None or shard.index == 0):
                        name = injector.apply_delivery_fault(fault, source, today, folder, files)
                        if name is None:  # could not be applied (e.g. no file fails to decode)
                            injector.refused.pop((source, i), None)
                            fault = None
                            plan = EMPTY_PLAN
                        else:
                            fault_log.writerow((source, today.isoformat(), name, "", fault))
                    if sharded:
                        so_far.extend(files)
                    elif fault != "manifest_missing":
                        writers.write_manifest(folder, source, today, mode, files)
                    for name, line, kind in log:
                        fault_log.writerow((source, today.isoformat(), name, line, kind))
                    day_counts[i][source] += sum(f["rows"] for f in files)
                    if fault is not None:  # refused: nothing loads; deltas come again tomorrow
                        if source == "registry":
                            carry_registry = registry_rows
                        continue
                    survivors = plan.survivors(rows)
                    if source == "enrolment":
                        delivered.load_enrolment(today, survivors)
                    elif source == "welfare":
                        delivered.load_welfare(today, survivors)
                        carry_welfare = {}
                    else:
                        delivered.load_registry(today, survivors)
                        carry_registry = []
                for row in truth.write_day(delivered.iter_child_rows(today)):
                    day_stats[i].add(row)
                del snap, registry_rows, welfare_rows
                if progress is not None:
                    done = i + 1 + (shard.index * days if shard is not None else 0)
                    progress(today, done, days * len(shards) if sharded else days)
            totals.add(w)
            hh_seq, screening_seq = w._hh_seq, w._screening_seq
            del w, delivered, carry_registry, carry_welfare
            gc.collect()
        if sharded:  # manifests last, once every shard's files of the delivery are written
            for (source, i), files in manifest_files.items():
                today = start + timedelta(days=i)
                if injector.delivery_fault(source, i) != "manifest_missing":
                    mode = "snapshot" if source == "enrolment" else "full" if i == 0 else "delta"
                    writers.write_manifest(out / source / today.isoformat(), source, today, mode,
                                           files)
    finally:
        truth.close()
        fault_file.close()

    summary = {
        "seed": seed, "start": start.isoformat(), "days": days, "faults": profile.name,
        "persons": totals.persons, "households": totals.households, "schools": totals.schools,
        "schools_by_affiliation": dict(sorted(totals.affiliations.items())),
        "g_code_persons": totals.g_code,
        "events": dict(sorted(totals.events.items())),
        "fault_counts": {k: injector.counts[k] for k in profile.kinds()},
        "delivery_faults": injector.details,
        "policy": pol,
        "per_day": [day_stats[i].summary(start + timedelta(days=i), day_counts[i])
                    for i in range(days)],
    }
    if sharded:
        summary["shards"] = [{"provinces": list(sh.provinces), "persons_planned": sh.persons}
                             for sh in shards]
    (truth_dir / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n",
                                            encoding="utf-8")
    return summary


class _Totals:
    """The summary's world counts, summed over shards."""

    def __init__(self) -> None:
        self.persons = self.households = self.schools = self.g_code = 0
        self.affiliations: Counter[str] = Counter()
        self.events: Counter[str] = Counter()

    def add(self, w) -> None:
        self.persons += len(w.persons)
        self.households += len(w.households)
        self.schools += len(w.schools)
        self.affiliations.update(s.affiliation for s in w.schools.values())
        self.g_code += sum(pp.id_type == "G_CODE" for pp in w.persons.values())
        self.events.update(w.counts)


class _DayStats:
    """The day's summary counters, fed one truth row at a time."""

    def __init__(self) -> None:
        self.children = self.priority = 0
        self.status: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.poverty: Counter[str] = Counter()
        self.laos: set[str] = set()

    def add(self, r: dict) -> None:
        self.children += 1
        self.status[r["education_status"]] += 1
        if r["out_of_school_reason"]:
            self.reasons[r["out_of_school_reason"]] += 1
        self.poverty[r["poverty_level"]] += 1
        self.priority += r["is_priority"]
        self.laos.add(r["lao_code"])

    def summary(self, today: date, delivered_rows: dict) -> dict:
        return {
            "as_of_date": today.isoformat(),
            "delivered_rows": delivered_rows,
            "children": self.children,
            "education_status": dict(sorted(self.status.items())),
            "out_of_school_reason": dict(sorted(self.reasons.items())),
            "poverty_level": dict(sorted(self.poverty.items())),
            "priority": self.priority,
            "laos_with_children": len(self.laos),
        }
