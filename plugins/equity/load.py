"""Load a verified delivery into `raw` with COPY, as one batch, in one transaction.

Files are read once, in blocks of whole records: checked (sha256, encoding, header), judged by the
contract's row rules in one compiled pass a record (equity.enrolment_lines, equity.registry_lines;
else Arrow and equity.row_rules), and the good records COPY'd (text format, UTF-8) while the next
block is judged; the bad ones go to quarantine with their reason. Repeated keys are read back by the
ctid the client worked out (equity.heap_layout). No per-row Python.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import date

import numpy as np
import psycopg
import pyarrow as pa
from psycopg import sql

from equity import enrolment_lines, registry_lines, row_rules
from equity.contracts import ROW_HASHED
from equity.heap_layout import PAGE, RowPlaces
from equity.landing import BLOCK, Delivery, DeliveryRefused, FileCheck, LandingZone
from equity.row_stream import (
    BoundedQueuedWriter,
    KeyTracker,
    MalformedRow,
    RejectSpill,
    copy_text,
    csv_lines,
    parquet_batches,
    parse_lines,
    pipe_lines,
    refuse_malformed,
)
from equity.warehouse import connect

log = logging.getLogger(__name__)
# Seconds per phase of the last _copy_batch in this process (the benchmark reports them).
LAST_PHASES: dict[str, float] = {}


class _Split:
    """Seconds between calls, added to LAST_PHASES under each call's name; `fresh` starts a new load."""

    def __init__(self, fresh: bool = False):
        if fresh:
            LAST_PHASES.clear()
        self.t = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        LAST_PHASES[name] = round(LAST_PHASES.get(name, 0.0) + now - self.t, 3)
        self.t = now


# The columns whose hash finds the rows that may repeat a key: the contract's key, less a column of
# a few values (the registry's event type) that costs more to hash than it narrows. Any subset of
# the key finds every repeat (and some rows that are not), and the server's check is exact.
CANDIDATE_KEY = {"registry": ("pid", "event_date")}

# Sources whose records are judged by one compiled pass over their lines (else Arrow and row_rules).
LINE_PASSES = {"registry": registry_lines, "enrolment": enrolment_lines}

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
    """Verify, check and COPY every file straight into the batch's own partition, then attach it.

    `raw.<table>` is LIST-partitioned by `_batch_id`: the batch is COPY'd (FREEZE) into a new table
    `raw.<table>_b<batch_id>` created in this transaction. Each file is read once: its bytes feed the
    checksum and encoding check and are cut into blocks of records; the row rules judge each block in
    this process while the server COPYs the previous one, so only good rows reach the table and the
    bad ones are spilled to quarantine with their reason. Repeated keys are found by the client's key
    hashes; the server judges only those rows, exactly. Then the table is attached as the
    batch's partition and the date's previous batch partition dropped - all in one transaction with
    the batch record: a crash at any point leaves the old batch or the new one, never a mix.
    """
    contract = delivery.contract
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in contract.columns)
    row_hash = delivery.source in ROW_HASHED
    part_name = f"{contract.raw_table}_b{{}}"
    rejects = sql.Identifier("quarantine", f"{delivery.source}_rejects")
    phase = _Split(fresh=True)
    with connect(url) as conn:
        # One loader per (source, date) at a time; a second waits, then replaces.
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"load:{delivery.source}:{delivery.extract_date}",))
        # Ask the kernel to write the new table's pages out while the COPY runs (sync_file_range every
        # 2 MB), so the commit's sync of the file (wal_level=minimal) or the checkpoint finds them written.
        conn.execute("set local backend_flush_after = '2MB'")
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
            " _file text not null, _line int not null, {hashed}{cols})"
        ).format(part=part, b=sql.Literal(batch_id), hashed=sql.SQL("_row_hash bigint, " if row_hash else ""),
                 cols=sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in contract.columns)))
        ctx = row_rules.context(conn, delivery.extract_date)
        spill = RejectSpill()
        keys = KeyTracker(CANDIDATE_KEY.get(delivery.source, contract.key))
        places = RowPlaces(len(delivery.files))
        floors = []  # per file: the batch table's last page before its COPY (its first row is there or after)
        copied = 0
        current_file = None  # the file being sent (a server error surfaces while it is)
        failure: Exception | None = None
        try:
            # One COPY a file, its name the column's default: the server then parses neither the name
            # on every row (a fifth of a registry row's COPY text).
            statement = sql.SQL("copy {part} ({cols}, _line{hashed}) from stdin with (freeze, format text,"
                                " encoding 'UTF8')").format(part=part, cols=cols,
                                                            hashed=sql.SQL(", _row_hash" if row_hash else ""))
            with conn.cursor() as cur:
                try:
                    if delivery.files:
                        current_file = delivery.files[0].name
                        upcoming = _FileRows(zone, delivery, delivery.files[0], ctx, spill, keys, places, 0)
                    for file_no, f in enumerate(delivery.files):
                        current_file, file_rows = f.name, upcoming
                        floors.append(max(cur.execute("select pg_relation_size(%s::regclass)",
                                                      (part.as_string(conn),)).fetchone()[0] // PAGE - 1, 0))
                        cur.execute(sql.SQL("alter table {part} alter column _file set default {name}").format(
                            part=part, name=sql.Literal(f.name)))
                        with cur.copy(statement, writer=BoundedQueuedWriter(cur)) as copy:
                            for text in file_rows:
                                copy.write(text)
                            if file_no + 1 < len(delivery.files):  # parsed while this COPY drains
                                upcoming = _FileRows(zone, delivery, delivery.files[file_no + 1], ctx, spill,
                                                     keys, places, file_no + 1)
                            split = _Split()
                        split("client_wait_for_server")
                        if file_rows.rows != f.rows:
                            raise DeliveryRefused(delivery.source, delivery.extract_date, f.name, "row_count",
                                                  f"manifest says {f.rows} rows, file holds {file_rows.rows}")
                        copied += file_rows.rows
                    cur.execute(sql.SQL("alter table {} alter column _file drop default").format(part))
                    current_file = None
                    # The server validates the rejected rows' UTF-8 here, as it did the good rows'.
                    spill.copy_into(conn, rejects, batch_id, [f.name for f in delivery.files], contract.columns,
                                    [reason for reason, _ in row_rules.RULES[delivery.source]])
                except (DeliveryRefused, psycopg.Error, pa.ArrowException) as exc:
                    failure = exc
            phase("copy_and_rules")
            if failure is not None:
                conn.rollback()
                # Name the refusal as a verification before any COPY would have (first file's first
                # broken rule); if every file verifies, the COPY's own failure stands.
                zone.verify(delivery)
                if isinstance(failure, psycopg.Error):
                    # The server's own words, not its context: that quotes the row, which may be a child's.
                    raise DeliveryRefused(delivery.source, delivery.extract_date, current_file, "unloadable_row",
                                          f"PostgreSQL refused a row: {failure.diag.message_primary}") from None
                raise failure
        finally:
            spill.close()
        rejected = spill.rows + _check_keys(conn, delivery, batch_id, part, cols, rejects, places, floors,
                                            *keys.candidates())
        phase("check_keys")
        loaded = copied - rejected
        # Statistics for the planner (row count, the key's distinct values) from a small sample: a full
        # one reads nearly every page of the new table, and nothing downstream needs finer estimates.
        conn.execute("set local default_statistics_target = 10")
        conn.execute(sql.SQL("analyze {} (_file, {})").format(
            part, sql.SQL(", ").join(sql.Identifier(c) for c in contract.key)))
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


class _FileRows:
    """One file's good rows as COPY text, block by block, checked on the way; `rows` counts every row
    read (good and rejected).

    The blocks are read and cut in this thread and judged by a pool of two (the line passes release
    the GIL) while psycopg's writer thread sends the previous block: the client checks while the
    server copies. `first` is made as soon as the object is, so the next file's first block is ready
    while the current file's COPY drains.
    """

    def __init__(self, zone: LandingZone, delivery: Delivery, f, ctx, spill: RejectSpill, keys: KeyTracker,
                 places: RowPlaces, file_no: int):
        self.rows = 0
        self.split = _Split()  # where the client's time goes, for the benchmark's profile
        self.chunks = self._chunks(zone, delivery, f, ctx, spill, keys, places, file_no)
        self.first = next(self.chunks, None)

    def __iter__(self):
        self.split.t = time.perf_counter()  # the wait since `first` was made belongs to the previous file
        if self.first is not None:
            yield self.first
        yield from self.chunks

    def _chunks(self, zone, delivery, f, ctx, spill, keys, places, file_no):
        contract = delivery.contract
        path = zone.existing_path(delivery, f)
        if contract.file_format == "parquet":
            # Arrow reads Parquet by random access: check the file's bytes in a pass of their own.
            zone.check_file(delivery, f)
            with zone.open(path) as fh:
                for batch, lines in parquet_batches(fh, contract.columns):
                    self.split("client_parse")
                    yield from self._checked(delivery, f, ctx, spill, keys, places, file_no, batch, lines)
            return
        check = FileCheck(delivery, f, decode=False)
        line_pass = LINE_PASSES.get(delivery.source)
        if line_pass is not None and not line_pass.applies(ctx):
            line_pass = None
        with zone.open(path) as fh:
            first = fh.read(BLOCK)
            check.update(first)
            check.header(zone, path)
            blocks = (pipe_lines if contract.file_format == "pipe" else csv_lines)(first, fh, check, f.encoding)
            # Two blocks judged at once: the line passes release the GIL, so the second thread takes
            # the core time the server leaves.
            judging: deque = deque()
            with ThreadPoolExecutor(2, thread_name_prefix="equity-rules") as pool:
                for lines, numbers in blocks:
                    judging.append((lines, numbers, line_pass and pool.submit(line_pass.judge, lines, numbers, ctx,
                                                                              f.name)))
                    self.split("client_read")
                    if len(judging) > 2:
                        yield from self._block(delivery, f, ctx, spill, keys, places, file_no, *judging.popleft())
                while judging:
                    yield from self._block(delivery, f, ctx, spill, keys, places, file_no, *judging.popleft())
        check.finish()

    def _block(self, delivery, f, ctx, spill, keys, places, file_no, lines, numbers, judging):
        """One block of records, judged by its line pass, or by Arrow and the column rules when there is
        none or the pass did not take the block."""
        contract, split = delivery.contract, self.split
        judged = judging.result() if judging else None
        split("client_wait_for_rules")
        try:
            if judged is None or judged.fallback:
                for batch, batch_lines in parse_lines(lines, numbers, contract.columns, contract.file_format):
                    split("client_parse")
                    yield from self._checked(delivery, f, ctx, spill, keys, places, file_no, batch, batch_lines)
                return
            self.rows += len(numbers)
            spill.add_text(file_no, judged.bad_text, int(np.count_nonzero(judged.codes)))
        except MalformedRow as exc:
            raise refuse_malformed(delivery, f, str(exc)) from None
        keys.add_hashes(file_no, judged.hashes, numbers[judged.codes == 0])
        places.add_sizes(file_no, judged.sizes)
        split("client_spill_and_keys")
        if len(judged.text):
            yield judged.text
            split("client_wait_for_server")

    def _checked(self, delivery, f, ctx, spill, keys, places, file_no, batch, lines):
        """One parsed batch through the column rules (equity.row_rules)."""
        split = self.split
        self.rows += batch.num_rows
        codes = row_rules.first_broken(delivery.source, batch, ctx)
        good = codes == 0
        keep = None if good.all() else good
        if keep is not None:
            bad = ~good
            spill.add(file_no, batch.filter(pa.array(bad)), lines[bad], codes[bad])
        split("client_rules")
        if good.any():
            row_hash = delivery.source in ROW_HASHED
            text = copy_text(batch, lines, keep, row_hash=row_hash)
            split("client_encode")
            yield text
            split("client_wait_for_server")
            keys.add(file_no, batch, lines, keep)
            places.add(file_no, batch, np.flatnonzero(good) if keep is not None else np.arange(batch.num_rows),
                       f.name, row_hash=row_hash)
            split("client_key_hashes")


def _check_keys(conn, delivery: Delivery, batch_id: int, part, cols, rejects, places: RowPlaces, floors: list[int],
                file_nos, lines, sent) -> int:
    """Move the rows of repeated keys that must not stay to quarantine; returns how many.

    The client found the rows whose key hash occurs more than once (`KeyTracker`); only those rows are
    read again, and the verdict is exact: all of a key's rows are `conflicting_key` when they differ,
    else every copy after the first (in file then line order) is a `duplicate_row`. They are read by
    their ctid where the client could place them (equity.heap_layout), else by a scan of the table.
    """
    if not len(lines):
        return 0
    contract = delivery.contract
    key = sql.SQL(", ").join(sql.Identifier(c) for c in contract.key)
    files = [f.name for f in delivery.files]
    row_text = sql.SQL("concat_ws(chr(31), {})").format(
        sql.SQL(", ").join(sql.SQL("coalesce({}, chr(30))").format(sql.Identifier(c)) for c in contract.columns))
    conn.execute("set local jit = off")  # compiling the window query would cost more than running it
    candidates = sql.SQL("create temp table _candidates on commit drop as"
                         " select ctid as _tid, * from {part} where {where}")
    tids = _placed(conn, part, files, places, floors, file_nos, sent)
    if tids is not None:
        conn.execute(candidates.format(part=part, where=sql.SQL("ctid = any(%s::tid[])")), (tids,))
        found = dict(conn.execute("select _tid::text, _file || ':' || _line from _candidates").fetchall())
        expected = (f"{files[f]}:{line}" for f, line in zip(file_nos.tolist(), lines.tolist(), strict=True))
        if len(found) != len(tids) or any(found.get(t) != e for t, e in zip(tids, expected, strict=True)):
            conn.execute("drop table _candidates")
            tids = None
    if tids is None:
        log.warning("%s %s: rows not where the loader placed them; scanning the batch for repeated keys",
                    delivery.source, delivery.extract_date)
        # The planner overestimates the rows the hashed `_line = any(...)` keeps and so prices the
        # parallel scan out; it keeps a few thousand rows of millions.
        conn.execute("set local parallel_tuple_cost = 0.001; set local parallel_setup_cost = 10")
        # The candidates as constant arrays (merged client-side: a Param array would be searched
        # linearly): `_line = any(...)` is a hashed test per row of the scan, the pairs are matched on
        # the few it keeps.
        psycopg.ClientCursor(conn).execute(candidates.format(part=part, where=sql.SQL(
            "_line = any(%(lines)s::int[])"
            " and (_file, _line) in (select * from unnest(%(cand_files)s::text[], %(lines)s::int[]))")),
            {"lines": lines.tolist(), "cand_files": [files[i] for i in file_nos.tolist()]})
    conn.execute(sql.SQL("""
        create temp table _bad on commit drop as
        select _tid, _file, _line, case when _conflict then 'conflicting_key' else 'duplicate_row' end as _reason,
               {cols}
        from (
            select *, row_number() over (partition by {key}, _row order by _file_no, _line) as _copy_no,
                   min(_row) over (partition by {key}) <> max(_row) over (partition by {key}) as _conflict
            from (select *, {row_text} as _row, array_position(%s::text[], _file) as _file_no
                  from _candidates) as c
        ) as k
        where _conflict or _copy_no > 1
    """).format(cols=cols, key=key, row_text=row_text), (files,))
    # The original values, column by column, so nothing of a rejected row is lost.
    original = sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(
        sql.SQL("{}, {}").format(sql.Literal(c), sql.Identifier(c)) for c in contract.columns))
    rejected = conn.execute(sql.SQL(
        "insert into {rejects} (_batch_id, _file, _line, reason, original)"
        " select %s, _file, _line, _reason, {original} from _bad"
        " order by array_position(%s::text[], _file), _line"
    ).format(rejects=rejects, original=original), (batch_id, files)).rowcount
    conn.execute(sql.SQL("delete from {part} where ctid = any(array(select _tid from _bad))").format(part=part))
    return rejected


def _placed(conn, part, files, places: RowPlaces, floors, file_nos, sent) -> list[str] | None:
    """The candidates' ctids as the client placed them, or None where it cannot tell."""
    # Where each file's first row landed: the first of its rows from the page its COPY started on.
    starts = []
    for name, floor in zip(files, floors, strict=True):
        found = conn.execute(sql.SQL("select ctid::text from {} where ctid >= %s::tid and _file = %s limit 1").format(
            part), (f"({floor},0)", name)).fetchone()
        starts.append(tuple(int(x) for x in found[0].strip("()").split(",")) if found else None)
    located = places.locate(starts, [sent[file_nos == f] for f in range(len(files))])
    if located is None:
        return None
    tids = np.empty(len(sent), object)
    for f in range(len(files)):
        tids[file_nos == f] = located[f]
    return tids.tolist()


def _copy_options(file_format: str, encoding: str | None) -> str:
    if file_format == "parquet":
        return "format csv, encoding 'UTF8'"
    enc = PG_ENCODING[(encoding or "utf-8").lower()]
    if file_format == "pipe":
        # No quoting in pipe files: a quote character that cannot occur turns CSV quoting off.
        return f"format csv, header true, delimiter '|', quote E'\\x01', encoding '{enc}'"
    return f"format csv, header true, encoding '{enc}'"
