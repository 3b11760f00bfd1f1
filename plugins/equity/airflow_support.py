"""The Airflow-facing pieces the DAG wires: delivery sensor (deferrable, with a deadline), assets,
retry policy. Importing this module touches no database."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, timedelta

import pendulum
from airflow.sdk import Asset, BaseOperator
from airflow.sdk.exceptions import AirflowFailException
from airflow.triggers.base import BaseTrigger, TriggerEvent

from equity.contracts import CONTRACTS, MANIFEST_NAME
from equity.publish import MARTS as PUBLISHED_MARTS

TZ = "Asia/Bangkok"

RAW_ASSETS = {name: Asset(name=f"equity.raw.{c.raw_table}", uri=f"equity://warehouse/raw/{c.raw_table}",
                          group="equity-raw") for name, c in CONTRACTS.items()}
MART_ASSETS = [Asset(name=f"equity.marts.{m}", uri=f"equity://warehouse/marts/{m}", group="equity-marts")
               for m in PUBLISHED_MARTS]

# Retries are for transient trouble (network, a database restart); these are not transient.
RETRY_POLICY = {
    "retries": int(os.environ.get("EQUITY_RETRIES", "2")),
    "retry_delay": timedelta(seconds=float(os.environ.get("EQUITY_RETRY_DELAY_SECONDS", "120"))),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
}


def permanent_errors() -> tuple[type[BaseException], ...]:
    from equity.config import MissingSecret
    from equity.gx_suites import SuiteError
    from equity.pipeline import NotPublished
    from equity.publish import PublishConflict
    from equity.transform import DbtFailed

    return (MissingSecret, DbtFailed, NotPublished, PublishConflict, SuiteError)


def run_step(fn, *args, **kwargs):
    """Run a pipeline step; a permanent error fails the task at once instead of retrying it."""
    try:
        return fn(*args, **kwargs)
    except permanent_errors() as exc:
        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc


def _manifest_path(landing: str, source: str, day: str) -> str:
    return f"{landing.rstrip('/')}/{source}/{day}/{MANIFEST_NAME}"


def _exists(path: str) -> bool:
    import fsspec

    fs, p = fsspec.core.url_to_fs(path)
    return fs.exists(p)


class DeliveryTrigger(BaseTrigger):
    """Polls the landing zone for a manifest until it appears or the deadline passes (in the triggerer)."""

    def __init__(self, path: str, deadline: str, poke_seconds: float = 60.0):
        super().__init__()
        self.path, self.deadline, self.poke_seconds = path, deadline, poke_seconds

    def serialize(self):
        return ("equity.airflow_support.DeliveryTrigger",
                {"path": self.path, "deadline": self.deadline, "poke_seconds": self.poke_seconds})

    async def run(self):
        deadline = datetime.fromisoformat(self.deadline)
        while True:
            if await asyncio.to_thread(_exists, self.path):
                yield TriggerEvent({"status": "delivered"})
                return
            if pendulum.now("UTC") >= deadline:
                yield TriggerEvent({"status": "missing"})
                return
            await asyncio.sleep(self.poke_seconds)


class WaitForDelivery(BaseOperator):
    """Wait (deferred, holding no worker slot) for a source's manifest until the deadline.

    Returns "delivered" or "missing": a late agency delays only its own source, and a delivery that
    never came is a recorded outcome, not a failure.
    """

    ui_color = "#e8f0fe"

    def __init__(self, source: str, deadline_hours: float = 6.0, poke_seconds: float = 60.0, **kwargs):
        super().__init__(**kwargs)
        self.source, self.deadline_hours, self.poke_seconds = source, deadline_hours, poke_seconds

    def execute(self, context):
        from equity import config
        from equity.dates import as_of_date

        day = as_of_date(context)
        path = _manifest_path(config.landing(), self.source, day.isoformat())
        # The night after D, at 02:00 + deadline_hours (Bangkok): past dates are decided at once.
        deadline = pendulum.datetime(day.year, day.month, day.day, 2, tz=TZ).add(days=1, hours=self.deadline_hours)
        if _exists(path):
            return "delivered"
        if pendulum.now("UTC") >= deadline:
            return "missing"
        self.defer(trigger=DeliveryTrigger(path, deadline.in_timezone("UTC").isoformat(), self.poke_seconds),
                   method_name="execute_complete")

    def execute_complete(self, context, event=None):
        return (event or {}).get("status", "missing")
