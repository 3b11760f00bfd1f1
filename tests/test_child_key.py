"""child_key in the marts is exactly hex(HMAC-SHA256(EQUITY_HMAC_KEY, person ID)) as EXTRACTS.md defines."""

from __future__ import annotations

import hashlib
import hmac

import psycopg
import pytest

from equity.transform import dbt_env

IDS = ["1101700203451", "G123456789012", "0123456789018", ""]
KEYS = ["short", "key with spaces and ไทย", "k" * 100]  # >64 bytes is hashed first, as HMAC requires


@pytest.mark.parametrize("key", KEYS)
def test_sql_hmac_matches_python(warehouse, monkeypatch, key):
    monkeypatch.setenv("EQUITY_HMAC_KEY", key)
    env = dbt_env(warehouse)
    from jinja2 import Environment, FileSystemLoader

    from equity.paths import DBT_PROJECT_DIR

    macros = Environment(loader=FileSystemLoader(str(DBT_PROJECT_DIR / "macros"))).get_template(
        "child_key.sql").module
    query = (f"with ids as (select unnest(%s::text[]) as id), {macros.hmac_pads_cte()}"
             f" select id, {macros.child_key('id')} from ids cross join hmac_pads")
    with psycopg.connect(warehouse, options=env["PGOPTIONS"]) as conn:
        got = dict(conn.execute(query, (IDS,)).fetchall())
    for pid in IDS:
        assert got[pid] == hmac.new(key.encode(), pid.encode(), hashlib.sha256).hexdigest()


def test_pipeline_refuses_to_run_without_key(monkeypatch):
    from equity.config import MissingSecret
    from equity.pipeline import start_run

    monkeypatch.delenv("EQUITY_HMAC_KEY", raising=False)
    with pytest.raises(MissingSecret, match="EQUITY_HMAC_KEY"):
        start_run(__import__("datetime").date(2026, 11, 20), "run-x")
