"""Run dbt for one as_of_date against the warehouse.

dbt runs as a child process: its global state and logging stay out of the Airflow worker, and the
secrets reach it only through the environment (password as DBT_ENV_SECRET_*, which dbt scrubs
from its logs; the HMAC key as the session setting `equity.hmac_key` via PGOPTIONS, so it is in
no compiled SQL or artifact).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

import psycopg

from equity.config import hmac_key
from equity.paths import DBT_PROJECT_DIR, state_dir
from equity.warehouse import SESSION_SETTINGS

log = logging.getLogger(__name__)


class DbtFailed(RuntimeError):
    pass


# dbt's own sessions get the pipeline's settings (equity.warehouse.SESSION_SETTINGS), more memory for
# the per-person sorts of a first night (13 M persons; two threads), and no JIT: the models are a few
# large scans and joins each, where compiling them cost 1-3 s a model and saved less.
DBT_SESSION_SETTINGS = {**SESSION_SETTINGS, "work_mem": "256MB", "application_name": "equity-dbt", "jit": "off"}


def dbt_env(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    env = dict(os.environ)
    env.update(
        EQUITY_DBT_HOST=parts.hostname or "127.0.0.1",
        EQUITY_DBT_PORT=str(parts.port or 5432),
        EQUITY_DBT_USER=unquote(parts.username or "postgres"),
        EQUITY_DBT_DBNAME=parts.path.lstrip("/") or "postgres",
        DBT_ENV_SECRET_PASSWORD=unquote(parts.password or ""),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DO_NOT_TRACK="1",
    )
    # libpq option syntax: spaces and backslashes in the value are backslash-escaped.
    key = hmac_key().replace("\\", "\\\\").replace(" ", "\\ ")
    settings = " ".join(f"-c {name}={value.replace(' ', '_')}" for name, value in DBT_SESSION_SETTINGS.items())
    env["PGOPTIONS"] = (env.get("PGOPTIONS", "") + f" {settings} -c equity.hmac_key={key}").strip()
    return env


def _dbt_executable() -> str:
    here = Path(sys.executable).parent / "dbt"
    return str(here) if here.exists() else (shutil.which("dbt") or "dbt")


# The night's date reaches dbt in the environment, not as a --var: dbt parses the project again from
# scratch whenever its vars change, and the date changes every night (macros/policy.sql). dbt records
# DBT_ENV_CUSTOM_ENV_* variables in its artifacts (run_results.json metadata.env: AS_OF_DATE).
AS_OF_DATE_ENV = "DBT_ENV_CUSTOM_ENV_AS_OF_DATE"


def run_dbt(url: str, args: list[str], as_of: date | None = None, policy_overrides: dict | None = None,
            target_dir: Path | None = None) -> list[dict]:
    """Run `dbt <args>`; return per-node results (name, status, seconds). Raise DbtFailed on error."""
    vars_ = dict(policy_overrides or {})
    env = dbt_env(url)
    env.pop(AS_OF_DATE_ENV, None)
    if as_of:
        env[AS_OF_DATE_ENV] = as_of.isoformat()
    target = target_dir or state_dir() / "dbt" / "target"
    cmd = [
        _dbt_executable(), *args,
        "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(target), "--log-path", str(target.parent / "logs"),
    ]
    if vars_:
        cmd += ["--vars", json.dumps(vars_)]
    log.info("dbt %s (as_of_date=%s)", " ".join(args), as_of)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    results = _results(target)
    if proc.returncode != 0:
        failed = [r for r in results if r["status"] in ("error", "fail")]
        summary = "; ".join(f"{r['name']}: {r['status']} {r['message'] or ''}".strip() for r in failed[:10])
        tail = "\n".join(proc.stdout.splitlines()[-40:])
        raise DbtFailed(f"dbt {' '.join(args)} failed: {summary or 'see output'}\n{tail}")
    return results


def _results(target: Path) -> list[dict]:
    path = target / "run_results.json"
    if not path.exists():
        return []
    data = json.loads(path.read_text())
    return [
        {
            "name": r["unique_id"],
            "status": r["status"],
            "seconds": round(r.get("execution_time") or 0.0, 3),
            "message": (r.get("message") or "")[:300],
        }
        for r in data.get("results", [])
    ]


def _unfinished_build(target: Path, as_of: date, url: str | None = None) -> bool:
    """Did the last `dbt build` for this same date stop part-way (error, failed test, skipped node),
    with nothing loaded since it started? (A re-run of the night reloads its deliveries: the models
    that succeeded then read the replaced batches, so the night is built again, not resumed.)"""
    path = target / "run_results.json"
    if not path.exists():
        return False
    data = json.loads(path.read_text())
    args = data.get("args", {})
    built_for = ((data.get("metadata") or {}).get("env") or {}).get("AS_OF_DATE")
    same_date = built_for == as_of.isoformat()
    unfinished = any(r["status"] in ("error", "fail", "skipped", "runtime error") for r in data.get("results", []))
    if not (args.get("which") in ("build", "retry") and same_date and unfinished):
        return False
    if url is None:
        return True
    generated = (data.get("metadata") or {}).get("generated_at")
    if not generated:
        return False
    started = (datetime.fromisoformat(generated.replace("Z", "+00:00"))
               - timedelta(seconds=data.get("elapsed_time") or 0))
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    with psycopg.connect(url) as conn:
        loaded = conn.execute("select max(finished_at) from audit.load_batches where extract_date <= %s",
                              (as_of,)).fetchone()[0]
    return loaded is None or loaded < started


def build(url: str, as_of: date, target_dir: Path | None = None) -> list[dict]:
    """`dbt build` of every model and test for one date.

    When the previous attempt for the same date stopped part-way (a task retry), `dbt retry` resumes
    from the failed node instead of rebuilding what already succeeded.
    """
    target = target_dir or state_dir() / "dbt" / "target"
    results = None
    if _unfinished_build(target, as_of, url):
        log.info("resuming the unfinished dbt build of %s from its point of failure (dbt retry)", as_of)
        before = (target / "run_results.json").stat().st_mtime_ns
        try:
            results = run_dbt(url, ["retry"], as_of=as_of, target_dir=target)
        except DbtFailed:
            if (target / "run_results.json").stat().st_mtime_ns != before:
                raise  # the retry ran and a node failed again: that is the night's error
            # dbt could not resume at all (the project changed since, so the failed build's nodes are
            # not all there any more): build the night from the start instead
            log.warning("dbt retry could not resume the build of %s (the project changed?): building it again",
                        as_of)
    if results is None:
        results = run_dbt(url, ["build"], as_of=as_of, target_dir=target)
    for r in results:  # per-model visibility in the task log
        log.info("dbt %-8s %7.2fs  %s", r["status"], r["seconds"], r["name"])
    return results
