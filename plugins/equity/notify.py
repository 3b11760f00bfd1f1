"""Alerts a user can point somewhere: failure and deadline-miss callbacks post to a webhook
(EQUITY_ALERT_WEBHOOK, e.g. a chat or incident tool) and always log. E-mail: point the webhook at a
mail relay, or configure Airflow's own SMTP e-mail on the tasks (docs/orchestration.md).

Messages carry the DAG, task, date and error class: never row values.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request

log = logging.getLogger(__name__)


def send(event: str, payload: dict) -> None:
    body = {"event": event, **payload}
    log.warning("equity alert: %s", json.dumps(body, default=str))
    url = os.environ.get("EQUITY_ALERT_WEBHOOK")
    if not url:
        return
    request = urllib.request.Request(url, data=json.dumps(body, default=str).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10):
            pass
    except OSError as exc:  # an alert that cannot be sent must not fail the pipeline
        log.error("could not post the alert to the webhook: %s", exc)


def on_task_failure(context) -> None:
    ti = context.get("task_instance") or context.get("ti")
    exc = context.get("exception")
    send("task_failed", {
        "dag_id": getattr(ti, "dag_id", None), "task_id": getattr(ti, "task_id", None),
        "run_id": context.get("run_id"), "try_number": getattr(ti, "try_number", None),
        "error": type(exc).__name__ if exc else None, "message": str(exc)[:500] if exc else None,
    })


def deadline_missed(context=None, **kwargs) -> None:
    dag_run = (context or {}).get("dag_run")
    send("deadline_missed", {"dag_id": getattr(dag_run, "dag_id", None),
                             "run_id": getattr(dag_run, "run_id", None), **kwargs})
