"""Write one day's deliveries byte-exactly per EXTRACTS.md; `_manifest.json` is written last.

Files are written part by part, row by row (no whole-file strings). Everything is deterministic:
`produced_at` is the day after the extract date at 00:15 +07:00, never the wall clock.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from equity.contracts import ENROLMENT, MANIFEST_NAME, REGISTRY, SCHEMA_VERSION, WELFARE
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


def _write_csv_part(path: Path, rows: Iterable[SnapRow], encoding: str, crlf: bool) -> int:
    n = 0
    with open(path, "w", encoding=encoding, newline="") as f:
        w = csv.writer(f, lineterminator="\r\n" if crlf else "\n")  # QUOTE_MINIMAL = RFC 4180
        w.writerow(ENROLMENT.columns)
        for r in rows:
            w.writerow(enrolment_values(r))
            n += 1
    return n


def write_enrolment(out: Path, d: date, rows: Sequence[SnapRow], min_parts: int, min_dla_parts: int,
                    max_part_rows: int) -> list[dict]:
    """The day's snapshot. Non-DLA parts: UTF-8, even parts with a BOM, every third part CRLF.
    DLA parts: windows-874, odd parts CRLF."""
    folder = _folder(out, "enrolment", d)
    ymd = d.strftime("%Y%m%d")
    main = [r for r in rows if r.affiliation != "DLA"]
    dla = [r for r in rows if r.affiliation == "DLA"]
    files = []
    for i, chunk in enumerate(split(main, n_parts(len(main), min_parts, max_part_rows)), 1):
        name = f"enrolment_{ymd}_{i:03d}.csv"
        bom = i % 2 == 0
        n = _write_csv_part(folder / name, chunk, "utf-8-sig" if bom else "utf-8", crlf=i % 3 == 0)
        files.append({"name": name, "encoding": "utf-8", "sha256": sha256_of(folder / name),
                      "rows": n})
    if dla:
        for i, chunk in enumerate(split(dla, n_parts(len(dla), min_dla_parts, max_part_rows)), 1):
            name = f"enrolment_dla_{ymd}_{i:03d}.csv"
            n = _write_csv_part(folder / name, chunk, "cp874", crlf=i % 2 == 1)
            files.append({"name": name, "encoding": "windows-874",
                          "sha256": sha256_of(folder / name), "rows": n})
    write_manifest(folder, "enrolment", d, "snapshot", files)
    return files


def write_welfare(out: Path, d: date, rows: Sequence[Screening], mode: str, parts: int,
                  max_part_rows: int) -> list[dict]:
    folder = _folder(out, "welfare", d)
    ymd = d.strftime("%Y%m%d")
    files = []
    for i, chunk in enumerate(split(rows, n_parts(len(rows), parts, max_part_rows)), 1):
        name = f"welfare_{ymd}_{i:03d}.parquet"
        columns = {c: [getattr(s, c) for s in chunk] for c in WELFARE.columns}
        table = pa.Table.from_pydict(columns, schema=WELFARE_SCHEMA)
        pq.write_table(table, folder / name)
        files.append({"name": name, "encoding": None, "sha256": sha256_of(folder / name),
                      "rows": len(chunk)})
    write_manifest(folder, "welfare", d, mode, files)
    return files


def registry_values(e: RegistryEvent) -> list[str]:
    return [e.pid, e.birth_date, str(e.sex), e.nationality, e.house_id, e.subdistrict_code,
            e.lao_code, e.event, be_compact(e.event_date), e.mother_pid, e.father_pid]


def write_registry(out: Path, d: date, events: Sequence[RegistryEvent], mode: str, parts: int,
                   max_part_rows: int) -> list[dict]:
    """Pipe-separated, windows-874, LF line ends, header line. A person's events of one delivery
    always sit in one part, in order (deltas are one part)."""
    folder = _folder(out, "registry", d)
    ymd = d.strftime("%Y%m%d")
    files = []
    for i, chunk in enumerate(split(events, n_parts(len(events), parts, max_part_rows)), 1):
        name = f"registry_{ymd}_{i:03d}.txt"
        with open(folder / name, "w", encoding="cp874", newline="") as f:
            f.write("|".join(REGISTRY.columns) + "\n")
            f.writelines("|".join(registry_values(e)) + "\n" for e in chunk)
        files.append({"name": name, "encoding": "windows-874", "sha256": sha256_of(folder / name),
                      "rows": len(chunk)})
    write_manifest(folder, "registry", d, mode, files)
    return files
