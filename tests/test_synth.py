"""The synthetic generator: files as EXTRACTS.md says, determinism, dynamics, plausible truth.

The checks read the written files with a small independent reader (below), the way a user would.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import time
from collections import Counter, defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from equity.contracts import (
    AFFILIATIONS,
    ENROLMENT,
    ENROLMENT_STATUSES,
    G_CODE,
    GRADES,
    LAO_COLUMNS,
    LAO_TYPES,
    REGISTRY,
    REGISTRY_EVENTS,
    SUBDISTRICT_COLUMNS,
    WELFARE,
    is_valid_national_id,
)
from equity.paths import SHIPPED_REFERENCE_DIR
from equity.policy import policy
from equity.synth import generate, load_reference, write_reference

START = date(2026, 11, 20)
DAYS = 5
DATES = [START + timedelta(days=i) for i in range(DAYS)]


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("landing")
    t0 = time.perf_counter()
    generate(out, persons=2000, start=START, days=DAYS, seed=7)
    assert time.perf_counter() - t0 < 30  # 2,000 x 5 days takes a few seconds
    return out


@pytest.fixture(scope="module")
def truth(landing) -> list[dict]:
    return pq.read_table(landing / "_truth" / "child_truth.parquet").to_pylist()


# --- an independent reader of the contract --------------------------------------------------

def manifest(landing: Path, source: str, d: date) -> dict:
    return json.loads((landing / source / d.isoformat() / "_manifest.json").read_text("utf-8"))


def decoded(landing: Path, source: str, d: date, entry: dict) -> str:
    raw = (landing / source / d.isoformat() / entry["name"]).read_bytes()
    codec = {"utf-8": "utf-8-sig", "windows-874": "cp874"}[entry["encoding"]]
    return raw.decode(codec)


def enrolment_rows(landing: Path, d: date) -> list[dict]:
    rows = []
    for entry in manifest(landing, "enrolment", d)["files"]:
        reader = csv.DictReader(io.StringIO(decoded(landing, "enrolment", d, entry), newline=""))
        assert tuple(reader.fieldnames) == ENROLMENT.columns
        rows.extend(reader)
    return rows


def registry_rows(landing: Path, d: date) -> list[dict]:
    rows = []
    for entry in manifest(landing, "registry", d)["files"]:
        lines = decoded(landing, "registry", d, entry).split("\n")
        assert lines[-1] == ""
        header = lines[0].split("|")
        assert tuple(header) == REGISTRY.columns
        rows.extend(dict(zip(header, line.split("|"), strict=True)) for line in lines[1:-1])
    return rows


def welfare_rows(landing: Path, d: date) -> list[dict]:
    rows = []
    for entry in manifest(landing, "welfare", d)["files"]:
        rows.extend(pq.read_table(landing / "welfare" / d.isoformat() / entry["name"]).to_pylist())
    return rows


def be_slash(text: str) -> date:
    dd, mm, yyyy = text.split("/")
    return date(int(yyyy) - 543, int(mm), int(dd))


# --- files and manifests --------------------------------------------------------------------

def test_every_delivery_has_a_manifest_matching_its_files(landing):
    for source, modes in (("enrolment", ["snapshot"] * DAYS),
                          ("welfare", ["full"] + ["delta"] * (DAYS - 1)),
                          ("registry", ["full"] + ["delta"] * (DAYS - 1))):
        for d, mode in zip(DATES, modes, strict=True):
            folder = landing / source / d.isoformat()
            m = manifest(landing, source, d)
            assert m["source"] == source and m["extract_date"] == d.isoformat()
            assert m["schema_version"] == "1.0" and m["revision"] == 1 and m["mode"] == mode
            assert m["produced_at"] == f"{d + timedelta(days=1)}T00:15:00+07:00"
            listed = {f["name"] for f in m["files"]}
            assert listed == {p.name for p in folder.iterdir()} - {"_manifest.json"}
            for f in m["files"]:
                data = (folder / f["name"]).read_bytes()
                assert hashlib.sha256(data).hexdigest() == f["sha256"]
                assert ENROLMENT.file_pattern.match(f["name"]) or WELFARE.file_pattern.match(
                    f["name"]) or REGISTRY.file_pattern.match(f["name"])
                if source == "welfare":
                    assert f["encoding"] is None
                    assert pq.read_metadata(folder / f["name"]).num_rows == f["rows"]
                else:
                    text = decoded(landing, source, d, f)
                    assert len(text.splitlines()) - 1 == f["rows"]


def test_enrolment_files_exercise_bom_crlf_cp874_and_quoting(landing):
    m = manifest(landing, "enrolment", START)
    folder = landing / "enrolment" / START.isoformat()
    utf8 = [f for f in m["files"] if not f["name"].startswith("enrolment_dla_")]
    dla = [f for f in m["files"] if f["name"].startswith("enrolment_dla_")]
    assert len(utf8) >= 3 and dla
    assert all(f["encoding"] == "utf-8" for f in utf8)
    assert all(f["encoding"] == "windows-874" for f in dla)
    raw = {f["name"]: (folder / f["name"]).read_bytes() for f in m["files"]}
    assert any(raw[f["name"]].startswith(b"\xef\xbb\xbf") for f in utf8)
    assert any(not raw[f["name"]].startswith(b"\xef\xbb\xbf") for f in utf8)
    assert any(b"\r\n" in b for b in raw.values()) and any(b"\r\n" not in b for b in raw.values())
    for f in dla:  # really windows-874, not UTF-8
        with pytest.raises(UnicodeDecodeError):
            raw[f["name"]].decode("utf-8")
    rows = enrolment_rows(landing, START)
    assert any("," in r["school_name"] for r in rows)
    assert any('"' in r["school_name"] for r in rows)
    assert all(r["affiliation"] == "DLA" for f in dla
               for r in csv.DictReader(io.StringIO(decoded(landing, "enrolment", START, f))))


def test_enrolment_values_follow_the_contract(landing):
    ref = load_reference()
    for d in (DATES[0], DATES[-1]):
        rows = enrolment_rows(landing, d)
        keys = Counter((r["person_id"], r["school_code"]) for r in rows)
        assert max(keys.values()) == 1
        for r in rows:
            pid = r["person_id"]
            assert is_valid_national_id(pid) or G_CODE.match(pid)
            assert len(r["school_code"]) == 10 and r["school_code"].isdigit()
            assert r["affiliation"] in AFFILIATIONS and r["grade"] in GRADES
            assert r["status"] in ENROLMENT_STATUSES and r["sex"] in ("M", "F")
            assert (r["academic_year"], r["term"]) == ("2569", "2")
            assert date.fromisoformat(r["status_date"]) <= d
            born = be_slash(r["birth_date"])
            assert date(2000, 1, 1) < born < d
            assert r["school_subdistrict_code"] in ref.subdistricts
            assert r["home_subdistrict_code"] in ref.subdistricts
            assert 0 <= int(r["disability"]) <= 9 and int(r["days_absent"]) >= 0
            if r["grade"].startswith("V"):
                assert r["affiliation"] == "OVEC"
    affs = Counter(r["affiliation"] for r in enrolment_rows(landing, START))
    assert set(affs) == set(AFFILIATIONS) and affs.most_common(1)[0][0] == "OBEC"


def test_registry_values_follow_the_contract(landing):
    ref = load_reference()
    full = registry_rows(landing, START)
    assert {r["event"] for r in full} == {"BASELINE"}
    assert len({r["pid"] for r in full}) == len(full)
    unknown = Counter()
    for d in DATES:
        for r in registry_rows(landing, d):
            assert is_valid_national_id(r["pid"]), r["pid"]
            assert r["event"] in REGISTRY_EVENTS and r["sex"] in ("1", "2")
            assert len(r["house_id"]) == 11 and r["house_id"].isdigit()
            assert ref.subdistricts[r["subdistrict_code"]].lao_code == r["lao_code"]
            for parent in (r["mother_pid"], r["father_pid"]):
                assert parent == "" or is_valid_national_id(parent)
            ev = r["event_date"]
            event_date = date(int(ev[:4]) - 543, int(ev[4:6]), int(ev[6:]))
            assert event_date <= d
            b = r["birth_date"]
            assert len(b) == 8 and b.isdigit() and 2543 <= int(b[:4]) <= 2570
            unknown[(b[4:6] == "00", b[6:] == "00")] += 1
            if b[4:6] != "00" and b[6:] != "00":
                date(int(b[:4]) - 543, int(b[4:6]), int(b[6:]))  # a real date
    assert unknown[(True, True)] > 0 and unknown[(False, True)] > 0
    nationalities = Counter(r["nationality"] for r in full)
    assert {"THA", "MMR"} <= set(nationalities) and nationalities.most_common(1)[0][0] == "THA"
    first = Counter(r["pid"][0] for r in full)
    assert first.most_common(1)[0][0] == "1" and first["0"] > 0 and "9" not in first


def test_welfare_parquet_has_the_contract_types(landing):
    expected = {
        "screening_id": pa.string(), "person_id": pa.string(), "household_id": pa.string(),
        "screened_on": pa.date32(), "household_size": pa.int32(),
        "household_income_month": pa.decimal128(12, 2), "caregiver": pa.string(),
        "has_welfare_card": pa.bool_(), "housing": pa.string(), "electricity": pa.bool_(),
        "clean_water": pa.bool_(), "farm_land": pa.bool_(), "vehicle": pa.string(),
        "action": pa.string(),
    }
    for d in DATES:
        for f in manifest(landing, "welfare", d)["files"]:
            schema = pq.read_schema(landing / "welfare" / d.isoformat() / f["name"])
            assert tuple(schema.names) == WELFARE.columns
            assert {n: schema.field(n).type for n in schema.names} == expected
        for r in welfare_rows(landing, d):
            assert r["household_size"] >= 1 and r["household_income_month"] >= 0
            assert r["screened_on"] <= d and r["action"] in ("UPSERT", "DELETE")
            assert is_valid_national_id(r["person_id"]) or G_CODE.match(r["person_id"])
        ids = Counter(r["screening_id"] for r in welfare_rows(landing, d))
        assert max(ids.values()) == 1  # one row per screening per delivery


def test_g_codes_only_in_enrolment_and_welfare_mostly_in_border_provinces(landing):
    enrolled = {r["person_id"] for r in enrolment_rows(landing, START)}
    g = {p for p in enrolled if p.startswith("G")}
    assert g
    registry = {r["pid"] for d in DATES for r in registry_rows(landing, d)}
    assert not any(p.startswith("G") for p in registry)
    assert any(r["person_id"].startswith("G") for r in welfare_rows(landing, START))
    tak = sum(p[1:3] == "63" for p in g)
    assert tak / len(g) > 0.3


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(a, persons=300, days=3, seed=11)
    generate(b, persons=300, days=3, seed=11)
    generate(c, persons=300, days=3, seed=12)
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    rel = Path("registry") / START.isoformat() / "registry_20261120_001.txt"
    assert (a / rel).read_bytes() != (c / rel).read_bytes()


# --- dynamics -------------------------------------------------------------------------------

def test_each_dynamic_kind_happens(landing):
    events = Counter(r["event"] for d in DATES[1:] for r in registry_rows(landing, d))
    for kind in ("BIRTH", "DEATH", "MOVE_IN", "MOVE_OUT", "CORRECTION"):
        assert events[kind] >= 2, kind
    by_pid = defaultdict(list)
    for d in DATES[1:]:
        for r in registry_rows(landing, d):
            by_pid[r["pid"]].append(r["event"])
    assert any(ev.count("MOVE_OUT") and not ev.count("MOVE_IN") for ev in by_pid.values())

    statuses = Counter()
    vanished = transferred_and_back = 0
    for prev, d in itertools.pairwise(DATES):
        before = {(r["person_id"], r["school_code"]): r for r in enrolment_rows(landing, prev)}
        now = {(r["person_id"], r["school_code"]): r for r in enrolment_rows(landing, d)}
        for r in now.values():
            if r["status"] != "ENROLLED" and date.fromisoformat(r["status_date"]) == d:
                statuses[r["status"]] += 1
        vanished += sum(1 for k, r in before.items() if k not in now and r["status"] == "ENROLLED")
        per_person = defaultdict(set)
        for (pid, _), r in now.items():
            per_person[pid].add(r["status"])
        transferred_and_back += sum({"TRANSFERRED", "ENROLLED"} <= s for s in per_person.values())
    for status in ("TRANSFERRED", "DROPPED_OUT", "GRADUATED", "DECEASED"):
        assert statuses[status] >= 1, status
    assert vanished >= 1 and transferred_and_back >= 1

    seen: set[str] = set()
    new = corrected = deleted = 0
    for i, d in enumerate(DATES):
        for r in welfare_rows(landing, d):
            if i:
                deleted += r["action"] == "DELETE"
                corrected += r["action"] == "UPSERT" and r["screening_id"] in seen
                new += r["action"] == "UPSERT" and r["screening_id"] not in seen
            seen.add(r["screening_id"])
    assert new >= 2 and corrected >= 2 and deleted >= 2


def test_registry_and_school_sometimes_disagree_on_birth_dates(landing):
    reg = {r["pid"]: r["birth_date"] for r in registry_rows(landing, START)}
    differ = 0
    for r in enrolment_rows(landing, START):
        b = reg.get(r["person_id"])
        if b and "00" not in (b[4:6], b[6:]):
            school = be_slash(r["birth_date"])
            differ += school != date(int(b[:4]) - 543, int(b[4:6]), int(b[6:]))
    assert differ > 0


def test_welfare_incomes_hit_the_poverty_line(landing):
    line = Decimal(policy()["poverty_line_thb"])
    rows = [r for r in welfare_rows(landing, START) if r["action"] == "UPSERT"]
    exact = [r for r in rows if r["household_income_month"] == line * r["household_size"]]
    above = [r for r in rows if r["household_income_month"] == (line + Decimal("0.01"))
             * r["household_size"]]
    assert exact and above


# --- ground truth ---------------------------------------------------------------------------

def test_truth_is_one_row_per_child_per_date_with_the_rules_columns(truth):
    pol = policy()
    assert {r["as_of_date"] for r in truth} == set(DATES)
    assert len({(r["as_of_date"], r["person_id"]) for r in truth}) == len(truth)
    for r in truth:
        assert pol["child_age_min"] <= r["age"] <= pol["child_age_max"]
        assert r["in_registry"] or r["in_enrolment"]
        assert r["province_code"] == r["subdistrict_code"][:2]
        assert (r["out_of_school_reason"] is not None) == (r["education_status"] == "OUT_OF_SCHOOL")
        assert (r["days_absent"] is not None) == (r["education_status"] == "ENROLLED")
        assert (r["income_per_capita_month"] is None) == (r["poverty_level"] == "UNSCREENED")
        if r["out_of_school_reason"] == "NEVER_ENROLLED":
            assert r["grade"] is None and r["school_code"] is None
        if r["education_status"] == "OUT_OF_SCHOOL":
            assert pol["school_age_min"] <= r["age"] <= pol["school_age_max"] and r["is_priority"]


def test_truth_agrees_with_what_the_files_say(landing, truth):
    """in_enrolment / in_registry of the truth match the last day's files, read independently."""
    last = DATES[-1]
    rows = {r["person_id"]: r for r in truth if r["as_of_date"] == last}
    enrolled = {r["person_id"] for r in enrolment_rows(landing, last) if r["status"] == "ENROLLED"}
    ever = {r["person_id"] for d in DATES for r in enrolment_rows(landing, d)}
    latest_event = {}
    for d in DATES:
        for r in registry_rows(landing, d):
            latest_event[r["pid"]] = r["event"]  # event_date never goes back in this run
    for pid, r in rows.items():
        assert r["in_enrolment"] == (pid in enrolled)
        assert r["in_registry"] == (latest_event.get(pid) in ("BASELINE", "BIRTH", "MOVE_IN",
                                                              "CORRECTION"))
        assert latest_event.get(pid) != "DEATH"
        if r["out_of_school_reason"] == "NEVER_ENROLLED":
            assert pid not in ever
    # every registered 3-18-year-old at an address or on a roll, not dead, is a child
    birth = {r["pid"]: r["birth_date"] for d in DATES for r in registry_rows(landing, d)}
    deceased = {r["person_id"] for r in enrolment_rows(landing, last) if r["status"] == "DECEASED"}
    for pid, ev in latest_event.items():
        b = birth[pid]
        y, m, dd = int(b[:4]) - 543, int(b[4:6]), int(b[6:])
        born = date(y, 7, 1) if m == 0 else date(y, m, dd or 15)
        age = last.year - born.year - ((last.month, last.day) < (born.month, born.day))
        at_address = ev in ("BASELINE", "BIRTH", "MOVE_IN", "CORRECTION")
        expected = ev != "DEATH" and (at_address or pid in enrolled) and 3 <= age <= 18 \
            and pid not in deceased
        assert (pid in rows) == expected, pid
        if expected:
            assert rows[pid]["age"] == age


def test_truth_shares_are_plausible(truth):
    last = [r for r in truth if r["as_of_date"] == DATES[-1]]
    status = Counter(r["education_status"] for r in last)
    assert {"ENROLLED", "OUT_OF_SCHOOL", "NOT_SCHOOL_AGE", "IN_TRANSFER", "COMPLETED"} <= set(status)
    no_record = (status["OUT_OF_SCHOOL"] + status["NOT_SCHOOL_AGE"]) / len(last)
    assert 0.04 <= no_record <= 0.14  # iSEE: 1,025,514 / 12,200,105 = 8.4 %
    school_age = [r for r in last if 6 <= r["age"] <= 17]
    oos = sum(r["education_status"] == "OUT_OF_SCHOOL" for r in school_age) / len(school_age)
    assert 0.01 <= oos <= 0.10
    reasons = Counter(r["out_of_school_reason"] for r in last if r["out_of_school_reason"])
    assert {"NEVER_ENROLLED", "DROPPED_OUT", "NOT_CONTINUED"} <= set(reasons)
    screened = [r for r in last if r["poverty_level"] != "UNSCREENED"]
    extreme = sum(r["poverty_level"] == "EXTREMELY_POOR" for r in screened) / len(screened)
    assert 0.07 <= extreme <= 0.18
    assert {"POOR", "NOT_POOR"} <= {r["poverty_level"] for r in screened}
    assert any(r["chronic_absence"] for r in last) and any(r["multiple_enrolment"] for r in last)
    assert sum(r["id_type"] == "G_CODE" for r in last) > 0
    assert len({r["lao_code"] for r in last}) > 300  # a small run still spreads over many LAOs
    by_province = defaultdict(list)
    for r in screened:
        by_province[r["province_code"][0]].append(r["poverty_level"] != "NOT_POOR")
    rates = [sum(v) / len(v) for v in by_province.values() if len(v) >= 30]
    assert max(rates) - min(rates) > 0.05  # poverty varies between regions


def test_truth_poverty_boundary(truth):
    line = policy()["poverty_line_thb"]
    at_line = [r for r in truth if r["income_per_capita_month"] == Decimal(line)]
    assert at_line and {r["poverty_level"] for r in at_line} <= {"POOR", "EXTREMELY_POOR", "NOT_POOR"}
    assert any(r["poverty_level"] in ("POOR", "EXTREMELY_POOR") for r in at_line)
    above = [r for r in truth if r["income_per_capita_month"] == Decimal(line) + Decimal("0.01")]
    assert above and all(r["poverty_level"] == "NOT_POOR" for r in above)


def test_truth_files_and_clean_faults(landing):
    faults = (landing / "_truth" / "faults.csv").read_text("utf-8")
    assert faults == "source,extract_date,file,line,kind\n"
    summary = json.loads((landing / "_truth" / "summary.json").read_text("utf-8"))
    assert summary["faults"] == "clean" and len(summary["per_day"]) == DAYS
    # written day by day: no row group mixes two days
    meta = pq.ParquetFile(landing / "_truth" / "child_truth.parquet")
    for i in range(meta.num_row_groups):
        assert pq.ParquetFile(landing / "_truth" / "child_truth.parquet").read_row_group(
            i, columns=["as_of_date"]).column(0).unique().__len__() == 1


def test_unknown_fault_profile_is_refused_clearly(tmp_path):
    with pytest.raises(ValueError, match="clean"):
        generate(tmp_path, persons=10, days=1, faults="nasty")


def test_progress_is_called_as_the_cli_draws_it(tmp_path):
    calls = []
    generate(tmp_path, persons=50, days=2, seed=1, progress=lambda *a: calls.append(a))
    assert calls == [(START, 1, 2), (START + timedelta(days=1), 2, 2)]


def test_extreme_poverty_varies_between_provinces(tmp_path):
    """Extremely poor share of screened children: a few % in Bangkok, up to ~45 % in the poorest
    provinces (Mae Hong Son, Tak, the deep South)."""
    generate(tmp_path, persons=25000, start=START, days=1, seed=7)
    rows = pq.read_table(tmp_path / "_truth" / "child_truth.parquet",
                         columns=["province_code", "poverty_level"]).to_pylist()
    screened, extreme = Counter(), Counter()
    for r in rows:
        if r["poverty_level"] != "UNSCREENED":
            screened[r["province_code"]] += 1
            extreme[r["province_code"]] += r["poverty_level"] == "EXTREMELY_POOR"
    share = {p: extreme[p] / n for p, n in screened.items() if n >= 60}
    assert len(share) > 40
    assert min(share.values()) <= 0.06 and share["10"] <= 0.06
    assert 0.30 <= max(share.values()) <= 0.60
    assert share["63"] >= 0.25
    national = sum(extreme.values()) / sum(screened.values())
    assert 0.07 <= national <= 0.18


# --- reference ------------------------------------------------------------------------------

def test_shipped_reference_regenerates_identically(tmp_path):
    write_reference(tmp_path)
    for name in ("subdistricts.csv", "laos.csv"):
        assert (tmp_path / name).read_bytes() == (SHIPPED_REFERENCE_DIR / name).read_bytes(), name


def test_reference_shape(tmp_path):
    ref = load_reference()
    with open(SHIPPED_REFERENCE_DIR / "subdistricts.csv", encoding="utf-8") as f:
        assert tuple(next(csv.reader(f))) == SUBDISTRICT_COLUMNS
    with open(SHIPPED_REFERENCE_DIR / "laos.csv", encoding="utf-8") as f:
        assert tuple(next(csv.reader(f))) == LAO_COLUMNS
    assert len(ref.subdistricts) > 7000
    types = Counter(lao.lao_type for lao in ref.laos.values())
    assert set(types) == set(LAO_TYPES)
    assert 25 <= types["CITY"] <= 35 and 150 <= types["TOWN"] <= 230
    assert 2000 <= types["SUBDISTRICT_MUNICIPALITY"] <= 2500 and types["SAO"] > 4000
    for s in ref.subdistricts.values():
        assert len(s.code) == 6 and s.code[:4] == s.district_code and s.code[:2] == s.province_code
        lao = ref.laos[s.lao_code]
        assert len(lao.code) == 7 and lao.province_code == s.province_code
        s.name.encode("cp874")
    used = {s.lao_code for s in ref.subdistricts.values()}
    assert used == set(ref.laos)  # no LAO without a subdistrict
    prefix = {"CITY": "เทศบาลนคร", "TOWN": "เทศบาลเมือง", "SUBDISTRICT_MUNICIPALITY": "เทศบาลตำบล",
              "SAO": "องค์การบริหารส่วนตำบล"}
    for lao in ref.laos.values():
        assert lao.name.startswith(prefix[lao.lao_type]) or lao.name == "กรุงเทพมหานคร"
