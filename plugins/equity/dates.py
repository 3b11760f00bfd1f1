"""The extract date D an Airflow run loads (one rule for the DAG, the sensor and the CLI)."""

from __future__ import annotations

from datetime import date

TZ = "Asia/Bangkok"


def as_of_date(context) -> date:
    """Scheduled and backfill runs: logical date = start of the interval [D 02:00, D+1 02:00), run at
    D+1 02:00. A manual run may name the date in its conf (`{"as_of_date": "YYYY-MM-DD"}`)."""
    import pendulum

    dag_run = context.get("dag_run")
    conf = (getattr(dag_run, "conf", None) or {}) if dag_run else {}
    if conf.get("as_of_date"):
        return date.fromisoformat(conf["as_of_date"])
    when = context.get("logical_date") or context["data_interval_start"]
    return pendulum.instance(when).in_timezone(TZ).date()
