"""Nights through the DAG for the orchestration tests: a clean landing, re-deliveries, the marts."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import psycopg

START = date(2026, 11, 20)
DAYS = 5
MARTS = ("child_equity_profile", "municipality_equity_summary", "province_equity_summary",
         "national_equity_summary", "municipality_equity_trend")


def generate_clean_landing(tmp_path_factory) -> Path:
    """DAYS clean nights of 700 persons from START (a module fixture in the tests that use it)."""
    from equity.synth import generate

    out = tmp_path_factory.mktemp("landing")
    generate(out, persons=700, start=START, days=DAYS, seed=21, faults="clean")
    return out


def _redeliver_enrolment_as_revision_2(landing: Path, day: date) -> None:
    """A corrected roster for `day`: some pupils now DROPPED_OUT, absences changed; revision 2."""
    folder = landing / "enrolment" / day.isoformat()
    manifest = json.loads((folder / "_manifest.json").read_text())
    (folder / "_manifest.json").unlink()  # the agency re-writes the delivery; manifest last
    for entry in manifest["files"]:
        path = folder / entry["name"]
        codec = "cp874" if entry["encoding"] == "windows-874" else "utf-8-sig"
        raw = path.read_bytes()
        bom = raw.startswith(b"\xef\xbb\xbf")
        lines = raw.decode(codec).split("\n")
        for i in range(1, len(lines), 7):  # every 7th record
            lines[i] = lines[i].replace(",ENROLLED,", ",DROPPED_OUT,", 1)
        data = "\n".join(lines).encode("cp874" if codec == "cp874" else "utf-8")
        data = (b"\xef\xbb\xbf" + data) if bom else data
        path.write_bytes(data)
        entry["sha256"] = hashlib.sha256(data).hexdigest()
    manifest["revision"] = 2
    (folder / "_manifest.json").write_text(json.dumps(manifest))


def _redeliver_registry_as_revision_2(landing: Path, day: date) -> None:
    """A corrected registry delta for `day`: its last event withdrawn; revision 2."""
    folder = landing / "registry" / day.isoformat()
    manifest = json.loads((folder / "_manifest.json").read_text())
    (folder / "_manifest.json").unlink()
    entry = manifest["files"][-1]
    path = folder / entry["name"]
    lines = path.read_bytes().rstrip(b"\n").split(b"\n")
    assert len(lines) > 1, "the day's registry delta should hold an event"
    data = b"\n".join(lines[:-1]) + b"\n"
    path.write_bytes(data)
    entry["sha256"], entry["rows"] = hashlib.sha256(data).hexdigest(), entry["rows"] - 1
    manifest["revision"] = 2
    (folder / "_manifest.json").write_text(json.dumps(manifest))


def _marts(url: str) -> dict[str, list[tuple]]:
    out = {}
    with psycopg.connect(url) as conn:
        for mart in MARTS:
            cols = [r[0] for r in conn.execute(
                "select column_name from information_schema.columns where table_schema = 'marts'"
                " and table_name = %s order by ordinal_position", (mart,))]
            order = ", ".join(f'"{c}"' for c in cols)
            out[mart] = conn.execute(f"select {order} from marts.{mart} order by {order}").fetchall()
    return out


def _run(url: str, landing: Path, first: date, last: date, monkeypatch) -> list[dict]:
    from equity.orchestrate import run_dates

    monkeypatch.setenv("EQUITY_WAREHOUSE_URL", url)
    monkeypatch.setenv("EQUITY_LANDING", str(landing))
    return run_dates(first, last)
