"""Policy parameters, read from the single place they live: the vars of dbt_project.yml."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from equity.paths import DBT_PROJECT_DIR

POLICY_NAMES = (
    "poverty_line_thb",
    "extreme_min_deprivations",
    "school_age_min",
    "school_age_max",
    "child_age_min",
    "child_age_max",
    "transfer_grace_days",
    "screening_valid_days",
    "chronic_absence_days",
    "preprimary_age_min",
    "preprimary_age_max",
    "oos_jump_tolerance",
    "oos_jump_min_children",
)


@cache
def policy(project_dir: Path = DBT_PROJECT_DIR) -> dict[str, int | float]:
    """The policy numbers by MARTS.md name (defaults of this code version)."""
    vars_ = yaml.safe_load((project_dir / "dbt_project.yml").read_text())["vars"]
    return {name: vars_[name] for name in POLICY_NAMES}
