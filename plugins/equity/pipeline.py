"""The nightly run's steps as plain functions: the DAG wires them, pytest calls them directly.

Each step takes the logical date and the run id and returns a small JSON-able dict, which Airflow
keeps as the task's XCom and `audit.pipeline_runs` keeps for `equity status`.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from psycopg.types.json import Jsonb

from equity import __version__
from equity.config import hmac_key, landing, max_silence_days, reference_dir
from equity.contracts import CONTRACTS
from equity.landing import DeliveryRefused
from equity.load import load_delivery
from equity.paths import PROJECT_ROOT, state_dir
from equity.policy import policy
from equity.reference import load_reference
from equity.warehouse import connect, warehouse_url

log = logging.getLogger(__name__)

# Marts with a GX suite of their own (expectations/marts/); all marts are published.
# Every published mart has its suite (expectations/marts/<mart>.yml), gated before publish.
GATED_MARTS = ("child_equity_profile", "municipality_equity_summary", "province_equity_summary",
               "national_equity_summary", "municipality_equity_trend")


def code_version() -> str:
    try:
        sha = subprocess.run(["git", "-C", str(PROJECT_ROOT), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=5, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{__version__}+{sha}" if sha else __version__


@contextmanager
def timed(run_id: str, step: str):
    """Record the step's wall time in audit.pipeline_runs.timings (also when it fails)."""
    started = time.monotonic()
    try:
        yield
    finally:
        seconds = round(time.monotonic() - started, 3)
        try:
            with connect() as conn:
                conn.execute("update audit.pipeline_runs set timings = timings || jsonb_build_object(%s::text, %s)"
                             " where run_id = %s", (step, seconds, run_id))
                conn.commit()
        except Exception as exc:  # noqa: BLE001 - a timing must never hide the step's own outcome
            log.warning("could not record the timing of %s: %s", step, exc)


def data_docs_dir(run_id: str) -> Path:
    """GX Data Docs (HTML, counts only) of one run: EQUITY_HOME/gx_docs/<run>/."""
    return state_dir() / "gx_docs" / re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)


def start_run(as_of: date, run_id: str) -> dict:
    """Refuse early without the HMAC key; prepare schemas and reference data; open the run record."""
    from equity.access import apply_access

    started = time.monotonic()
    hmac_key()
    url = warehouse_url()
    apply_access(url)  # schemas, tables, roles and grants (includes the bootstrap DDL)
    counts = load_reference(url, reference_dir())
    with connect(url) as conn:
        conn.execute(
            "insert into audit.pipeline_runs (run_id, as_of_date, status, policy, code_version)"
            " values (%s, %s, 'running', %s, %s)"
            " on conflict (run_id) do update set status = 'running', started_at = now(), finished_at = null,"
            " timings = '{}'::jsonb",
            (run_id, as_of, json.dumps(policy()), code_version()),
        )
        conn.execute("update audit.pipeline_runs set timings = jsonb_build_object('start', %s::float)"
                     " where run_id = %s", (round(time.monotonic() - started, 3), run_id))
        conn.commit()
    return {"reference": counts}


def ingest(source: str, as_of: date, run_id: str) -> dict:
    """Verify and load one source's delivery for the date (refusals are recorded, then raised)."""
    try:
        with timed(run_id, f"load:{source}"):
            return load_delivery(warehouse_url(), landing(), source, as_of, run_id).as_dict()
    except DeliveryRefused as refusal:
        return {"source": source, "extract_date": as_of.isoformat(), "status": "refused",
                "batch_id": None, "message": str(refusal)}


def gate_source(load: dict, run_id: str) -> dict:
    """Run the source's GX suite on the batch just loaded; block keeps the source's last good state."""
    if load.get("status") != "loaded":
        return {"source": load["source"], "status": load.get("status"), "failures": [],
                "message": load.get("message", "")}
    from equity.gates import validate_raw_batch

    with timed(run_id, f"gate:{load['source']}"):
        outcome = validate_raw_batch(warehouse_url(), load["source"], load["batch_id"], run_id,
                                     docs_dir=data_docs_dir(run_id))
    return {"source": load["source"], "status": outcome.status,
            "failures": [list(map(str, f)) for f in outcome.failures]}


def transform(as_of: date, run_id: str) -> dict:
    from equity.transform import build

    with timed(run_id, "transform"):
        results = build(warehouse_url(), as_of)
    with connect() as conn:  # per-node seconds, for `equity status` and the benchmarks
        conn.execute("update audit.pipeline_runs set dbt_seconds = %s where run_id = %s",
                     (Jsonb({r["name"]: r["seconds"] for r in results}), run_id))
        conn.commit()
    return {"nodes": len(results), "seconds": round(sum(r["seconds"] for r in results), 2)}


def gate_marts(as_of: date, run_id: str) -> dict:
    """Gate the night's rows in the build schema, before anything is published."""
    from equity.gates import validate_mart
    from equity.publish import BUILD_SCHEMA

    url = warehouse_url()
    out = {}
    with timed(run_id, "gate_marts"):
        for mart in GATED_MARTS:
            with timed(run_id, f"gate_mart:{mart}"):  # per suite, inside gate_marts' total
                out[mart] = validate_mart(url, BUILD_SCHEMA, mart, as_of, run_id,
                                          docs_dir=data_docs_dir(run_id)).status
    return out


class NotPublished(RuntimeError):
    pass


def publish(as_of: date, run_id: str, marts_gate: dict) -> dict:
    """Publish the night into `marts` unless a mart gate blocked it (then the previous night stays)."""
    from equity.publish import publish as publish_night

    blocked = sorted(m for m, status in marts_gate.items() if status == "blocked")
    if blocked:
        raise NotPublished(f"{as_of} not published: mart gate blocked {blocked}; `marts` keeps the last good night")
    with timed(run_id, "publish"):
        return publish_night(warehouse_url(), as_of, run_id)


def _silent_sources(conn, as_of: date) -> dict[str, int]:
    """Sources whose last loaded delivery is more than max_silence_days before as_of (EXTRACTS.md)."""
    limit = max_silence_days()
    last = dict(conn.execute(
        "select source, max(extract_date) from audit.load_batches where status = 'loaded'"
        " and extract_date <= %s group by source", (as_of,)).fetchall())
    silent = {}
    for source in CONTRACTS:
        days = (as_of - last[source]).days if source in last else None
        if days is None or days > limit:
            silent[source] = days if days is not None else -1  # -1: never delivered
    return silent


def purge(as_of: date, run_id: str) -> dict:
    """Retention: purge raw and quarantined rows past EQUITY_RETENTION_DAYS, audited in audit.purges."""
    from equity.retention import purge_expired

    return purge_expired(warehouse_url(), None, run_id, as_of=as_of)


def finish_run(as_of: date, run_id: str, sources: list[dict], marts_gate: dict | None,
               published: dict | None) -> dict:
    """Close the run record: status, revisions, gate outcomes, counts per layer.

    `sources` holds each source's gate result in SOURCES order; None where that task failed.
    """
    from equity.publish import CHILD_MART

    sources = [s or {"source": name, "status": "task_failed"} for name, s in zip(CONTRACTS, sources)]
    degraded = [s for s in sources if s.get("status") not in ("passed", "warned")]
    status = "failed" if published is None else ("degraded" if degraded else "success")
    url = warehouse_url()
    with connect(url) as conn:
        counts = {
            "raw": {
                name: conn.execute(
                    "select coalesce(sum(rows_loaded), 0) from audit.load_batches"
                    " where source = %s and extract_date = %s and status = 'loaded'", (name, as_of)
                ).fetchone()[0]
                for name in CONTRACTS
            },
            # the night's children as publish recorded them (the national summary's count, which the
            # marts' gates reconciled with the child-level rows; counting the view would read every
            # current version: 5 s of a national night)
            "children": published.get(CHILD_MART) if published is not None else None,
        }
        revisions = dict(conn.execute(
            "select source, revision from audit.load_batches where extract_date = %s and status = 'loaded'",
            (as_of,)).fetchall())
        conn.execute(
            "update audit.pipeline_runs set status = %s, revisions = %s, counts = %s, gates = %s,"
            " finished_at = now() where run_id = %s",
            (status, json.dumps(revisions), json.dumps(counts, default=int),
             json.dumps({"sources": sources, "marts": marts_gate}), run_id),
        )
        conn.commit()
        silent = _silent_sources(conn, as_of)
    if silent:
        from equity.notify import send

        send("source_silent", {"as_of_date": as_of.isoformat(), "silent_days": silent})
    log.info("run %s for %s finished: %s", run_id, as_of, status)
    return {"status": status, "degraded_sources": [s.get("source") for s in degraded], "counts": counts}
