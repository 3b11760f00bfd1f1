"""Write one day's deliveries byte-exactly per EXTRACTS.md; the caller writes `_manifest.json` last
(after any delivery fault has been applied to the data files).

Row faults come as a sparse `RowPlan` overlay on the records; every faulty row written is appended
to `log` as (file, line, kind).

Files are written part by part, row by row (no whole-file strings). Everything is deterministic:
`produced_at` is the day after the extract date at 00:15 +07:00, never the wall clock.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from equity.contracts import ENROLMENT, MANIFEST_NAME, REGISTRY, SCHEMA_VERSION, WELFARE
from equity.synth.faults import EMPTY_PLAN, RowPlan
from equity.synth.model import RegistryEvent, Screening, SnapRow
from equity.synth.thaidates import be_compact, be_slash

WELFARE_SCHEMA = pa.schema([
    ("screening_id", pa.string()), ("person_id", pa.string()), ("household_id", pa.string()),
    ("screened_on", pa.date32()), ("household_size", pa.int32()),
    ("household_income_month", pa.decimal128(12, 2)), ("caregiver", pa.string()),
    ("has_welfare_card", pa.bool_()), ("housing", pa.string()), ("electricity", pa.bool_()),
    ("clean_water", pa.bool_()), ("farm_land", pa.bool_()), ("vehicle", pa.string()),
    ("action", pa.string()),
])
assert tuple(WELFARE_SCHEMA.names) == WELFARE.columns


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def split(rows: Sequence, parts: int) -> list[Sequence]:
    """`parts` near-equal consecutive chunks (fewer when there are fewer rows; one when none)."""
    parts = max(1, min(parts, len(rows)))
    size = math.ceil(len(rows) / parts) if rows else 0
    return [rows[i * size:(i + 1) * size] for i in range(parts)] if rows else [rows]


def n_parts(n_rows: int, minimum: int, max_part_rows: int) -> int:
    return max(minimum, math.ceil(n_rows / max_part_rows))


def write_manifest(folder: Path, source: str, extract_date: date, mode: str,
                   files: list[dict]) -> None:
    manifest = {
        "source": source,
        "extract_date": extract_date.isoformat(),
        "schema_version": SCHEMA_VERSION,
        "mode": mode,
        "revision": 1,
        "produced_at": f"{(extract_date + timedelta(days=1)).isoformat()}T00:15:00+07:00",
        "files": sorted(files, key=lambda f: f["name"]),
    }
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    (folder / MANIFEST_NAME).write_text(text, encoding="utf-8")


def _folder(out: Path, source: str, d: date) -> Path:
    folder = Path(out) / source / d.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def enrolment_values(r: SnapRow) -> list:
    return [
        r.person_id, r.school_code, r.school_name, r.affiliation, r.school_subdistrict_code,
        r.academic_year, r.term, r.grade, r.status, r.status_date.isoformat(), r.first_name,
        r.last_name, r.sex, be_slash(r.birth_date), r.disability, r.home_subdistrict_code,
        r.days_absent,
    ]


def welfare_values(s: Screening) -> list:
    return [getattr(s, c) for c in WELFARE.columns]


def registry_values(e: RegistryEvent) -> list[str]:
    return [e.pid, e.birth_date, str(e.sex), e.nationality, e.house_id, e.subdistrict_code,
            e.lao_code, e.event, be_compact(e.event_date), e.mother_pid, e.father_pid]


FaultLog = list  # of (file, line, kind); line = physical line (header = 1) or Parquet row (from 1)


def _overlaid(records: Sequence, indices: Iterable[int], fmt, plan: RowPlan, name: str,
              first_line: int, log: FaultLog | None) -> Iterator[list]:
    """Values of the rows of one part: the records at `indices`, with the plan's faults applied."""
    line = first_line
    replace, extra, mark = plan.replace, plan.extra, plan.mark
    for i in indices:
        hit = replace.get(i)
        if hit is None:
            yield fmt(records[i])
            if i in mark and log is not None:
                log.append((name, line, mark[i]))
        else:
            yield hit[1]
            if log is not None:
                log.append((name, line, hit[0]))
        line += 1
        for kind, values in extra.get(i, ()):
            yield values
            if log is not None:
                log.append((name, line, kind))
            line += 1


def _write_csv_part(path: Path, values: Iterable[list], encoding: str, crlf: bool) -> int:
    n = 0
    with open(path, "w", encoding=encoding, newline="") as f:
        w = csv.writer(f, lineterminator="\r\n" if crlf else "\n")  # QUOTE_MINIMAL = RFC 4180
        w.writerow(ENROLMENT.columns)
        for v in values:
            w.writerow(v)
            n += 1
    return n


def write_enrolment(out: Path, d: date, rows: Sequence[SnapRow], min_parts: int, min_dla_parts: int,
                    max_part_rows: int, plan: RowPlan = EMPTY_PLAN,
                    log: FaultLog | None = None, first: int = 1, first_dla: int = 1) -> list[dict]:
    """The day's snapshot data files (the caller writes the manifest). Non-DLA parts: UTF-8, even
    parts with a BOM, every third part CRLF. DLA parts: windows-874, odd parts CRLF. Parts are
    numbered from `first` / `first_dla` (a later province shard continues the numbering)."""
    folder = _folder(out, "enrolment", d)
    ymd = d.strftime("%Y%m%d")
    main = [i for i, r in enumerate(rows) if r.affiliation != "DLA"]
    dla = [i for i, r in enumerate(rows) if r.affiliation == "DLA"]
    files = []
    for i, chunk in enumerate(split(main, n_parts(len(main), min_parts, max_part_rows)), first):
        name = f"enrolment_{ymd}_{i:03d}.csv"
        bom = i % 2 == 0
        values = _overlaid(rows, chunk, enrolment_values, plan, name, 2, log)
        n = _write_csv_part(folder / name, values, "utf-8-sig" if bom else "utf-8", crlf=i % 3 == 0)
        files.append({"name": name, "encoding": "utf-8", "sha256": sha256_of(folder / name),
                      "rows": n})
    if dla:
        for i, chunk in enumerate(split(dla, n_parts(len(dla), min_dla_parts, max_part_rows)),
                                  first_dla):
            name = f"enrolment_dla_{ymd}_{i:03d}.csv"
            values = _overlaid(rows, chunk, enrolment_values, plan, name, 2, log)
            n = _write_csv_part(folder / name, values, "cp874", crlf=i % 2 == 1)
            files.append({"name": name, "encoding": "windows-874",
                          "sha256": sha256_of(folder / name), "rows": n})
    return files


def write_welfare(out: Path, d: date, rows: Sequence[Screening], parts: int, max_part_rows: int,
                  plan: RowPlan = EMPTY_PLAN, log: FaultLog | None = None,
                  first: int = 1) -> list[dict]:
    folder = _folder(out, "welfare", d)
    ymd = d.strftime("%Y%m%d")
    files = []
    indices = range(len(rows))
    for i, chunk in enumerate(split(indices, n_parts(len(rows), parts, max_part_rows)), first):
        name = f"welfare_{ymd}_{i:03d}.parquet"
        values = list(_overlaid(rows, chunk, welfare_values, plan, name, 1, log))
        columns = {c: [v[j] for v in values] for j, c in enumerate(WELFARE.columns)}
        table = pa.Table.from_pydict(columns, schema=WELFARE_SCHEMA)
        pq.write_table(table, folder / name)
        files.append({"name": name, "encoding": None, "sha256": sha256_of(folder / name),
                      "rows": len(values)})
    return files


def write_registry(out: Path, d: date, events: Sequence[RegistryEvent], parts: int,
                   max_part_rows: int, plan: RowPlan = EMPTY_PLAN,
                   log: FaultLog | None = None, first: int = 1) -> list[dict]:
    """Pipe-separated, windows-874, LF line ends, header line. A person's events of one delivery
    always sit in one part, in order (deltas are one part)."""
    folder = _folder(out, "registry", d)
    ymd = d.strftime("%Y%m%d")
    files = []
    indices = range(len(events))
    for i, chunk in enumerate(split(indices, n_parts(len(events), parts, max_part_rows)), first):
        name = f"registry_{ymd}_{i:03d}.txt"
        n = 0
        with open(folder / name, "w", encoding="cp874", newline="") as f:
            f.write("|".join(REGISTRY.columns) + "\n")
            for v in _overlaid(events, chunk, registry_values, plan, name, 2, log):
                f.write("|".join(v) + "\n")
                n += 1
        files.append({"name": name, "encoding": "windows-874", "sha256": sha256_of(folder / name),
                      "rows": n})
    return files
