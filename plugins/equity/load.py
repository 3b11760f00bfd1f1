"""Load a verified delivery into `raw` with COPY, as one batch, in one transaction.

Bytes go from the landing zone to PostgreSQL in 1 MiB blocks; the server decodes windows-874
(COPY's ENCODING option), so Python never touches a row of CSV or pipe files. Parquet row groups
are re-encoded to CSV by Arrow (in C++), still without per-row Python.
"""

from __future__ import annotations

import io
import json
import logging
import time
from dataclasses import asdict, dataclass
from datetime import date

import psycopg
from psycopg import sql

from equity.checks import params as check_params
from equity.checks import reason_expression
from equity.landing import BLOCK, Delivery, DeliveryRefused, FileCheck, LandingZone
from equity.warehouse import connect

log = logging.getLogger(__name__)
# Seconds per phase of the last _copy_batch in this process (the benchmark reports them).
LAST_PHASES: dict[str, float] = {}


class _Phases:
    def __init__(self):
        LAST_PHASES.clear()
        self.t = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        LAST_PHASES[name] = round(LAST_PHASES.get(name, 0.0) + now - self.t, 3)
        self.t = now

PG_ENCODING = {"utf-8": "UTF8", "windows-874": "WIN874", "tis-620": "WIN874"}


@dataclass
class LoadOutcome:
    source: str
    extract_date: str
    status: str  # loaded | missing | refused | skipped
    batch_id: int | None = None
    revision: int | None = None
    mode: str | None = None
    rows: int = 0
    rejected: int = 0
    message: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def load_delivery(url: str, landing: str, source: str, extract_date: date, run_id: str) -> LoadOutcome:
    """Verify and load one source's delivery for one date. Never half-loads.

    Missing delivery -> status "missing" (a recorded outcome, not an error).
    Broken delivery -> recorded as refused in audit.load_batches, then DeliveryRefused is raised.
    Lower revision than the one already loaded -> "skipped"; the loaded batch stays.
    """
    zone = LandingZone(landing)
    day = extract_date.isoformat()
    if not zone.has_manifest(source, extract_date):
        log.warning("%s %s: no delivery (no manifest)", source, day)
        return LoadOutcome(source, day, "missing", message="no _manifest.json")
    try:
        delivery = zone.read_manifest(source, extract_date)
        current = _current_batch(url, source, extract_date)
        if current and current[1] > delivery.revision:
            msg = f"revision {delivery.revision} is older than loaded revision {current[1]}: kept batch {current[0]}"
            log.warning("%s %s: %s", source, day, msg)
            return LoadOutcome(source, day, "skipped", current[0], delivery.revision, delivery.mode, message=msg)
        batch_id, rows, rejected = _copy_batch(url, zone, delivery, run_id)
    except DeliveryRefused as refusal:
        _record_refusal(url, refusal, run_id)
        log.error("%s", refusal)
        raise
    log.info("%s %s: loaded revision %s as batch %s (%s rows, %s rejected to quarantine)",
             source, day, delivery.revision, batch_id, rows, rejected)
    return LoadOutcome(source, day, "loaded", batch_id, delivery.revision, delivery.mode, rows, rejected)


def _current_batch(url: str, source: str, extract_date: date) -> tuple[int, int] | None:
    with connect(url) as conn:
        return conn.execute(
            "select batch_id, revision from audit.load_batches"
            " where source = %s and extract_date = %s and status = 'loaded'",
            (source, extract_date),
        ).fetchone()


def _record_refusal(url: str, refusal: DeliveryRefused, run_id: str) -> None:
    with connect(url) as conn:
        conn.execute(
            "insert into audit.load_batches (source, extract_date, run_id, status, message, finished_at)"
            " values (%s, %s, %s, 'refused', %s, now())",
            (refusal.source, refusal.extract_date, run_id, str(refusal)),
        )
        conn.commit()


def _copy_batch(url: str, zone: LandingZone, delivery: Delivery, run_id: str) -> tuple[int, int, int]:
    """Verify and COPY every file straight into the batch's own partition, check it, attach it.

    `raw.<table>` is LIST-partitioned by `_batch_id`: the batch is COPY'd (FREEZE) into a new table
    `raw.<table>_b<batch_id>` created in this transaction, each file read once (the same blocks feed
    the checksum and encoding check and COPY). Row checks are one scan that moves only the (rare) bad
    rows to quarantine; duplicate and conflicting keys come from one hash aggregate, and only the rows
    of repeated keys are looked at again. Then the table is attached as the batch's partition and the
    date's previous batch partition dropped - all in one transaction with the batch record: a crash at
    any point leaves the old batch or the new one, never a mix.
    """
    contract = delivery.contract
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in contract.columns)
    part_name = f"{contract.raw_table}_b{{}}"
    rejects = sql.Identifier("quarantine", f"{delivery.source}_rejects")
    phase = _Phases()
    with connect(url) as conn:
        # One loader per (source, date) at a time; a second waits, then replaces.
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"load:{delivery.source}:{delivery.extract_date}",))
        batch_id = conn.execute(
            "insert into audit.load_batches (source, extract_date, revision, mode, run_id, status, files,"
            " rows_manifest) values (%s, %s, %s, %s, %s, 'loading', %s, %s) returning batch_id",
            (delivery.source, delivery.extract_date, delivery.revision, delivery.mode, run_id,
             json.dumps([asdict(f) for f in delivery.files]), delivery.rows),
        ).fetchone()[0]
        part = sql.Identifier("raw", part_name.format(batch_id))
        # Created here, not as `partition of` (which would lock raw.<table> against readers for the whole
        # load) nor `like raw.<table>` (a lock on the parent held from the start: deadlock-prone with a
        # concurrent loader attaching). The check constraint lets ATTACH skip its validating scan.
        conn.execute(sql.SQL(
            "create table {part} (_batch_id bigint not null default {b} check (_batch_id = {b}),"
            " _file text not null, _line int not null, {cols})"
        ).format(part=part, b=sql.Literal(batch_id),
                 cols=sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in contract.columns)))
        copied = 0
        failure: Exception | None = None
        for i, f in enumerate(delivery.files):
            # Line numbers as a person reading the file counts them: the header is line 1.
            first_line = 1 if contract.file_format == "parquet" else 2
            seq = sql.Identifier(f"_line_{i}")
            conn.execute(sql.SQL(
                "create temp sequence {seq} start {start} cache 10000;"
                " alter table {part} alter column _file set default {file},"
                " alter column _line set default nextval({seqname})").format(
                    seq=seq, start=sql.Literal(first_line), part=part,
                    file=sql.Literal(f.name), seqname=sql.Literal(f"pg_temp._line_{i}")))
            try:
                n = _copy_file(conn, zone, delivery, f, part, cols)
            except (DeliveryRefused, psycopg.Error) as exc:
                failure = exc
                break
            if n != f.rows:
                failure = DeliveryRefused(delivery.source, delivery.extract_date, f.name, "row_count",
                                          f"manifest says {f.rows} rows, file holds {n}")
                break
            copied += n
        phase("copy")
        if failure is not None:
            conn.rollback()
            # Name the refusal as a verification before any COPY would have (first file's first
            # broken rule); if every file verifies, the COPY's own failure stands.
            zone.verify(delivery)
            raise failure
        conn.execute(sql.SQL("alter table {part} alter column _file drop default, alter column _line drop default;"
                             " {drops}").format(part=part, drops=sql.SQL(" ").join(
                                 sql.SQL("drop sequence pg_temp.{};").format(sql.Identifier(f"_line_{i}"))
                                 for i in range(len(delivery.files)))))
        rejected = _check(conn, delivery, batch_id, part, cols, rejects, phase)
        loaded = copied - rejected
        conn.execute(sql.SQL("analyze {}").format(part))
        phase("analyze")
        raw_table = sql.Identifier("raw", contract.raw_table)
        conn.execute(sql.SQL("alter table {raw} attach partition {part} for values in ({b})").format(
            raw=raw_table, part=part, b=sql.Literal(batch_id)))
        # Replace whatever this date held before, in the same transaction: never a mix.
        old = [r[0] for r in conn.execute(
            "update audit.load_batches set status = 'superseded'"
            " where source = %s and extract_date = %s and status = 'loaded' and batch_id <> %s"
            " returning batch_id", (delivery.source, delivery.extract_date, batch_id)).fetchall()]
        for b in old:
            conn.execute(sql.SQL("drop table if exists {}").format(sql.Identifier("raw", part_name.format(b))))
        if old:  # rows put in by hand land in the default partition
            conn.execute(sql.SQL("delete from {} where _batch_id = any(%s)").format(
                sql.Identifier("raw", f"{contract.raw_table}_default")), (old,))
        conn.execute(
            "update audit.load_batches set status = 'loaded', rows_loaded = %s, rows_rejected = %s,"
            " finished_at = now() where batch_id = %s", (loaded, rejected, batch_id))
        conn.commit()
        phase("attach_replace_commit")
    return batch_id, loaded, rejected


def _copy_file(conn, zone: LandingZone, delivery: Delivery, f, part, cols) -> int:
    """Checksum, encoding and header of one file on the blocks that go to COPY; returns COPY's row count."""
    contract = delivery.contract
    if contract.file_format == "parquet":
        # Arrow reads Parquet by random access: check the file's bytes in a pass of their own.
        zone.check_file(delivery, f)
    path = zone.existing_path(delivery, f)
    check = FileCheck(delivery, f)
    with zone.open(path) as fh:
        if contract.file_format == "parquet":
            first = b""
        else:
            first = fh.read(BLOCK)
            check.update(first)
            check.header(zone, path)
        with conn.cursor() as cur:
            with cur.copy(sql.SQL("copy {part} ({cols}) from stdin with (freeze, {opts})").format(
                    part=part, cols=cols, opts=sql.SQL(_copy_options(contract.file_format, f.encoding)))) as copy:
                if contract.file_format == "parquet":
                    _stream_parquet(fh, copy)
                else:
                    block = first
                    while block:
                        copy.write(block)
                        block = fh.read(BLOCK)
                        if block:
                            check.update(block)
            n = cur.rowcount
    if contract.file_format != "parquet":
        check.finish()
    return n


def _check(conn, delivery: Delivery, batch_id: int, part, cols, rejects, phase) -> int:
    """Move the batch's bad rows from its table to quarantine with their reason; returns how many.

    1. One scan computes each row's first broken rule; only the rows with one are kept (the CASE is
       evaluated again for those few only) and deleted by ctid.
    2. One hash aggregate finds the keys that occur more than once among the remaining rows; only the
       rows of those keys are read again: all of a key's rows are `conflicting_key` when they differ,
       else every copy after the first (in file then line order) is a `duplicate_row`.
    """
    contract = delivery.contract
    key = sql.SQL(", ").join(sql.Identifier(c) for c in contract.key)
    files = [f.name for f in delivery.files]
    params = check_params(conn, delivery.extract_date)
    # JIT would spend longer compiling the long CASE than running it (16 s for 1 M registry rows).
    conn.execute("set local jit = off")
    # Parameters merged client-side: in a CREATE TABLE AS, server-side parameters stay Params at plan
    # time, and `code = any($1)` against a Param array is a linear search of 7,000 codes per row
    # instead of a hash probe (13 us a row instead of under 1).
    psycopg.ClientCursor(conn).execute(sql.SQL("""
        create temp table _bad on commit drop as
        select _tid, _file, _line, _reason, {cols}
        from (select ctid as _tid, *, {reason} as _reason from {part}) as s
        where _reason is not null
    """).format(cols=cols, reason=reason_expression(delivery.source), part=part), params)
    delete = sql.SQL("delete from {part} where ctid = any(array(select _tid from _bad))").format(part=part)
    phase("check_rules")
    bad = conn.execute(delete).rowcount
    conn.execute(sql.SQL("""
        create temp table _keys on commit drop as
        select {key} from {part} group by {key} having count(*) > 1
    """).format(key=key, part=part))
    phase("check_keys")
    row_text = sql.SQL("concat_ws(chr(31), {})").format(
        sql.SQL(", ").join(sql.SQL("coalesce({}, chr(30))").format(sql.Identifier(c)) for c in contract.columns))
    # Good rows never have a null key part (the rules reject blank keys), so `in` finds them all.
    conn.execute(sql.SQL("""
        insert into _bad
        select _tid, _file, _line, case when _conflict then 'conflicting_key' when _copy_no > 1 then 'duplicate_row'
               end, {cols}
        from (
            select *, row_number() over (partition by {key}, _row order by _file_no, _line) as _copy_no,
                   min(_row) over (partition by {key}) <> max(_row) over (partition by {key}) as _conflict
            from (select ctid as _tid, *, {row_text} as _row, array_position(%(files)s::text[], _file) as _file_no
                  from {part} where ({key}) in (select {key} from _keys)) as c
        ) as k
        where _conflict or _copy_no > 1
    """).format(cols=cols, key=key, row_text=row_text, part=part), {"files": files})
    # The original values, column by column, so nothing of a rejected row is lost.
    original = sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(
        sql.SQL("{}, {}").format(sql.Literal(c), sql.Identifier(c)) for c in contract.columns))
    rejected = conn.execute(sql.SQL(
        "insert into {rejects} (_batch_id, _file, _line, reason, original)"
        " select %s, _file, _line, _reason, {original} from _bad"
        " order by array_position(%s::text[], _file), _line"
    ).format(rejects=rejects, original=original), (batch_id, files)).rowcount
    if rejected > bad:
        conn.execute(delete)  # the repeated-key rows (the first ones' ctids are gone: no match)
    phase("quarantine")
    return rejected


def _copy_options(file_format: str, encoding: str | None) -> str:
    if file_format == "parquet":
        return "format csv, encoding 'UTF8'"
    enc = PG_ENCODING[(encoding or "utf-8").lower()]
    if file_format == "pipe":
        # No quoting in pipe files: a quote character that cannot occur turns CSV quoting off.
        return f"format csv, header true, delimiter '|', quote E'\\x01', encoding '{enc}'"
    return f"format csv, header true, encoding '{enc}'"


def _stream_parquet(fh, copy) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(fh).iter_batches(batch_size=65536):
        buf = io.BytesIO()
        pacsv.write_csv(batch, buf, pacsv.WriteOptions(include_header=False))
        copy.write(buf.getvalue())
