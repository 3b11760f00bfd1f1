"""Load the reference geography (EQUITY_REFERENCE or the shipped set) into `reference`."""

from __future__ import annotations

from pathlib import Path

from psycopg import sql

from equity.contracts import LAO_COLUMNS, SUBDISTRICT_COLUMNS
from equity.warehouse import connect

FILES = {"subdistricts": SUBDISTRICT_COLUMNS, "laos": LAO_COLUMNS}


def load_reference(url: str, folder: Path) -> dict[str, int]:
    """Replace the reference tables from the folder's CSV files, in one transaction."""
    counts = {}
    with connect(url) as conn:
        for table, columns in FILES.items():
            path = folder / f"{table}.csv"
            if not path.exists():
                raise FileNotFoundError(f"reference file missing: {path}")
            with path.open("rb") as fh:
                header = fh.readline().decode("utf-8-sig").strip().split(",")
                if tuple(header) != columns:
                    raise ValueError(f"{path}: header {header} differs from the contract {list(columns)}")
                conn.execute(sql.SQL("delete from {}").format(sql.Identifier("reference", table)))
                with conn.cursor() as cur:
                    with cur.copy(sql.SQL("copy {} ({}) from stdin with (format csv)").format(
                            sql.Identifier("reference", table),
                            sql.SQL(", ").join(map(sql.Identifier, columns)))) as copy:
                        while block := fh.read(1 << 20):
                            copy.write(block)
                    counts[table] = cur.rowcount
                # the models join every child to these: the planner needs their real sizes and keys
                # (autovacuum may be off, and would come later anyway)
                conn.execute(sql.SQL("analyze {}").format(sql.Identifier("reference", table)))
        conn.commit()
    return counts
