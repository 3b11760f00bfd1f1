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


def hmac_key() -> str:
    """The secret behind child_key. Refuse to run without it: a default key would be no secret."""
    key = os.environ.get("EQUITY_HMAC_KEY", "")
    if not key:
        raise MissingSecret(
            "EQUITY_HMAC_KEY is not set: the pipeline needs the secret key for child_key "
            "(set it in the environment or the Airflow connection/variable; see docs/security.md)"
        )
    return key
