"""Run configuration from the environment (EXTRACTS.md, "Run configuration")."""

from __future__ import annotations

import os
from pathlib import Path

from equity.paths import SHIPPED_REFERENCE_DIR


def landing() -> str:
    """The landing zone: a local folder or an object-store URL."""
    return os.environ.get("EQUITY_LANDING", "./landing")


def reference_dir() -> Path:
    value = os.environ.get("EQUITY_REFERENCE")
    return Path(value) if value else SHIPPED_REFERENCE_DIR


class MissingSecret(RuntimeError):
    pass


AIRFLOW_VARIABLE = "equity_hmac_key"      # Airflow Variable (or AIRFLOW_VAR_EQUITY_HMAC_KEY)
AIRFLOW_CONNECTION = "equity_hmac"         # or an Airflow Connection: the key is its password


def _airflow_hmac_key() -> str:
    """The key from Airflow's Variable or Connection, only inside an Airflow task (else "")."""
    key = os.environ.get("AIRFLOW_VAR_EQUITY_HMAC_KEY", "")
    if key or not os.environ.get("AIRFLOW_CTX_DAG_ID"):
        return key
    try:
        from airflow.sdk import Connection, Variable

        key = Variable.get(AIRFLOW_VARIABLE, default=None) or ""
        if not key:
            try:
                key = Connection.get(AIRFLOW_CONNECTION).password or ""
            except Exception:  # noqa: BLE001 - not defined: no key from Airflow
                key = ""
    except Exception:  # noqa: BLE001 - no Airflow, or no secrets backend reachable
        return ""
    return key


def max_silence_days() -> int:
    """Days a source may stay silent before the run alerts (EXTRACTS.md, default 3)."""
    return int(os.environ.get("EQUITY_MAX_SILENCE_DAYS", "3"))


def hmac_key() -> str:
    """The secret behind child_key. Refuse to run without it: a default key would be no secret.

    EQUITY_HMAC_KEY from the environment; else, in an Airflow task, the Variable `equity_hmac_key`
    (any secrets backend, or AIRFLOW_VAR_EQUITY_HMAC_KEY) or the password of the Connection
    `equity_hmac`. Never a file of the repository.
    """
    key = os.environ.get("EQUITY_HMAC_KEY", "") or _airflow_hmac_key()
    if not key:
        raise MissingSecret(
            "EQUITY_HMAC_KEY is not set: the pipeline needs the secret key for child_key "
            "(set it in the environment or the Airflow connection/variable; see docs/security.md)"
        )
    return key


DEFAULT_RETENTION_DAYS = 400


def retention_days() -> int:
    """EQUITY_RETENTION_DAYS: how long raw deliveries, quarantined rows and identified lists are kept."""
    value = os.environ.get("EQUITY_RETENTION_DAYS", "").strip()
    if not value:
        return DEFAULT_RETENTION_DAYS
    days = int(value)
    if days < 1:
        raise ValueError(f"EQUITY_RETENTION_DAYS must be a positive number of days, not {value!r}")
    return days
