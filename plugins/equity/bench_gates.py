"""Validation benchmark (issue #5): the raw suites on national-size batches, seconds per suite, run as
SQL in PostgreSQL, next to Great Expectations' pandas engine on a sample (the naive baseline: what a
user would write who pulled the table into a DataFrame).

Data: `equity.bench`'s replicated deliveries of all three sources (IDs rewritten so that valid stays
valid; welfare Parquet included), loaded by the real loader into a scratch database, one partition
per batch, then gated by `validate_raw_batch` exactly as a night gates them. The mart suites at
national size are timed by the night benchmark (`gate_mart:<mart>` in `audit.pipeline_runs.timings`),
which builds national-size marts through dbt.

The pandas baseline: the first `sample` rows of each raw batch read into pandas (every value text,
as in raw), validated by the same suite's expectations except the custom-SQL ones
(`unexpected_rows_expectation` and the project's row conditions run only on SQL engines; the
project's key check is swapped for GX's stock one). The SQL engine is timed on that same
subset at full size too, so the two are compared like for like; the pandas time is also scaled
linearly to the full batch (pandas would need the whole table in memory, ~2 GB of text).
"""

from __future__ import annotations

import json
import sys
import time
from datetime import date
from pathlib import Path

from equity.bench import build as build_replicated
from equity.bench import default_admin_url, drop_database, scratch_database
from equity.contracts import CONTRACTS

GOAL_RAW_SECONDS = 180


def _timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, round(time.perf_counter() - t0, 2)


# The project's SQL-only checks (equity.gx_custom) and GX's own: the pandas engine cannot run them.
SQL_ONLY = frozenset({"unexpected_rows_expectation", "expect_column_values_to_satisfy_sql"})


def _portable(entry):
    """GX's stock key check for the project's faster SQL one (same verdict), so pandas can run it."""
    from dataclasses import replace

    if entry.expectation == "expect_compound_key_to_be_unique":
        return replace(entry, expectation="expect_compound_columns_to_be_unique")
    return entry


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
                     entries=tuple(_portable(e) for e in suite.entries if e.expectation not in SQL_ONLY))
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


def run(admin_url: str, scale: str = "national", sample: int = 1_000_000, baseline: bool = True) -> dict:
    """`baseline=False` times the SQL suites only (no pandas run)."""
    from equity import bench_night
    from equity.gates import _gate, _Table, validate_raw_batch
    from equity.load import load_delivery
    from equity.paths import SHIPPED_REFERENCE_DIR
    from equity.reference import load_reference
    from equity.warehouse import bootstrap

    replicated = build_replicated(scale, with_welfare=True)
    url = scratch_database(admin_url)
    result: dict = {"scale": scale, "machine_before": bench_night.machine(), "suites": [], "pandas": []}
    try:
        bootstrap(url)
        load_reference(url, SHIPPED_REFERENCE_DIR)
        landing = str(Path(replicated["sources"]["enrolment"]["folder"]).parents[1])
        day = date.fromisoformat(replicated["extract_date"])
        batches = {}
        for source in ("enrolment", "welfare", "registry"):
            out, seconds = _timed(load_delivery, url, landing, source, day, "bench-gates")
            assert out.status == "loaded", out
            # the replicas carry exactly the base's row faults, copy for copy
            assert out.rejected == replicated["sources"][source]["expected_rejected"], (source, out)
            batches[source] = (out.batch_id, out.rows)
        for source, (batch_id, rows) in batches.items():
            outcome, seconds = _timed(validate_raw_batch, url, source, batch_id, "bench-gates")
            result["suites"].append({"suite": f"raw.{source}", "rows": rows, "expectations": outcome.evaluated,
                                     "seconds": seconds, "status": outcome.status,
                                     "rows_per_s": round(rows / seconds)})
        result["raw_seconds_total"] = round(sum(s["seconds"] for s in result["suites"]), 2)
        result["goal_raw_seconds"] = GOAL_RAW_SECONDS

        for source, (batch_id, rows) in batches.items() if baseline else ():
            base = _pandas_baseline(url, source, batch_id, sample)
            portable = base.pop("portable")
            partition = _Table("raw", f"{CONTRACTS[source].raw_table}_b{batch_id}")
            outcome, sql_seconds = _timed(_gate, url, portable, partition, "bench-gates-portable", batch_id,
                                          None, None, update_batch=False)
            per_row = (base["read_seconds"] + base["validate_seconds"]) / max(1, base["sample_rows"])
            result["pandas"].append(dict(
                base, source=source, rows=rows, sql_seconds_same_subset=sql_seconds,
                pandas_seconds_scaled=round(per_row * rows, 1),
                speedup_sql_over_pandas=round(per_row * rows / sql_seconds, 1)))
    finally:
        result["machine_after"] = bench_night.machine()
        drop_database(url)
    return result


# One child_equity_profile row (MARTS.md columns); `mart_gate` repeats it with distinct child keys.
_CHILD_COLUMNS = """child_key text, as_of_date date, id_type text, sex text, birth_year int, age int,
    province_code text, district_code text, subdistrict_code text, lao_code text, in_registry boolean,
    in_enrolment boolean, in_welfare boolean, education_status text, out_of_school_reason text,
    grade text, school_code text, affiliation text, multiple_enrolment boolean, disability int,
    days_absent int, chronic_absence boolean, poverty_level text, income_per_capita_month numeric(12,2),
    has_welfare_card boolean, is_priority boolean"""
_CHILD_ROW = """'NATIONAL_ID', 'F', 2016, 10, '10', '1001', '100101', '1000001', true, true, true, 'ENROLLED',
    null, 'P4', '1001000001', 'OBEC', false, 0, 3, false, 'NOT_POOR', 4500.00, false, false"""


def mart_gate(admin_url: str, rows: int = 1_000_000, repeats: int = 2) -> dict:
    """The child_equity_profile suite on one night of `rows` rows (plus a second night of history),
    judged through the gate's view (`validate_mart`) and, as before, through a query asset that GX
    copies into a session temp table (`validate_query`), alternating."""
    from equity.gates import suite_path, validate_mart, validate_query
    from equity.gx_suites import bind_policy, bind_schema, load_suite
    from equity.paths import SHIPPED_REFERENCE_DIR
    from equity.policy import policy
    from equity.reference import load_reference
    from equity.warehouse import bootstrap, connect

    url = scratch_database(admin_url)
    day = date(2026, 11, 20)
    out: dict = {"rows": rows, "machine_before": None, "view_seconds": [], "temp_table_seconds": []}
    try:
        from equity import bench_night

        out["machine_before"] = bench_night.machine()
        bootstrap(url)
        load_reference(url, SHIPPED_REFERENCE_DIR)
        with connect(url) as conn:
            conn.execute(f"create schema marts_build; create table marts_build.child_equity_profile ({_CHILD_COLUMNS})")
            for night in (date(2026, 11, 19), day):
                conn.execute(f"insert into marts_build.child_equity_profile select"
                             f" encode(sha256(g::text::bytea), 'hex'), %s, {_CHILD_ROW}"
                             f" from generate_series(1, %s) as g", (night, rows))
            conn.execute("create index on marts_build.child_equity_profile (as_of_date, lao_code);"
                         " analyze marts_build.child_equity_profile")
            conn.commit()
        params = {"as_of_date": day.isoformat(), **policy()}
        suite = bind_policy(bind_schema(load_suite(suite_path("marts", "child_equity_profile")), "marts_build"), params)
        query = f"select * from marts_build.child_equity_profile where as_of_date = date '{day.isoformat()}'"
        for _ in range(repeats):
            out["temp_table_seconds"].append(_timed(validate_query, url, suite, query, "bench-marts",
                                                    parameters=params)[1])
            out["view_seconds"].append(_timed(validate_mart, url, "marts_build", "child_equity_profile", day,
                                              "bench-marts")[1])
    finally:
        drop_database(url)
    return out


if __name__ == "__main__":
    if sys.argv[1] == "marts":
        print(json.dumps(mart_gate(default_admin_url(),
                                   int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000), indent=2, default=str))
        sys.exit(0)
    print(json.dumps(run(default_admin_url(),
                         sys.argv[1] if len(sys.argv) > 1 else "national",
                         baseline="--no-baseline" not in sys.argv), indent=2, default=str))
