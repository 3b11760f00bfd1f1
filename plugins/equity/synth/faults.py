"""Delivery faults: every fault of EXTRACTS.md "Faults that real deliveries contain", each at its own
rate, injected into the deliveries and logged in `_truth/faults.csv`.

Two families (names = `equity.contracts.REJECT_REASONS` / `DELIVERY_FAULTS`):

- row faults: the loader rejects the row into quarantine with the same reason name. Value faults
  *replace* a real row by a corrupted version of it (the record is lost for that delivery: the
  truth does not load it); `duplicate_row` and `gcode_in_registry` *add* a row (the truth is
  unchanged: the first copy stands / the G-code row never counts); `conflicting_key` adds a copy
  of a real row with one non-key value changed, and both rows are rejected (the truth does not load
  the record).
- delivery faults: the whole (source, extract_date) delivery is refused (or, for
  `manifest_missing`, never seen). The truth loads nothing from it. Never on the first day (the
  `full` / first `snapshot` deliveries). Welfare and registry re-deliver the refused day's rows in
  their next delta, as an agency does once told (see `generate`).

Faults use their own random stream (seeded from the run's seed), so the simulated world of a
`default` run is the very world of the `clean` run with the same seed.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from equity.contracts import CONTRACTS, DELIVERY_FAULTS, REJECT_REASONS, SOURCES, is_valid_national_id

ALL = SOURCES
# Row faults, in the loader's reason order, and the sources each applies to.
ROW_FAULT_SOURCES: dict[str, tuple[str, ...]] = {
    "blank_person_id": ALL,
    "gcode_in_registry": ("registry",),
    "invalid_person_id": ALL,
    "unknown_enum": ALL,
    "invalid_date": ("enrolment", "registry"),      # welfare dates are Parquet date32: always real
    "birth_in_future": ("enrolment", "registry"),
    "age_out_of_range": ("enrolment", "registry"),
    "negative_income": ("welfare",),
    "invalid_household_size": ("welfare",),
    "unknown_code": ("enrolment", "registry"),
    "duplicate_row": ALL,
    "conflicting_key": ALL,
}
ROW_FAULTS = tuple(ROW_FAULT_SOURCES)
# Delivery faults the generator injects (manifest_malformed is the loader's, not an EXTRACTS fault).
DELIVERY_FAULT_SOURCES: dict[str, tuple[str, ...]] = {
    "sha256": ALL,
    "row_count": ALL,
    "encoding": ("enrolment",),  # registry files are pure ASCII, welfare is Parquet (no encoding)
    "header": ALL,
    "manifest_missing": ALL,
}
DELIVERY_FAULT_KINDS = tuple(DELIVERY_FAULT_SOURCES)
FAULT_KINDS = ROW_FAULTS + DELIVERY_FAULT_KINDS
assert set(ROW_FAULTS) <= set(REJECT_REASONS)
assert set(DELIVERY_FAULT_KINDS) <= set(DELIVERY_FAULTS)
FAULT_LOG_COLUMNS = ("source", "extract_date", "file", "line", "kind")


@dataclass(frozen=True)
class FaultProfile:
    """Rates of every fault kind.

    `row_rates[kind]`: probability per delivered row (of a source the kind applies to) that the row
    carries that fault. `delivery_rates[kind]`: probability per delivery after the first day.
    `min_per_kind`: floor per run for every kind (placed on random eligible deliveries), so that a
    small run still shows each kind. Kinds left out have rate 0.
    """
    name: str = "clean"
    row_rates: Mapping[str, float] = field(default_factory=dict)
    delivery_rates: Mapping[str, float] = field(default_factory=dict)
    min_per_kind: int = 0

    def __post_init__(self) -> None:
        unknown = (set(self.row_rates) - set(ROW_FAULTS)) | (set(self.delivery_rates)
                                                              - set(DELIVERY_FAULT_KINDS))
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {FAULT_KINDS}")

    @property
    def active(self) -> bool:
        return self.min_per_kind > 0 or any(self.row_rates.values()) or any(
            self.delivery_rates.values())

    def kinds(self) -> tuple[str, ...]:
        """Kinds this profile can inject."""
        return tuple(k for k in FAULT_KINDS if self.min_per_kind > 0 or
                     self.row_rates.get(k, 0) > 0 or self.delivery_rates.get(k, 0) > 0)


DEFAULT_ROW_RATE = 0.0005       # per row and kind: 0.6 % of rows carry some row fault
DEFAULT_DELIVERY_RATE = 0.01    # per delivery and kind
FAULT_PROFILES: dict[str, FaultProfile] = {
    "clean": FaultProfile("clean"),
    "default": FaultProfile(
        "default",
        row_rates={k: DEFAULT_ROW_RATE for k in ROW_FAULTS},
        delivery_rates={k: DEFAULT_DELIVERY_RATE for k in DELIVERY_FAULT_KINDS},
        min_per_kind=1,
    ),
    # Row faults at the default rate but every delivery intact: the quarantine path runs each night
    # while every night stays an ordinary one (the benchmarks' profile).
    "rows": FaultProfile("rows", row_rates={k: DEFAULT_ROW_RATE for k in ROW_FAULTS}),
}


def fault_profile(faults: str | FaultProfile) -> FaultProfile:
    if isinstance(faults, FaultProfile):
        return faults
    try:
        return FAULT_PROFILES[faults]
    except KeyError:
        raise ValueError(f"unknown fault profile {faults!r}: choose one of {sorted(FAULT_PROFILES)} "
                         "or pass an equity.synth.FaultProfile") from None


# --- the plan of one delivery's row faults ------------------------------------------------------

@dataclass
class RowPlan:
    """Sparse overlay on a delivery's records (by index in delivery order)."""
    replace: dict[int, tuple[str, list]] = field(default_factory=dict)   # idx -> (kind, values)
    extra: dict[int, list[tuple[str, list]]] = field(default_factory=dict)  # rows after idx
    mark: dict[int, str] = field(default_factory=dict)   # the real row itself is logged (conflicts)
    lost: set[int] = field(default_factory=set)          # records the loader will not load

    def survivors(self, records: Sequence) -> list:
        if not self.lost:
            return list(records)
        return [r for i, r in enumerate(records) if i not in self.lost]


EMPTY_PLAN = RowPlan()

# column positions
_COL = {s: {c: i for i, c in enumerate(CONTRACTS[s].columns)} for s in SOURCES}
_PID = {"enrolment": "person_id", "welfare": "person_id", "registry": "pid"}
_BAD_ENUMS = {
    "enrolment": (("status", "SUSPENDED"), ("grade", "P7"), ("affiliation", "MOE"), ("sex", "X")),
    "welfare": (("caregiver", "FOSTER"), ("housing", "CONDO"), ("vehicle", "BOAT"),
                ("action", "MERGE")),
    "registry": (("event", "ADOPTION"),),
}
_BAD_DAY_MONTH = ((30, 2), (31, 2), (31, 4), (31, 6), (31, 9), (31, 11))


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 50:
        return max(0, round(rng.gauss(lam, lam ** 0.5)))
    n, prod, limit = 0, rng.random(), math.exp(-lam)
    while prod > limit:
        n += 1
        prod *= rng.random()
    return n


class FaultInjector:
    """Plans and applies the faults of one run. Deterministic from (profile, seed)."""

    def __init__(self, profile: FaultProfile, seed: int, days: int, reference):
        self.profile = profile
        self.rng = random.Random(f"equity-faults-{seed}")
        self.ref = reference
        self.days = days
        self.refused: dict[tuple[str, int], str] = {}
        self.floor: Counter[tuple[str, int, str]] = Counter()
        self.owed: Counter[str] = Counter()  # floor placements that found no eligible row yet
        self.counts: Counter[str] = Counter()
        self.details: list[dict] = []
        if profile.active:
            self._plan_deliveries()
            self._plan_row_floors()

    # --- planning ----------------------------------------------------------------------------
    def _plan_deliveries(self) -> None:
        p, rng = self.profile, self.rng
        free = {(s, i) for i in range(1, self.days) for s in SOURCES}
        for kind in ("encoding",) + tuple(k for k in DELIVERY_FAULT_KINDS if k != "encoding"):
            rate = p.delivery_rates.get(kind, 0.0)
            slots = sorted(slot for slot in free if slot[0] in DELIVERY_FAULT_SOURCES[kind])
            n = sum(rng.random() < rate for _ in slots) if rate else 0
            n = min(len(slots), max(n, p.min_per_kind))
            for slot in rng.sample(slots, n):
                self.refused[slot] = kind
                free.discard(slot)

    def _plan_row_floors(self) -> None:
        for kind in ROW_FAULTS:
            slots = [(s, i) for i in range(self.days) for s in ROW_FAULT_SOURCES[kind]
                     if (s, i) not in self.refused]
            for _ in range(self.profile.min_per_kind if slots else 0):
                s, i = self.rng.choice(slots)
                self.floor[(s, i, kind)] += 1

    def delivery_fault(self, source: str, day: int) -> str | None:
        return self.refused.get((source, day))

    # --- row faults --------------------------------------------------------------------------
    def row_plan(self, source: str, day: int, extract_date: date, records: Sequence, fmt) -> RowPlan:
        """Which rows of this (accepted) delivery carry which fault. `fmt(record)` -> values."""
        p = self.profile
        if not p.active:
            return EMPTY_PLAN
        plan = RowPlan()
        taken: set[int] = set()
        n_rows = len(records)
        for kind in ROW_FAULTS:
            if source not in ROW_FAULT_SOURCES[kind]:
                continue
            n = _poisson(self.rng, p.row_rates.get(kind, 0.0) * n_rows)
            n += self.floor.pop((source, day, kind), 0) + self.owed.pop(kind, 0)
            for _ in range(n):
                if not self._inject(plan, taken, kind, source, extract_date, records, fmt):
                    self.owed[kind] += 1
        return plan

    def _pick(self, taken: set[int], records: Sequence, accept=None) -> int | None:
        if not records:
            return None
        for _ in range(200):
            i = self.rng.randrange(len(records))
            if i not in taken and (accept is None or accept(records[i])):
                taken.add(i)
                return i
        return None

    def _inject(self, plan: RowPlan, taken: set[int], kind: str, source: str, d: date,
                records: Sequence, fmt) -> bool:
        rng, col = self.rng, _COL[source]
        accept = None
        if kind == "invalid_person_id":
            attr = _PID[source]
            def accept(r, attr=attr):
                return is_valid_national_id(getattr(r, attr))
        i = self._pick(taken, records, accept)
        if i is None:
            return False
        values = list(fmt(records[i]))
        self.counts[kind] += 1
        if kind == "duplicate_row":
            plan.extra.setdefault(i, []).append((kind, values))
            return True
        if kind == "gcode_in_registry":  # a G-code pupil's row sent by the registry: an extra row
            values[col["pid"]] = "G" + values[col["subdistrict_code"]][:2] + \
                f"{rng.randrange(10**10):010d}"
            plan.extra.setdefault(i, []).append((kind, values))
            return True
        if kind == "conflicting_key":
            other = list(values)
            if source == "enrolment":
                other[col["days_absent"]] = int(values[col["days_absent"]]) + 1
            elif source == "welfare":
                other[col["household_income_month"]] = values[col["household_income_month"]] + 100
            else:
                h = values[col["house_id"]]
                other[col["house_id"]] = h[:4] + f"{(int(h[4:]) + 1) % 10**7:07d}"
            plan.mark[i] = kind
            plan.extra.setdefault(i, []).append((kind, other))
            plan.lost.add(i)
            return True
        self._corrupt(kind, source, d, values)
        plan.replace[i] = (kind, values)
        plan.lost.add(i)
        return True

    def _corrupt(self, kind: str, source: str, d: date, v: list) -> None:
        rng, col = self.rng, _COL[source]
        pid = col[_PID[source]]
        if kind == "blank_person_id":
            v[pid] = None if source == "welfare" else ""
        elif kind == "invalid_person_id":
            old = v[pid]
            v[pid] = old[:12] + str((int(old[12]) + rng.randint(1, 9)) % 10)
        elif kind == "unknown_enum":
            name, bad = rng.choice(_BAD_ENUMS[source])
            v[col[name]] = bad
        elif kind == "invalid_date":
            dd, mm = rng.choice(_BAD_DAY_MONTH)
            if source == "enrolment":
                if rng.random() < 0.5:
                    v[col["birth_date"]] = f"{dd:02d}/{mm:02d}/{v[col['birth_date']][-4:]}"
                else:
                    v[col["status_date"]] = f"{v[col['status_date']][:4]}-{mm:02d}-{dd:02d}"
            else:
                name = rng.choice(("birth_date", "event_date"))
                v[col[name]] = f"{v[col[name]][:4]}{mm:02d}{dd:02d}"
        elif kind in ("birth_in_future", "age_out_of_range"):
            if kind == "birth_in_future":
                born = d + timedelta(days=rng.randint(1, 400))
            else:
                born = date(d.year - rng.randint(26, 60), rng.randint(1, 12), rng.randint(1, 28))
            be = born.year + 543
            if source == "enrolment":
                v[col["birth_date"]] = f"{born.day:02d}/{born.month:02d}/{be:04d}"
            else:
                v[col["birth_date"]] = f"{be:04d}{born.month:02d}{born.day:02d}"
        elif kind == "negative_income":
            income = v[col["household_income_month"]]
            v[col["household_income_month"]] = -income if income > 0 else Decimal("-1500.00")
        elif kind == "invalid_household_size":
            v[col["household_size"]] = 0
        elif kind == "unknown_code":
            if source == "enrolment":
                name = rng.choice(("home_subdistrict_code", "school_subdistrict_code"))
                v[col[name]] = self._absent_subdistrict(v[col[name]])
            elif rng.random() < 0.5:
                v[col["subdistrict_code"]] = self._absent_subdistrict(v[col["subdistrict_code"]])
            else:
                v[col["lao_code"]] = self._absent_lao(v[col["lao_code"]])
        else:  # pragma: no cover
            raise AssertionError(kind)

    def _absent_subdistrict(self, sub: str) -> str:
        for n in range(99, 0, -1):
            code = f"{sub[:4]}{n:02d}"
            if code not in self.ref.subdistricts:
                return code
        return "990101"

    def _absent_lao(self, lao: str) -> str:
        for first in "9876":
            code = first + lao[1:]
            if code not in self.ref.laos:
                return code
        return "9990101"

    # --- delivery faults ---------------------------------------------------------------------
    def apply_delivery_fault(self, kind: str, source: str, d: date, folder: Path,
                             files: list[dict]) -> str | None:
        """Alter the written files / manifest entries of a delivery. Returns the file named in the
        fault log ("_manifest.json" for manifest_missing), or None when it could not be applied."""
        from equity.synth.writers import sha256_of

        rng = self.rng
        fmt = CONTRACTS[source].file_format
        detail = ""
        if kind == "manifest_missing":
            self._record(kind, source, d, "_manifest.json", "no _manifest.json written")
            return "_manifest.json"
        if kind == "encoding":
            target = None
            for f in sorted(files, key=lambda f: (f["encoding"] != "windows-874", f["name"])):
                other = "utf-8" if f["encoding"] == "windows-874" else "windows-874"
                try:
                    (folder / f["name"]).read_bytes().decode("utf-8" if other == "utf-8" else "cp874")
                except UnicodeDecodeError:
                    target = f
                    detail = f"{f['encoding']} file declared {other}"
                    f["encoding"] = other
                    break
            if target is None:
                return None
            self._record(kind, source, d, target["name"], detail)
            return target["name"]
        f = rng.choice(files)
        path = folder / f["name"]
        if kind == "sha256":
            data = bytearray(path.read_bytes())
            if fmt == "parquet":
                pos = len(data) // 2
                data[pos] ^= 0x01
                detail = f"byte {pos} flipped"
            else:
                pos = _last_alnum(data)
                c = data[pos]
                data[pos] = (c - 47) % 10 + 48 if 48 <= c <= 57 else (c - 96) % 26 + 97 if 97 <= c <= 122 \
                    else (c - 64) % 26 + 65
                detail = f"byte {pos} changed"
            path.write_bytes(bytes(data))  # the manifest keeps the sha256 of the original
        elif kind == "row_count":
            if fmt == "parquet":
                import pyarrow.parquet as pq
                table = pq.read_table(path)
                cut = min(table.num_rows, rng.randint(1, 3))
                if cut:
                    pq.write_table(table.slice(0, table.num_rows - cut), path)
            else:
                data = path.read_bytes()
                lines = data.splitlines(keepends=True)
                cut = min(len(lines) - 1, rng.randint(1, 3))
                if cut:
                    path.write_bytes(b"".join(lines[:-cut]))
            if not cut:  # an empty file: declare a row that never came
                f["rows"] += 1
                cut = 1
            detail = f"{cut} row(s) missing at the end (declared {f['rows']})"
            f["sha256"] = sha256_of(path)
        elif kind == "header":
            columns = list(CONTRACTS[source].columns)
            variant = rng.choice(("renamed", "missing", "extra"))
            if variant == "renamed":
                pos = rng.randrange(1, len(columns))
                new = columns[pos] + "_x"
                detail = f"renamed column {columns[pos]} -> {new}"
            elif variant == "missing":
                detail = f"missing column {columns[-1]}"
            else:
                detail = "extra column remark"
            if fmt == "parquet":
                import pyarrow as pa
                import pyarrow.parquet as pq
                table = pq.read_table(path)
                if variant == "renamed":
                    table = table.rename_columns([new if i == pos else c for i, c in enumerate(columns)])
                elif variant == "missing":
                    table = table.drop_columns([columns[-1]])
                else:
                    table = table.append_column("remark", pa.nulls(table.num_rows, pa.string()))
                pq.write_table(table, path)
            else:
                sep = b"|" if fmt == "pipe" else b","
                out = []
                for n, line in enumerate(path.read_bytes().splitlines(keepends=True)):
                    body = line.rstrip(b"\r\n")
                    eol = line[len(body):]
                    if n == 0:
                        bom = b"\xef\xbb\xbf" if body.startswith(b"\xef\xbb\xbf") else b""
                        names = body[len(bom):].split(sep)
                        if variant == "renamed":
                            names[pos] = new.encode()
                        elif variant == "missing":
                            names.pop()
                        else:
                            names.append(b"remark")
                        body = bom + sep.join(names)
                    elif variant == "missing":
                        body = body.rsplit(sep, 1)[0]
                    elif variant == "extra":
                        body = body + sep
                    out.append(body + eol)
                path.write_bytes(b"".join(out))
            f["sha256"] = sha256_of(path)
        else:  # pragma: no cover
            raise AssertionError(kind)
        self._record(kind, source, d, f["name"], detail)
        return f["name"]

    def _record(self, kind: str, source: str, d: date, file: str, detail: str) -> None:
        self.counts[kind] += 1
        self.details.append({"source": source, "extract_date": d.isoformat(), "file": file,
                             "kind": kind, "detail": detail})


def _last_alnum(data: bytearray) -> int:
    for pos in range(len(data) - 1, -1, -1):
        c = data[pos]
        if 48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122:
            return pos
    raise ValueError("no ASCII letter or digit in the file")
