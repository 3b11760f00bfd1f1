"""The DAG file: imports fast, wires the documented steps, touches no database at parse time."""

from __future__ import annotations

import os
import subprocess
import sys

from equity.contracts import SOURCES
from equity.paths import DAGS_DIR


def test_dag_parses_without_database_and_quickly(tmp_path):
    # A warehouse URL that cannot connect: parsing must not try.
    env = dict(os.environ, EQUITY_WAREHOUSE_URL="postgresql://nobody@127.0.0.1:1/none",
               AIRFLOW_HOME=str(tmp_path), AIRFLOW__CORE__LOAD_EXAMPLES="False")
    code = (
        "import time, runpy; t = time.perf_counter();"
        f"ns = runpy.run_path({str(DAGS_DIR / 'equity_nightly.py')!r});"
        "print(time.perf_counter() - t)"
    )
    # Import Airflow first (its own start-up is not the DAG's cost), then time the DAG file alone.
    out = subprocess.run([sys.executable, "-c", "import airflow.sdk; " + code], env=env,
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert float(out.stdout.strip().splitlines()[-1]) < 2.0


def test_dag_wires_every_source_then_transform_gate_publish_finish():
    from equity.orchestrate import load_dag, prepare_airflow

    prepare_airflow()
    dag = load_dag()
    ids = set(dag.task_ids)
    for source in SOURCES:
        assert {f"{source}.load", f"{source}.gate"} <= ids
        assert dag.get_task(f"{source}.wait").upstream_task_ids == {"start"}
        assert dag.get_task(f"{source}.load").upstream_task_ids == {"start", f"{source}.wait"}
        assert dag.get_task(f"{source}.load").outlets, "raw tables are Airflow assets"
        assert dag.get_task(f"{source}.gate").downstream_task_ids == {"transform", "finish"}
    assert dag.get_task("gate_marts").upstream_task_ids == {"transform"}
    # write-audit-publish: nothing reaches `marts` but through publish, after the marts gate
    assert dag.get_task("publish").upstream_task_ids == {"gate_marts"}
    assert dag.get_task("finish").upstream_task_ids >= {"publish", "gate_marts"}
    assert dag.get_task("purge").upstream_task_ids == {"publish"}  # retention only after a good night
    assert dag.get_task("publish").outlets, "marts are Airflow assets"
    assert dag.timezone.name == "Asia/Bangkok"
    assert dag.max_active_runs == 1
