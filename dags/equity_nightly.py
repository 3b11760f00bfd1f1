"""equity_nightly: one night of the warehouse for logical date D (Asia/Bangkok).

For each source: verify the delivery and COPY it into raw -> gate it with its GX suite.
Then dbt build into marts_build -> gate the marts -> publish the night into `marts` atomically
(write-audit-publish) -> close the run record. The logic lives in the `equity`
package (plugins/equity/pipeline.py); this file only wires tasks. No database calls at parse time.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag, task, task_group
from airflow.sdk.exceptions import AirflowFailException

from equity.contracts import SOURCES

TZ = "Asia/Bangkok"


def _as_of(context) -> pendulum.Date:
    """The extract date D this run loads.

    Scheduled and backfill runs: logical date = start of the interval [D 02:00, D+1 02:00), run at
    D+1 02:00. A manual run may name the date in its conf (`{"as_of_date": "YYYY-MM-DD"}`).
    """
    conf = (context.get("dag_run") and context["dag_run"].conf) or {}
    if conf.get("as_of_date"):
        return pendulum.parse(conf["as_of_date"]).date()
    when = context.get("logical_date") or context["data_interval_start"]
    return pendulum.instance(when).in_timezone(TZ).date()


@dag(
    dag_id="equity_nightly",
    schedule=CronDataIntervalTimetable("0 2 * * *", timezone=TZ),
    start_date=pendulum.datetime(2026, 1, 1, tz=TZ),
    catchup=False,
    max_active_runs=1,  # dates build on earlier state: one at a time, in order
    tags=["equity"],
    doc_md=__doc__,
    default_args={"retries": 0},
)
def equity_nightly():
    from airflow.sdk import get_current_context

    @task
    def start() -> dict:
        from equity import pipeline

        ctx = get_current_context()
        return pipeline.start_run(_as_of(ctx), ctx["run_id"])

    def source_group(source: str, started):
        @task_group(group_id=source)
        def group():
            @task(task_id="load")
            def load(_started: dict) -> dict:
                from equity import pipeline

                ctx = get_current_context()
                return pipeline.ingest(source, _as_of(ctx), ctx["run_id"])

            @task(task_id="gate")
            def gate(loaded: dict) -> dict:
                from equity import pipeline

                return pipeline.gate_source(loaded, get_current_context()["run_id"])

            return gate(load(started))

        return group()

    # all_done: a source that failed or was blocked leaves its last good state; the marts still build.
    # Without `start` (no key, no warehouse) the XCom it passes is missing and transform fails.
    @task(trigger_rule="all_done")
    def transform(_started: dict, _gates: list) -> dict:
        from equity import pipeline

        ctx = get_current_context()
        return pipeline.transform(_as_of(ctx), ctx["run_id"])

    @task
    def gate_marts(_built: dict) -> dict:
        from equity import pipeline

        ctx = get_current_context()
        return pipeline.gate_marts(_as_of(ctx), ctx["run_id"])

    @task
    def publish(marts_gate: dict) -> dict:
        from equity import pipeline

        ctx = get_current_context()
        return pipeline.publish(_as_of(ctx), ctx["run_id"], marts_gate)

    @task(trigger_rule="all_done")
    def finish(gates: list, marts_gate: dict | None, published: dict | None) -> dict:
        from equity import pipeline

        ctx = get_current_context()
        summary = pipeline.finish_run(_as_of(ctx), ctx["run_id"], list(gates), marts_gate, published)
        if summary["status"] == "failed":
            # Recorded in audit.pipeline_runs first; then the run itself shows red.
            raise AirflowFailException(f"night {_as_of(ctx)} not published: {summary}")
        return summary

    started = start()
    gates = [source_group(source, started) for source in SOURCES]
    marts_gate = gate_marts(transform(started, gates))
    finish(gates, marts_gate, publish(marts_gate))


equity_nightly()
