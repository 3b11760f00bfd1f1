"""The whole night, through the real DAG: generated deliveries in, marts out, checked against the
generator's ground truth (computed from its simulation, never from the pipeline).

The deliveries carry every fault of EXTRACTS.md (the generator's `default` profile), so the same
run proves each fault is caught with its documented outcome and that nothing else was lost.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
from collections import Counter
from datetime import date, timedelta

import psycopg
import pyarrow.parquet as pq
import pytest

from conftest import TEST_KEY

START = date(2026, 11, 20)
DAYS = 5

# Every column of the mart that the truth states (all but child_key and as_of_date).
CHILD_FIELDS = ("id_type", "sex", "birth_year", "age", "province_code", "district_code", "subdistrict_code",
                "lao_code", "in_registry", "in_enrolment", "in_welfare", "education_status",
                "out_of_school_reason", "grade", "school_code", "affiliation", "multiple_enrolment", "disability",
                "days_absent", "chronic_absence", "poverty_level", "income_per_capita_month", "has_welfare_card",
                "is_priority")
SUMMARY_FIELDS = ("children", "children_school_age", "enrolled", "out_of_school", "no_education_record",
                  "dropped_out", "not_continued", "lost_in_transfer", "never_enrolled", "screened", "poor",
                  "extremely_poor", "priority_children")


def child_key(person_id: str) -> str:
    return hmac.new(TEST_KEY.encode(), person_id.encode(), hashlib.sha256).hexdigest()


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    from equity.synth import generate

    out = tmp_path_factory.mktemp("landing")
    generate(out, persons=1500, start=START, days=DAYS, seed=11, faults="default")
    return out


def _truth(landing, day: date) -> dict[str, dict]:
    table = pq.read_table(landing / "_truth" / "child_truth.parquet").to_pylist()
    return {child_key(r["person_id"]): r for r in table if r["as_of_date"] == day}


def _summary_from_truth(children: dict[str, dict]) -> dict[str, Counter]:
    out: dict[str, Counter] = {}
    for r in children.values():
        c = out.setdefault(r["lao_code"], Counter())
        school_age = 6 <= r["age"] <= 17
        status, reason, level = r["education_status"], r["out_of_school_reason"], r["poverty_level"]
        c["children"] += 1
        c["children_school_age"] += school_age
        c["enrolled"] += school_age and status == "ENROLLED"
        c["out_of_school"] += status == "OUT_OF_SCHOOL"
        c["no_education_record"] += status in ("OUT_OF_SCHOOL", "NOT_SCHOOL_AGE")
        for name in ("dropped_out", "not_continued", "lost_in_transfer", "never_enrolled"):
            c[name] += reason == name.upper()
        c["screened"] += level != "UNSCREENED"
        c["poor"] += level == "POOR"
        c["extremely_poor"] += level == "EXTREMELY_POOR"
        c["priority_children"] += bool(r["is_priority"])
    return out


def _first_mismatches(truth: dict, mart: dict, fields, limit=10) -> list[str]:
    problems = []
    for key in sorted(set(truth) | set(mart)):
        if key not in mart:
            t = truth[key]
            problems.append(f"child {key[:12]}… missing from mart (truth: {t['education_status']}, age {t['age']})")
        elif key not in truth:
            problems.append(f"child {key[:12]}… in mart but not a child in truth: {mart[key]}")
        else:
            diffs = {f: (truth[key][f], mart[key][f]) for f in fields if truth[key][f] != mart[key][f]}
            if diffs:
                problems.append(f"child {key[:12]}… truth vs mart: {diffs}")
        if len(problems) >= limit:
            break
    return problems


def test_nightly_dag_marts_match_ground_truth(warehouse, landing, monkeypatch):
    from equity.orchestrate import run_dates

    monkeypatch.setenv("EQUITY_LANDING", str(landing))
    results = run_dates(START, START + timedelta(days=DAYS - 1))
    assert [r["state"] for r in results] == ["success"] * DAYS, results

    with psycopg.connect(warehouse) as conn:
        for i in range(DAYS):
            day = START + timedelta(days=i)
            truth = _truth(landing, day)
            assert truth, f"generator wrote no truth for {day}"
            cur = conn.execute(
                f"select child_key, {', '.join(CHILD_FIELDS)} from marts.child_equity_profile"
                " where as_of_date = %s", (day,))
            cols = [d.name for d in cur.description]
            mart = {row[0]: dict(zip(cols, row)) for row in cur.fetchall()}
            problems = _first_mismatches(truth, mart, CHILD_FIELDS)
            assert not problems, f"{day}: {len(problems)}+ mismatches, first:\n" + "\n".join(problems)
            # the run record's child count (publish's, shown by `equity status`) is the truth's too
            counts = conn.execute("select counts from audit.pipeline_runs where as_of_date = %s"
                                  " order by started_at desc limit 1", (day,)).fetchone()[0]
            assert counts["children"] == len(truth), (counts["children"], len(truth))

            expected = _summary_from_truth(truth)
            cur = conn.execute(
                f"select lao_code, {', '.join(SUMMARY_FIELDS)} from marts.municipality_equity_summary"
                " where as_of_date = %s", (day,))
            got = {row[0]: dict(zip(SUMMARY_FIELDS, row[1:])) for row in cur.fetchall()}
            laos = {r[0] for r in conn.execute("select lao_code from reference.laos")}
            assert set(got) == laos, "every LAO of the reference has a row"
            for lao, counts in got.items():
                want = {f: expected.get(lao, Counter())[f] for f in SUMMARY_FIELDS}
                assert counts == want, f"{day} LAO {lao}: mart {counts} != truth {want}"

        _assert_faults_handled_as_documented(conn, landing)
        # Every run records its steps' timings, policy and code version for `equity status`.
        for timings, policy, version in conn.execute("select timings, policy, code_version from audit.pipeline_runs"):
            assert {"start", "transform", "gate_marts", "publish", "load:enrolment"} <= set(timings), timings
            assert policy["poverty_line_thb"] == 3000 and version
        # History is kept as changes: the nightly build adds versions, it does not copy every snapshot.
        versions = conn.execute("select count(*) from intermediate.int_enrolment__record_versions").fetchone()[0]
        rostered = conn.execute("select sum(rows_loaded) from audit.load_batches where source = 'enrolment'"
                                " and status = 'loaded'").fetchone()[0]
        assert versions < rostered / 2, (versions, rostered)
        # PDPA: no person ID or name reached the pseudonymous marts
        some_id = next(iter(pq.read_table(landing / "_truth" / "child_truth.parquet",
                                          columns=["person_id"]).column(0).to_pylist()))
        hit = conn.execute("select count(*) from marts.child_equity_profile where child_key = %s or"
                           " school_code = %s", (some_id, some_id)).fetchone()[0]
        assert hit == 0

    # Every run left its GX Data Docs (HTML, counts only) for people to read.
    from equity.paths import state_dir

    assert list((state_dir() / "gx_docs").rglob("index.html"))


def _assert_faults_handled_as_documented(conn, landing):
    log = list(csv.DictReader((landing / "_truth" / "faults.csv").open()))
    row_faults = {(r["source"], r["file"], int(r["line"]), r["kind"]) for r in log if r["line"]}
    file_faults = {(r["source"], r["extract_date"], r["file"], r["kind"]) for r in log if not r["line"]}
    from equity.contracts import DELIVERY_FAULTS, REJECT_REASONS

    injected = {k for *_, k in row_faults} | {k for *_, k in file_faults}
    missing_kinds = set(DELIVERY_FAULTS) - {"manifest_malformed"} - injected
    assert not missing_kinds, f"the generator injected no {missing_kinds}: this run proves nothing about them"

    # Every bad row is in quarantine with its file, line and reason; nothing else is.
    quarantined = set()
    for source in ("enrolment", "welfare", "registry"):
        quarantined |= {(source, f, line, reason) for f, line, reason in conn.execute(
            f"select _file, _line, reason from quarantine.{source}_rejects")}
    assert quarantined == row_faults
    assert {k for *_, k in row_faults} <= set(REJECT_REASONS)

    # Every broken delivery was refused whole, with the rule named; a missing manifest is "missing".
    refused = conn.execute(
        "select source, extract_date::text, message from audit.load_batches where status = 'refused'").fetchall()
    expected_refusals = {f for f in file_faults if f[3] != "manifest_missing"}
    assert {(s, d) for s, d, _ in refused} == {(s, d) for s, d, _f, _k in expected_refusals}
    for source, day, message in refused:
        (_s, _d, file, kind), = [f for f in expected_refusals if f[:2] == (source, day)]
        assert f"[{kind}]" in message and file in message, message
    # ...and left nothing of itself in raw.
    for source, day, _ in refused:
        table = {"enrolment": "enrolment_roster", "welfare": "welfare_screenings",
                 "registry": "registry_events"}[source]
        leaked = conn.execute(
            f"select count(*) from raw.{table} r join audit.load_batches b on b.batch_id = r._batch_id"
            " where b.source = %s and b.extract_date = %s::date and b.status <> 'loaded'", (source, day)).fetchone()
        assert leaked == (0,)

    # Counts reconcile for every loaded batch: rows in manifest = loaded + rejected.
    bad = conn.execute("select source, extract_date from audit.load_batches where status in ('loaded', 'superseded')"
                       " and rows_manifest <> rows_loaded + rows_rejected").fetchall()
    assert not bad

    # Nights with a refused or missing source are marked degraded, not failed, and still published.
    runs = dict(conn.execute("select as_of_date::text, status from audit.pipeline_runs").fetchall())
    hit = {d for _s, d, _f, _k in file_faults}
    assert {d for d, s in runs.items() if s == "degraded"} == hit
    assert all(s in ("success", "degraded") for s in runs.values())
