"""Where the project's own files are, whether run from a checkout or an installed package."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
# plugins/equity -> repository root (editable install keeps this layout)
PROJECT_ROOT = Path(os.environ.get("EQUITY_PROJECT_ROOT", PACKAGE_DIR.parent.parent)).resolve()
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
DAGS_DIR = PROJECT_ROOT / "dags"
SHIPPED_REFERENCE_DIR = PACKAGE_DIR / "reference"


def state_dir() -> Path:
    """Local state (embedded server data, Airflow home): kept in the project folder."""
    return Path(os.environ.get("EQUITY_HOME", PROJECT_ROOT / ".equity")).resolve()
