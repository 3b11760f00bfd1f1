"""Backfills, re-deliveries, kills, restarts and concurrent runs (issue: orchestration)."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from datetime import date, timedelta

import psycopg
import pytest
from nights import START, _marts, _run, generate_clean_landing


@pytest.fixture(scope="module")
def clean_landing(tmp_path_factory):
    return generate_clean_landing(tmp_path_factory)


def _load_and_get_killed(url: str, landing: str, day: str) -> None:
    os.environ["EQUITY_WAREHOUSE_URL"] = url
    from equity.load import load_delivery

    load_delivery(url, landing, "enrolment", date.fromisoformat(day), "doomed-run")


def test_a_load_killed_mid_transaction_leaves_the_old_batch_and_the_rerun_recovers(warehouse, clean_landing):
    from equity.load import load_delivery
    from equity.paths import SHIPPED_REFERENCE_DIR
    from equity.reference import load_reference
    from equity.warehouse import bootstrap

    bootstrap(warehouse)
    load_reference(warehouse, SHIPPED_REFERENCE_DIR)
    first = load_delivery(warehouse, str(clean_landing), "enrolment", START, "run-1")
    blocker = psycopg.connect(warehouse)
    blocker.execute("lock table raw.enrolment_roster in access exclusive mode")  # the loader will stall
    proc = multiprocessing.get_context("spawn").Process(
        target=_load_and_get_killed, args=(warehouse, str(clean_landing), START.isoformat()))
    proc.start()
    with psycopg.connect(warehouse, autocommit=True) as watch:
        for _ in range(200):  # wait until the loader is inside its transaction, waiting on our lock
            waiting = watch.execute("select count(*) from pg_stat_activity where wait_event_type = 'Lock'"
                                    " and datname = current_database()").fetchone()[0]
            if waiting:
                break
            time.sleep(0.1)
        assert waiting, "the loader never reached the raw table"
    proc.kill()  # SIGKILL: no cleanup code runs
    proc.join()
    blocker.rollback()
    blocker.close()
    time.sleep(0.5)  # let the server notice the dead client and roll its transaction back
    with psycopg.connect(warehouse) as conn:
        rows = conn.execute("select batch_id, status from audit.load_batches order by batch_id").fetchall()
        in_raw = conn.execute("select distinct _batch_id from raw.enrolment_roster").fetchall()
    assert rows == [(first.batch_id, "loaded")] and in_raw == [(first.batch_id,)]
    again = load_delivery(warehouse, str(clean_landing), "enrolment", START, "run-2")
    assert again.status == "loaded" and again.rows == first.rows


def test_two_runs_of_the_same_date_cannot_both_publish(warehouse):
    from equity.publish import PublishConflict, publish
    from equity.warehouse import bootstrap

    bootstrap(warehouse)
    with psycopg.connect(warehouse) as other:
        other.execute("select pg_advisory_xact_lock(hashtext('publish'), %s)", (int(START.strftime("%Y%m%d")),))
        with pytest.raises(PublishConflict, match=str(START)):
            publish(warehouse, START, "second-run")


def test_permanent_errors_fail_at_once_and_transient_ones_are_retried():
    from airflow.sdk.exceptions import AirflowFailException

    from equity.airflow_support import RETRY_POLICY, run_step
    from equity.transform import DbtFailed

    def broken_model():
        raise DbtFailed("model x: error")

    def database_restarting():
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    with pytest.raises(AirflowFailException):
        run_step(broken_model)
    with pytest.raises(psycopg.OperationalError):  # left to Airflow's retries with backoff
        run_step(database_restarting)
    assert RETRY_POLICY["retry_exponential_backoff"]


def test_a_database_restart_mid_step_fails_cleanly_and_a_retry_succeeds(tmp_path):
    from equity.embedded import _pgctl, ensure_embedded, stop_embedded
    from equity.warehouse import bootstrap, connect

    folder = tmp_path / "pg"
    url = ensure_embedded(folder)
    try:
        bootstrap(url)
        with connect(url) as conn:
            _pgctl(folder / "pgdata", "-w", "-m", "fast", "restart", "-l", str(folder / "pgdata" / "server.log"))
            with pytest.raises(psycopg.OperationalError):
                conn.execute("select count(*) from audit.load_batches").fetchone()
        bootstrap(url)  # the retry: a new connection, the same step, succeeds
        with connect(url) as conn:
            assert conn.execute("select count(*) from audit.load_batches").fetchone() == (0,)
    finally:
        stop_embedded(folder)


def test_the_embedded_server_takes_its_settings_at_every_start(tmp_path):
    """A server made before a settings change gets it at its next start."""
    from equity.embedded import _OURS, ensure_embedded, stop_embedded

    folder = tmp_path / "pg"
    url = ensure_embedded(folder)
    try:
        conf = folder / "pgdata" / "postgresql.conf"
        ours = conf.read_text().split(_OURS)[1]
        conf.write_text(conf.read_text().split(_OURS)[0] + _OURS + ours.replace("wal_level = minimal", "")
                        .replace("max_wal_senders = 0", ""))  # as an older release wrote it
        stop_embedded(folder)
        url = ensure_embedded(folder)  # the same port if it is still free
        with psycopg.connect(url) as conn:
            # one server, no standby: a batch COPY'd into the partition its transaction made writes no WAL
            assert conn.execute("show wal_level").fetchone() == ("minimal",)
            assert conn.execute("show max_wal_size").fetchone() == ("4GB",)
    finally:
        stop_embedded(folder)


def test_failure_alert_reaches_the_webhook_without_row_values(monkeypatch):
    import http.server
    import threading

    from equity.notify import on_task_failure

    received = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the stdlib's name
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.handle_request, daemon=True).start()
    monkeypatch.setenv("EQUITY_ALERT_WEBHOOK", f"http://127.0.0.1:{server.server_port}/alerts")

    class TI:
        dag_id, task_id, try_number = "equity_nightly", "transform", 3

    on_task_failure({"task_instance": TI(), "run_id": "scheduled__2026-11-20",
                     "exception": RuntimeError("dbt build failed: model x")})
    server.server_close()
    assert received and received[0]["event"] == "task_failed"
    assert received[0]["task_id"] == "transform" and received[0]["error"] == "RuntimeError"


def test_a_source_silent_longer_than_max_silence_days_is_reported(warehouse, monkeypatch):
    from equity.pipeline import _silent_sources
    from equity.warehouse import bootstrap

    bootstrap(warehouse)
    monkeypatch.setenv("EQUITY_MAX_SILENCE_DAYS", "3")
    with psycopg.connect(warehouse) as conn:
        for source, day in (("enrolment", "2026-11-20"), ("welfare", "2026-11-16"), ("registry", "2026-11-17")):
            conn.execute("insert into audit.load_batches (source, extract_date, status) values (%s, %s, 'loaded')",
                         (source, day))
        # welfare: 4 days silent (alert); registry: 3 days (still within the allowance)
        assert _silent_sources(conn, date(2026, 11, 20)) == {"welfare": 4}


STEPS = ("start", "load", "gate", "transform", "gate_marts", "publish")


def _run_steps_then_die(day: date, run_id: str, upto: str) -> None:
    """The night's steps in DAG order, stopping after `upto` as if the worker were killed there."""
    from equity import pipeline
    from equity.contracts import SOURCES

    pipeline.start_run(day, run_id)
    if upto == "start":
        return
    loads = [pipeline.ingest(s, day, run_id) for s in SOURCES]
    if upto == "load":
        return
    [pipeline.gate_source(x, run_id) for x in loads]
    if upto == "gate":
        return
    pipeline.transform(day, run_id)
    if upto == "transform":
        return
    gate = pipeline.gate_marts(day, run_id)
    if upto == "gate_marts":
        return
    pipeline.publish(day, run_id, gate)


@pytest.mark.slow  # ten nights: `make test-slow` (CI runs it after `make test`)
@pytest.mark.parametrize("server", ["system"])
def test_a_night_killed_after_any_step_then_rerun_gives_the_marts_of_an_uninterrupted_run(
        server, warehouse, new_database, clean_landing, monkeypatch):
    """Kill the night for date 2 after each step in turn, re-run it through the DAG, compare every row."""
    day2 = START + timedelta(days=1)
    reference = new_database()
    assert {r["state"] for r in _run(reference, clean_landing, START, day2, monkeypatch)} == {"success"}
    expected = _marts(reference)
    assert {r["state"] for r in _run(warehouse, clean_landing, START, START, monkeypatch)} == {"success"}
    monkeypatch.setenv("EQUITY_WAREHOUSE_URL", warehouse)
    # kills before any load, between load and transform, after transform, after the gates (publish
    # completing is an ordinary re-run, covered by the re-delivery test); every step in STEPS is valid
    for upto in ("start", "load", "transform", "gate_marts"):
        _run_steps_then_die(day2, f"killed-after-{upto}", upto)
        assert {r["state"] for r in _run(warehouse, clean_landing, day2, day2, monkeypatch)} == {"success"}
        assert _marts(warehouse) == expected, f"marts differ after a kill after {upto} and a re-run"


def _a_failed_build(warehouse: str, landing, target) -> None:
    """Load START's deliveries (gated), then fail its dbt build (a reference table away), then mend it."""
    from equity.load import load_delivery
    from equity.paths import SHIPPED_REFERENCE_DIR
    from equity.reference import load_reference
    from equity.transform import DbtFailed, build
    from equity.warehouse import bootstrap

    bootstrap(warehouse)
    load_reference(warehouse, SHIPPED_REFERENCE_DIR)
    for source in ("enrolment", "welfare", "registry"):
        load_delivery(warehouse, str(landing), source, START, "run-1")
    with psycopg.connect(warehouse) as conn:
        conn.execute("update audit.load_batches set gate_status = 'passed'")
        conn.execute("alter table reference.laos rename to laos_away")  # the failure
        conn.commit()
    with pytest.raises(DbtFailed):
        build(warehouse, START, target_dir=target)
    with psycopg.connect(warehouse) as conn:
        conn.execute("alter table reference.laos_away rename to laos")  # the fix
        conn.commit()


def test_a_failed_dbt_build_is_resumed_from_its_point_of_failure(warehouse, clean_landing, tmp_path, caplog):
    """dbt retry: the retried transform re-runs what failed or was skipped, not what succeeded."""
    import logging

    from equity.transform import _unfinished_build, build

    target = tmp_path / "target"
    _a_failed_build(warehouse, clean_landing, target)
    assert _unfinished_build(target, START) and _unfinished_build(target, START, warehouse)
    with caplog.at_level(logging.INFO, logger="equity.transform"):
        results = build(warehouse, START, target_dir=target)
    assert "dbt retry" in caplog.text
    assert results and all(r["status"] in ("success", "pass", "no-op") for r in results)
    ran = {r["name"] for r in results}
    assert "model.equity.stg_audit__load_batches" not in ran  # succeeded the first time: not re-run
    assert "model.equity.municipality_equity_summary" in ran
    with psycopg.connect(warehouse) as conn:
        assert conn.execute("select count(*) from marts_build.municipality_equity_summary").fetchone()[0] > 0


def test_a_failed_build_is_built_again_not_resumed_after_a_reload_or_a_project_change(warehouse, clean_landing,
                                                                                       tmp_path, caplog):
    """`dbt retry` resumes only what it can: after the night's deliveries were loaded again (a re-run),
    the models that succeeded read replaced batches, and after the project changed (an upgrade) the
    failed build's nodes are not all there; both times the night is built from the start."""
    import logging

    from equity.load import load_delivery
    from equity.transform import _unfinished_build, build

    target = tmp_path / "target"
    _a_failed_build(warehouse, clean_landing, target)
    assert _unfinished_build(target, START, warehouse)
    # a re-run loads the night's enrolment again after the failed build: no resuming
    load_delivery(warehouse, str(clean_landing), "enrolment", START, "run-2")
    assert not _unfinished_build(target, START, warehouse)

    # the project changed since the failed build: one of its nodes is gone
    results_path = target / "run_results.json"
    data = json.loads(results_path.read_text())
    data["metadata"]["generated_at"] = "2999-01-01T00:00:00Z"  # started after every load
    gone = dict(data["results"][-1], unique_id="test.equity.a_test_removed_since.0123456789", status="error")
    data["results"].append(gone)
    results_path.write_text(json.dumps(data))
    assert _unfinished_build(target, START, warehouse)
    with caplog.at_level(logging.INFO, logger="equity.transform"):
        results = build(warehouse, START, target_dir=target)
    assert "building it again" in caplog.text
    ran = {r["name"] for r in results}
    assert "model.equity.stg_audit__load_batches" in ran  # built from the start
    assert results and all(r["status"] in ("success", "pass", "no-op") for r in results)
