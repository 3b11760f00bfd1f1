"""Delivery files as blocks of whole records with the line each starts on, and what the loader
makes of them: Arrow batches where it parses, COPY text rows, the quarantine spill, the key hashes.

The loader reads every file once: the bytes pass through the file check (sha256), windows-874 is
transcoded block by block, and each block is cut at the last whole record (pipe: a line; CSV: as
Arrow's reader splits records). Where Arrow parses (`parse_lines`, `parquet_batches`), every column
is read as text, exactly as COPY would read it: an unquoted empty field is null, a quoted one the
empty string, nothing else is a null marker. Parquet row groups are cast to text the way Arrow
writes them as CSV. Records are held a few blocks at a time; only the key tracker and the page sizes
grow with the delivery (16 bytes a row).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from queue import Queue
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from psycopg.copy import QueuedLibpqWriter

from equity import text_kernels as tk
from equity.landing import DeliveryRefused, FileCheck

READ_BLOCK = 4 << 20  # bytes read at a time: one block is ~20,000 enrolment records
# A record longer than this refuses the delivery (a quote left open would otherwise hold the rest of
# the file in memory).
LONGEST_RECORD = 64 << 20
ARROW_CODEC = {"windows-874": "cp874", "tis-620": "cp874"}


class _CheckedReader:
    """The file's bytes, each block fed to its FileCheck, then handed on as UTF-8.

    windows-874 is one byte a character, so each block transcodes on its own; a block of plain ASCII
    (all of a registry file, most of an enrolment one) is already UTF-8 and passes as it is, which
    spares the loader's busiest core a decode and an encode of every byte."""

    def __init__(self, first: bytes, fh, check: FileCheck, codec: str | None):
        self.fh, self.check, self.codec = fh, check, codec
        self.offset = 0  # bytes of the file read so far, to place an encoding error
        self.out = self._utf8(first)

    def _utf8(self, raw: bytes) -> bytes:
        start = self.offset
        self.offset += len(raw)
        if self.codec is None or raw.isascii():
            return raw
        try:
            return raw.decode(self.codec).encode()
        except UnicodeDecodeError as exc:
            raise self.check.refuse("encoding", f"not valid {self.check.f.encoding} at byte {start + exc.start}"
                                    ) from None

    def blocks(self) -> Iterator[bytes]:
        """The file as UTF-8 blocks of about READ_BLOCK bytes, each checked on the way."""
        yield self.out
        while raw := self.fh.read(READ_BLOCK):
            self.check.update(raw)
            yield self._utf8(raw)


class MalformedRow(Exception):
    """A line Arrow could not split into the contract's fields (the delivery is refused)."""


class LineSpans(NamedTuple):
    """A parsed batch's rows as the lines they were read from: row i is data[starts[i]:ends[i]]."""
    data: np.ndarray
    starts: np.ndarray
    ends: np.ndarray


class Judged(NamedTuple):
    """What a line pass (equity.enrolment_lines, equity.registry_lines) makes of a block of records."""
    text: memoryview      # the good records as COPY text, each ending with its line number
    codes: np.ndarray     # per record: 0, or 1 + the index in row_rules.RULES of the first rule broken
    hashes: np.ndarray    # per good record: its key hash (key_hashes)
    sizes: np.ndarray     # per good record: its size on a page (heap_layout.row_sizes)
    bad_text: memoryview  # the bad records as COPY text, each led by its rule's number (RejectSpill)
    fallback: bool        # a record the pass does not take: Arrow and the column rules judge the block


def pass_buffers(lines: LineSpans, columns: int) -> tuple[np.ndarray, ...]:
    """(out, bad_out, codes, hashes, sizes) for a line pass over `lines`: room for the worst case, every
    byte escaped and every field \\N (3 bytes where the record had one separator)."""
    n = len(lines.starts)
    out = np.empty(2 * int(lines.ends[-1] - lines.starts[0]) + (3 * columns + 24 + tk.ROW_HASH_WIDTH + 1) * n,
                   np.uint8)
    bad_out = np.empty(len(out) + 8 * n, np.uint8)  # and the rule's number before each
    return out, bad_out, np.zeros(n, np.int16), np.zeros(n, np.uint64), np.zeros(n, np.int32)


def pipe_lines(first: bytes, fh, check: FileCheck, encoding: str | None
               ) -> Iterator[tuple[LineSpans, np.ndarray]]:
    """(lines, their line numbers) of a pipe-delimited file whose header the caller has checked, block
    by block: each block whole lines of UTF-8 (windows-874 transcoded, UTF-8 validated), the header
    (line 1) left out, a line's CR LF or LF not part of it."""
    codec = ARROW_CODEC.get((encoding or "utf-8").lower())
    reader = _CheckedReader(first, fh, check, codec)
    pending, next_line, header = b"", 2, True
    for block in _then_end(reader.blocks()):
        final = block is None
        text = pending + (block or b"")
        cut = len(text) if final else text.rfind(b"\n") + 1
        if not cut:
            pending = text
            _not_too_long(check, pending, next_line)
            continue
        chunk, pending = text[:cut], text[cut:]
        data = np.frombuffer(chunk, np.uint8)
        breaks = np.flatnonzero(data == 10)
        starts = np.concatenate(([0], breaks + 1))
        ends = np.concatenate((breaks, [len(data)]))
        if starts[-1] == len(data):  # nothing after the last line break
            starts, ends = starts[:-1], ends[:-1]
        if header:  # line 1, checked by the caller
            starts, ends, header = starts[1:], ends[1:], False
        if not len(starts):
            continue
        ends = ends - ((ends > starts) & (data[np.maximum(ends - 1, 0)] == 13))  # CR LF ends a line too
        yield LineSpans(data, starts, ends), next_line + np.arange(len(starts), dtype=np.int64)
        next_line += len(starts)


def csv_lines(first: bytes, fh, check: FileCheck, encoding: str | None
              ) -> Iterator[tuple[LineSpans, np.ndarray]]:
    """(records, the line each starts on) of a CSV file whose header the caller has checked, block by
    block: each block whole records as Arrow reads them (text_kernels.csv_records), in UTF-8 (windows-874
    transcoded), the header (line 1) left out. UTF-8 is not validated here: the server validates what
    it is sent, and a refused COPY makes the loader name the encoding error (LandingZone.verify)."""
    reader = _CheckedReader(first, fh, check, ARROW_CODEC.get((encoding or "utf-8").lower()))
    pending, next_line, header = b"", 1, True
    for block in _then_end(reader.blocks()):
        text = pending + (block or b"")
        data = np.frombuffer(text, np.uint8)
        room = len(text) // 48 + 16  # records of 48 bytes or more; more room if not
        while True:
            starts, ends, breaks = np.empty(room, np.int64), np.empty(room, np.int64), np.empty(room, np.int64)
            n, used = tk.csv_records(data, block is None, starts, ends, breaks)
            if n >= 0:
                break
            room = len(text) + 1
        pending = text[used:]
        _not_too_long(check, pending, next_line + int(breaks[:n].sum()) + n)
        starts, ends, breaks = starts[:n], ends[:n], breaks[:n]
        numbers = next_line + np.arange(n, dtype=np.int64)
        numbers[1:] += np.cumsum(breaks)[:-1]
        next_line += n + int(breaks.sum())
        if header and n:
            starts, ends, numbers, header = starts[1:], ends[1:], numbers[1:], False
        if len(starts):
            yield LineSpans(data, starts, ends), numbers


def _not_too_long(check: FileCheck, pending: bytes, line: int) -> None:
    if len(pending) > LONGEST_RECORD:
        raise check.refuse("malformed_row", f"line {line}: a record longer than {LONGEST_RECORD >> 20} MiB"
                                            " (a quote left open?)")


def _then_end(blocks: Iterator[bytes]) -> Iterator[bytes | None]:
    yield from blocks
    yield None


def parse_lines(lines: LineSpans, numbers: np.ndarray, columns: tuple[str, ...], file_format: str
                ) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
    """Records from pipe_lines or csv_lines parsed by Arrow into batches of text columns, as COPY would
    read them (an unquoted empty field is null, a quoted one the empty string), with their line
    numbers. A record that does
    not split into the contract's fields refuses the delivery, named by its line (MalformedRow)."""
    pipe = file_format == "pipe"
    bad_rows: list = []

    def on_invalid(row) -> str:
        bad_rows.append(row)
        return "error"

    records = lines.data[lines.starts[0]:lines.ends[-1]]
    if len(lines.starts) > 1 and not np.array_equal(lines.starts[1:], lines.ends[:-1] + 1):
        # not one run of records (CR LF endings, or the chosen few): one per line
        records = np.frombuffer(b"\n".join(bytes(lines.data[s:e]) for s, e in zip(lines.starts, lines.ends,
                                                                                 strict=True)), np.uint8)
    try:
        table = pacsv.read_csv(
            pa.py_buffer(records),
            read_options=pacsv.ReadOptions(use_threads=False, block_size=1 << 20, column_names=list(columns),
                                           encoding="utf8"),
            parse_options=pacsv.ParseOptions(delimiter="|" if pipe else ",", quote_char=False if pipe else '"',
                                             newlines_in_values=not pipe, ignore_empty_lines=False,
                                             invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in columns}, null_values=[""],
                                                 strings_can_be_null=True, quoted_strings_can_be_null=False))
    except pa.ArrowInvalid as exc:
        if bad_rows and bad_rows[0].number is not None and bad_rows[0].number <= len(numbers):
            row = bad_rows[0]  # Arrow numbers the records it was given from 1
            raise MalformedRow(f"line {int(numbers[row.number - 1])}: expected {row.expected_columns} fields,"
                               f" found {row.actual_columns}") from None
        raise MalformedRow(f"a line from line {int(numbers[0])} on: {str(exc).split(':', 1)[0]}") from None
    if table.num_rows != len(numbers):  # a bare carriage return inside a pipe line ends a row for Arrow
        raise MalformedRow(f"a line from line {int(numbers[0])} on: {table.num_rows} rows in {len(numbers)} lines")
    at = 0
    for batch in table.to_batches():
        yield batch, numbers[at:at + batch.num_rows]
        at += batch.num_rows


def parquet_batches(fh, columns: tuple[str, ...]) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
    """Row groups of a Parquet file, every column cast to text as Arrow writes it in CSV; row 1 = line 1."""
    import pyarrow.parquet as pq

    next_line = 1
    for batch in pq.ParquetFile(fh).iter_batches(batch_size=65536, columns=list(columns)):
        text = pa.RecordBatch.from_arrays(
            [col if pa.types.is_string(col.type) else pc.cast(col, pa.string()) for col in batch.columns],
            names=list(columns))
        yield text, np.arange(next_line, next_line + batch.num_rows, dtype=np.int64)
        next_line += batch.num_rows


def copy_text(batch: pa.RecordBatch, lines: np.ndarray, keep: np.ndarray | None = None, *,
              row_hash: bool = False) -> memoryview:
    """The rows (those `keep` marks) in COPY's text format, UTF-8: the columns, then the line number,
    then with `row_hash` the hash of the row's values (text_kernels.put_row_hash); a tab between
    fields, \\N for null.

    Written by compiled loops (text_kernels) straight from Arrow's buffers into one buffer: no
    per-row Python, no intermediate strings. The server parses this format faster than quoted CSV.
    """
    rows = np.arange(batch.num_rows) if keep is None else np.flatnonzero(keep)
    columns = [(offsets, data, valid, tk.needs_escapes(offsets, data))
               for offsets, data, valid in map(tk.buffers, batch.columns)]
    size = np.zeros(len(rows), np.int64)
    for offsets, data, valid, escapes in columns:
        tk.add_text_sizes(size, rows, offsets, data, valid, escapes)
    numbers = lines[rows].astype(np.int64)
    tk.add_number_sizes(size, numbers)
    if row_hash:
        size += tk.ROW_HASH_WIDTH + 1
    cursor = np.cumsum(size) - size
    starts = cursor.copy() if row_hash else None
    out = np.empty(int(size.sum()), np.uint8)
    for offsets, data, valid, escapes in columns:
        tk.put_text(out, cursor, rows, offsets, data, valid, escapes)
    if row_hash:
        ends = cursor.copy()
        tk.put_numbers(out, cursor, numbers, 9)
        tk.put_row_hashes(out, starts, ends, cursor)
    else:
        tk.put_numbers(out, cursor, numbers, 10)
    return memoryview(out)


class RejectSpill:
    """Rows that broke a rule, spilled to a temporary file as COPY text (the rule's number, the values,
    the line) per file, then copied to quarantine.<source>_rejects with their reason and their values
    as a JSON object built by the server.

    Memory stays flat however many rows a delivery gets wrong; the file goes when the load ends.
    """

    def __init__(self):
        self.rows = 0
        self.file = tempfile.TemporaryFile()
        self.parts: list[tuple[int, int, int]] = []  # (file number, offset, bytes)
        self.size = 0

    def add_text(self, file_no: int, text, rows: int) -> None:
        """Rows already written as COPY text: rule number, values, line (the line passes write them)."""
        if rows:
            self.file.write(text)
            self.parts.append((file_no, self.size, len(text)))
            self.size += len(text)
            self.rows += rows

    def add(self, file_no: int, batch: pa.RecordBatch, lines: np.ndarray, codes: np.ndarray) -> None:
        """Rows of a parsed batch with their rule numbers."""
        numbered = pa.RecordBatch.from_arrays([pa.array(codes.astype(str)), *batch.columns],
                                              names=["_code", *batch.schema.names])
        self.add_text(file_no, copy_text(numbered, lines), batch.num_rows)

    def copy_into(self, conn, rejects, batch_id: int, files: list[str], columns: tuple[str, ...],
                  reasons: list[str]) -> None:
        """Into `rejects` with the batch, file, line, reason (reasons[rule number - 1]) and original
        values (a JSON object of the columns)."""
        from psycopg import sql

        if not self.rows:
            return
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        conn.execute(sql.SQL("create temp table _rejected (_code smallint, {}, _line int, _file text)"
                             " on commit drop").format(
            sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in columns)))
        for file_no, name in enumerate(files):
            parts = [(at, size) for f, at, size in self.parts if f == file_no]
            if not parts:
                continue
            conn.execute(sql.SQL("alter table _rejected alter column _file set default {}").format(sql.Literal(name)))
            with conn.cursor().copy(sql.SQL("copy _rejected (_code, {}, _line) from stdin").format(cols)) as copy:
                for at, size in parts:
                    self.file.seek(at)
                    copy.write(self.file.read(size))
        original = sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(
            sql.SQL("{}, {}").format(sql.Literal(c), sql.Identifier(c)) for c in columns))
        conn.execute(sql.SQL(
            "insert into {rejects} (_batch_id, _file, _line, reason, original)"
            " select %s, _file, _line, (%s::text[])[_code], {original} from _rejected"
            " order by array_position(%s::text[], _file), _line").format(rejects=rejects, original=original),
            (batch_id, reasons, files))

    def close(self) -> None:
        self.file.close()


def refuse_malformed(delivery, f, detail: str) -> DeliveryRefused:
    return DeliveryRefused(delivery.source, delivery.extract_date, f.name, "malformed_row", detail)


class BoundedQueuedWriter(QueuedLibpqWriter):
    """psycopg's writer thread (COPY data goes out while this thread parses the next batch), with a
    queue of about two batches instead of 1,024 blocks (128 MiB): memory stays flat. Replaces the
    writer's `_queue` (psycopg 3.3, pinned in pyproject.toml): check it when psycopg is upgraded."""

    def __init__(self, cursor, blocks: int = 96):
        super().__init__(cursor)
        self._queue = Queue(maxsize=blocks)


def key_hashes(batch: pa.RecordBatch, key: tuple[str, ...]) -> np.ndarray:
    """A 64-bit hash of each row's key (text_kernels.mix_hash over its columns).

    Equal keys hash equal; unequal keys collide with negligible odds, and a collision only makes an
    extra candidate for the exact check on the server, never a wrong verdict.
    """
    h = np.zeros(batch.num_rows, np.uint64)
    for name in key:
        tk.mix_hash(h, *tk.buffers(batch[name]))
    return h


class KeyTracker:
    """Each good row's key hash and line, per batch, to find the keys a delivery repeats.

    12 bytes a row (64-bit hash, line): about 160 MB for a national registry delivery (13.5 M rows).
    Finding the repeats sorts only the hashes' top 32 bits (4 bytes a row, one copy); the few rows whose
    top half repeats are then told apart by the whole hash.
    """

    _FILTER_BITS = 20  # a bitmap of 2**20 flags screens each batch before the exact lookup

    def __init__(self, key: tuple[str, ...]):
        self.key = key
        # (file number, hashes, lines, number of the batch's first row among the file's rows sent)
        self.batches: list[tuple[int, np.ndarray, np.ndarray, int]] = []
        self.sent: dict[int, int] = {}

    def add(self, file_no: int, batch: pa.RecordBatch, lines: np.ndarray, keep: np.ndarray | None = None) -> None:
        """The rows of a batch (those `keep` marks) that went to the table."""
        hashes = key_hashes(batch, self.key)
        if keep is not None:
            hashes, lines = hashes[keep], lines[keep]
        first = self.sent.get(file_no, 0)
        self.sent[file_no] = first + len(hashes)
        self.batches.append((file_no, hashes, lines.astype(np.int32), first))

    def add_hashes(self, file_no: int, hashes: np.ndarray, lines: np.ndarray) -> None:
        """Key hashes the caller worked out (equity.registry_lines) of rows that went to the table."""
        first = self.sent.get(file_no, 0)
        self.sent[file_no] = first + len(hashes)
        self.batches.append((file_no, hashes, lines.astype(np.int32), first))

    def candidates(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(file numbers, lines, numbers among their file's rows sent) of every row whose key hash
        occurs more than once."""
        empty = np.zeros(0, np.int16), np.zeros(0, np.int32), np.zeros(0, np.int64)
        if not self.batches:
            return empty
        top = np.concatenate([(h >> np.uint64(32)).astype(np.uint32) for _, h, _, _ in self.batches])
        top.sort()
        repeated_top = np.unique(top[1:][top[1:] == top[:-1]])
        del top
        if not len(repeated_top):
            return empty
        screen = np.zeros(1 << self._FILTER_BITS, bool)
        screen[repeated_top & ((1 << self._FILTER_BITS) - 1)] = True
        files, lines, sent, hashes = [], [], [], []
        for file_no, h, batch_lines, first in self.batches:
            top_h = (h >> np.uint64(32)).astype(np.uint32)
            maybe = np.flatnonzero(screen[top_h & ((1 << self._FILTER_BITS) - 1)])
            at = np.minimum(np.searchsorted(repeated_top, top_h[maybe]), len(repeated_top) - 1)
            rows = maybe[repeated_top[at] == top_h[maybe]]
            if len(rows):
                hashes.append(h[rows])
                lines.append(batch_lines[rows])
                sent.append(first + rows)
                files.append(np.full(len(rows), file_no, np.int16))
        self.batches = []
        if not hashes:
            return empty
        hashes_all = np.concatenate(hashes)
        values, counts = np.unique(hashes_all, return_counts=True)
        repeat = np.isin(hashes_all, values[counts > 1])
        return np.concatenate(files)[repeat], np.concatenate(lines)[repeat], np.concatenate(sent)[repeat]
