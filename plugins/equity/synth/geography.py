"""Reference geography: real DOPA areas from `geothai`, generated LAOs.

Provinces, districts and subdistricts (codes and Thai names) are the real ones shipped by the
`geothai` package. No open list of local administrative organisation (LAO) codes exists, so the
LAOs are GENERATED here, deterministically (no randomness: the same geothai data always gives the
same LAOs). See docs/generator.md for the scheme:

- lao_code = type digit + the 6-digit code of the lowest-coded subdistrict the LAO covers
  (2 CITY, 3 TOWN, 4 SUBDISTRICT_MUNICIPALITY, 5 SAO). Unique because every subdistrict belongs
  to exactly one LAO.
- Bangkok is one CITY (the Bangkok Metropolitan Administration) covering all its subdistricts.
- 29 other CITYs: the first three subdistricts of a hand-picked list of districts that really
  hold a เทศบาลนคร.
- TOWN: the first two subdistricts of every other provincial capital district (XX01), and the first
  subdistrict of the largest remaining districts (by subdistrict count), up to TOWN_TARGET.
- SUBDISTRICT_MUNICIPALITY: the first free subdistrict of every district, then further subdistricts
  chosen by a hash of their code, up to SM_TARGET.
- SAO: every other subdistrict; a hash-chosen share of SAOs also covers the next subdistrict of
  the same district.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

from equity.contracts import LAO_COLUMNS, SUBDISTRICT_COLUMNS

TYPE_DIGIT = {"CITY": "2", "TOWN": "3", "SUBDISTRICT_MUNICIPALITY": "4", "SAO": "5"}
TYPE_PREFIX = {
    "CITY": "เทศบาลนคร",
    "TOWN": "เทศบาลเมือง",
    "SUBDISTRICT_MUNICIPALITY": "เทศบาลตำบล",
    "SAO": "องค์การบริหารส่วนตำบล",
}
BANGKOK = "10"
# Districts that hold a real เทศบาลนคร (city municipality), one city each.
CITY_DISTRICTS = (
    "1101", "1201", "1206", "1303", "1401", "2001", "2007", "2101", "3001", "3401", "4001",
    "4101", "4701", "5001", "5201", "5701", "6001", "6306", "6501", "7301", "7401", "7402",
    "8001", "8301", "8401", "9001", "9011", "9201", "9501",
)
CITY_SUBDISTRICTS = 3
TOWN_TARGET = 190
SM_TARGET = 2240
SAO_MERGE_SHARE = 0.12


@dataclass(frozen=True)
class Subdistrict:
    code: str
    name: str
    district_code: str
    district_name: str
    province_code: str
    province_name: str
    lao_code: str


@dataclass(frozen=True)
class Lao:
    code: str
    name: str
    lao_type: str
    province_code: str
    district_code: str


@dataclass(frozen=True)
class Reference:
    subdistricts: dict[str, Subdistrict]  # by code, insertion order = code order
    laos: dict[str, Lao]

    def lao_of(self, subdistrict_code: str) -> str:
        return self.subdistricts[subdistrict_code].lao_code


def _hash01(text: str) -> float:
    """A stable pseudo-random number in [0, 1) from a string (no RNG state involved)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64


def build_reference() -> Reference:
    """Build the reference from geothai (deterministic)."""
    import geothai

    provinces = geothai.provinces()
    districts = [d for p in provinces for d in geothai.districts(p.code)]
    subs_by_district = {d.code: list(geothai.subdistricts(d.code)) for d in districts}
    province_name = {p.code: p.name_th for p in provinces}
    district_name = {d.code: d.name_th for d in districts}

    # assignment: subdistrict code -> (lao_type, group leader subdistrict code)
    assigned: dict[str, tuple[str, str]] = {}

    def assign(codes: list[str], lao_type: str) -> None:
        leader = min(codes)
        for c in codes:
            assigned[c] = (lao_type, leader)

    # Bangkok: one CITY
    bkk = [s.code for d in districts if d.province_code == BANGKOK for s in subs_by_district[d.code]]
    assign(bkk, "CITY")
    for dc in CITY_DISTRICTS:
        assign([s.code for s in subs_by_district[dc][:CITY_SUBDISTRICTS]], "CITY")

    towns = 0
    for d in districts:
        if d.province_code != BANGKOK and d.code.endswith("01") and d.code not in CITY_DISTRICTS:
            assign([s.code for s in subs_by_district[d.code][:2]], "TOWN")
            towns += 1
    big = sorted(
        (d for d in districts if d.province_code != BANGKOK and not d.code.endswith("01")
         and d.code not in CITY_DISTRICTS),
        key=lambda d: (-len(subs_by_district[d.code]), d.code),
    )
    for d in big:
        if towns >= TOWN_TARGET:
            break
        assign([subs_by_district[d.code][0].code], "TOWN")
        towns += 1

    sm = 0
    for d in districts:
        free = [s.code for s in subs_by_district[d.code] if s.code not in assigned]
        if free and d.province_code != BANGKOK:
            assign([free[0]], "SUBDISTRICT_MUNICIPALITY")
            sm += 1
    free_all = sorted(
        (s.code for d in districts for s in subs_by_district[d.code] if s.code not in assigned),
        key=lambda c: (_hash01("sm" + c), c),
    )
    for c in free_all[: max(0, SM_TARGET - sm)]:
        assign([c], "SUBDISTRICT_MUNICIPALITY")

    for d in districts:
        free = [s.code for s in subs_by_district[d.code] if s.code not in assigned]
        i = 0
        while i < len(free):
            if i + 1 < len(free) and _hash01("sao" + free[i]) < SAO_MERGE_SHARE:
                assign(free[i:i + 2], "SAO")
                i += 2
            else:
                assign([free[i]], "SAO")
                i += 1

    by_code = {s.code: s for d in districts for s in subs_by_district[d.code]}
    laos: dict[str, Lao] = {}
    subdistricts: dict[str, Subdistrict] = {}
    for d in districts:
        for s in subs_by_district[d.code]:
            lao_type, leader = assigned[s.code]
            code = TYPE_DIGIT[lao_type] + leader
            if code not in laos:
                lead = by_code[leader]
                place = province_name[BANGKOK] if leader.startswith(BANGKOK) else lead.name_th
                name = place if leader.startswith(BANGKOK) else TYPE_PREFIX[lao_type] + place
                laos[code] = Lao(code, name, lao_type, lead.province_code, lead.district_code)
            subdistricts[s.code] = Subdistrict(
                s.code, s.name_th, d.code, district_name[d.code], d.province_code,
                province_name[d.province_code], code,
            )
    laos = dict(sorted(laos.items()))
    return Reference(subdistricts, laos)


def write_reference(directory: Path) -> Reference:
    """Write subdistricts.csv and laos.csv (UTF-8, LF, header) into `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    ref = build_reference()
    with open(directory / "subdistricts.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(SUBDISTRICT_COLUMNS)
        for s in ref.subdistricts.values():
            w.writerow([s.code, s.name, s.district_code, s.district_name, s.province_code,
                        s.province_name, s.lao_code])
    with open(directory / "laos.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(LAO_COLUMNS)
        for lao in ref.laos.values():
            w.writerow([lao.code, lao.name, lao.lao_type, lao.province_code, lao.district_code])
    return ref


def load_reference(directory: Path | None = None) -> Reference:
    """Read the two reference CSVs (default: the shipped set in plugins/equity/reference)."""
    if directory is None:
        from equity.paths import SHIPPED_REFERENCE_DIR

        directory = SHIPPED_REFERENCE_DIR
    directory = Path(directory)
    with open(directory / "subdistricts.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    subdistricts = {
        r["subdistrict_code"]: Subdistrict(
            r["subdistrict_code"], r["subdistrict_name"], r["district_code"], r["district_name"],
            r["province_code"], r["province_name"], r["lao_code"],
        )
        for r in rows
    }
    with open(directory / "laos.csv", encoding="utf-8", newline="") as f:
        laos = {
            r["lao_code"]: Lao(r["lao_code"], r["lao_name"], r["lao_type"], r["province_code"],
                               r["district_code"])
            for r in csv.DictReader(f)
        }
    return Reference(subdistricts, laos)


if __name__ == "__main__":  # regenerate the shipped reference
    from equity.paths import SHIPPED_REFERENCE_DIR

    r = write_reference(SHIPPED_REFERENCE_DIR)
    print(len(r.subdistricts), "subdistricts,", len(r.laos), "LAOs")
