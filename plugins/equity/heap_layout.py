"""Where COPY puts each row of a new batch table, worked out on the client, so the loader can read a
few rows back by their ctid instead of scanning the table.

A table created in the loading transaction and filled by COPY is written page after page, each row
on the current page if it fits there, else on the next one (COPY skips the free-space map for a table
it created). A row's size follows from its values alone: a 24- or 32-byte header (32 when a value is
null: the null bitmap), the fixed columns, and each text value's bytes with a 1-byte length (4 bytes
and 4-byte alignment above 126 bytes). So the client, which sends the rows, knows the page and item
of each one. What it cannot know - where a file's first row landed, after the previous file's COPY -
it asks the server (`file_start`). The loader checks every place it uses against the rows it finds
there and scans the table when any disagrees, so a wrong guess costs time, never a wrong result.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from equity.text_kernels import _INLINED, _KERNEL, buffers, njit

PAGE = 8192
PAGE_HEADER = 24
LINE_POINTER = 4
MAX_ROWS_PER_PAGE = 291  # MaxHeapTuplesPerPage for 8 kB pages
# Rows larger than this may be compressed or moved out of line by PostgreSQL (TOAST): not predicted.
TOAST_THRESHOLD = 2032


def _maxalign(n):
    return (n + 7) & ~7


@njit(**_KERNEL)
def text_laid_at(offset, length):
    """The data offset after a text value of `length` bytes laid at `offset`."""
    if length <= 126:  # a 1-byte length, no alignment
        return offset + 1 + length
    return ((offset + 3) & ~3) + 4 + length


@njit(**_INLINED)
def place_field(fs, fl, field, begin, end, laid, has_null):
    """A line pass's field `field` is data[begin:end]: note where it lies (fs, fl) and lay it onto the
    row's data offset `laid` (an empty field is a null: has_null). Returns (laid, has_null)."""
    fs[field], fl[field] = begin, end - begin
    if end == begin:
        return laid, True
    return text_laid_at(laid, end - begin), has_null


@njit(**_KERNEL)
def _add_text(offset, has_null, rows, offsets, valid):
    """Lay one text column onto each row's running data offset."""
    for j in range(len(rows)):
        i = rows[j]
        if not valid[i]:
            has_null[j] = True
        else:
            offset[j] = text_laid_at(offset[j], offsets[i + 1] - offsets[i])


@njit(**_KERNEL)
def _place(sizes, block, items, upper, out_block, out_item):
    """Fill pages as heap_multi_insert does; returns the last page's (block, items, upper)."""
    for j in range(len(sizes)):
        size = sizes[j]
        free = upper - (PAGE_HEADER + LINE_POINTER * items) - LINE_POINTER
        if items >= MAX_ROWS_PER_PAGE or free < size:
            block += 1
            items = 0
            upper = PAGE
        items += 1
        upper -= size
        out_block[j] = block
        out_item[j] = items
    return block, items, upper


def fixed_part(file_name: str, columns: int, *, row_hash: bool = False) -> tuple[int, int, int]:
    """(data offset after `_batch_id bigint, _file text, _line int` and with `row_hash` `_row_hash
    bigint`, header size without a null, header size with one) of a batch table's row with `columns`
    text columns after those."""
    offset = ((text_laid_at(8, len(file_name.encode())) + 3) & ~3) + 4
    if row_hash:
        offset = _maxalign(offset) + 8
    fixed = 4 if row_hash else 3
    return offset, _maxalign(23), _maxalign(23 + (fixed + columns + 7) // 8)


def row_sizes(batch: pa.RecordBatch, rows: np.ndarray, file_name: str, *, row_hash: bool = False) -> np.ndarray:
    """The space each of `rows` takes on a page of a batch table (`_batch_id bigint, _file text,
    _line int`, with `row_hash` `_row_hash bigint`, then the contract's columns as text), line pointer
    excluded."""
    offset, header, header_with_null = fixed_part(file_name, batch.num_columns, row_hash=row_hash)
    data = np.full(len(rows), offset, np.int64)
    has_null = np.zeros(len(rows), bool)
    for col in batch.columns:
        offsets, _data, valid = buffers(col)
        _add_text(data, has_null, rows, offsets, valid)
    return _maxalign(np.where(has_null, header_with_null, header) + data)


class RowPlaces:
    """The page size of every row sent to the batch table, per file, to place any of them later.

    4 bytes a row (about 54 MB for a national registry delivery).
    """

    def __init__(self, files: int):
        self.sizes: list[list[np.ndarray]] = [[] for _ in range(files)]

    def add(self, file_no: int, batch: pa.RecordBatch, rows: np.ndarray, file_name: str, *,
            row_hash: bool = False) -> None:
        self.sizes[file_no].append(row_sizes(batch, rows, file_name, row_hash=row_hash).astype(np.int32))

    def add_sizes(self, file_no: int, sizes: np.ndarray) -> None:
        self.sizes[file_no].append(sizes)

    def locate(self, starts: list[tuple[int, int] | None], wanted: list[np.ndarray]) -> list[np.ndarray] | None:
        """ctids ("(block,item)") of the rows numbered `wanted[f]` (0 = file f's first row sent), given
        where each file's first row landed (`starts[f]`, None for a file that sent none). None when the
        layout cannot be followed (a row too large to predict, or a file starting mid-page elsewhere than
        where the previous one ended)."""
        block, items, upper = -1, MAX_ROWS_PER_PAGE, PAGE  # before the first page
        out = []
        for f, sizes in enumerate(self.sizes):
            sizes = np.concatenate(sizes) if sizes else np.zeros(0, np.int32)
            if not len(sizes):
                out.append(np.zeros(0, object))
                continue
            if starts[f] is None or sizes.max() > TOAST_THRESHOLD:
                return None
            first_block, first_item = starts[f]
            if first_item == 1:  # a fresh page (the previous file's last one was full, or left behind)
                block, items, upper = first_block - 1, MAX_ROWS_PER_PAGE, PAGE
            elif (first_block, first_item) != (block, items + 1):
                return None
            blocks, item_nos = np.empty(len(sizes), np.int64), np.empty(len(sizes), np.int64)
            block, items, upper = _place(sizes, block, items, upper, blocks, item_nos)
            if (blocks[0], item_nos[0]) != (first_block, first_item):
                return None
            rows = wanted[f]
            out.append(np.array([f"({b},{i})" for b, i in zip(blocks[rows], item_nos[rows], strict=True)], object))
        return out
