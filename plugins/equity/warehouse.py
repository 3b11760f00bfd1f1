"""Connections to the warehouse and its bootstrap DDL."""

from __future__ import annotations

import os
from contextlib import contextmanager
from importlib import resources
from urllib.parse import urlsplit

import psycopg

# Session settings the pipeline relies on (set for its own sessions, not assumed of the server).
SESSION_SETTINGS = {
    "work_mem": "64MB",
    "maintenance_work_mem": "256MB",
    "timezone": "Asia/Bangkok",
    "application_name": "equity",
}


def warehouse_url() -> str:
    """EQUITY_WAREHOUSE_URL, or the embedded server started on demand."""
    url = os.environ.get("EQUITY_WAREHOUSE_URL")
    if url:
        return url
    from equity.embedded import ensure_embedded

    url = ensure_embedded()
    # Child processes (dbt, Airflow tasks) then reuse it without another start-up check.
    os.environ["EQUITY_WAREHOUSE_URL"] = url
    return url


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


@contextmanager
def connect(url: str | None = None, autocommit: bool = False):
    conn = psycopg.connect(url or warehouse_url(), autocommit=autocommit)
    try:
        with conn.cursor() as cur:
            for name, value in SESSION_SETTINGS.items():
                cur.execute("select set_config(%s, %s, false)", (name, value))
        if not autocommit:
            conn.commit()
        yield conn
    finally:
        conn.close()


def bootstrap(url: str | None = None) -> None:
    """Create the loader's schemas and tables (idempotent)."""
    ddl = resources.files("equity").joinpath("sql/bootstrap.sql").read_text()
    with connect(url) as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext('equity.bootstrap'))")
        conn.execute(ddl)
        conn.commit()
