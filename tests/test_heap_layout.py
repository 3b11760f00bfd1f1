"""The loader's idea of where COPY puts each row (equity.heap_layout) against where the server put it."""

from __future__ import annotations

import numpy as np
import psycopg
import pyarrow as pa

from equity.heap_layout import RowPlaces


def test_every_row_is_where_the_client_placed_it_across_files(warehouse):
    """Nulls (the null bitmap), values of 0 to 900 bytes (1- and 4-byte lengths, alignment), several
    files' COPYs into one table created in the transaction, as the loader does."""
    rng = np.random.default_rng(3)
    files = []
    for f in range(3):
        n = 1500 + 500 * f
        names = [None if i % 9 == 0 else "ก" * int(rng.integers(0, 300)) for i in range(n)]
        codes = ["x" * int(rng.integers(0, 140)) for _ in range(n)]
        files.append((f"registry_{f:03d}.txt", pa.record_batch([pa.array(names, pa.string()),
                                                               pa.array(codes, pa.string())], names=["a", "b"])))
    places = RowPlaces(len(files))
    with psycopg.connect(warehouse) as conn:
        conn.execute("create table batch_t (_batch_id bigint not null default 1, _file text not null,"
                     " _line int not null, a text, b text)")
        for f, (name, batch) in enumerate(files):
            conn.execute(f"alter table batch_t alter column _file set default '{name}'")
            with conn.cursor().copy("copy batch_t (a, b, _line) from stdin with (freeze)") as copy:
                for line, (a, b) in enumerate(zip(*(c.to_pylist() for c in batch.columns), strict=True), start=2):
                    copy.write_row((a, b, line))
            places.add(f, batch, np.arange(batch.num_rows), name)
        got = conn.execute("select _file, _line, ctid::text from batch_t").fetchall()
        conn.rollback()
    actual = {(name, line): tid for name, line, tid in got}
    starts = [tuple(int(x) for x in actual[(name, 2)].strip("()").split(",")) for name, _ in files]
    placed = places.locate(starts, [np.arange(b.num_rows) for _, b in files])
    assert placed is not None
    for f, (name, batch) in enumerate(files):
        expected = [actual[(name, line)] for line in range(2, batch.num_rows + 2)]
        assert list(placed[f]) == expected, name
    pages = {tid.strip("()").split(",")[0] for tid in actual.values()}
    assert len(pages) > 100  # many pages, so page breaks are tested


def test_a_file_that_does_not_start_where_the_last_ended_is_not_placed():
    batch = pa.record_batch([pa.array(["v"] * 10, pa.string())], names=["a"])
    places = RowPlaces(2)
    places.add(0, batch, np.arange(10), "one")
    places.add(1, batch, np.arange(10), "two")
    rows = [np.arange(10), np.arange(10)]
    assert places.locate([(0, 1), (0, 11)], rows) is not None  # continues on the same page
    assert places.locate([(0, 1), (5, 1)], rows) is not None   # or starts a fresh page
    assert places.locate([(0, 1), (0, 14)], rows) is None      # but not mid-page elsewhere
