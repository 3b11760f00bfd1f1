"""Write-audit-publish: dbt builds and the gates check the night in `marts_build`; publishing copies
the night's rows into `marts` (what BI reads) in one transaction, so BI never sees a half-built or
failed night and the previous nights stay readable whatever fails.

Only the night's rows move (delete D, insert D), so publishing costs one night, not the history.
"""

from __future__ import annotations

import json
import logging
from datetime import date

from psycopg import sql

from equity.warehouse import connect

log = logging.getLogger(__name__)

BUILD_SCHEMA = "marts_build"
PUBLISHED_SCHEMA = "marts"
# Published in this order; each is incremental by as_of_date in the build schema.
MARTS = (
    "child_equity_profile",
    "municipality_equity_summary",
    "province_equity_summary",
    "national_equity_summary",
    "municipality_equity_trend",
)


class PublishConflict(RuntimeError):
    pass


def _columns(conn, schema: str, table: str) -> list[tuple[str, str]]:
    return conn.execute(
        "select column_name, format_type(a.atttypid, a.atttypmod)"
        " from information_schema.columns c"
        " join pg_attribute a on a.attrelid = format('%%I.%%I', c.table_schema, c.table_name)::regclass"
        "  and a.attname = c.column_name"
        " where c.table_schema = %s and c.table_name = %s order by c.ordinal_position",
        (schema, table)).fetchall()


def _ensure_published_table(conn, table: str) -> None:
    """Create the published table like the built one; add columns the contract gained since."""
    built = _columns(conn, BUILD_SCHEMA, table)
    published = dict(_columns(conn, PUBLISHED_SCHEMA, table))
    target = sql.Identifier(PUBLISHED_SCHEMA, table)
    if not published:
        conn.execute(sql.SQL("create table {} (like {} including all)").format(
            target, sql.Identifier(BUILD_SCHEMA, table)))
        return
    for name, type_ in built:
        if name not in published:  # contracts only ever add columns (MARTS.md)
            conn.execute(sql.SQL("alter table {} add column {} " + type_).format(target, sql.Identifier(name)))


def publish(url: str, as_of: date, run_id: str) -> dict[str, int]:
    """Copy the night's rows of every mart from the build schema into `marts`, atomically."""
    counts = {}
    with connect(url) as conn:
        conn.execute(f"create schema if not exists {PUBLISHED_SCHEMA}")
        # Two runs of one date cannot both publish: the second one to arrive gives up.
        got = conn.execute("select pg_try_advisory_xact_lock(hashtext('publish'), %s)",
                           (int(as_of.strftime("%Y%m%d")),)).fetchone()[0]
        if not got:
            raise PublishConflict(f"another run is publishing {as_of}; this one does not publish")
        for table in MARTS:
            _ensure_published_table(conn, table)
            cols = sql.SQL(", ").join(sql.Identifier(c) for c, _ in _columns(conn, BUILD_SCHEMA, table))
            target = sql.Identifier(PUBLISHED_SCHEMA, table)
            conn.execute(sql.SQL("delete from {} where as_of_date = %s").format(target), (as_of,))
            counts[table] = conn.execute(
                sql.SQL("insert into {t} ({c}) select {c} from {b} where as_of_date = %s").format(
                    t=target, c=cols, b=sql.Identifier(BUILD_SCHEMA, table)), (as_of,)).rowcount
        conn.execute(
            "update audit.pipeline_runs set counts = coalesce(counts, '{}'::jsonb) || jsonb_build_object("
            "'published', %s::jsonb) where run_id = %s", (json.dumps(counts), run_id))
        conn.commit()
    log.info("published %s: %s", as_of, counts)
    return counts
