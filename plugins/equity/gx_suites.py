"""Suite files (expectations/**/*.yml): parse and check them, without importing Great Expectations.

A suite file is reviewable YAML; expectations/README.md describes the format. This module only
reads and checks the file's shape, so that a DAG file can import the gate's vocabulary for
free; turning entries into GX objects (and so checking each name against GX's registry and each
kwargs against the expectation's model) is `equity.gates.build_expectations`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import yaml

SEVERITIES = ("block", "warn")

# Keys the gate sets itself: a suite file may not override them (PDPA: result_format decides
# whether GX fetches values; catch_exceptions keeps one broken check from hiding the others).
RESERVED_KWARGS = frozenset({"result_format", "catch_exceptions", "meta", "severity", "id", "notes",
                             "description", "rendered_content", "include_config"})
ENTRY_KEYS = frozenset({"expectation", "kwargs", "severity", "why", "label", "column"})
SUITE_KEYS = frozenset({"suite", "relation", "description", "expectations"})
CUSTOM_SQL = "unexpected_rows_expectation"
# The project's row-condition check (equity.gx_custom): judged inside the suite's one aggregate scan.
SATISFY_SQL = "expect_column_values_to_satisfy_sql"
# `{name}` placeholders a condition may use; the gate fills them for the batch it judges.
# Policy numbers (dbt_project.yml vars, equity.policy) a mart condition may name are filled by the mart gate.
POLICY_PLACEHOLDERS = frozenset({"oos_jump_min_children", "oos_jump_tolerance"})
# Every real day of a span, written as a delivery writes dates, as a subquery: `d in {dates_iso}` is one
# hash probe a row (the set is built once per query), where taking the text apart to check month and
# day costs a dozen function calls. A condition keeps its full check after `or` for values outside the
# span, so the result is the same; the set only answers the common case fast.
CALENDARS = {
    # ISO yyyy-mm-dd, 1900-2100
    "dates_iso": "(select to_char(d, 'YYYY-MM-DD') from generate_series(date '1900-01-01', date '2100-12-31',"
                 " interval '1 day') as d)",
    # Buddhist Era dd/mm/yyyy and yyyymmdd, BE 2500-2599 (1957-2056)
    "dates_be_dmy": "(select to_char(d, 'DD/MM/') || (extract(year from d)::int + 543)::text"
                    " from generate_series(date '1957-01-01', date '2056-12-31', interval '1 day') as d)",
    "dates_be_ymd": "(select (extract(year from d)::int + 543)::text || to_char(d, 'MMDD')"
                    " from generate_series(date '1957-01-01', date '2056-12-31', interval '1 day') as d)",
}
CONDITION_PLACEHOLDERS = frozenset({"schema", "extract_be_ymd"} | set(CALENDARS)) | POLICY_PLACEHOLDERS
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_CAMEL_1 = re.compile(r"(.)([A-Z][a-z]+)")
_CAMEL_2 = re.compile(r"([a-z0-9])([A-Z])")
_LABEL = re.compile(r"^[a-z][a-z0-9_]*$")
# Column-aggregate expectations report an observed value computed from the column (its min, max,
# most common value...). On an identifier or a name that value is personal: refused outright.
_AGGREGATE = re.compile(
    r"^expect_column_(?!values_to|value_lengths_to|pair_|to_exist|type_|proportion_of|unique_value_count)")
_PERSONAL_COLUMN = re.compile(r"(^|_)(id|pid|key|name|code)$")


class SuiteError(ValueError):
    """A suite file that does not follow the format (message names the file and the entry)."""


def expectation_name(name: str) -> str:
    """GX's registry name (snake_case) for a name written either way in a suite file."""
    if name[:1].isupper():
        return _CAMEL_2.sub(r"\1_\2", _CAMEL_1.sub(r"\1_\2", name)).lower()
    return name


@dataclass(frozen=True)
class SuiteEntry:
    expectation: str  # GX registry name, snake_case (normalised from CamelCase if written so)
    kwargs: dict[str, Any]
    severity: str  # block | warn
    why: str
    label: str | None = None  # names a custom-SQL check; audit shows "<expectation>:<label>"
    column: str | None = None  # column a custom-SQL check is about (audit column_name)

    @property
    def audit_name(self) -> str:
        return f"{self.expectation}:{self.label}" if self.label else self.expectation

    @property
    def column_name(self) -> str | None:
        """The column(s) this entry is about, as audit.validation_results.column_name shows them."""
        if self.column:
            return self.column
        kw = self.kwargs
        if isinstance(kw.get("column"), str):
            return kw["column"]
        if "column_list" in kw:
            return ",".join(kw["column_list"])
        if "column_A" in kw and "column_B" in kw:
            return f"{kw['column_A']},{kw['column_B']}"
        return None

    @property
    def parameters(self) -> set[str]:
        """Names of the `{$PARAMETER: name}` values this entry needs at validation time."""
        return {v["$PARAMETER"] for v in self.kwargs.values()
                if isinstance(v, dict) and set(v) == {"$PARAMETER"}}


@dataclass(frozen=True)
class Suite:
    name: str
    entries: tuple[SuiteEntry, ...]
    relation: str | None = None
    description: str | None = None
    path: Path | None = field(default=None, compare=False)

    @property
    def parameters(self) -> set[str]:
        return set().union(*(e.parameters for e in self.entries)) if self.entries else set()


def load_suite(path: str | Path) -> Suite:
    """Read and check one suite file. Raises SuiteError on anything outside the format."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SuiteError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise SuiteError(f"{path}: a suite file is a mapping with `suite` and `expectations`")
    unknown = set(doc) - SUITE_KEYS
    if unknown:
        raise SuiteError(f"{path}: unknown top-level keys {sorted(unknown)}")
    name = doc.get("suite")
    if not isinstance(name, str) or not name:
        raise SuiteError(f"{path}: `suite` (the suite's name) is required")
    raw_entries = doc.get("expectations")
    if not isinstance(raw_entries, list) or not raw_entries:
        raise SuiteError(f"{path}: `expectations` must be a non-empty list")
    entries = tuple(_entry(path, i, e) for i, e in enumerate(raw_entries, 1))
    seen: dict[tuple, int] = {}
    for i, e in enumerate(entries, 1):
        key = (e.expectation, yaml.safe_dump(e.kwargs, sort_keys=True), e.severity)
        if key in seen:
            raise SuiteError(f"{path}: entry {i} repeats entry {seen[key]}")
        seen[key] = i
    return Suite(name=name, entries=entries, relation=doc.get("relation"),
                 description=doc.get("description"), path=path)


def _entry(path: Path, i: int, raw: Any) -> SuiteEntry:
    where = f"{path}: entry {i}"
    if not isinstance(raw, dict):
        raise SuiteError(f"{where}: must be a mapping")
    unknown = set(raw) - ENTRY_KEYS
    if unknown:
        raise SuiteError(f"{where}: unknown keys {sorted(unknown)}")
    name = raw.get("expectation")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
        raise SuiteError(f"{where}: `expectation` must be a GX expectation class name")
    name = expectation_name(name)
    kwargs = raw.get("kwargs") or {}
    if not isinstance(kwargs, dict):
        raise SuiteError(f"{where} ({name}): `kwargs` must be a mapping")
    reserved = set(kwargs) & RESERVED_KWARGS
    if reserved:
        raise SuiteError(f"{where} ({name}): the gate sets {sorted(reserved)} itself")
    for key in ("value_set",):
        if any(isinstance(v, bool) for v in kwargs.get(key) or ()):
            raise SuiteError(f"{where} ({name}): {key} holds a YAML boolean; quote yes/no/true/false")
    column_kw = kwargs.get("column")
    if isinstance(column_kw, str) and _AGGREGATE.match(name) and _PERSONAL_COLUMN.search(column_kw):
        raise SuiteError(f"{where} ({name}): an aggregate of {column_kw!r} could report a personal value")
    severity = raw.get("severity")
    if severity not in SEVERITIES:
        raise SuiteError(f"{where} ({name}): `severity` must be one of {SEVERITIES}")
    why = raw.get("why")
    if not isinstance(why, str) or not why.strip() or "\n" in why.strip():
        raise SuiteError(f"{where} ({name}): `why` must be one line")
    label = raw.get("label")
    if label is not None and not (isinstance(label, str) and _LABEL.match(label)):
        raise SuiteError(f"{where} ({name}): `label` must be snake_case")
    column = raw.get("column")
    if column is not None and not isinstance(column, str):
        raise SuiteError(f"{where} ({name}): `column` must be a column name")
    if name == CUSTOM_SQL:
        if not label:
            raise SuiteError(f"{where}: a custom SQL check needs a `label`")
        query = kwargs.get("unexpected_rows_query")
        if not isinstance(query, str) or "{batch}" not in query:
            raise SuiteError(f"{where} ({label}): `unexpected_rows_query` must select from {{batch}}")
        try:
            query.format(batch="b", schema="s")
        except (KeyError, IndexError, ValueError) as exc:
            raise SuiteError(f"{where} ({label}): braces other than {{batch}} and {{schema}} must be doubled:"
                             f" {exc}") from None
    if name == SATISFY_SQL:
        if not label:
            raise SuiteError(f"{where}: a SQL condition check needs a `label`")
        condition = kwargs.get("condition")
        if not isinstance(condition, str) or not condition.strip() or not isinstance(kwargs.get("column"), str):
            raise SuiteError(f"{where} ({label}): needs kwargs `column` and `condition` (SQL, true for a good row)")
        unknown = set(_PLACEHOLDER.findall(condition)) - CONDITION_PLACEHOLDERS
        if unknown:
            raise SuiteError(f"{where} ({label}): unknown placeholders {sorted(unknown)};"
                             f" one of {sorted(CONDITION_PLACEHOLDERS)}")
        if "%" in condition:  # SQLAlchemy would pass it to the driver as a parameter marker
            raise SuiteError(f"{where} ({label}): write mod(a, b), not a % b, in a condition")
    return SuiteEntry(expectation=name, kwargs=kwargs, severity=severity, why=why.strip(),
                      label=label, column=column)


def bind_schema(suite: Suite, schema: str) -> Suite:
    """The suite with `{schema}` in its custom SQL replaced by `schema` (a plain identifier): a mart's
    suite can then compare its rows with the other marts built beside it (level reconciliation)."""
    if not re.match(r"^[a-z_][a-z0-9_]*$", schema):
        raise ValueError(f"not a plain identifier: {schema!r}")
    return _bind(suite, {"schema": f'"{schema}"'})


def bind_extract_date(suite: Suite, day: date) -> Suite:
    """The suite with `{extract_be_ymd}` in its conditions filled for a batch extracted on `day`
    (Buddhist-Era YYYYMMDD, as the registry writes dates)."""
    return _bind(suite, {"extract_be_ymd": f"{day.year + 543:04d}{day.month:02d}{day.day:02d}"})


def bind_calendars(suite: Suite) -> Suite:
    """The suite with its `{dates_iso}`-style placeholders filled with the CALENDARS subqueries."""
    return _bind(suite, CALENDARS)


def bind_policy(suite: Suite, policy: dict[str, Any]) -> Suite:
    """The suite with its conditions' policy placeholders (`{oos_jump_tolerance}`…) filled from `policy`."""
    return _bind(suite, {name: str(policy[name]) for name in POLICY_PLACEHOLDERS if name in policy})


def _bind(suite: Suite, values: dict[str, str]) -> Suite:
    entries = []
    for e in suite.entries:
        for key in ("unexpected_rows_query", "condition"):
            text = e.kwargs.get(key)
            if isinstance(text, str) and any(f"{{{name}}}" in text for name in values):
                for name, value in values.items():
                    text = text.replace(f"{{{name}}}", value)
                e = replace(e, kwargs={**e.kwargs, key: text})
        entries.append(e)
    return replace(suite, entries=tuple(entries))

