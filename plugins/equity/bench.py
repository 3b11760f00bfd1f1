"""Ingestion benchmark: national-size deliveries, loaded by the real loader, compared with a bare COPY.

The generator holds its world in memory and cannot simulate 13 M persons on one machine, so a
national-size delivery is made by *replicating* a small generated one (20,000 persons, fault profile
`default`, one day): every data line is copied R times, and in copy r every person ID (national ID
or G-code, including mother_pid / father_pid) is rewritten to

    first digit | r (4 digits) | index of the original ID (5 digits) | original digits 10-11 | check

with the check digit recomputed and then shifted by the original's own error, so a valid ID stays
valid, an invalid one stays invalid, IDs stay unique across copies and duplicate / conflicting rows
stay duplicates / conflicts within their copy. Every row fault of the base is therefore present R
times: the expected rejects are R x the base's fault log, checked after each load.

The rewrite is done with numpy on a byte template of each base file (no per-row Python), and the
files, their sha256 and the manifest are cached under `.equity/bench/<scale>/` for reuse.

Scales (`EQUITY_BENCH_SCALE`): `100k`, `1m`, `national` (about 11 M enrolment and 13.5 M registry
BASELINE rows).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from equity.contracts import CONTRACTS
from equity.synth.writers import sha256_of

BASE_CHILDREN = 20_000
BASE_SEED = 7
DAY = date(2026, 11, 20)
SCALES = {  # target data rows per source (welfare only where a run asks for it: the ingestion benchmark
            # times the two text formats; the validation and build benchmarks need all three)
    "100k": {"enrolment": 100_000, "registry": 120_000},
    "1m": {"enrolment": 1_000_000, "registry": 1_200_000},
    "national": {"enrolment": 11_000_000, "registry": 13_500_000},
}
WELFARE_ROWS = {"100k": 72_000, "1m": 720_000, "national": 7_900_000}  # ~ 0.72 x enrolment, as generated
PART_ROWS = 250_000  # the generator's max_part_rows
FORMAT_VERSION = "1"
WEIGHTS = np.array([13 - i for i in range(12)], dtype=np.int64)


def bench_root() -> Path:
    return Path(os.environ.get("EQUITY_BENCH_DIR", Path.cwd() / ".equity" / "bench"))


def default_admin_url() -> str:
    """The server the benchmarks measure, as an admin URL (database `postgres`): EQUITY_BENCH_PG_URL,
    else the project's default warehouse, the embedded server of `.equity/` (started if needed, as
    `make demo` does), so that `make bench` runs on a machine with only Python and measures the
    server the project configures."""
    named = os.environ.get("EQUITY_BENCH_PG_URL")
    if named:
        return named
    from equity.embedded import ensure_embedded
    from equity.paths import PROJECT_ROOT

    return ensure_embedded(PROJECT_ROOT / ".equity").rsplit("/", 1)[0] + "/postgres"


def base_delivery(root: Path, days: int = 1) -> Path:
    base = root / (f"base{BASE_CHILDREN // 1000}k" + (f"-{days}d" if days > 1 else ""))
    if not (base / "_truth" / "summary.json").exists():
        from equity.synth import generate

        # more than one day: row faults only, so that every day's delivery loads (an ordinary night)
        generate(base, persons=BASE_CHILDREN, start=DAY, days=days, seed=BASE_SEED,
                 faults="default" if days == 1 else "rows")
    return base


def _id_slots(line: bytes, source: str, base_offset: int) -> list[tuple[int, bytes]]:
    """(offset, 13-byte ID) of every person ID field of one data line."""
    out = []
    if source == "enrolment":
        fields = [(0, line.split(b",", 1)[0])]
    else:
        parts = line.rstrip(b"\r\n").split(b"|")
        starts = np.cumsum([0] + [len(p) + 1 for p in parts[:-1]])
        fields = [(int(starts[i]), parts[i]) for i in (0, 9, 10) if i < len(parts)]
    for off, value in fields:
        if len(value) == 13 and (value.isdigit() or (value[:1] == b"G" and value[1:].isdigit())):
            out.append((base_offset + off, value))
    return out


class _Template:
    """The data lines of one base file with every ID rewritten for copy r = 0, and where the IDs are."""

    def __init__(self, data: bytes, source: str, index: dict[bytes, int]):
        header_end = data.index(b"\n") + 1
        self.header = data[:header_end]
        body = bytearray(data[header_end:])
        self.rows = body.count(b"\n")
        pos, s0, delta, national = [], [], [], []
        offset = 0
        for line in bytes(body).split(b"\n")[:-1]:
            for off, value in _id_slots(line, source, offset):
                i = index.setdefault(value, len(index))
                if i >= 100_000:
                    raise RuntimeError("base delivery has too many distinct IDs for the 5-digit index")
                new = value[:1] + b"0000" + b"%05d" % i + value[10:13]
                is_nat = value.isdigit()
                if is_nat:
                    digits = np.frombuffer(value, dtype=np.uint8).astype(np.int64) - 48
                    orig_check = (11 - int(digits[:12] @ WEIGHTS) % 11) % 10
                    d_new = np.frombuffer(new, dtype=np.uint8).astype(np.int64) - 48
                    s0.append(int(d_new[:12] @ WEIGHTS))  # the r digits are 0 here
                    delta.append((int(digits[12]) - orig_check) % 10)
                else:
                    s0.append(0)
                    delta.append(0)
                national.append(is_nat)
                body[off:off + 13] = new
                pos.append(off)
            offset += len(line) + 1
        self.body = np.frombuffer(bytes(body), dtype=np.uint8)
        self.pos = np.array(pos, dtype=np.int64)
        nat = np.array(national, dtype=bool)
        self.nat_pos = self.pos[nat]
        self.s0 = np.array(s0, dtype=np.int64)[nat]
        self.delta = np.array(delta, dtype=np.int64)[nat]

    def copy(self, r: int) -> bytes:
        buf = self.body.copy()
        rd = [int(c) for c in f"{r:04d}"]
        for j, digit in enumerate(rd):
            buf[self.pos + 1 + j] = 48 + digit
        wr = sum(d * (12 - j) for j, d in enumerate(rd))  # weights of positions 1-4: 12, 11, 10, 9
        check = ((11 - (self.s0 + wr) % 11) % 10 + self.delta) % 10
        buf[self.nat_pos + 12] = (48 + check).astype(np.uint8)
        return buf.tobytes()


def _check_parts(original: bytes, new: bytes) -> tuple[int, int]:
    """(weighted sum of the new ID's 12 digits with positions 1-4 zeroed, the original ID's own
    check-digit error), as `_Template` computes them: a valid ID stays valid, an invalid one invalid."""
    digits = np.frombuffer(original, dtype=np.uint8).astype(np.int64) - 48
    orig_check = (11 - int(digits[:12] @ WEIGHTS) % 11) % 10
    zeroed = np.frombuffer(new, dtype=np.uint8).astype(np.int64) - 48
    zeroed[1:5] = 0
    return int(zeroed[:12] @ WEIGHTS), (int(digits[12]) - orig_check) % 10


class _ParquetTemplate:
    """A base welfare file, copied r times with person IDs rewritten as `_Template` rewrites them (the
    same person gets the same ID in every source) and screening_id suffixed `-r` (its key)."""

    def __init__(self, path: Path, index: dict[bytes, int]):
        import pyarrow.parquet as pq

        self.table = pq.read_table(path)
        self.schema = self.table.schema
        self.rows = self.table.num_rows
        ids = self.table.column("person_id").to_pylist()
        self.fixed = np.zeros((self.rows, 13), dtype=np.uint8)
        self.rewrite = np.zeros(self.rows, dtype=bool)
        self.nat = np.zeros(self.rows, dtype=bool)
        self.s0 = np.zeros(self.rows, dtype=np.int64)
        self.delta = np.zeros(self.rows, dtype=np.int64)
        for k, v in enumerate(ids):
            b = (v or "").encode()
            if not (len(b) == 13 and (b.isdigit() or (b[:1] == b"G" and b[1:].isdigit()))):
                continue
            i = index.setdefault(b, len(index))
            if i >= 100_000:
                raise RuntimeError("base delivery has too many distinct IDs for the 5-digit index")
            self.fixed[k] = np.frombuffer(b[:1] + b"0000" + b"%05d" % i + b[10:13], dtype=np.uint8)
            self.rewrite[k] = True
            if b.isdigit():
                self.nat[k] = True
                self.s0[k], self.delta[k] = _check_parts(b, b[:1] + b"0000" + b"%05d" % i + b[10:13])
        self.original = np.array([v or "" for v in ids], dtype=object)

    def copy(self, r: int):
        import pyarrow as pa
        import pyarrow.compute as pc

        buf = self.fixed.copy()
        rd = [int(c) for c in f"{r:04d}"]
        buf[:, 1:5] = 48 + np.array(rd, dtype=np.uint8)
        wr = sum(d * (12 - j) for j, d in enumerate(rd))
        check = ((11 - (self.s0 + wr) % 11) % 10 + self.delta) % 10
        buf[self.nat, 12] = (48 + check[self.nat]).astype(np.uint8)
        new_ids = np.array([bytes(row).decode() for row in buf], dtype=object)
        person = np.where(self.rewrite, new_ids, self.original)
        nulls = pc.is_null(self.table.column("person_id"))
        person_col = pa.array(person, type=pa.string(), mask=np.asarray(nulls.to_numpy(zero_copy_only=False)))
        table = self.table.set_column(self.schema.get_field_index("person_id"), "person_id", person_col)
        if r:
            sid = pc.binary_join_element_wise(table.column("screening_id"), pa.scalar(str(r)), "-")
            table = table.set_column(self.schema.get_field_index("screening_id"), "screening_id", sid)
        return table.cast(self.schema)

    def write(self, path: Path, copies) -> int:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.concat_tables([self.copy(r) for r in copies])
        pq.write_table(table, path)
        return table.num_rows


def build(scale: str, root: Path | None = None, days: int = 1, with_welfare: bool = False) -> dict:
    """Write (or reuse) the scaled deliveries; returns {source: {folder, rows, bytes, replicas, expected}}.

    `with_welfare`: also the welfare Parquet files (`_ParquetTemplate`).
    `days` > 1: also the later days of the base, replicated with the same ID rewriting (a person keeps
    the same ID on every day), under info["later_days"][date][source]; the replica count of each
    source is the first day's, so a later day's delta scales as the first day's full delivery did.
    """
    root = root or bench_root()
    out = root / (scale + (f"-{days}d" if days > 1 else "") + ("-w" if with_welfare else ""))
    info_path = out / "bench_info.json"
    if info_path.exists():
        info = json.loads(info_path.read_text())
        if info.get("format") == FORMAT_VERSION:
            return info
    base = base_delivery(root, days)
    faults = list(csv.DictReader((base / "_truth" / "faults.csv").open()))
    info = {"format": FORMAT_VERSION, "scale": scale, "extract_date": DAY.isoformat(), "sources": {},
            "later_days": {}}
    index: dict[bytes, int] = {}
    replicas_of: dict[str, int] = {}
    targets = dict(SCALES[scale], **({"welfare": WELFARE_ROWS[scale]} if with_welfare else {}))
    for day, source in [(DAY + timedelta(days=i), s) for i in range(days) for s in targets]:
        target = targets[source]
        contract = CONTRACTS[source]
        src_folder = base / source / day.isoformat()
        if not (src_folder / "_manifest.json").exists():
            continue
        manifest = json.loads((src_folder / "_manifest.json").read_text())
        base_rows = sum(f["rows"] for f in manifest["files"])
        replicas = replicas_of.setdefault(source, max(1, -(-target // max(1, base_rows))))
        folder = out / source / day.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "_manifest.json").unlink(missing_ok=True)
        files, serial, total_bytes = [], Counter(), 0
        for f in manifest["files"]:
            if f["name"].endswith(".parquet"):
                t = _ParquetTemplate(src_folder / f["name"], index)
                prefix = f["name"].rsplit("_", 1)[0]
                per_part = max(1, PART_ROWS // max(1, t.rows))
                for first in range(0, replicas, per_part):
                    serial[prefix] += 1
                    name = f"{prefix}_{serial[prefix]:03d}.parquet"
                    rows = t.write(folder / name, range(first, min(replicas, first + per_part)))
                    files.append({"name": name, "encoding": f.get("encoding"),
                                  "sha256": sha256_of(folder / name), "rows": rows})
                    total_bytes += (folder / name).stat().st_size
                continue
            t = _Template((src_folder / f["name"]).read_bytes(), source, index)
            per_part = max(1, PART_ROWS // max(1, t.rows))
            prefix = f["name"].rsplit("_", 1)[0]  # e.g. enrolment_dla_20261120
            for first in range(0, replicas, per_part):
                serial[prefix] += 1
                ext = contract.file_pattern.pattern.rsplit("\\.", 1)[1].rstrip("$")
                name = f"{prefix}_{serial[prefix]:03d}.{ext}"
                digest = hashlib.sha256()
                rows = 0
                with open(folder / name, "wb") as fh:
                    fh.write(t.header)
                    digest.update(t.header)
                    for r in range(first, min(replicas, first + per_part)):
                        block = t.copy(r)
                        fh.write(block)
                        digest.update(block)
                        rows += t.rows
                files.append({"name": name, "encoding": f["encoding"], "sha256": digest.hexdigest(), "rows": rows})
                total_bytes += (folder / name).stat().st_size
        m = dict(manifest, files=files)
        (folder / "_manifest.json").write_text(json.dumps(m, indent=2))
        base_rejects = sum(1 for r in faults if r["source"] == source and r["line"]
                           and r["extract_date"] == day.isoformat())
        entry = {
            "folder": str(folder), "rows": sum(f["rows"] for f in files), "bytes": total_bytes,
            "files": len(files), "replicas": replicas, "base_rows": base_rows,
            "expected_rejected": base_rejects * replicas, "mode": manifest.get("mode"),
        }
        if day == DAY:
            info["sources"][source] = entry
        else:
            info["later_days"].setdefault(day.isoformat(), {})[source] = entry
    info_path.write_text(json.dumps(info, indent=2))
    return info


# --- measurement ---------------------------------------------------------------------------------

def _copy_options(source: str, encoding: str | None) -> str:
    from equity.load import _copy_options as opts

    return opts(CONTRACTS[source].file_format, encoding)


def quiesce(url: str, wait_max_s: float = 300.0) -> float:
    """Checkpoint and wait (at most `wait_max_s`) until no autovacuum worker runs, so that what a
    measurement left behind (tens of GB after a night, a whole batch after a load) is not flushed or
    vacuumed on the 2 cores the next one is timed on. Seconds waited."""
    import psycopg

    t0 = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("checkpoint")
        while time.perf_counter() - t0 < wait_max_s:
            busy = conn.execute("select count(*) from pg_stat_activity"
                                " where backend_type = 'autovacuum worker'").fetchone()[0]
            if not busy:
                break
            time.sleep(2)
    return round(time.perf_counter() - t0, 1)


def bare_copy(url: str, folder: str, source: str) -> dict:
    """COPY the same bytes into an UNLOGGED all-text table: the ceiling the loader is measured against."""
    import psycopg
    from psycopg import sql

    from equity.landing import BLOCK

    contract = CONTRACTS[source]
    manifest = json.loads((Path(folder) / "_manifest.json").read_text())
    cols = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in contract.columns)
    with psycopg.connect(url) as conn:
        conn.execute("drop table if exists bench_bare")
        conn.execute(sql.SQL("create unlogged table bench_bare ({})").format(cols))
        conn.commit()
        t0 = time.perf_counter()
        rows = 0
        for f in manifest["files"]:
            with conn.cursor() as cur, open(Path(folder) / f["name"], "rb") as fh:
                with cur.copy(sql.SQL("copy bench_bare from stdin with ({})").format(
                        sql.SQL(_copy_options(source, f["encoding"])))) as copy:
                    while block := fh.read(BLOCK):
                        copy.write(block)
                rows += cur.rowcount
        conn.commit()
        seconds = time.perf_counter() - t0
        conn.execute("drop table bench_bare")
        conn.commit()
    return {"seconds": seconds, "rows": rows}


def load_in_subprocess(url: str, landing: str, source: str, extract_date: str) -> dict:
    """Run the real loader in a fresh process; its peak RSS is the loader's own."""
    cmd = [sys.executable, "-m", "equity.bench", "load", url, landing, source, extract_date]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _load_main(url: str, landing: str, source: str, extract_date: str) -> None:
    import logging

    from equity import load as loader
    from equity.load import load_delivery

    logging.basicConfig(level=logging.WARNING)
    t0 = time.perf_counter()
    out = load_delivery(url, landing, source, date.fromisoformat(extract_date), f"bench-{uuid.uuid4().hex[:8]}")
    seconds = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_kib = usage.ru_maxrss
    vm_hwm = None
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            vm_hwm = int(line.split()[1])
    print(json.dumps({"seconds": seconds, "status": out.status, "rows": out.rows, "rejected": out.rejected,
                      "batch_id": out.batch_id,
                      "phases": getattr(loader, "LAST_PHASES", {}), "peak_rss_kib": max(peak_kib, vm_hwm or 0),
                      "cpu_seconds": usage.ru_utime + usage.ru_stime}))


def _postgres_cpu() -> dict[int, float]:
    """CPU seconds so far of each of this machine's PostgreSQL processes (a local server), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, tail = stat.read_text().rsplit(")", 1)
            if head.endswith(("(postgres", "(postmaster")):
                values = tail.split()
                out[int(stat.parent.name)] = (int(values[11]) + int(values[12])) / tick  # utime + stime
        except (OSError, ValueError, IndexError):
            continue
    return out


class ServerCpu:
    """CPU the local server's processes use while a block runs, sampled from /proc four times a second
    (a backend that exits is counted up to its last sample)."""

    def __enter__(self):
        import threading

        self.first, self.last, self.stop = _postgres_cpu(), {}, threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while not self.stop.wait(0.25):
            for pid, cpu in _postgres_cpu().items():
                self.first.setdefault(pid, 0.0)  # started during the block
                self.last[pid] = cpu

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        for pid, cpu in _postgres_cpu().items():
            self.last[pid] = cpu
        self.seconds = round(sum(cpu - self.first.get(pid, 0.0) for pid, cpu in self.last.items()), 1)


def scratch_database(admin_url: str) -> str:
    import psycopg

    name = f"equity_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(url: str) -> None:
    import psycopg

    admin = url.rsplit("/", 1)[0] + "/postgres"
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def run(admin_url: str, scale: str, sources=("enrolment", "registry"), repeats: int = 1) -> dict:
    """Build (or reuse) the scaled deliveries, then per repeat a fresh warehouse and per source: bare
    COPY, load, bare COPY again.

    Each repeat has a database of its own, so that every load is the same thing: a date's first
    delivery. (Until the eighteenth session the repeats shared one, and a second repeat's load also
    replaced the first's batch: dropping 1.3-2.1 GB in its transaction, 2.5-3 s more.)"""
    import psycopg

    from equity.paths import SHIPPED_REFERENCE_DIR
    from equity.reference import load_reference
    from equity.warehouse import bootstrap

    t0 = time.perf_counter()
    info = build(scale)
    build_seconds = time.perf_counter() - t0
    results = {"scale": scale, "build_seconds": round(build_seconds, 1), "runs": []}
    landing = str(Path(info["sources"]["enrolment"]["folder"]).parents[1])
    for rep in range(repeats):
        url = scratch_database(admin_url)
        try:
            bootstrap(url)
            load_reference(url, SHIPPED_REFERENCE_DIR)
            with psycopg.connect(url) as conn:
                results["server"] = conn.execute("select version()").fetchone()[0].split(" on ")[0]
                results["wal_level"] = conn.execute("show wal_level").fetchone()[0]
            for source in sources:
                s = info["sources"][source]
                waited = quiesce(url)
                with ServerCpu() as bare_cpu:  # the server's CPU for one bare COPY, beside the load's
                    bare1 = bare_copy(url, s["folder"], source)
                with ServerCpu() as server_cpu:
                    load = load_in_subprocess(url, landing, source, info["extract_date"])
                bare2 = bare_copy(url, s["folder"], source)
                bare = (bare1["seconds"] + bare2["seconds"]) / 2
                assert load["status"] == "loaded", load
                assert load["rows"] + load["rejected"] == s["rows"], (load, s)
                assert load["rejected"] == s["expected_rejected"], (load, s)
                results["runs"].append({
                    "repeat": rep + 1, "source": source, "rows": s["rows"], "bytes": s["bytes"],
                    "quiesce_wait_seconds": waited,
                    "files": s["files"], "rejected": load["rejected"],
                    "bare_copy_seconds": [round(bare1["seconds"], 2), round(bare2["seconds"], 2)],
                    "load_seconds": round(load["seconds"], 2),
                    "load_rows_per_s": round(s["rows"] / load["seconds"]),
                    "load_mb_per_s": round(s["bytes"] / 1e6 / load["seconds"], 1),
                    "bare_rows_per_s": round(s["rows"] / bare),
                    "ratio_to_bare_copy": round(bare / load["seconds"], 3),
                    "peak_rss_mib": round(load["peak_rss_kib"] / 1024, 1),
                    "load_phases_seconds": load.get("phases", {}),
                    # CPU of the load: the loader's process (all its threads) and the local server's processes.
                    "loader_cpu_seconds": round(load.get("cpu_seconds", 0.0), 1),
                    "server_cpu_seconds": server_cpu.seconds,
                    "bare_copy_server_cpu_seconds": bare_cpu.seconds,
                })
        finally:
            drop_database(url)
    return results


if __name__ == "__main__":
    if sys.argv[1] == "load":
        _load_main(*sys.argv[2:6])
    elif sys.argv[1] == "build":
        print(json.dumps(build(sys.argv[2]), indent=2))
    elif sys.argv[1] == "run":
        print(json.dumps(run(default_admin_url(),
                             sys.argv[2], repeats=int(sys.argv[3]) if len(sys.argv) > 3 else 1), indent=2))
