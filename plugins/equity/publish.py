"""Write-audit-publish: dbt builds and the gates check the night in `marts_build`; publishing copies
the night's rows into `marts` (what BI reads) in one transaction, so BI never sees a half-built or
failed night and the previous nights stay readable whatever fails.

Only the night's rows move (delete D, insert D), so publishing costs one night, not the history.
The child-level mart moves as versions: `marts.child_equity_profile` is a view over
`marts.child_equity_profile_versions` and `marts.nights` (the nights published), as it is in the build
over intermediate.int_children__versioned; publishing D copies the versions of the children whose
history changed since the last published night, and adds D to `marts.nights`.
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


CHILD_MART = "child_equity_profile"
BUILD_VERSIONS = sql.Identifier("intermediate", "int_children__versioned")
BUILD_NIGHTS = sql.Identifier("intermediate", "int_children__versioned__nights")
VERSIONS_TABLE = "child_equity_profile_versions"
VERSIONS = sql.Identifier(PUBLISHED_SCHEMA, VERSIONS_TABLE)
NIGHTS = sql.Identifier(PUBLISHED_SCHEMA, "nights")
# One row: the latest valid_to any published version may hold (an upper bound; see _reach).
REACH = sql.Identifier(PUBLISHED_SCHEMA, "child_equity_profile_versions_reach")
# Room on each page of the published versions for the closed row: an update that changes no indexed
# column and fits on its page is HOT, and writes no index entries (nor their pages' images to the WAL).
VERSIONS_FILLFACTOR = 90


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
        conn.execute(sql.SQL("create table if not exists {} (as_of_date date primary key, run_id text not null,"
                             " published_at timestamptz not null default now())").format(NIGHTS))
        for table in MARTS:
            if table == CHILD_MART:
                _publish_child_versions(conn, as_of)
                continue
            _ensure_published_table(conn, table)
            cols = sql.SQL(", ").join(sql.Identifier(c) for c, _ in _columns(conn, BUILD_SCHEMA, table))
            target = sql.Identifier(PUBLISHED_SCHEMA, table)
            conn.execute(sql.SQL("delete from {} where as_of_date = %s").format(target), (as_of,))
            counts[table] = conn.execute(
                sql.SQL("insert into {t} ({c}) select {c} from {b} where as_of_date = %s").format(
                    t=target, c=cols, b=sql.Identifier(BUILD_SCHEMA, table)), (as_of,)).rowcount
        # The children as of D: the national summary's count, which the marts' gates reconciled with
        # the child-level rows LAO by LAO before publish ran (a count of the published versions
        # would read all 11 M of them again).
        row = conn.execute(sql.SQL("select children from {} where as_of_date = %s").format(
            sql.Identifier(PUBLISHED_SCHEMA, "national_equity_summary")), (as_of,)).fetchone()
        counts[CHILD_MART] = row[0] if row else 0
        conn.execute(sql.SQL("insert into {} (as_of_date, run_id) values (%s, %s) on conflict (as_of_date)"
                             " do update set run_id = excluded.run_id, published_at = now()").format(NIGHTS),
                     (as_of, run_id))
        conn.execute(
            "update audit.pipeline_runs set counts = coalesce(counts, '{}'::jsonb) || jsonb_build_object("
            "'published', %s::jsonb) where run_id = %s", (json.dumps(counts), run_id))
        conn.commit()
    log.info("published %s: %s", as_of, counts)
    return counts


def _publish_child_versions(conn, as_of: date) -> None:
    """Make the published child versions show, for every night from D on, what the build shows, and
    leave every night before D as it was published.

    Only the children whose versions begin or end on or after D, in the build or in what was
    published, or were written since the last publish, are touched: on an ordinary night, the few
    percent that changed. A night before D that was re-built but not published (its gate blocked)
    shows from D on, as the build does, and never on its own night."""
    columns = [c for c, _ in _columns(conn, BUILD_SCHEMA, CHILD_MART) if c != "as_of_date"]
    kept = sql.SQL(", ").join(sql.Identifier(c) for c in ["valid_from", "valid_to", *columns])
    kind = conn.execute("select c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace"
                        " where n.nspname = %s and c.relname = %s", (PUBLISHED_SCHEMA, CHILD_MART)).fetchone()
    if kind and kind[0] != "v":  # a warehouse from before the versions: keep its nights aside, whole
        conn.execute(sql.SQL("alter table {} rename to {}").format(
            sql.Identifier(PUBLISHED_SCHEMA, CHILD_MART), sql.Identifier(CHILD_MART + "_before_versions")))
        log.warning("marts.%s was a table; kept as marts.%s_before_versions", CHILD_MART, CHILD_MART)
    conn.execute(sql.SQL("create table if not exists {v} with (fillfactor = {f}) as select {c} from {b}"
                         " with no data").format(v=VERSIONS, c=kept, b=BUILD_VERSIONS,
                                                 f=sql.Literal(VERSIONS_FILLFACTOR)))
    fmt = {"v": VERSIONS, "b": BUILD_VERSIONS, "c": kept}
    d = {"d": as_of}
    if not conn.execute(sql.SQL("select exists (select from {})").format(VERSIONS)).fetchone()[0]:
        # Nothing published yet: nothing to cut or continue. The build's versions that show on D or
        # after come in as they are (one spanning D starts at D), and the indexes are built after
        # them: kept up through 11 M inserts of random keys they cost 263 s of a first national night.
        conn.execute(sql.SQL(
            "insert into {v} ({c}) select greatest(valid_from, %(d)s), valid_to, " +
            ", ".join("{}" for _ in columns) + " from {b}"
            " where present and (valid_from >= %(d)s or valid_to is null or valid_to > %(d)s)").format(
                *[sql.Identifier(c) for c in columns], **fmt), d)
        _index_child_versions(conn)
        conn.execute(sql.SQL("drop table if exists {}").format(REACH))  # _reach counts it afresh
        _reach(conn)
    else:
        _index_child_versions(conn)
        _publish_changed_children(conn, as_of, columns, fmt, d)
    view_columns = sql.SQL(", ").join(
        sql.SQL("n.as_of_date") if c == "as_of_date" else sql.SQL("v.{}").format(sql.Identifier(c))
        for c, _ in _columns(conn, BUILD_SCHEMA, CHILD_MART))
    conn.execute(sql.SQL(
        "create or replace view {view} as select {cols} from {v} as v inner join {n} as n"
        " on n.as_of_date >= v.valid_from and (v.valid_to is null or n.as_of_date < v.valid_to)").format(
            view=sql.Identifier(PUBLISHED_SCHEMA, CHILD_MART), cols=view_columns, v=VERSIONS, n=NIGHTS))


def _index_child_versions(conn) -> None:
    # Each made only when the catalogue lacks it: CREATE INDEX IF NOT EXISTS takes its SHARE lock on the
    # table before it looks, and so waits for deadlock_timeout (1 s) while autovacuum works on the versions
    # (after a first national night, every time).
    have = {r[0] for r in conn.execute("select indexname from pg_indexes where schemaname = %s and tablename = %s",
                                       (PUBLISHED_SCHEMA, VERSIONS_TABLE)).fetchall()}
    for name, unique, columns in (
            ("child_equity_profile_versions_key", True, "child_key, valid_from"),
            ("child_equity_profile_versions_lao", False, "lao_code, valid_from"),
            # the versions that begin on or after D are found by index, not by a scan of every version
            ("child_equity_profile_versions_valid_from", False, "valid_from")):
        if name not in have:
            conn.execute(sql.SQL("create {unique} index if not exists {name} on {v} (" + columns + ")").format(
                unique=sql.SQL("unique" if unique else ""), name=sql.Identifier(name), v=VERSIONS))
    # No index on valid_to: publishing closes versions by setting it, and an indexed column would make
    # every close write four index entries (with their pages' images) instead of a HOT update on the
    # row's own page. Those ending on or after D are found through the reach (_reach). A warehouse
    # from before loses the index and gains the room (the packed pages fill as their rows move).
    conn.execute(sql.SQL("drop index if exists {}").format(
        sql.Identifier(PUBLISHED_SCHEMA, "child_equity_profile_versions_valid_to")))
    options = conn.execute("select coalesce(reloptions, '{}') from pg_class where oid = %s::regclass",
                           (VERSIONS.as_string(conn),)).fetchone()[0]
    if f"fillfactor={VERSIONS_FILLFACTOR}" not in options:
        conn.execute(sql.SQL("alter table {} set (fillfactor = {})").format(
            VERSIONS, sql.Literal(VERSIONS_FILLFACTOR)))


def _reach(conn) -> date | None:
    """The latest valid_to of the published versions, or a date after it; None when none has one.

    Kept in a one-row table that each publish raises in its own transaction, so that an ordinary
    night (D after the reach: no published version ends on or after D) skips the search, and a re-run
    reads the versions whole for it (no index on valid_to, see _index_child_versions). Counted from
    the versions when the row is missing (a first publish, a warehouse from before)."""
    conn.execute(sql.SQL("create table if not exists {} (latest_valid_to date)").format(REACH))
    row = conn.execute(sql.SQL("select latest_valid_to from {}").format(REACH)).fetchone()
    if row is None:
        conn.execute(sql.SQL("insert into {} select max(valid_to) from {}").format(REACH, VERSIONS))
        row = conn.execute(sql.SQL("select latest_valid_to from {}").format(REACH)).fetchone()
    return row[0]


def _publish_changed_children(conn, as_of: date, columns: list[str], fmt: dict, d: dict) -> None:
    """Publish D over what was published: only the children whose versions changed (see above)."""
    # the children whose versions begin or end on or after D, or whose build versions were written
    # since the last publish (a night before D re-built and not published); every child when the
    # build no longer holds the last published night (its versions were rebuilt from scratch)
    last = conn.execute(sql.SQL("select max(as_of_date) from {} where as_of_date < %s").format(NIGHTS),
                        (as_of,)).fetchone()[0]
    rebuilt = last is not None and not conn.execute(
        sql.SQL("select exists (select 1 from {} where as_of_date = %s)").format(BUILD_NIGHTS), (last,)).fetchone()[0]
    every = sql.SQL("true" if rebuilt else "false")
    # the published versions ending on or after D: none on an ordinary night (D is past the reach);
    # on a re-run, a scan of the versions (no index on valid_to)
    reach = _reach(conn)
    ending = sql.SQL("or valid_to >= %(d)s" if reach is not None and reach >= as_of else "")
    # each touched key with its person where the build has it (a child key is one person's)
    conn.execute(sql.SQL(
        "create temp table _children on commit drop as"
        " select child_key, person_id from {b} where {every} or valid_from >= %(d)s or valid_to >= %(d)s"
        "  or built_at > (select coalesce(max(published_at), '-infinity') from {n})"
        " union select child_key, null from {v} where {every} or valid_from >= %(d)s {ending}").format(
            n=NIGHTS, every=every, ending=ending, **fmt), d)
    if rebuilt:
        log.warning("the build no longer holds the last published night %s: every child's versions from %s"
                    " on are published again", last, as_of)
    conn.execute("analyze _children")
    # In the published versions, the touched keys as an array: each is looked up in the (child_key,
    # valid_from) index (0.2 M keys on an ordinary national night: 9 s → under 1 s). As a join the
    # planner hashes them and scans all 11 M versions.
    touched = "child_key = any(array(select child_key from _children))"
    # The touched children's build versions that show on D or after, read once: steps 2 and 3 read
    # them here. The build has no child_key index (one on random keys cost 10 s a night to keep), but
    # a (person_id, valid_from) one: when every touched key is a build version's, their persons'
    # versions are read by it (national ordinary night: 3.6 s → under 1 s); else (every child, or a
    # key only published, as on a re-run) one scan of the build's 11 M versions.
    by_person = not rebuilt and not conn.execute(
        "select exists (select from _children as c where c.person_id is null and not exists"
        " (select from _children as b where b.child_key = c.child_key and b.person_id is not null))").fetchone()[0]
    persons = sql.SQL("person_id = any(array(select distinct person_id from _children where person_id is not null))"
                      " and " if by_person else "")
    conn.execute(sql.SQL(
        "create temp table _build on commit drop as select {c} from {b}"
        " where {persons} present and child_key in (select child_key from _children)"
        "  and (valid_from >= %(d)s or valid_to is null or valid_to > %(d)s)").format(persons=persons, **fmt), d)
    conn.execute("analyze _build")
    # 1. what was published from D on goes; a version spanning D is cut at D
    conn.execute(sql.SQL("delete from {v} where " + touched + " and valid_from >= %(d)s").format(**fmt), d)
    conn.execute(sql.SQL("update {v} set valid_to = %(d)s where " + touched +
                         " and valid_from < %(d)s and (valid_to is null or valid_to > %(d)s)").format(**fmt), d)
    # 2. the build's versions from D on come in
    conn.execute(sql.SQL("insert into {v} ({c}) select {c} from _build where valid_from >= %(d)s").format(**fmt), d)
    # 3. a build version spanning D continues the published one cut at D when they hold the same row,
    #    else it starts at D
    conn.execute(sql.SQL(
        "create temp table _spanning on commit drop as select b.child_key, b.valid_to, p.valid_from as published_from"
        " from _build as b left join {v} as p on p.child_key = b.child_key and p.valid_to = %(d)s"
        "  and row(p.{first}, {pv}) is not distinct from row(b.{first}, {bv})"
        " where b.valid_from < %(d)s").format(
            first=sql.Identifier(columns[1]), **fmt,
            pv=sql.SQL(", ").join(sql.SQL("p.{}").format(sql.Identifier(c)) for c in columns[2:]),
            bv=sql.SQL(", ").join(sql.SQL("b.{}").format(sql.Identifier(c)) for c in columns[2:])), d)
    conn.execute(sql.SQL("update {v} as p set valid_to = s.valid_to from _spanning as s"
                         " where s.published_from is not null and p.child_key = s.child_key"
                         " and p.valid_from = s.published_from").format(**fmt))
    conn.execute(sql.SQL(
        "insert into {v} ({c}) select %(d)s, b.valid_to, " +
        ", ".join("b.{}" for _ in columns) + " from _build as b join _spanning as s on s.child_key = b.child_key"
        " and s.published_from is null where b.valid_from < %(d)s").format(
            *[sql.Identifier(c) for c in columns], **fmt), d)
    # the closes set D, the inserts and the spanning versions the build's ends
    conn.execute(sql.SQL("update {} set latest_valid_to = greatest(latest_valid_to, %(d)s,"
                         " (select max(valid_to) from _build))").format(REACH), d)
