"""Validation benchmark (issue #5): every raw suite and both mart suites at national size, seconds
per suite, run as SQL in PostgreSQL, next to Great Expectations' pandas engine on a sample (the
naive baseline: what a user would write who pulled the table into a DataFrame).

Data, in a scratch database on the benchmark server:

- raw **enrolment** (11 M rows) and **registry** (13.5 M rows): the replicated national deliveries of
  `equity.bench` (IDs rewritten so valid stays valid), loaded by the real loader, one partition each;
- raw **welfare**: the 1m night's welfare `full` batch (`equity.bench_night` data), replicated in SQL
  to national size with each copy's `screening_id` suffixed (welfare has no other key; the same
  children's IDs repeat, as they may in a real delivery of several screenings per child);
- **marts**: the 1m night run through the real DAG (`equity run`), then, in `marts_build`, every
  child row copied R times under fresh child keys and every LAO and province count multiplied by R
  (rates unchanged), so that the levels still reconcile and the suites judge a national-size night.

The pandas baseline: the first `sample` rows of each raw table read into pandas (every value text,
as in raw), validated by the same suite's expectations except the custom-SQL ones
(`unexpected_rows_expectation` exists only for SQL engines); the SQL engine is timed on that same
subset at national size too, so the two are compared like for like, and the pandas time is also
scaled linearly to national size (pandas would need the whole table in memory: ~2 GB of text).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from equity.bench import build as build_replicated
from equity.bench import drop_database, scratch_database
from equity.contracts import CONTRACTS

NIGHT = date(2026, 11, 20)
WELFARE_DAY = NIGHT + timedelta(days=1)   # the replicated welfare batch gets a date of its own
NATIONAL_CHILDREN = 13_000_000
BENCH_KEY = "bench-only key, not a secret"
GOAL_RAW_SECONDS = 180


def _run_night(url: str, landing: str) -> None:
    env = dict(os.environ, EQUITY_WAREHOUSE_URL=url, EQUITY_LANDING=landing, EQUITY_HMAC_KEY=BENCH_KEY,
               EQUITY_RETRIES="0", GX_ANALYTICS_ENABLED="False")
    exe = Path(sys.executable).parent / "equity"
    out = subprocess.run([str(exe), "run", "--date", NIGHT.isoformat()], env=env, capture_output=True, text=True,
                         check=False)
    if out.returncode != 0:
        raise RuntimeError(f"the 1m night failed: {out.stdout[-2000:]} {out.stderr[-2000:]}")


def _replicate_welfare(url: str, target_rows: int) -> tuple[int, int]:
    """A new welfare batch (own partition, audit row) of ~target_rows rows copied from the loaded one."""
    import psycopg

    with psycopg.connect(url) as conn:
        src, n = conn.execute(
            "select b.batch_id, b.rows_loaded from audit.load_batches b where b.source = 'welfare'"
            " and b.status = 'loaded' order by b.rows_loaded desc limit 1").fetchone()
        copies = max(1, -(-target_rows // n))
        batch = conn.execute(
            "insert into audit.load_batches (source, extract_date, revision, mode, status, rows_manifest,"
            " rows_loaded, rows_rejected) values ('welfare', %s, 1, 'full', 'loaded', %s, %s, 0)"
            " returning batch_id", (WELFARE_DAY, n * copies, n * copies)).fetchone()[0]
        table = CONTRACTS["welfare"].raw_table
        cols = [r[0] for r in conn.execute(
            "select column_name from information_schema.columns where table_schema = 'raw' and table_name = %s"
            " and column_name not in ('_batch_id', 'screening_id') order by ordinal_position", (table,))]
        col_list = ", ".join(f'"{c}"' for c in cols)
        conn.execute(f'create table raw."{table}_b{batch}" (like raw."{table}" including defaults)')
        conn.execute(f'alter table raw."{table}_b{batch}" add check (_batch_id = {batch})')
        conn.execute(
            f'insert into raw."{table}_b{batch}" (_batch_id, screening_id, {col_list})'
            f" select {batch}, case when r = 0 then screening_id else screening_id || '-' || r end, {col_list}"
            f' from raw."{table}_b{src}", generate_series(0, {copies - 1}) as r')
        conn.execute(f'alter table raw."{table}" attach partition raw."{table}_b{batch}" for values in ({batch})')
        conn.execute(f'analyze raw."{table}_b{batch}"')
        conn.commit()
    return batch, n * copies


def _replicate_marts(url: str, target_children: int) -> tuple[int, int]:
    """Scale the night's marts in marts_build to ~target_children (fresh child keys; counts x copies)."""
    import psycopg

    with psycopg.connect(url) as conn:
        n = conn.execute("select count(*) from marts_build.child_equity_profile where as_of_date = %s",
                         (NIGHT,)).fetchone()[0]
        copies = max(1, round(target_children / max(1, n)))
        cols = [r[0] for r in conn.execute(
            "select column_name from information_schema.columns where table_schema = 'marts_build'"
            " and table_name = 'child_equity_profile' and column_name <> 'child_key' order by ordinal_position")]
        col_list = ", ".join(f'"{c}"' for c in cols)
        conn.execute(
            f"insert into marts_build.child_equity_profile (child_key, {col_list})"
            f" select encode(sha256(convert_to(child_key || '/' || r, 'UTF8')), 'hex'), {col_list}"
            f" from marts_build.child_equity_profile, generate_series(1, {copies - 1}) as r"
            f" where as_of_date = %s", (NIGHT,))
        counts = ["children", "children_school_age", "enrolled", "out_of_school", "no_education_record",
                  "dropped_out", "not_continued", "lost_in_transfer", "never_enrolled", "preprimary_enrolled",
                  "screened", "poor", "extremely_poor", "with_disability", "chronic_absence", "priority_children"]
        for table in ("municipality_equity_summary", "province_equity_summary"):
            have = {r[0] for r in conn.execute(
                "select column_name from information_schema.columns where table_schema = 'marts_build'"
                " and table_name = %s", (table,))}
            sets = ", ".join(f"{c} = {c} * {copies}" for c in counts if c in have)
            conn.execute(f"update marts_build.{table} set {sets} where as_of_date = %s", (NIGHT,))
        conn.commit()
        conn.execute("analyze marts_build.child_equity_profile")
        rows = conn.execute("select count(*) from marts_build.child_equity_profile where as_of_date = %s",
                            (NIGHT,)).fetchone()[0]
        conn.commit()
    return rows, copies


def _timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, round(time.perf_counter() - t0, 2)


def _pandas_baseline(url: str, source: str, batch_id: int, sample: int) -> dict:
    """GX on pandas: the suite minus its custom-SQL entries, on the first `sample` rows of the batch."""
    import warnings

    import great_expectations as gx
    import pandas as pd
    import psycopg

    from equity.gates import _context, suite_path
    from equity.gx_suites import Suite, load_suite

    suite = load_suite(suite_path("raw", source))
    portable = Suite(name=suite.name + ".portable", relation=suite.relation, description=suite.description,
                     entries=tuple(e for e in suite.entries if e.expectation != "unexpected_rows_expectation"))
    table = CONTRACTS[source].raw_table
    t0 = time.perf_counter()
    with psycopg.connect(url) as conn:
        cur = conn.execute(f'select * from raw."{table}_b{batch_id}" limit {int(sample)}')
        names = [d.name for d in cur.description]
        frame = pd.DataFrame(cur.fetchall(), columns=names)
    read_seconds = time.perf_counter() - t0
    from equity.gates import build_expectations

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        context = _context(None)
        asset = context.data_sources.add_pandas("pandas").add_dataframe_asset("sample")
        batch = asset.add_batch_definition_whole_dataframe("whole").get_batch(batch_parameters={"dataframe": frame})
        gx_suite = gx.ExpectationSuite(name=portable.name, expectations=build_expectations(portable))
        t1 = time.perf_counter()
        result = batch.validate(gx_suite)
        validate_seconds = time.perf_counter() - t1
    return {"suite": portable.name, "expectations": len(portable.entries), "sample_rows": len(frame),
            "read_seconds": round(read_seconds, 2), "validate_seconds": round(validate_seconds, 2),
            "success": bool(result.success), "portable": portable}


def run(admin_url: str, scale: str = "national", sample: int = 1_000_000) -> dict:
    from equity import bench_night
    from equity.gates import _gate, _Table, validate_mart, validate_raw_batch
    from equity.load import load_delivery
    from equity.paths import SHIPPED_REFERENCE_DIR
    from equity.reference import load_reference
    from equity.warehouse import bootstrap

    night = bench_night.build("1m")
    replicated = build_replicated(scale)
    url = scratch_database(admin_url)
    result: dict = {"scale": scale, "machine_before": bench_night.machine(), "suites": [], "pandas": []}
    os.environ.setdefault("EQUITY_HMAC_KEY", BENCH_KEY)
    try:
        bootstrap(url)
        load_reference(url, SHIPPED_REFERENCE_DIR)
        _run_night(url, night["landing"])
        landing = str(Path(replicated["sources"]["enrolment"]["folder"]).parents[1])
        batches = {}
        for source in ("enrolment", "registry"):
            out, seconds = _timed(load_delivery, url, landing, source, date.fromisoformat(replicated["extract_date"]),
                                  "bench-gates")
            batches[source] = (out.batch_id, out.rows)
        target = int(replicated["sources"]["enrolment"]["rows"] * 5_684_417 / 7_922_883)  # national welfare/enrolment
        batches["welfare"] = _replicate_welfare(url, target)
        mart_rows, copies = _replicate_marts(url, NATIONAL_CHILDREN if scale == "national" else 0)
        result["data"] = {"raw_batches": {s: {"batch_id": b, "rows": r} for s, (b, r) in batches.items()},
                          "child_rows": mart_rows, "mart_copies": copies}

        for source, (batch_id, rows) in batches.items():
            outcome, seconds = _timed(validate_raw_batch, url, source, batch_id, "bench-gates")
            result["suites"].append({"suite": f"raw.{source}", "rows": rows, "expectations": outcome.evaluated,
                                     "seconds": seconds, "status": outcome.status,
                                     "rows_per_s": round(rows / seconds)})
        for mart in ("child_equity_profile", "municipality_equity_summary"):
            outcome, seconds = _timed(validate_mart, url, "marts_build", mart, NIGHT, "bench-gates")
            result["suites"].append({"suite": f"marts.{mart}", "rows": outcome.rows or mart_rows,
                                     "expectations": outcome.evaluated, "seconds": seconds,
                                     "status": outcome.status})
        result["raw_seconds_total"] = round(sum(s["seconds"] for s in result["suites"]
                                                if s["suite"].startswith("raw.")), 2)
        result["goal_raw_seconds"] = GOAL_RAW_SECONDS

        for source, (batch_id, rows) in batches.items():
            base = _pandas_baseline(url, source, batch_id, sample)
            portable = base.pop("portable")
            outcome, sql_seconds = _timed(_gate, url, portable, _Table("raw", f"{CONTRACTS[source].raw_table}"
                                                                        f"_b{batch_id}"),
                                          "bench-gates-portable", batch_id, None, None, update_batch=False)
            per_row = (base["read_seconds"] + base["validate_seconds"]) / max(1, base["sample_rows"])
            result["pandas"].append(dict(
                base, source=source, national_rows=rows, sql_seconds_same_subset_national=sql_seconds,
                pandas_seconds_scaled_to_national=round(per_row * rows, 1),
                speedup_sql_over_pandas=round(per_row * rows / sql_seconds, 1)))
    finally:
        result["machine_after"] = bench_night.machine()
        drop_database(url)
    return result


if __name__ == "__main__":
    print(json.dumps(run(os.environ.get("EQUITY_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
                         sys.argv[1] if len(sys.argv) > 1 else "national"), indent=2, default=str))
