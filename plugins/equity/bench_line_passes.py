"""The line passes alone: nanoseconds a record of `registry_lines.judge` and `enrolment_lines.judge`,
one thread, over the first files of the national benchmark's deliveries (equity.bench builds them),
and of the read path before them (`row_stream.pipe_lines` / `csv_lines`: reading the files, cutting
blocks into records; the sha256 left out).

    PYTHONPATH=plugins .venv/bin/python -m equity.bench_line_passes [files]

Prints, per source, the records judged, the best of five timings in ns a record of each, and a digest
of the COPY text written (equal digests: the same bytes).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import pyarrow.csv as pacsv

from equity import bench, enrolment_lines, registry_lines
from equity.landing import BLOCK
from equity.paths import SHIPPED_REFERENCE_DIR
from equity.row_rules import CodeSet, RuleContext
from equity.row_stream import csv_lines, pipe_lines


class _NoCheck:
    def update(self, block: bytes) -> None:
        pass


def _codes(name: str, column: str) -> list[str]:
    return pacsv.read_csv(Path(SHIPPED_REFERENCE_DIR) / name).column(column).cast("string").to_pylist()


def _read(folder: Path, manifest: list[dict], split) -> list:
    blocks = []
    for f in manifest:
        with open(folder / f["name"], "rb") as fh:
            blocks += list(split(fh.read(BLOCK), fh, _NoCheck(), f["encoding"]))
    return blocks


def run(files: int = 3) -> dict:
    info = bench.build("national")
    ctx = RuleContext(int(info["extract_date"].replace("-", "")),
                      CodeSet(_codes("subdistricts.csv", "subdistrict_code")), CodeSet(_codes("laos.csv", "lao_code")))
    out = {}
    passes = (("registry", registry_lines, pipe_lines), ("enrolment", enrolment_lines, csv_lines))
    for source, line_pass, split in passes:
        folder = Path(info["sources"][source]["folder"])
        manifest = json.loads((folder / "_manifest.json").read_text())["files"][:files]
        blocks = _read(folder, manifest, split)
        read_best = float("inf")
        for _ in range(5):
            t = time.perf_counter()
            _read(folder, manifest, split)
            read_best = min(read_best, time.perf_counter() - t)
        records = sum(len(numbers) for _, numbers in blocks)
        digest = hashlib.sha256(b"".join(bytes(line_pass.judge(lines, numbers, ctx, "f").text)
                                         for lines, numbers in blocks)).hexdigest()[:16]
        best = float("inf")
        for _ in range(5):
            t = time.perf_counter()
            for lines, numbers in blocks:
                line_pass.judge(lines, numbers, ctx, "f")
            best = min(best, time.perf_counter() - t)
        out[source] = {"records": records, "ns_per_record": round(best / records * 1e9),
                       "read_ns_per_record": round(read_best / records * 1e9), "text_digest": digest}
    return out


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 3), indent=2))
