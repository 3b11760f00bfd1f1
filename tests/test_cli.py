"""The `equity` command as people use it (a real process, real files, a real warehouse)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _equity(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "equity"
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=600, check=False,
                          env={**os.environ, **(env or {})})


def test_generate_writes_deliveries_and_says_where_the_truth_is(tmp_path):
    out = _equity("generate", "--children", "2000", "--days", "2", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "2 night(s)" in out.stdout and str(tmp_path / "_truth") in out.stdout
    for source in ("enrolment", "welfare", "registry"):
        assert (tmp_path / source / "2026-11-21" / "_manifest.json").exists()
    # --children counts children aged 3-18 (13000000 = Thailand), as the generator's own truth counts them
    summary = json.loads((tmp_path / "_truth" / "summary.json").read_text())
    for day in summary["per_day"]:
        assert 1900 <= day["children"] <= 2100, day["children"]
    assert summary["persons"] > 3000  # persons aged 0-24 around them: parents' children under 3, youths 19-24


def test_generate_can_be_sized_by_persons(tmp_path):
    out = _equity("generate", "--persons", "300", "--days", "1", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    summary = json.loads((tmp_path / "_truth" / "summary.json").read_text())
    assert 290 <= summary["persons"] <= 310 and summary["per_day"][0]["children"] < 250


def test_run_refuses_without_the_hmac_key_and_says_why(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "EQUITY_HMAC_KEY"}
    exe = Path(sys.executable).parent / "equity"
    out = subprocess.run([str(exe), "run", "--date", "2026-11-20"], capture_output=True, text=True, timeout=120,
                         env=env, check=False)
    assert out.returncode == 2 and "EQUITY_HMAC_KEY" in out.stderr


def test_status_on_an_empty_warehouse_points_to_the_next_step(warehouse):
    out = _equity("status")
    assert out.returncode == 0, out.stderr
    assert "no runs yet" in out.stdout and "***" not in out.stdout
