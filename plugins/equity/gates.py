"""The gates: run a GX suite on one batch in PostgreSQL and record the outcome in the audit schema.

    outcome = validate_raw_batch(url, "enrolment", batch_id, run_id)   # expectations/raw/enrolment.yml
    outcome = validate_mart(url, "marts", "child_equity_profile", as_of, run_id)
    outcome.status       # 'passed' | 'warned' | 'blocked'
    outcome.failures     # [Failure(expectation, column, severity, observed), ...]

How it runs (Great Expectations 1.24, no Airflow import; GX itself is imported on first use):
- an ephemeral GX context, a PostgreSQL data source on the warehouse URL (psycopg 3), and an asset
  for exactly the rows to judge: every metric is SQL in the warehouse, nothing is pulled into
  pandas. A raw batch is its own partition (`raw.<table>_b<batch_id>`, see equity.load), judged in
  place as a table asset; a mart's rows of one date are judged in place through a view made for
  the gate (`_night_view`). Anything else (rows put into raw's default partition, a caller's query)
  is a query asset, materialised once as a session temp table (`create_temp_table`), because GX
  otherwise learns a query's columns by running the whole query and fetching every row into the
  worker (expectations/README.md, "GX 1.24 notes").
- result_format BASIC with `partial_unexpected_count: 0`: GX computes counts and fetches no
  values (its sample query carries LIMIT 0). Only counts and numeric aggregates are stored:
  no personal value reaches audit.validation_results, the logs or the Data Docs.
- one row per suite entry in audit.validation_results; status `blocked` when an entry of severity
  `block` failed, `warned` when only `warn` entries failed, else `passed`.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import re
import time
import warnings
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from numbers import Number
from operator import index
from pathlib import Path
from typing import Any, NamedTuple

import psycopg
from psycopg import sql

from equity import gate_changes
from equity.contracts import CONTRACTS, ROW_HASHED
from equity.gx_suites import (
    POLICY_PLACEHOLDERS,
    Suite,
    SuiteEntry,
    bind_calendars,
    bind_extract_date,
    bind_policy,
    bind_schema,
    load_suite,
)
from equity.paths import EXPECTATIONS_DIR

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
logging.getLogger("great_expectations").setLevel(logging.WARNING)  # before GX is ever imported

log = logging.getLogger(__name__)

__all__ = [
    "Failure", "GateOutcome", "Suite", "SuiteEntry", "build_expectations", "load_suite", "raw_suite",
    "suite_path", "validate_mart", "validate_query", "validate_raw_batch",
]

# Counts only. BASIC skips GX's index/row queries; partial_unexpected_count 0 turns the sample
# query into LIMIT 0 and exclude_unexpected_values keeps any list out of the result.
RESULT_FORMAT: dict[str, Any] = {
    "result_format": "BASIC",
    "partial_unexpected_count": 0,
    "include_unexpected_rows": False,
    "exclude_unexpected_values": True,
    "return_unexpected_index_query": False,
}
# Keys of a GX result we keep (for the Data Docs copy); everything else (value lists, details,
# unexpected rows, index queries) is dropped before a result leaves this module.
_SAFE_RESULT_KEYS = frozenset({
    "element_count", "unexpected_count", "unexpected_percent", "missing_count", "missing_percent",
    "unexpected_percent_total", "unexpected_percent_nonmissing", "observed_value",
})
# Materialise the batch once per gate as a session temp table (see module docstring).
USE_TEMP_TABLE = True


def _engine_kwargs() -> dict[str, Any]:
    """create_engine kwargs for GX's connections: one connection per gate (StaticPool), so the
    batch's temp table, which lives in that session, is visible to every metric query; named, so a
    DBA can see the gate's session."""
    from sqlalchemy.pool import StaticPool

    return {"poolclass": StaticPool, "connect_args": {"application_name": "equity-gate", "options": GATE_OPTIONS}}


# Settings of the gate's own session (docs/benchmarks.md, "Validation"): GX sends one wide aggregate
# (every column check of the suite in one scan) and one query per custom check; JIT spends seconds
# compiling those long CASE lists for no gain, and a batch's partition can be scanned by parallel
# workers (a temp table never can). work_mem 512MB: the compound-key check groups a national roster's
# 11 M keys in one hash table (at 128MB it spilled to disk: 28 s against 17 s, docs/benchmarks.md).
GATE_OPTIONS = "-c jit=off -c work_mem=512MB -c max_parallel_workers_per_gather=2"
STATUSES = ("passed", "warned", "blocked")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


class Failure(NamedTuple):
    expectation: str  # GX name, or "unexpected_rows_expectation:<label>" for a custom SQL check
    column: str | None
    severity: str  # block | warn
    observed: str  # counts or a numeric aggregate; never a value from a row


@dataclass(frozen=True)
class GateOutcome:
    status: str  # passed | warned | blocked
    failures: list[Failure] = field(default_factory=list)
    suite: str = ""
    evaluated: int = 0  # expectations run (= rows written to audit.validation_results)
    rows: int | None = None  # rows in the batch
    seconds: float = 0.0
    # a raw snapshot's earlier batch whose verdicts its unchanged rows kept (equity.gate_changes), or None
    judged_against: int | None = None

    @property
    def blocked(self) -> bool:
        return self.status == "blocked"


# --- URLs ------------------------------------------------------------------------------------------

def sqlalchemy_url(url: str) -> str:
    """`postgresql://user[:pw]@host:port/db` (libpq style) -> `postgresql+psycopg://…` for GX."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError("the warehouse URL must be a postgresql:// URL")
    if not parsed.host:
        raise ValueError("the warehouse URL must name a host (GX's PostgreSQL data source needs one)")
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def libpq_url(url: str) -> str:
    """The same URL as psycopg/libpq reads it (drops a `+driver` suffix)."""
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url)


# --- suites ----------------------------------------------------------------------------------------

def suite_path(kind: str, name: str) -> Path:
    """expectations/<kind>/<name>.yml, kind `raw` or `marts`."""
    if kind not in ("raw", "marts") or not _IDENT.match(name):
        raise ValueError(f"no suite {kind}/{name}")
    return EXPECTATIONS_DIR / kind / f"{name}.yml"


def build_expectations(suite: Suite) -> list:
    """The suite's entries as GX Expectation objects, in order (raises on an unknown name or bad
    kwargs: GX's ExpectationSuite would only log and drop such an entry)."""
    from great_expectations.expectations.metadata_types import FailureSeverity
    from great_expectations.expectations.registry import get_expectation_impl

    import equity.gx_custom  # noqa: F401 - registers expect_column_values_to_satisfy_sql

    _quiet_gx()

    out = []
    for i, entry in enumerate(suite.entries):
        cls = (_counted_unexpected_rows() if entry.expectation == "unexpected_rows_expectation"
               else get_expectation_impl(entry.expectation))
        out.append(cls(
            **entry.kwargs,
            severity=FailureSeverity.CRITICAL if entry.severity == "block" else FailureSeverity.WARNING,
            meta={"entry": i, "severity": entry.severity, "why": entry.why},
            notes=f"{entry.severity}: {entry.why}",
        ))
    return out


@functools.cache
def _counted_unexpected_rows():
    """GX's UnexpectedRowsExpectation asking PostgreSQL for the count only.

    The stock class also fetches the unexpected rows themselves (a second run of the query, a second
    scan of the batch) to show them in its result; the gate never keeps a row, so that run is waste.
    Same name in results and Data Docs, same success rule (no unexpected row)."""
    from great_expectations.expectations.core.unexpected_rows_expectation import UnexpectedRowsExpectation

    class CountedUnexpectedRowsExpectation(UnexpectedRowsExpectation):
        metric_dependencies = ("unexpected_rows_query.row_count",)

        def _validate(self, metrics, runtime_configuration=None, execution_engine=None):
            count = metrics["unexpected_rows_query.row_count"]
            return {"success": count == 0, "result": {"observed_value": count}}

    return CountedUnexpectedRowsExpectation


# --- the gates -------------------------------------------------------------------------------------

def raw_suite(source: str, extract_date: date) -> Suite:
    """The source's raw suite as the gate runs it: date-relative conditions (birth date not after the
    extract) read the batch's own extract date, and the calendar sets are filled in."""
    return bind_calendars(bind_extract_date(load_suite(suite_path("raw", source)), extract_date))


def validate_raw_batch(url: str, source: str, batch_id: int, run_id: str, *,
                       docs_dir: str | Path | None = None) -> GateOutcome:
    """Gate one loaded batch of a source with expectations/raw/<source>.yml.

    Writes audit.validation_results and sets audit.load_batches.gate_status for the batch.
    """
    if source not in CONTRACTS:
        raise ValueError(f"unknown source {source!r}; one of {sorted(CONTRACTS)}")
    if isinstance(batch_id, bool):
        raise TypeError("batch_id must be an integer")
    batch_id = index(batch_id)  # an int, or TypeError: never text formatted into SQL
    with psycopg.connect(libpq_url(url)) as conn:
        row = conn.execute("select source, extract_date, mode from audit.load_batches where batch_id = %s",
                           (batch_id,)).fetchone()
    if row is None:
        log.warning("gate %s: batch %d is not in audit.load_batches", source, batch_id)
    elif row[0] != source:
        raise ValueError(f"batch {batch_id} belongs to source {row[0]!r}, not {source!r}")
    table = CONTRACTS[source].raw_table
    partition = f"{table}_b{batch_id:d}"
    with psycopg.connect(libpq_url(url)) as conn:
        own_partition = conn.execute(
            "select 1 from pg_inherits i join pg_class c on c.oid = i.inhrelid"
            " where i.inhparent = %s::regclass and c.oid = to_regclass(%s)",
            (f"raw.{table}", f"raw.{partition}")).fetchone() is not None
    # The loader gives every batch its own partition: GX then reads that table in place (no copy,
    # and PostgreSQL may scan it with parallel workers, which a session temp table never allows).
    # Rows put into raw by other means (the default partition) are judged through a query.
    target: str | _Table = (_Table("raw", partition) if own_partition
                            else f"select * from raw.{table} where _batch_id = {batch_id:d}")
    extract_date = row[1] if row else date.today()
    written = load_suite(suite_path("raw", source))
    suite = raw_suite(source, extract_date)
    earlier = gate_basis = None
    if own_partition and source in ROW_HASHED and row is not None:
        with psycopg.connect(libpq_url(url)) as conn:
            gate_basis = gate_changes.basis(conn, written)
            if row[2] == "snapshot":
                earlier = gate_changes.earlier_batch(conn, source, table, batch_id, extract_date, gate_basis)
    whole: GateOutcome | None = None  # the part that judged every row of the batch (and so counted them)
    if earlier is None:
        whole = _gate(url, suite, target, run_id, batch_id, None, docs_dir, update_batch=False)
        parts = [whole]
    else:
        # Only the rows that differ from `earlier` (equity.gate_changes), and the rest of the suite
        # on the whole batch.
        changed_suite, whole_suite = gate_changes.split(suite, written)
        with gate_changes.changed_rows(libpq_url(url), table, CONTRACTS[source].key, batch_id, earlier) as (
                schema, name, judged):
            log.info("gate %s batch %d: %d rows differ from batch %d (or share a key with one); the rest"
                     " passed there", source, batch_id, judged, earlier)
            parts = [_gate(url, changed_suite, _Table(schema, name), run_id, batch_id, None, docs_dir,
                           update_batch=False, judged_against=earlier)]
        if whole_suite.entries:
            whole = _gate(url, whole_suite, target, run_id, batch_id, None, docs_dir, update_batch=False)
            parts.append(whole)
    rows_passed = all(not p.failures for p in parts)
    parts.append(_gate(url, load_suite(suite_path("raw", "_delivery")), DELIVERY_METRICS.format(batch_id=batch_id),
                       run_id, batch_id, None, None, update_batch=False))
    worst = max((p.status for p in parts), key=("passed", "warned", "blocked").index)
    if row is not None:
        with psycopg.connect(libpq_url(url)) as conn:
            conn.execute("update audit.load_batches set gate_status = %s, gate_basis = %s where batch_id = %s",
                         (worst, gate_basis if rows_passed else None, batch_id))
    batch_rows = whole.rows if whole is not None else None
    if batch_rows is None and own_partition:
        with psycopg.connect(libpq_url(url)) as conn:
            batch_rows = conn.execute(sql.SQL("select count(*) from {}").format(
                sql.Identifier("raw", partition))).fetchone()[0]
    return GateOutcome(status=worst, failures=[f for p in parts for f in p.failures], suite=parts[0].suite,
                       evaluated=sum(p.evaluated for p in parts), rows=batch_rows,
                       seconds=round(sum(p.seconds for p in parts), 3), judged_against=earlier)


# One row of delivery-level metrics for expectations/raw/_delivery.yml: rejected share, and the size
# against the previous loaded delivery of the same source and mode (snapshots and deltas apart).
DELIVERY_METRICS = """
select b.rows_manifest, b.rows_rejected,
       b.rows_rejected::numeric / nullif(b.rows_manifest, 0) as rejected_share,
       -- a share means something only for a delivery of some size: one bad row of a 12-row delta is not 8% broken
       case when b.rows_manifest >= 200 then b.rows_rejected::numeric / b.rows_manifest end as rejected_share_large,
       case when b.mode = 'snapshot' then b.rows_manifest::numeric / nullif(p.rows_manifest, 0) end
           as snapshot_volume_ratio,
       case when b.mode = 'delta' then b.rows_manifest::numeric / nullif(p.rows_manifest, 0) end
           as delta_volume_ratio
from audit.load_batches as b
left join lateral (
    select q.rows_manifest from audit.load_batches as q
    where q.source = b.source and q.mode = b.mode and q.extract_date < b.extract_date
      and q.status in ('loaded', 'superseded') and q.rows_manifest > 0
    order by q.extract_date desc, q.batch_id desc limit 1
) as p on true
where b.batch_id = {batch_id:d}
"""


def validate_mart(url: str, schema: str, table: str, as_of_date: date | str, run_id: str, *,
                  parameters: dict[str, Any] | None = None,
                  docs_dir: str | Path | None = None) -> GateOutcome:
    """Gate the rows of `as_of_date` in <schema>.<table> with expectations/marts/<table>.yml.

    `{$PARAMETER: name}` values in the suite come from `parameters`, else from the policy in
    dbt_project.yml (equity.policy), plus `as_of_date`.
    """
    for ident in (schema, table):
        if not _IDENT.match(ident):
            raise ValueError(f"not a plain identifier: {ident!r}")
    day = as_of_date if isinstance(as_of_date, date) else date.fromisoformat(str(as_of_date))
    suite = bind_schema(load_suite(suite_path("marts", table)), schema)
    params: dict[str, Any] = {"as_of_date": day.isoformat()}
    if suite.parameters - set(parameters or {}) - set(params) or _names_policy(suite):
        from equity.policy import policy

        params.update(policy())
    params.update(parameters or {})
    suite = bind_policy(suite, params)
    with _night_view(url, schema, table, day) as view:
        return _gate(url, suite, view, run_id, None, params, docs_dir, update_batch=False)


# The build's child mart is a view over the child-level versions (dbt_project/macros/children_versions.sql):
# its gate judges the rows written tonight, the versions dated D. Every row a night shows was judged the
# night it was written: a version is replaced whenever any value of the child's row would change
# (age, status, ...), so what held for it then holds on every night it spans.
_VERSIONS = ("intermediate", "int_children__versioned")


def _night_rows(conn, schema: str, table: str, day: date) -> str:
    """The SELECT a gate of `day` judges: the night's rows of the mart, or for the build's child mart
    (a view over the versions) the versions written for `day`."""
    night = f'select * from "{schema}"."{table}" where as_of_date = date \'{day.isoformat()}\''
    if (schema, table) != ("marts_build", "child_equity_profile"):
        return night
    kind = conn.execute("select c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace"
                        " where n.nspname = %s and c.relname = %s", (schema, table)).fetchone()
    versions = conn.execute("select to_regclass(%s)", (".".join(_VERSIONS),)).fetchone()[0]
    if not kind or kind[0] != "v" or versions is None:
        return night
    columns = [r[0] for r in conn.execute(
        "select column_name from information_schema.columns where table_schema = %s and table_name = %s"
        " order by ordinal_position", (schema, table))]
    chosen = ", ".join(f"date '{day.isoformat()}' as as_of_date" if c == "as_of_date" else f'"{c}"' for c in columns)
    return (f'select {chosen} from "{_VERSIONS[0]}"."{_VERSIONS[1]}"'
            f" where valid_from = date '{day.isoformat()}' and present")


@contextlib.contextmanager
def _night_view(url: str, schema: str, table: str, day: date):
    """A view of <schema>.<table>'s rows of `day`, beside the mart, for the length of one gate.

    GX judges it as a table asset: its columns come from the catalog and every metric query reads
    the night's rows in place (the marts are indexed on as_of_date), with parallel workers, where a
    query asset would first copy the night into a session temp table (13 M rows at national size) and
    then scan that copy serially (temp tables are never scanned in parallel). The view is owned by the
    gate's role, granted to nobody, and dropped at the end; a name per gate keeps two gates apart.
    """
    name = f"_gate_{table}_{day:%Y%m%d}_{os.urandom(4).hex()}"
    ident = f'"{schema}"."{name}"'
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(f"create view {ident} as {_night_rows(conn, schema, table, day)}")
    try:
        yield _Table(schema, name)
    finally:
        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            conn.execute(f"drop view if exists {ident}")


def validate_query(url: str, suite: Suite, query: str, run_id: str, batch_id: int | None = None, *,
                   parameters: dict[str, Any] | None = None,
                   docs_dir: str | Path | None = None) -> GateOutcome:
    """Run `suite` on the rows `query` selects; write one audit row per entry; return the outcome.

    `query` is trusted SQL written by the caller (a SELECT), never text from a delivery.
    `batch_id` is recorded with the results (validate_raw_batch also sets the batch's gate_status).
    `parameters` fill the suite's `{$PARAMETER: name}` values.
    `docs_dir`: also render GX Data Docs (HTML, counts only) there, after the audit rows are
    written; a failure to render is logged and never changes the outcome.
    """
    return _gate(url, suite, query, run_id, batch_id, parameters, docs_dir, update_batch=False)


def _names_policy(suite: Suite) -> bool:
    conditions = " ".join(str(e.kwargs.get("condition", "")) for e in suite.entries)
    return any(f"{{{name}}}" in conditions for name in POLICY_PLACEHOLDERS)


class _Table(NamedTuple):
    """A whole table to judge in place (a batch's own raw partition)."""
    schema: str
    name: str


def _gate(url: str, suite: Suite, query: str | _Table, run_id: str, batch_id: int | None,
          parameters: dict[str, Any] | None, docs_dir: str | Path | None, *,
          update_batch: bool, judged_against: int | None = None) -> GateOutcome:
    if isinstance(query, _Table):
        if not (_IDENT.match(query.schema) and _IDENT.match(query.name)):
            raise ValueError(f"not a plain identifier: {query!r}")
    elif not re.match(r"(?is)^\s*select\s", query):
        raise ValueError("query must be a SELECT")
    if batch_id is not None:
        batch_id = index(batch_id)
    missing = suite.parameters - set(parameters or {})
    if missing:
        raise ValueError(f"suite {suite.name} needs parameters {sorted(missing)}")
    started = time.perf_counter()
    context, gx_result = _run_gx(url, suite, query, parameters or {}, docs_dir)
    rows = _audit_rows(suite, gx_result)
    n_rows = _batch_rows(rows)
    for r in rows:
        if r["element_count"] is None and r["entry"].expectation == "unexpected_rows_expectation":
            r["element_count"] = n_rows
    failures = [Failure(r["entry"].audit_name, r["entry"].column_name, r["entry"].severity, r["summary"])
                for r in rows if not r["success"]]
    severities = {f.severity for f in failures}
    status = "blocked" if "block" in severities else "warned" if severities else "passed"
    _write_audit(url, suite, rows, run_id, batch_id, status if update_batch else None, judged_against)
    seconds = round(time.perf_counter() - started, 3)
    for f in failures:
        log.warning("gate %s: %s %s on %s: %s", suite.name, f.severity, f.expectation, f.column, f.observed)
    log.info("gate %s batch %s: %s (%d expectations, %s rows, %.2fs)", suite.name, batch_id, status,
             len(rows), n_rows, seconds)
    if docs_dir is not None:
        _build_docs(context, suite, gx_result, run_id, batch_id)
    return GateOutcome(status=status, failures=failures, suite=suite.name, evaluated=len(rows),
                       rows=n_rows, seconds=seconds)


# --- GX --------------------------------------------------------------------------------------------

class _ScrubFilter(logging.Filter):
    """Rewrites a GX log record to its scrubbed first line (GX logs SQL errors verbatim, and
    PostgreSQL echoes the offending value in some of them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = _scrub(record.getMessage()), ()
        record.exc_info = record.exc_text = record.stack_info = None
        return True


_SCRUB_FILTER = _ScrubFilter()


def _quiet_gx() -> None:
    """GX logs at WARNING and above only (its INFO/DEBUG lines carry queries and results), and
    what it does log passes through `_scrub`. A logger filter applies to records of that very
    logger only, so it goes on every GX module logger that exists once GX is imported."""
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if (name.startswith("great_expectations") and isinstance(logger, logging.Logger)
                and _SCRUB_FILTER not in logger.filters):
            logger.addFilter(_SCRUB_FILTER)


def _context(docs_dir: str | Path | None):
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    sites = {}
    if docs_dir is not None:
        sites = {"gate_docs": {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                              "base_directory": str(Path(docs_dir).resolve())},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }}
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        data_docs_sites=sites,
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _run_gx(url: str, suite: Suite, query: str | _Table, parameters: dict, docs_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # GX deprecation/datasource warnings: not ours to act on
        import great_expectations as gx
        from great_expectations.validator.v1_validator import Validator

        expectations = build_expectations(suite)  # also quiets GX's loggers
        context = _context(docs_dir)
        source = context.data_sources.add_postgres(
            name="warehouse", connection_string=sqlalchemy_url(url),
            create_temp_table=USE_TEMP_TABLE and not isinstance(query, _Table),
            kwargs=_engine_kwargs())
        try:
            if isinstance(query, _Table):
                asset = source.add_table_asset(name="batch", table_name=query.name, schema_name=query.schema)
            else:
                asset = source.add_query_asset(name="batch", query=query)
            batch_definition = asset.add_batch_definition_whole_table("whole")
            gx_suite = gx.ExpectationSuite(name=suite.name, expectations=expectations)
            if len(gx_suite.expectations) != len(suite.entries):
                raise RuntimeError(f"suite {suite.name}: GX dropped an expectation")
            # The validator Batch.validate and ValidationDefinition.run both use; called directly
            # because `batch_definition.get_batch().validate(...)` would build the batch (and its
            # temp table) twice.
            validator = Validator(batch_definition=batch_definition, result_format=dict(RESULT_FORMAT))
            result = validator.validate_expectation_suite(gx_suite, parameters or None)
        finally:
            _dispose(source)  # closes the session: its temp table goes with it
    return context, result


def _dispose(source) -> None:
    """Close GX's connections (best effort: a gate's outcome never depends on it)."""
    with contextlib.suppress(Exception):
        source.get_execution_engine().engine.dispose()
    with contextlib.suppress(Exception):
        source.get_engine().dispose()


# --- results ---------------------------------------------------------------------------------------

def _number(value: Any) -> int | float | None:
    """A numeric observed value as int/float; anything else (text, lists, dates) is withheld."""
    if isinstance(value, bool) or not isinstance(value, (Number, Decimal)):
        return None
    value = float(value) if isinstance(value, Decimal) else value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _scrub(text: str) -> str:
    """An error message made safe to keep: first line, ASCII only, long digit runs masked."""
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    line = line.encode("ascii", "ignore").decode()
    line = re.sub(r"""(:\s*)("[^"]*"|'[^']*')""", r"\1<value>", line)  # PostgreSQL echoes a value as: "…"
    line = re.sub(r"G?\d{5,}", "#", line)
    return line[:200]


def _exception(result) -> str | None:
    info = result.exception_info or {}
    if info.get("raised_exception"):
        return _scrub(info.get("exception_message") or "error")
    for nested in info.values():  # {MetricConfigurationID: {raised_exception, exception_message,…}}
        if isinstance(nested, dict) and nested.get("raised_exception"):
            return _scrub(nested.get("exception_message") or "error")
    return None


def _audit_rows(suite: Suite, gx_result) -> list[dict]:
    by_entry: dict[int, Any] = {}
    for res in gx_result.results:
        meta = res.expectation_config.meta or {}
        if "entry" in meta:
            by_entry[int(meta["entry"])] = res
    rows = []
    for i, entry in enumerate(suite.entries):
        res = by_entry.get(i)
        row = {"entry": entry, "success": False, "observed_value": None, "unexpected_count": None,
               "element_count": None, "summary": "no result"}
        if res is not None:
            error = _exception(res)
            r = dict(res.result or {})
            observed = _number(r.get("observed_value"))
            row["success"] = bool(res.success) and error is None
            row["element_count"] = r.get("element_count")
            row["unexpected_count"] = r.get("unexpected_count")
            if entry.expectation == "unexpected_rows_expectation" and observed is not None:
                row["unexpected_count"] = int(observed)
            row["observed_value"] = "error" if error else None if observed is None else str(observed)
            row["summary"] = _summary(entry, r, observed, error)
        rows.append(row)
    return rows


def _summary(entry: SuiteEntry, r: dict, observed, error: str | None) -> str:
    if error is not None:
        return f"error: {error}"
    if entry.expectation == "unexpected_rows_expectation":
        return f"{observed} rows matched" if observed is not None else "no count"
    if r.get("unexpected_count") is not None:
        pct = r.get("unexpected_percent")
        pct_s = f" ({pct:.3g}%)" if isinstance(pct, (int, float)) else ""
        return f"{r['unexpected_count']} unexpected of {r.get('element_count')} rows{pct_s}"
    if observed is not None:
        return f"observed {observed}"
    if "observed_value" in r:
        return "observed value withheld (not a number)"
    return "failed"


def _batch_rows(rows: list[dict]) -> int | None:
    for r in rows:
        if r["element_count"] is not None:
            return int(r["element_count"])
    for r in rows:
        if r["entry"].expectation.startswith("expect_table_row_count") and r["observed_value"]:
            return int(float(r["observed_value"]))
    return None


def _write_audit(url: str, suite: Suite, rows: list[dict], run_id: str, batch_id: int | None,
                 gate_status: str | None, judged_against: int | None = None) -> None:
    with psycopg.connect(libpq_url(url)) as conn:
        with conn.cursor() as cur:
            cur.executemany(
                "insert into audit.validation_results (run_id, batch_id, suite, expectation,"
                " column_name, severity, success, observed_value, unexpected_count, element_count,"
                " judged_against) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [(run_id, batch_id, suite.name, r["entry"].audit_name, r["entry"].column_name,
                  r["entry"].severity, r["success"], r["observed_value"], r["unexpected_count"],
                  r["element_count"], judged_against) for r in rows],
            )
        if gate_status is not None:
            conn.execute("update audit.load_batches set gate_status = %s where batch_id = %s",
                         (gate_status, batch_id))
        conn.commit()


# --- Data Docs -------------------------------------------------------------------------------------

def _build_docs(context, suite: Suite, gx_result, run_id: str, batch_id: int | None) -> None:
    """Render the run's Data Docs from a scrubbed copy of the result (off the critical path)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from great_expectations.core.run_identifier import RunIdentifier
            from great_expectations.data_context.types.resource_identifiers import (
                ExpectationSuiteIdentifier,
                ValidationResultIdentifier,
            )

            run = RunIdentifier(run_name=run_id, run_time=datetime.now(UTC))
            clean = _scrubbed_copy(gx_result)
            clean.meta["run_id"] = run
            clean.meta["validation_time"] = run.run_time
            suite_id = ExpectationSuiteIdentifier(name=suite.name)
            result_id = ValidationResultIdentifier(
                suite_id, run, f"batch-{batch_id}" if batch_id is not None else "rows")
            context.validation_results_store.store_validation_results(
                suite_validation_result=clean, suite_validation_result_identifier=result_id,
                expectation_suite_identifier=suite_id)
            context.build_data_docs(site_names=["gate_docs"])
    except Exception as exc:  # noqa: BLE001 - docs never change a gate's outcome
        log.warning("gate %s: Data Docs not built: %s", suite.name, _scrub(str(exc)))


def _scrubbed_copy(gx_result):
    import copy

    clean = copy.deepcopy(gx_result)
    for res in clean.results:
        r = res.result or {}
        kept = {k: v for k, v in r.items() if k in _SAFE_RESULT_KEYS}
        if "observed_value" in kept and _number(kept["observed_value"]) is None:
            kept.pop("observed_value")
        res.result = kept
        error = _exception(res)
        res.exception_info = {"raised_exception": error is not None, "exception_message": error,
                              "exception_traceback": None}
    clean.meta = {k: v for k, v in (clean.meta or {}).items()
                  if k in ("great_expectations_version", "expectation_suite_name")}
    return clean
