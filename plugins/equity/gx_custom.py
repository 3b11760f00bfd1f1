"""The project's own Great Expectations expectations, for checks GX has no cheap SQL form of.

1. A row condition written in SQL, judged in the same pass as the suite's other column checks:

    - expectation: expect_column_values_to_satisfy_sql
      label: birth_date_exists
      kwargs: {column: birth_date, condition: "<SQL, true for a good row>"}

GX's stock answer for checks its vocabulary lacks (check digits, dates that exist, codes found in
a reference table) is `unexpected_rows_expectation`: a query of its own, so one more scan of the
batch per check. This one is a column *map* expectation instead, so its unexpected count is one
more `sum(case ...)` in the single aggregate query GX sends for every map check of the suite
(docs/benchmarks.md, "Validation"). Like every map check, a null value in `column` is not judged
(a not-null expectation covers it); the condition may read any column of the row and reference
tables in subqueries. SQL engines only: the pandas engine has no way to run it.

2. `expect_compound_key_to_be_unique` (kwargs `column_list`, `mostly`): the rows whose key occurs more
than once, from one hash aggregate. GX's `expect_compound_columns_to_be_unique` joins the batch
back to its grouped counts (a second pass over every row and a hash join the size of the batch);
this asks only for the total of the repeated groups. Rows with a null key part are never
duplicates (SQL equality), as in GX's join.

Importing this module registers both with GX (equity.gates does before building a suite).
"""

from __future__ import annotations

from typing import ClassVar

from great_expectations.core.metric_domain_types import MetricDomainTypes
from great_expectations.execution_engine import SqlAlchemyExecutionEngine
from great_expectations.expectations.expectation import BatchExpectation, ColumnMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    column_condition_partial,
)
from great_expectations.expectations.metrics.metric_provider import metric_value
from great_expectations.expectations.metrics.table_metric_provider import TableMetricProvider

METRIC = "column_values.equity_satisfy_sql"


class ColumnValuesSatisfySql(ColumnMapMetricProvider):
    condition_metric_name = METRIC
    condition_value_keys = ("condition",)

    @column_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column, condition, **kwargs):
        import sqlalchemy as sa

        # Trusted text from a reviewed suite file, never from a delivery. A null result counts as
        # unexpected (coalesce), so a condition cannot pass a row by evaluating to unknown.
        return sa.literal_column(f"coalesce(({condition}), false)", type_=sa.Boolean)


class ExpectColumnValuesToSatisfySql(ColumnMapExpectation):
    """Expect every non-null value's row to satisfy a SQL condition (true = good row)."""

    condition: str
    map_metric = METRIC
    success_keys = ("condition", "mostly")
    args_keys = ("column", "condition")

    class Config:
        title = "Expect column values to satisfy a SQL condition"


DUPLICATE_ROWS = "equity.compound_key.duplicate_rows"


class CompoundKeyDuplicateRows(TableMetricProvider):
    metric_name = DUPLICATE_ROWS
    value_keys = ("column_list",)

    @metric_value(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, execution_engine, metric_domain_kwargs, metric_value_kwargs, metrics,
                    runtime_configuration):
        import sqlalchemy as sa

        selectable, _, _ = execution_engine.get_compute_domain(metric_domain_kwargs,
                                                               domain_type=MetricDomainTypes.TABLE)
        columns = [sa.column(c) for c in metric_value_kwargs["column_list"]]
        groups = (sa.select(sa.func.count().label("n")).select_from(selectable)
                  .where(sa.and_(*(c.is_not(None) for c in columns)))
                  .group_by(*columns).having(sa.func.count() > 1).subquery("repeated_keys"))
        query = sa.select(sa.func.coalesce(sa.func.sum(groups.c.n), 0))
        return int(execution_engine.execute_query(query).scalar())


class ExpectCompoundKeyToBeUnique(BatchExpectation):
    """Expect no two rows to share a key (the columns together); `mostly` allows a share of rows
    in repeated keys."""

    column_list: list[str]
    mostly: float = 1.0
    metric_dependencies: ClassVar[tuple[str, ...]] = (DUPLICATE_ROWS, "table.row_count")
    success_keys: ClassVar[tuple[str, ...]] = ("column_list", "mostly")
    domain_keys: ClassVar[tuple[str, ...]] = ("batch_id", "row_condition", "condition_parser")

    class Config:
        title = "Expect a compound key to be unique"

    def _validate(self, metrics, runtime_configuration=None, execution_engine=None):
        repeated, rows = metrics[DUPLICATE_ROWS], metrics["table.row_count"]
        share = repeated / rows if rows else 0.0
        return {"success": 1.0 - share >= self.mostly,
                "result": {"observed_value": repeated, "element_count": rows, "unexpected_count": repeated,
                           "unexpected_percent": 100.0 * share}}
