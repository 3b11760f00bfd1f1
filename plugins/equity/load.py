"""Load a verified delivery into `raw` with COPY, as one batch, in one transaction.

Bytes go from the landing zone to PostgreSQL in 1 MiB blocks; the server decodes windows-874
(COPY's ENCODING option), so Python never touches a row of CSV or pipe files. Parquet row groups
are re-encoded to CSV by Arrow (in C++), still without per-row Python.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import asdict, dataclass
from datetime import date

from psycopg import sql

from equity.checks import reason_expression
from equity.landing import BLOCK, Delivery, DeliveryRefused, LandingZone
from equity.warehouse import connect

log = logging.getLogger(__name__)

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
        zone.verify(delivery)
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
    """COPY every file into a temp table, check rows set-wise, split into raw and quarantine.

    All in one transaction with the batch record and the removal of the date's previous batch:
    a crash at any point leaves the old batch or the new one, never a mix.
    """
    contract = delivery.contract
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in contract.columns)
    raw_table = sql.Identifier("raw", contract.raw_table)
    rejects = sql.Identifier("quarantine", f"{delivery.source}_rejects")
    with connect(url) as conn:
        # One loader per (source, date) at a time; a second waits, then replaces.
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"load:{delivery.source}:{delivery.extract_date}",))
        batch_id = conn.execute(
            "insert into audit.load_batches (source, extract_date, revision, mode, run_id, status, files,"
            " rows_manifest) values (%s, %s, %s, %s, %s, 'loading', %s, %s) returning batch_id",
            (delivery.source, delivery.extract_date, delivery.revision, delivery.mode, run_id,
             json.dumps([asdict(f) for f in delivery.files]), delivery.rows),
        ).fetchone()[0]
        conn.execute(sql.SQL(
            "create temp table _incoming (_seq bigserial, _file text, _line int, {cols}) on commit drop"
        ).format(cols=sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in contract.columns)))
        for i, f in enumerate(delivery.files):
            # Line numbers as a person reading the file counts them: the header is line 1.
            first_line = 1 if contract.file_format == "parquet" else 2
            conn.execute(sql.SQL(
                "drop sequence if exists pg_temp.{seq}; create temp sequence {seq} start {start};"
                " alter table _incoming alter column _file set default {file},"
                " alter column _line set default nextval({seqname})").format(
                    seq=sql.Identifier(f"_line_{i}"), start=sql.Literal(first_line),
                    file=sql.Literal(f.name), seqname=sql.Literal(f"pg_temp._line_{i}")))
            path = f"{delivery.folder}/{f.name}"
            with conn.cursor() as cur:
                with cur.copy(sql.SQL("copy _incoming ({cols}) from stdin with ({opts})").format(
                        cols=cols, opts=sql.SQL(_copy_options(contract.file_format, f.encoding)))) as copy:
                    _stream(zone, path, contract.file_format, copy)
                copied = cur.rowcount
            if copied != f.rows:
                conn.rollback()
                raise DeliveryRefused(delivery.source, delivery.extract_date, f.name, "row_count",
                                      f"manifest says {f.rows} rows, file holds {copied}")
        loaded, rejected = _split(conn, delivery, batch_id, cols, raw_table, rejects)
        # Replace whatever this date held before, in the same transaction: never a mix.
        old = [r[0] for r in conn.execute(
            "update audit.load_batches set status = 'superseded'"
            " where source = %s and extract_date = %s and status = 'loaded' and batch_id <> %s"
            " returning batch_id", (delivery.source, delivery.extract_date, batch_id)).fetchall()]
        if old:
            conn.execute(sql.SQL("delete from {raw} where _batch_id = any(%s)").format(raw=raw_table), (old,))
        conn.execute(
            "update audit.load_batches set status = 'loaded', rows_loaded = %s, rows_rejected = %s,"
            " finished_at = now() where batch_id = %s", (loaded, rejected, batch_id))
        conn.commit()
    return batch_id, loaded, rejected


def _split(conn, delivery: Delivery, batch_id: int, cols, raw_table, rejects) -> tuple[int, int]:
    """Good rows to raw, bad rows to quarantine with their reason; returns (loaded, rejected)."""
    contract = delivery.contract
    key = sql.SQL(", ").join(sql.Identifier(c) for c in contract.key)
    row_text = sql.SQL("concat_ws(chr(31), {})").format(
        sql.SQL(", ").join(sql.SQL("coalesce({}, chr(30))").format(sql.Identifier(c)) for c in contract.columns))
    conn.execute(sql.SQL("""
        create temp table _checked on commit drop as
        with reasoned as (
            select *, {reason} as _reason, {row_text} as _row from _incoming
        ),
        keyed as (
            select *,
                   row_number() over (partition by {key}, _row order by _seq) as _copy_no,
                   min(_row) over (partition by {key}) <> max(_row) over (partition by {key}) as _conflict
            from reasoned where _reason is null
        )
        select _seq, _file, _line, {cols},
               case when _conflict then 'conflicting_key' when _copy_no > 1 then 'duplicate_row' end as _reason
        from keyed
        union all
        select _seq, _file, _line, {cols}, _reason from reasoned where _reason is not null
    """).format(reason=reason_expression(delivery.source), row_text=row_text, key=key, cols=cols),
        {"extract_date": delivery.extract_date})
    loaded = conn.execute(sql.SQL(
        "insert into {raw} (_batch_id, _file, _line, {cols})"
        " select %s, _file, _line, {cols} from _checked where _reason is null order by _seq").format(
            raw=raw_table, cols=cols), (batch_id,)).rowcount
    # The original values, column by column, so nothing of a rejected row is lost.
    original = sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(
        sql.SQL("{}, {}").format(sql.Literal(c), sql.Identifier(c)) for c in contract.columns))
    rejected = conn.execute(sql.SQL(
        "insert into {rejects} (_batch_id, _file, _line, reason, original)"
        " select %s, _file, _line, _reason, {original} from _checked where _reason is not null order by _seq"
    ).format(rejects=rejects, original=original), (batch_id,)).rowcount
    return loaded, rejected


def _copy_options(file_format: str, encoding: str | None) -> str:
    if file_format == "parquet":
        return "format csv, encoding 'UTF8'"
    enc = PG_ENCODING[(encoding or "utf-8").lower()]
    if file_format == "pipe":
        # No quoting in pipe files: a quote character that cannot occur turns CSV quoting off.
        return f"format csv, header true, delimiter '|', quote E'\\x01', encoding '{enc}'"
    return f"format csv, header true, encoding '{enc}'"


def _stream(zone: LandingZone, path: str, file_format: str, copy) -> None:
    if file_format != "parquet":
        with zone.open(path) as fh:
            while block := fh.read(BLOCK):
                copy.write(block)
        return
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    with zone.open(path) as fh:
        for batch in pq.ParquetFile(fh).iter_batches(batch_size=65536):
            buf = io.BytesIO()
            pacsv.write_csv(batch, buf, pacsv.WriteOptions(include_header=False))
            copy.write(buf.getvalue())
