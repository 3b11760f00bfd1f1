"""Hand-written deliveries for small tests: bytes exactly as an agency would send them."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

from equity.contracts import ENROLMENT, REGISTRY

ENROLMENT_HEADER = ",".join(ENROLMENT.columns)
REGISTRY_HEADER = "|".join(REGISTRY.columns)


def enrolment_row(person_id="1101700203450", school="1063010001", status="ENROLLED", name="สมชาย",
                  school_name="โรงเรียนบ้านหนองบัว", grade="P4", days_absent=2) -> str:
    quoted = school_name.replace('"', '""')  # RFC 4180
    return (f'{person_id},{school},"{quoted}",OBEC,630101,2569,2,{grade},{status},2026-11-02,'
            f'{name},ใจดี,M,14/02/2558,0,630101,{days_absent}')


def write_delivery(root: Path, source: str, day: date, files: dict[str, tuple[bytes, str | None, int]],
                   mode: str = "snapshot", revision: int = 1, manifest: bool = True,
                   sha_override: dict[str, str] | None = None) -> Path:
    """files: name -> (bytes, encoding, rows declared). Manifest written last, as the contract says."""
    folder = root / source / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, (data, encoding, rows) in files.items():
        (folder / name).write_bytes(data)
        sha = (sha_override or {}).get(name) or hashlib.sha256(data).hexdigest()
        entries.append({"name": name, "encoding": encoding, "sha256": sha, "rows": rows})
    if manifest:
        (folder / "_manifest.json").write_text(json.dumps({
            "source": source, "extract_date": day.isoformat(), "schema_version": "1.0", "mode": mode,
            "revision": revision, "produced_at": f"{day.isoformat()}T23:59:00+07:00", "files": entries,
        }))
    return folder


def enrolment_csv(rows: list[str], bom: bool = False, crlf: bool = False, encoding: str = "utf-8") -> bytes:
    eol = "\r\n" if crlf else "\n"
    text = eol.join([ENROLMENT_HEADER, *rows]) + eol
    data = text.encode("cp874" if encoding == "windows-874" else "utf-8")
    return (b"\xef\xbb\xbf" + data) if bom else data
