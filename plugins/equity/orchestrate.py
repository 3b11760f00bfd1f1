"""Run the real Airflow DAG for dates, in order, without a scheduler (`dag.test()`).

Used by `equity run` and the tests. Airflow's metadata DB is a SQLite file in the project's
state folder unless AIRFLOW__DATABASE__SQL_ALCHEMY_CONN says otherwise; the DAG and its tasks are
the same ones a real scheduler runs.
"""

from __future__ import annotations

import logging
import os
from datetime import date, timedelta
from pathlib import Path

from equity.paths import DAGS_DIR, state_dir

log = logging.getLogger(__name__)
DAG_ID = "equity_nightly"


def airflow_env() -> dict[str, str]:
    home = Path(os.environ.get("AIRFLOW_HOME", state_dir() / "airflow"))
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Bangkok",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": os.environ.get(
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{home / 'airflow.db'}"),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING"),
        "GX_ANALYTICS_ENABLED": "False",
        # Airflow 3.3's deadline-alert bookkeeping breaks dag.test() on SQLite; the scheduler keeps it.
        "EQUITY_DEADLINE_ALERT": "off",
    }


def prepare_airflow() -> None:
    """Point Airflow at this project and create/upgrade its metadata DB (idempotent)."""
    for key, value in airflow_env().items():
        os.environ.setdefault(key, value)
    Path(os.environ["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    marker = Path(os.environ["AIRFLOW_HOME"]) / ".migrated"
    from airflow.utils import db

    if not marker.exists():
        log.info("creating Airflow's metadata database (first run only)")
        db.upgradedb()
        marker.write_text("ok\n")


def load_dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_DIR))
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    return bag.get_dag(DAG_ID)


def logical_date_for(day: date):
    import pendulum

    return pendulum.datetime(day.year, day.month, day.day, 2, tz="Asia/Bangkok")


def run_dates(start: date, end: date | None = None, progress=None) -> list[dict]:
    """Run the DAG once per date from start to end (inclusive), in order. Returns one summary per date."""
    prepare_airflow()
    dag = load_dag()
    end = end or start
    out = []
    day = start
    total = (end - start).days + 1
    while day <= end:
        if progress:
            progress(day, len(out), total)
        dagrun = dag.test(logical_date=logical_date_for(day))
        states = {ti.task_id: str(ti.state) for ti in dagrun.get_task_instances()} if hasattr(
            dagrun, "get_task_instances") else {}
        out.append({"date": day.isoformat(), "state": str(dagrun.state), "tasks": states})
        day += timedelta(days=1)
    return out
