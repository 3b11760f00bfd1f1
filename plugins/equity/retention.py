"""Retention (PDPA): delete personal data the warehouse no longer needs, and record each purge.

`purge_expired(url, days, run_id, as_of=None)` with cutoff = as_of - days (as_of: the run's logical
date, default today). "Older than the cutoff" means a batch's extract_date < cutoff. The rule keeps
every re-run of a date on or after the cutoff exact (docs/security.md, "Retention"):

- raw rows of batches that never counted (refused, not loaded, gate failed/blocked/not gated) and
  older than the cutoff: all deleted;
- raw registry and welfare rows older than the source's latest accepted `full` re-statement dated
  on or before the cutoff: deleted (no date >= cutoff reads a batch older than that `full`);
- raw enrolment rows of accepted snapshots older than the cutoff: a person's rows in a snapshot
  are deleted when that person is on a later accepted snapshot dated on or before the cutoff (the
  enrolment history only ever needs each person's latest record, and the latest snapshot);
  a child last seen on a roll long ago keeps that one record (it decides DROPPED_OUT and the like);
- quarantined rows of batches older than the cutoff: deleted;
- the identified list (identified.priority_children, a view of priority_children_versions over the
  nights built): the nights before the cutoff, and the versions that ended or closed before it, deleted;
- intermediate.int_children__versioned (identified: person_id): versions that ended before the cutoff,
  and closing versions dated before it, deleted (no date on or after the cutoff reads them).

Marts (pseudonymous), audit.load_batches (no personal data) and audit.access_log are kept.
Every rule writes a row to audit.purges (what, rows, cutoff, who, when, batches), also when it
deletes nothing, in the purge's own transaction.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from psycopg import sql

from equity.config import retention_days
from equity.contracts import CONTRACTS
from equity.warehouse import connect

log = logging.getLogger(__name__)

ACCEPTED = "b.status = 'loaded' and b.gate_status in ('passed', 'warned')"  # as int_batches__accepted


def _rules() -> list[tuple[str, str, sql.Composable]]:
    """(target, rule, DELETE ... RETURNING the batch id as b) with %(cutoff)s and, for raw,
    %(batches)s: the ids of the source's batches older than the cutoff (from audit.load_batches). A
    raw rule names its batches as constants so PostgreSQL opens only their partitions: the purge of
    an ordinary night never reads the batches that are still kept."""
    rules: list[tuple[str, str, sql.Composable]] = []
    accepted = sql.SQL(ACCEPTED)
    for source, contract in CONTRACTS.items():
        raw = sql.Identifier("raw", contract.raw_table)
        src = sql.Literal(source)
        target = f"raw.{contract.raw_table}"
        rules.append((target, "batch never accepted, older than cutoff", sql.SQL(
            "delete from {raw} as r using audit.load_batches as b"
            " where r._batch_id = any(%(batches)s) and b.batch_id = r._batch_id and b.source = {src}"
            " and b.extract_date < %(cutoff)s"
            " and not ({accepted}) returning r._batch_id as b").format(raw=raw, src=src, accepted=accepted)))
        if source == "enrolment":
            rules.append((target, "person on a later accepted snapshot dated on or before cutoff", sql.SQL(
                "delete from {raw} as r"
                " using audit.load_batches as b,"
                "  (select nullif(trim(r2.person_id), '') as person_id, max(b2.extract_date) as extract_date"
                "   from {raw} as r2 join audit.load_batches as b2 on b2.batch_id = r2._batch_id"
                "   where r2._batch_id = any(%(batches)s) and b2.source = {src} and b2.extract_date <= %(cutoff)s"
                "     and b2.status = 'loaded' and b2.gate_status in ('passed', 'warned')"
                "   group by 1) as l"
                " where r._batch_id = any(%(batches)s) and b.batch_id = r._batch_id and b.source = {src}"
                "  and ({accepted})"
                "  and l.person_id is not distinct from nullif(trim(r.person_id), '')"
                "  and b.extract_date < l.extract_date"
                " returning r._batch_id as b").format(raw=raw, src=src, accepted=accepted)))
        else:
            rules.append((target, "older than the latest accepted full dated on or before cutoff", sql.SQL(
                "delete from {raw} as r"
                " using audit.load_batches as b,"
                "  (select max(b2.extract_date) as extract_date from audit.load_batches as b2"
                "   where b2.source = {src} and b2.mode = 'full' and b2.extract_date <= %(cutoff)s"
                "     and b2.status = 'loaded' and b2.gate_status in ('passed', 'warned')) as f"
                " where r._batch_id = any(%(batches)s) and b.batch_id = r._batch_id and b.source = {src}"
                " and b.extract_date < f.extract_date"
                " returning r._batch_id as b").format(raw=raw, src=src)))
        rejects = sql.Identifier("quarantine", f"{source}_rejects")
        rules.append((f"quarantine.{source}_rejects", "batch older than cutoff", sql.SQL(
            "delete from {q} as q where q._batch_id in (select b.batch_id from audit.load_batches as b"
            " where b.extract_date < %(cutoff)s)"
            " or (not exists (select 1 from audit.load_batches as b where b.batch_id = q._batch_id)"
            "     and q.rejected_at < %(cutoff)s)"
            " returning q._batch_id as b").format(q=rejects)))
    # the identified list: the nights before the cutoff are no longer listed (the view spans the versions
    # over the nights kept) and a version ended, or closed, before it is nobody's row on a night kept
    rules.append(("identified.priority_children_versions__nights", "night older than cutoff", sql.SQL(
        "delete from identified.priority_children_versions__nights where as_of_date < %(cutoff)s"
        " returning null::bigint as b")))
    rules.append(("identified.priority_children_versions", "version ended, or closed, before cutoff", sql.SQL(
        "delete from identified.priority_children_versions"
        " where valid_to < %(cutoff)s or (not listed and valid_from < %(cutoff)s) returning null::bigint as b")))
    # a version ended before the cutoff is nobody's state on any date a re-run may build; a closing
    # version dated before it holds no state (and its predecessor ended before the cutoff)
    rules.append(("intermediate.int_children__versioned", "version ended, or closed, before cutoff", sql.SQL(
        "delete from intermediate.int_children__versioned"
        " where valid_to < %(cutoff)s or (not present and valid_from < %(cutoff)s) returning null::bigint as b")))
    return rules


def purge_expired(url: str | None = None, days: int | None = None, run_id: str | None = None,
                  as_of: date | None = None) -> dict[str, int]:
    """Apply the retention rules for cutoff = as_of - days; return rows deleted per target."""
    days = retention_days() if days is None else int(days)
    if days < 1:
        raise ValueError(f"retention must be at least one day, not {days}")
    cutoff = (as_of or date.today()) - timedelta(days=days)
    with connect(url) as conn:
        if conn.execute("select to_regclass('audit.purges')").fetchone()[0] is None:
            conn.close()
            from equity.access import apply_access

            apply_access(url)
            return purge_expired(url, days, run_id, as_of)
        # one purge at a time; loads of a date take their own locks and never touch old batches
        conn.execute("select pg_advisory_xact_lock(hashtext('equity.purge'))")
        present = {t for t in ("identified.priority_children_versions", "identified.priority_children_versions__nights",
                              "intermediate.int_children__versioned")
                   if conn.execute("select to_regclass(%s)", (t,)).fetchone()[0] is not None}
        deleted: dict[str, int] = {}
        # batches dated on or before the cutoff, per source: the only raw partitions a rule may open
        old_batches = {source: [] for source in CONTRACTS}
        for source, batch_id in conn.execute(
                "select source, batch_id from audit.load_batches where extract_date <= %s", (cutoff,)):
            old_batches.setdefault(source, []).append(batch_id)
        for target, rule, stmt in _rules():
            if target.startswith(("identified.", "intermediate.")) and target not in present:
                continue
            source = next((s for s, c in CONTRACTS.items() if target == f"raw.{c.raw_table}"), None)
            n, ids = conn.execute(sql.SQL(
                "with d as ({}) select count(*), array_agg(distinct b order by b) filter (where b is not null)"
                " from d").format(stmt), {"cutoff": cutoff, "batches": old_batches.get(source, [])}).fetchone()
            conn.execute(
                "insert into audit.purges (run_id, retention_days, cutoff_date, target, rule, rows_deleted,"
                " batch_ids) values (%s, %s, %s, %s, %s, %s, %s)",
                (run_id, days, cutoff, target, rule, n, ids or None))
            deleted[target] = deleted.get(target, 0) + n
        conn.commit()
    log.info("retention purge (%d days, cutoff %s): %s", days, cutoff, deleted)
    return deleted
