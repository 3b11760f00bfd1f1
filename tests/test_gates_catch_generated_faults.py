"""Every row fault the generator injects is caught by the raw gate that should catch it (issue #5).

The loader quarantines bad rows, so a normal night's gates see none; the gates are the second line.
To prove that line holds, the test loads generated deliveries (fault profile `rows`), puts every
quarantined row back into its batch's partition exactly as delivered, gates each batch, and checks
that every (source, fault kind) in the generator's fault log (`_truth/faults.csv`, its ground truth)
made one of the expectations documented for it in expectations/README.md fail, as a `warn`.
"""

from __future__ import annotations

import csv
from datetime import date, timedelta

import psycopg
import pytest

from equity.contracts import CONTRACTS
from equity.gates import validate_raw_batch
from equity.load import load_delivery
from equity.paths import SHIPPED_REFERENCE_DIR
from equity.reference import load_reference
from equity.synth import generate
from equity.warehouse import bootstrap

START = date(2026, 11, 20)
DAYS = 3
S = "expect_column_values_to_satisfy_sql:"
NOT_NULL, IN_SET = "expect_column_values_to_not_be_null", "expect_column_values_to_be_in_set"
LENGTH, REGEX = "expect_column_value_lengths_to_equal", "expect_column_values_to_match_regex"
KEY = "expect_compound_key_to_be_unique"

# (source, fault kind) -> the expectations that catch it (any one failing is enough).
CAUGHT_BY = {
    ("enrolment", "blank_person_id"): {NOT_NULL, LENGTH, REGEX},
    ("enrolment", "invalid_person_id"): {S + "national_id_check_digit", LENGTH, REGEX},
    ("enrolment", "unknown_enum"): {IN_SET},
    ("enrolment", "invalid_date"): {S + "birth_date_exists", S + "status_date_exists"},
    ("enrolment", "birth_in_future"): {S + "birth_date_not_in_future"},
    ("enrolment", "age_out_of_range"): {S + "age_0_to_24_at_extract"},
    ("enrolment", "unknown_code"): {S + "school_subdistrict_in_reference", S + "home_subdistrict_in_reference",
                                    LENGTH, REGEX},
    ("enrolment", "duplicate_row"): {KEY},
    ("enrolment", "conflicting_key"): {KEY},
    ("welfare", "blank_person_id"): {NOT_NULL, LENGTH, REGEX},
    ("welfare", "invalid_person_id"): {S + "national_id_check_digit", LENGTH, REGEX},
    ("welfare", "unknown_enum"): {IN_SET},
    ("welfare", "negative_income"): {REGEX},
    ("welfare", "invalid_household_size"): {REGEX},
    ("welfare", "duplicate_row"): {"expect_column_values_to_be_unique"},
    ("welfare", "conflicting_key"): {"expect_column_values_to_be_unique"},
    ("registry", "blank_person_id"): {NOT_NULL, LENGTH, REGEX},
    ("registry", "gcode_in_registry"): {REGEX},
    ("registry", "invalid_person_id"): {S + "national_id_check_digit", LENGTH, REGEX},
    ("registry", "unknown_enum"): {IN_SET, REGEX},
    ("registry", "invalid_date"): {S + "birth_date_exists", S + "event_date_exists"},
    ("registry", "birth_in_future"): {S + "age_0_to_24_at_extract"},
    ("registry", "age_out_of_range"): {S + "age_0_to_24_at_extract"},
    ("registry", "unknown_code"): {S + "lao_in_reference", S + "subdistrict_in_reference", LENGTH, REGEX},
    ("registry", "duplicate_row"): {KEY},
    ("registry", "conflicting_key"): {KEY},
}


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    out = tmp_path_factory.mktemp("faults")
    generate(out, persons=4000, start=START, days=DAYS, seed=7, faults="rows")
    return out


@pytest.fixture
def url(warehouse):
    bootstrap(warehouse)
    load_reference(warehouse, SHIPPED_REFERENCE_DIR)
    return warehouse


def _put_back(url: str, source: str, batch_id: int) -> int:
    """Quarantined rows of the batch back into its partition, as delivered; returns how many."""
    contract = CONTRACTS[source]
    cols = ", ".join(contract.columns)
    values = ", ".join(f"original->>'{c}'" for c in contract.columns)
    with psycopg.connect(url) as conn:
        return conn.execute(
            f"insert into raw.{contract.raw_table}_b{batch_id} (_batch_id, _file, _line, {cols})"
            f" select _batch_id, _file, _line, {values} from quarantine.{source}_rejects where _batch_id = %s",
            (batch_id,)).rowcount


@pytest.mark.parametrize("server", ["system"], indirect=True)
def test_every_generated_row_fault_is_caught_by_its_gate(url, landing, server):
    with open(landing / "_truth" / "faults.csv", encoding="utf-8", newline="") as f:
        log = list(csv.DictReader(f))
    kinds = {(r["source"], r["kind"]) for r in log}
    assert len(kinds) >= 18, sorted(kinds)  # the sample exercises (nearly) every kind
    assert kinds <= set(CAUGHT_BY), kinds - set(CAUGHT_BY)

    failed: dict[tuple[str, str], set[str]] = {}
    for day in (START + timedelta(days=i) for i in range(DAYS)):
        for source in ("enrolment", "welfare", "registry"):
            out = load_delivery(url, str(landing), source, day, "faults")
            assert out.status == "loaded", out
            expected = sum(1 for r in log if r["source"] == source and r["extract_date"] == day.isoformat())
            put_back = _put_back(url, source, out.batch_id)
            assert put_back == out.rejected and put_back >= expected
            outcome = validate_raw_batch(url, source, out.batch_id, "faults")
            assert all(f.severity == "warn" for f in outcome.failures), outcome.failures  # a few rows: warn
            failed.setdefault((source, day.isoformat()), set()).update(f.expectation for f in outcome.failures)

    missed = {(r["source"], r["extract_date"], r["kind"]) for r in log
              if not CAUGHT_BY[(r["source"], r["kind"])] & failed[(r["source"], r["extract_date"])]}
    assert not missed, f"faults no gate caught: {sorted(missed)}"
