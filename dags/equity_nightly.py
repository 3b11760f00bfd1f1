"""equity_nightly: one night of the warehouse for extract date D (Asia/Bangkok).

For each source, in its own task group: wait for the delivery (deferrable, with a deadline) ->
verify it and COPY it into raw (bad rows to quarantine) -> gate it with its GX suite.
Then dbt build into marts_build -> gate the marts -> publish the night into `marts` atomically
(write-audit-publish) -> close the run record in audit.pipeline_runs.

The logic lives in the `equity` package (plugins/equity/pipeline.py); this file only wires tasks.
No database calls at parse time.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import (
    CronDataIntervalTimetable,
    DeadlineAlert,
    DeadlineReference,
    SyncCallback,
    dag,
    get_current_context,
    task,
    task_group,
)
from airflow.sdk.exceptions import AirflowFailException

from equity.airflow_support import MART_ASSETS, RAW_ASSETS, RETRY_POLICY, WaitForDelivery, run_step
from equity.contracts import SOURCES
from equity.dates import TZ, as_of_date
from equity.notify import on_task_failure

# Hours after the night's 02:00 start to wait for a late delivery, and to finish the whole night.
DELIVERY_DEADLINE_HOURS = float(os.environ.get("EQUITY_DELIVERY_DEADLINE_HOURS", "6"))
NIGHT_DEADLINE_HOURS = float(os.environ.get("EQUITY_NIGHT_DEADLINE_HOURS", "8"))


def _ctx():
    ctx = get_current_context()
    return as_of_date(ctx), ctx["run_id"]


@dag(
    dag_id="equity_nightly",
    schedule=CronDataIntervalTimetable("0 2 * * *", timezone=TZ),
    start_date=pendulum.datetime(2026, 1, 1, tz=TZ),
    catchup=False,
    max_active_runs=1,  # dates build on earlier state: one at a time, in order
    tags=["equity"],
    doc_md=__doc__,
    default_args={**RETRY_POLICY, "on_failure_callback": on_task_failure},
    # The night's SLA: alert when the run has not finished NIGHT_DEADLINE_HOURS after its 02:00 start.
    # Off under `dag.test()` (equity run), where Airflow 3.3's deadline bookkeeping fails on SQLite.
    deadline=DeadlineAlert(
        reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
        interval=timedelta(days=1, hours=NIGHT_DEADLINE_HOURS),
        callback=SyncCallback("equity.notify.deadline_missed"),
    ) if os.environ.get("EQUITY_DEADLINE_ALERT", "on") == "on" else None,
)
def equity_nightly():
    @task
    def start() -> dict:
        from equity import pipeline

        return run_step(pipeline.start_run, *_ctx())

    def source_group(source: str, started):
        @task_group(group_id=source)
        def group():
            wait = WaitForDelivery(task_id="wait", source=source, deadline_hours=DELIVERY_DEADLINE_HOURS,
                                   retries=0)
            started >> wait

            @task(task_id="load", outlets=[RAW_ASSETS[source]])
            def load(_started: dict, delivery: str) -> dict:
                from equity import pipeline

                as_of, run_id = _ctx()
                if delivery == "missing":
                    return {"source": source, "extract_date": as_of.isoformat(), "status": "missing",
                            "batch_id": None, "message": "no delivery by the deadline"}
                return run_step(pipeline.ingest, source, as_of, run_id)

            @task(task_id="gate")
            def gate(loaded: dict) -> dict:
                from equity import pipeline

                return run_step(pipeline.gate_source, loaded, _ctx()[1])

            return gate(load(started, wait.output))

        return group()

    # all_done: a source that failed, was blocked or never came keeps its last good state and the
    # marts still build. Without `start` (no key, no warehouse) its XCom is missing: transform fails.
    @task(trigger_rule="all_done")
    def transform(_started: dict, _gates: list) -> dict:
        from equity import pipeline

        return run_step(pipeline.transform, *_ctx())

    @task
    def gate_marts(_built: dict) -> dict:
        from equity import pipeline

        return run_step(pipeline.gate_marts, *_ctx())

    @task(outlets=MART_ASSETS)
    def publish(marts_gate: dict) -> dict:
        from equity import pipeline

        as_of, run_id = _ctx()
        return run_step(pipeline.publish, as_of, run_id, marts_gate)

    @task
    def purge(_published: dict) -> dict:
        """Retention, only after a night was published."""
        from equity import pipeline

        return run_step(pipeline.purge, *_ctx())

    @task(trigger_rule="all_done", retries=0)
    def finish(gates: list, marts_gate: dict | None, published: dict | None) -> dict:
        from equity import pipeline

        as_of, run_id = _ctx()
        summary = pipeline.finish_run(as_of, run_id, list(gates), marts_gate, published)
        if summary["status"] == "failed":
            # Recorded in audit.pipeline_runs first; then the run itself shows red.
            raise AirflowFailException(f"night {as_of} not published: {summary}")
        return summary

    started = start()
    gates = [source_group(source, started) for source in SOURCES]
    marts_gate = gate_marts(transform(started, gates))
    published = publish(marts_gate)
    finish(gates, marts_gate, published)
    purge(published)


equity_nightly()
