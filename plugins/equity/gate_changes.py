"""Which rows of a snapshot batch the raw gate judges: those that differ from an earlier batch all of
whose rows passed the same suite on the same reference data.

The enrolment roster is delivered whole every night and most of its 11 million rows are the rows of
the night before. A row's verdict under a content-only condition (a pattern, a code list, a check digit,
a code found in the reference) follows from its values alone, so a row equal to a row that passed
passes again. The loader hashes each row's values (`_row_hash`, equity.contracts.ROW_HASHED); the gate
then judges:

- the row-wise entries (column values, value lengths, SQL conditions that do not name the extract
  date) and the compound-key check on the changed rows - those without a twin in the earlier
  batch - and on every row sharing a key with one. The key check stays exact there: two unchanged
  rows cannot share a key, since their twins did not (the earlier batch passed its key check) and
  the loader keeps no row twice. Only a row put in by other means, which has no hash and so counts
  as changed, can share a key at all (the loader keeps keys unique in a batch): the rows sharing
  one are searched for only when the changed rows hold such a row;
- everything else on the whole batch: table-level entries (the row count), conditions that name the
  extract date (an age that was in range may not be a year later), custom SQL.

The earlier batch is the latest loaded snapshot of the source before this one whose `gate_basis` is
this night's: a fingerprint of the suite's entries and of the reference tables its conditions read,
recorded only when no row entry failed. Change the suite or the reference and the next batch is judged
whole again. Rows without a hash (put into raw by other means) count as changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date

import psycopg
from psycopg import sql

from equity.gx_suites import Suite, SuiteEntry

# Row-wise expectations: each row's verdict depends on its own values (and, for the key check, on the
# rows sharing its key).
_ROW_WISE = re.compile(r"^expect_(column_values_to_|column_value_lengths_to_|compound_key_to_be_unique$)")
_DATE_RELATIVE = "{extract_be_ymd}"
_REFERENCE = re.compile(r"\breference\.([a-z_][a-z0-9_]*)")


def row_wise(entry: SuiteEntry) -> bool:
    """Whether an entry's verdict on a row carries over to an equal row of a later batch."""
    condition = str(entry.kwargs.get("condition", ""))
    return bool(_ROW_WISE.match(entry.expectation)) and _DATE_RELATIVE not in condition


def split(suite: Suite, written: Suite) -> tuple[Suite, Suite]:
    """(the row-wise entries, the rest) of `suite`, told apart on `written`, the same suite before its
    placeholders were filled: each a suite of the same name, entries in file order."""
    if len(suite.entries) != len(written.entries):
        raise ValueError(f"suite {suite.name}: the bound suite has other entries than the file")
    flags = [row_wise(e) for e in written.entries]
    rows = tuple(e for e, flag in zip(suite.entries, flags, strict=True) if flag)
    rest = tuple(e for e, flag in zip(suite.entries, flags, strict=True) if not flag)
    return replace(suite, entries=rows), replace(suite, entries=rest)


def basis(conn: psycopg.Connection, suite: Suite) -> str:
    """The fingerprint of what a row that passed `suite` (unbound: placeholders as written) passed:
    its entries, and the content of each reference table a condition reads."""
    digest = hashlib.sha256()
    for e in suite.entries:
        digest.update(json.dumps([e.expectation, e.kwargs, e.severity], sort_keys=True, default=str).encode())
    conditions = " ".join(str(e.kwargs.get("condition", "")) for e in suite.entries)
    for table in sorted(set(_REFERENCE.findall(conditions))):
        row = conn.execute(sql.SQL("select count(*), md5(string_agg(t::text, chr(10) order by t::text))"
                                   " from {} as t").format(sql.Identifier("reference", table))).fetchone()
        digest.update(f"{table}:{row[0]}:{row[1]}".encode())
    return digest.hexdigest()


def earlier_batch(conn: psycopg.Connection, source: str, table: str, batch_id: int, extract_date: date,
                  gate_basis: str) -> int | None:
    """The latest loaded snapshot of `source` before `extract_date` whose every row passed under
    `gate_basis`, still in raw as its own partition; None when there is none (judge every row)."""
    rows = conn.execute(
        "select b.batch_id from audit.load_batches as b"
        " where b.source = %s and b.mode = 'snapshot' and b.status = 'loaded' and b.gate_basis = %s"
        "   and b.extract_date < %s and b.batch_id <> %s"
        "   and exists (select from pg_inherits as i where i.inhparent = %s::regclass"
        "               and i.inhrelid = to_regclass('raw.' || %s || '_b' || b.batch_id))"
        " order by b.extract_date desc, b.batch_id desc limit 1",
        (source, gate_basis, extract_date, batch_id, f"raw.{table}", table)).fetchone()
    return rows[0] if rows else None


@contextlib.contextmanager
def changed_rows(conn_url: str, table: str, key: tuple[str, ...], batch_id: int, earlier: int
                 ) -> Iterator[tuple[str, str, int]]:
    """A table, beside the batch in `raw`, of the batch's rows without a twin in batch `earlier` and
    every row sharing a key with one; yields (schema, name, its rows) and drops it at the end. Unlogged,
    granted to nobody, named per gate. On the way, the persons whose rows differ between the two
    batches are stored in raw.<table>_changes for the night's roster diff (`_store_persons`)."""
    name = f"_gate_{table}_b{batch_id:d}_{os.urandom(4).hex()}"
    target = sql.Identifier("raw", name)
    scratch = sql.Identifier("raw", f"{name}_s")
    try:
        yield "raw", name, _fill(conn_url, target, scratch, table, key, batch_id, earlier)
    finally:
        with psycopg.connect(conn_url, autocommit=True) as conn:
            conn.execute(sql.SQL("drop table if exists {}, {}").format(target, scratch))


def _store_persons(conn, target, unpaired, before, batch_id: int, earlier: int, changes) -> None:
    """Record, for the night's roster diff (int_enrolment__changed), the persons with a row on either
    side without a twin on the other: this batch's changed rows (`target`) and the earlier batch's rows
    gone tonight (`unpaired.gone`, read back by ctid). Replaces what an earlier gate of this batch
    stored, and notes the pairing in audit.load_batches.changes_against, in one transaction."""
    person = sql.SQL("nullif(trim(person_id), '')")
    with conn.transaction():
        conn.execute(sql.SQL("delete from {} where _batch_id = %s"
                             " or _batch_id not in (select batch_id from audit.load_batches where status = 'loaded')"
                             ).format(changes), (batch_id,))
        conn.execute(sql.SQL(
            "insert into {changes} (_batch_id, against_batch_id, person_id)"
            " select %s, %s, person_id from (select {person} as person_id from {target}"
            "                                union select {person} from {before}"
            "                                where ctid = any(array(select gone from {unpaired}"
            "                                                       where gone is not null))) as p"
            " where person_id is not null"
        ).format(changes=changes, person=person, target=target, before=before, unpaired=unpaired),
            (batch_id, earlier))
        conn.execute("update audit.load_batches set changes_against = %s where batch_id = %s", (earlier, batch_id))


def _fill(conn_url: str, target, scratch, table: str, key: tuple[str, ...], batch_id: int, earlier: int) -> int:
    """Create `target` (see changed_rows); returns its rows."""
    part = sql.Identifier("raw", f"{table}_b{batch_id:d}")
    before = sql.Identifier("raw", f"{table}_b{earlier:d}")
    with psycopg.connect(conn_url, autocommit=True) as conn:
        # The two batches' rows paired by hash in one full join; what comes out is the ctid of each row
        # without a twin, tonight's or the earlier batch's. On PostgreSQL 16 and later one hash of 11 M
        # row hashes is built and probed by two workers and the leader (work_mem: no spill): 7.6 s for
        # the national roster, where two anti-joins, one each way, read both 3 GB batches twice
        # (12.1 s). PostgreSQL 15 has no parallel full join and merges two sorted sides: 9.5 s against
        # 9.9. The planner, without statistics on _row_hash, expects most rows to come out and would
        # read them in one process: the Gather is priced as what it is, narrow and short. A null hash
        # equals nothing, so such a row counts as changed.
        for setting in ("work_mem = '512MB'", "jit = off", "parallel_tuple_cost = 0.001", "parallel_setup_cost = 0"):
            conn.execute(f"set {setting}")
        conn.execute(sql.SQL(
            "create unlogged table {scratch} as select t.ctid as tonight, e.ctid as gone"
            " from {part} as t full join {before} as e on e._row_hash = t._row_hash"
            " where t._row_hash is null or e._row_hash is null"
        ).format(scratch=scratch, part=part, before=before))
        conn.execute(sql.SQL(
            "create unlogged table {target} as select t.ctid as _tid, t.* from {part} as t"
            " where t.ctid = any(array(select tonight from {scratch} where tonight is not null))"
        ).format(target=target, part=part, scratch=scratch))
        _store_persons(conn, target, scratch, before, batch_id, earlier, sql.Identifier("raw", f"{table}_changes"))
        conn.execute(sql.SQL("drop table {}").format(scratch))
        # The rows sharing a key with a changed row: none unless a changed row came by other means
        # than the loader (no hash), since the loader keeps keys unique in a batch; looking anyway
        # reads the batch once more (2.3 s at national size).
        if conn.execute(sql.SQL("select exists (select from {} where _row_hash is null)").format(
                target)).fetchone()[0]:
            _add_sharing(conn, target, scratch, part, key)
        conn.execute(sql.SQL("alter table {} drop column _tid").format(target))  # GX has no type for a tid
        return conn.execute(sql.SQL("select count(*) from {}").format(target)).fetchone()[0]


def _add_sharing(conn, target, scratch, part, key: tuple[str, ...]) -> None:
    """Add to `target` the rows of `part` sharing a key with one of its rows."""
    # As a table of their own: CREATE TABLE AS may scan in parallel, INSERT ... SELECT may not. As an
    # EXISTS the key match is a semi-join the workers make (2 s at national size); as `(key) in
    # (...)` the planner gathered all 11 M rows to join them in one process (4.5-5.5 s).
    match = sql.SQL(" and ").join(sql.SQL("c.{k} = t.{k}").format(k=sql.Identifier(k)) for k in key)
    conn.execute(sql.SQL(
        "create unlogged table {sharing} as select t.ctid as _tid, t.* from {part} as t"
        " where exists (select from {target} as c where {match} and c._tid <> t.ctid)"
        " and not exists (select from {target} as c where c._tid = t.ctid)"
    ).format(sharing=scratch, target=target, part=part, match=match))
    conn.execute(sql.SQL("insert into {target} select * from {sharing}").format(target=target, sharing=scratch))
    conn.execute(sql.SQL("drop table {}").format(scratch))
