"""Shared fixtures: real PostgreSQL warehouses (embedded and the machine's server), Airflow home.

Every test that needs a warehouse gets a fresh database on each available server:
- `embedded`: the pip-wheel PostgreSQL the project starts by default (own data folder per session);
- `system`: PostgreSQL on 127.0.0.1:5432 (EQUITY_TEST_PG_URL overrides), skipped when absent.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import psycopg
import pytest

# Airflow reads its configuration once, at import: point it at a throwaway home first.
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="equity-tests-"))
os.environ["AIRFLOW_HOME"] = str(_SESSION_DIR / "airflow")
os.environ["EQUITY_HOME"] = str(_SESSION_DIR / "state")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
# A failing task fails the test at once instead of waiting out Airflow's retry backoff.
os.environ["EQUITY_RETRIES"] = "0"
os.environ.pop("EQUITY_WAREHOUSE_URL", None)
# The rest of Airflow's settings (DAG folder, metadata DB...) too, before any test imports Airflow
# (equity.notify, equity.airflow_support do): else a worker whose first test does so runs every
# later DAG from Airflow's default DAG folder, which is empty.
# Set, not defaulted: an xdist worker inherits the controller's values, and each worker keeps its
# own metadata DB under its own home.
from equity.orchestrate import airflow_env  # noqa: E402  (imports no Airflow itself)

os.environ.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
os.environ.update(airflow_env())

SYSTEM_URL = os.environ.get("EQUITY_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TEST_KEY = "test-only key, not a secret"


def _system_available() -> bool:
    try:
        with psycopg.connect(SYSTEM_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def bench_admin_url() -> str:
    """The server benchmarks run on (EQUITY_BENCH_PG_URL, default the project's embedded server:
    equity.bench.default_admin_url); skip when it cannot be reached."""
    from equity.bench import default_admin_url

    admin = default_admin_url()
    try:
        psycopg.connect(admin, connect_timeout=3).close()
    except psycopg.OperationalError:
        pytest.skip(f"no PostgreSQL at {admin}")
    return admin


def partition_scans(url: str, source: str, batch_id: int) -> int:
    """Sequential scans of a batch's own partition so far (pg_stat_user_tables)."""
    import time

    from equity.contracts import CONTRACTS

    time.sleep(1.5)  # backends publish their counters on exit or within a second of going idle
    with psycopg.connect(url) as conn:
        return conn.execute("select seq_scan from pg_stat_user_tables where schemaname = 'raw' and relname = %s",
                            (f"{CONTRACTS[source].raw_table}_b{batch_id}",)).fetchone()[0]


def _admin_url(server: str) -> str:
    if server == "system":
        if not _system_available():
            pytest.skip(f"no PostgreSQL at {SYSTEM_URL}")
        return SYSTEM_URL
    from equity.embedded import ensure_embedded

    url = ensure_embedded(_SESSION_DIR / "embedded")
    return url.rsplit("/", 1)[0] + "/postgres"


@pytest.fixture(params=["embedded", "system"])
def server(request) -> str:
    return request.param


def _create_database(admin: str) -> tuple[str, str]:
    name = f"equity_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    return name, admin.rsplit("/", 1)[0] + f"/{name}"


def _drop_databases(admin: str, names: list[str]) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in names:
            conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def warehouse(server, monkeypatch) -> str:
    """A fresh, empty warehouse database; EQUITY_WAREHOUSE_URL points at it for the test."""
    admin = _admin_url(server)
    name, url = _create_database(admin)
    monkeypatch.setenv("EQUITY_WAREHOUSE_URL", url)
    monkeypatch.setenv("EQUITY_HMAC_KEY", TEST_KEY)
    yield url
    _drop_databases(admin, [name])


@pytest.fixture
def new_database(server):
    """Makes more fresh databases on the test's server (a clean run to compare with); each is dropped
    when the test ends, so the machine's server is left as it was."""
    admin = _admin_url(server)
    made: list[str] = []

    def make() -> str:
        name, url = _create_database(admin)
        made.append(name)
        return url

    yield make
    _drop_databases(admin, made)


def pytest_sessionfinish(session, exitstatus):
    from equity.embedded import stop_embedded

    try:
        stop_embedded(_SESSION_DIR / "embedded")
    except Exception:  # noqa: BLE001 - best effort at teardown
        pass
