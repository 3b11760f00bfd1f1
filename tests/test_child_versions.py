"""The child-level state follows the change (dbt_project/macros/children_versions.sql): an ordinary
night classifies the persons whose inputs changed and writes the rows that differ, and that gives
the marts recomputing every child gives.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from nights import DAYS, MARTS, START, _marts, _run, generate_clean_landing


@pytest.fixture(scope="module")
def clean_landing(tmp_path_factory):
    return generate_clean_landing(tmp_path_factory)


def _versions(url: str) -> list[tuple]:
    """Every version, without when it was written."""
    with psycopg.connect(url) as conn:
        columns = [r[0] for r in conn.execute(
            "select column_name from information_schema.columns where table_schema = 'intermediate'"
            " and table_name = 'int_children__versioned' and column_name <> 'built_at' order by ordinal_position")]
        return conn.execute(f"select {', '.join(columns)} from intermediate.int_children__versioned"
                            " order by person_id, valid_from").fetchall()


def _identified(url: str) -> list[tuple]:
    """The identified lists of every night (the officers' rows)."""
    with psycopg.connect(url) as conn:
        return conn.execute("select * from identified.priority_children order by as_of_date, person_id").fetchall()


def _move_a_screening(landing: Path, day: date, screening_id: str, to_person: str) -> None:
    """Re-deliver a screening under another person (an ID corrected) in `day`'s welfare delta."""
    folder = landing / "welfare" / day.isoformat()
    manifest = json.loads((folder / "_manifest.json").read_text())
    entry = manifest["files"][0]
    path = folder / entry["name"]
    table = pq.read_table(path)
    full = sorted((landing / "welfare" / START.isoformat()).glob("*.parquet"))
    earlier = pa.concat_tables([pq.read_table(f) for f in full])
    row = earlier.filter(pc.equal(earlier["screening_id"], screening_id)).slice(0, 1).to_pylist()[0]
    row["person_id"] = to_person
    table = pa.concat_tables([table, pa.Table.from_pylist([row], schema=table.schema)])
    pq.write_table(table, path)
    entry["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    entry["rows"] = table.num_rows
    (folder / "_manifest.json").write_text(json.dumps(manifest))


@pytest.mark.slow  # ten nights: `make test-slow` (CI runs it after `make test`)
@pytest.mark.parametrize("server", ["system"])  # one server; the other runs the test below
def test_following_the_change_gives_the_marts_of_recomputing_every_child(warehouse, new_database, clean_landing,
                                                                          tmp_path, monkeypatch):
    last, day3 = START + timedelta(days=DAYS - 1), START + timedelta(days=2)
    landing = tmp_path / "landing"
    shutil.copytree(clean_landing, landing)
    # A: ordinary nights, each classifying the persons whose inputs changed. On night 3 a child's only
    # screening is re-delivered under another person: the child it leaves must lose it too.
    assert {r["state"] for r in _run(warehouse, landing, START, day3 - timedelta(days=1), monkeypatch)} == {"success"}
    with psycopg.connect(warehouse) as conn:
        screening, left, to = conn.execute(
            "select s.screening_id, s.person_id, o.person_id from intermediate.int_welfare__screenings_latest s"
            " join intermediate.int_children__versioned v on v.person_id = s.person_id and v.present"
            "  and v.valid_to is null and v.in_welfare"
            " cross join lateral (select person_id from intermediate.int_registry__current_state r"
            "  where r.person_id <> s.person_id limit 1) as o"
            " where s.extract_date = %s and (select count(*) from intermediate.int_welfare__screenings_latest x"
            "        where x.person_id = s.person_id) = 1 limit 1", (START,)).fetchone()
    _move_a_screening(landing, day3, screening, to)
    assert {r["state"] for r in _run(warehouse, landing, day3, last, monkeypatch)} == {"success"}
    with psycopg.connect(warehouse) as conn:
        assert conn.execute("select in_welfare from intermediate.int_children__versioned where person_id = %s"
                            " and valid_from <= %s order by valid_from desc limit 1", (left, day3)).fetchone() \
            in (None, (False,), (None,))
    with psycopg.connect(warehouse) as conn:
        looked_at = conn.execute("select count(*) from intermediate.int_children__changed").fetchone()[0]
        written = dict(conn.execute("select valid_from, count(*) from intermediate.int_children__versioned"
                                    " group by valid_from").fetchall())
        children = dict(conn.execute("select as_of_date, count(*) from marts.child_equity_profile"
                                     " group by as_of_date").fetchall())
        listed_last = conn.execute("select count(*) from identified.priority_children where as_of_date = %s",
                                   (last,)).fetchone()[0]
        listed_written = dict(conn.execute("select valid_from, count(*) from identified.priority_children_versions"
                                           " group by valid_from").fetchall())
    # B: the same nights with every child recomputed every night.
    other = new_database()
    monkeypatch.setenv("EQUITY_RECOMPUTE_ALL_CHILDREN", "1")
    assert {r["state"] for r in _run(other, landing, START, last, monkeypatch)} == {"success"}
    with psycopg.connect(other) as conn:
        looked_at_all = conn.execute("select count(*) from intermediate.int_children__changed").fetchone()[0]

    a, b = _marts(warehouse), _marts(other)
    for mart in MARTS:
        assert a[mart] == b[mart], f"{mart}: following the change differs from recomputing every child"
    assert _versions(warehouse) == _versions(other)  # and the same versions were written
    # the identified list: each later night listed its changed persons afresh and wrote a version for
    # those whose row differs; everyone else's version stands
    assert 0 < looked_at < listed_last
    assert _identified(warehouse) == _identified(other)
    assert all(n < listed_last / 4 for day, n in listed_written.items() if day > START), listed_written
    assert sum(n for day, n in listed_written.items() if day > START) > 0

    assert set(children) == {START + timedelta(days=i) for i in range(DAYS)}
    assert written[START] == children[START]  # the first night writes every child
    for day, n in written.items():
        if day > START:  # later nights write what changed: a few percent of the children
            assert 0 < n < children[day] / 4, (day, n, children[day])
    assert looked_at < looked_at_all / 4, (looked_at, looked_at_all)


@pytest.mark.parametrize("server", ["embedded"])
def test_the_published_child_mart_is_the_built_one_night_by_night(warehouse, clean_landing, monkeypatch):
    last = START + timedelta(days=2)
    assert {r["state"] for r in _run(warehouse, clean_landing, START, last - timedelta(days=1), monkeypatch)
            } == {"success"}
    # A warehouse from before the identified list was kept as versions: its list was a table (with
    # row-level security). The next night replaces it by the view and lists everyone afresh.
    with psycopg.connect(warehouse) as conn:
        conn.execute("drop view identified.priority_children")
        conn.execute("drop table identified.priority_children_versions, identified.priority_children_versions__nights")
        conn.execute("create table identified.priority_children (as_of_date date, lao_code text, person_id text)")
        conn.execute("alter table identified.priority_children enable row level security")
    assert {r["state"] for r in _run(warehouse, clean_landing, last, last, monkeypatch)} == {"success"}
    with psycopg.connect(warehouse) as conn:
        assert conn.execute("select relkind from pg_class where oid = 'identified.priority_children'::regclass"
                            ).fetchone()[0] == "v"
        listed = dict(conn.execute("select as_of_date, count(*) from identified.priority_children group by 1"))
        priority = conn.execute("select count(*) from marts.child_equity_profile where as_of_date = %s"
                                " and is_priority and lao_code is not null", (last,)).fetchone()[0]
        assert listed == {last: priority} and priority > 0
    with psycopg.connect(warehouse) as conn:
        for i in range(3):
            day = START + timedelta(days=i)
            built, published = (conn.execute(f"select * from {schema}.child_equity_profile where as_of_date = %s"
                                              " order by child_key", (day,)).fetchall()
                                for schema in ("marts_build", "marts"))
            assert built and built == published, day
        # BI reads a view over the published versions; the nights it spans are the nights published
        assert conn.execute("select relkind from pg_class where oid = 'marts.child_equity_profile'::regclass"
                            ).fetchone()[0] == "v"
        nights = [r[0] for r in conn.execute("select as_of_date from marts.nights order by 1")]
        assert nights == [START + timedelta(days=i) for i in range(3)]
        # A night re-built but not published (its gate blocked) must not reach marts when a later
        # night is published: publishing D shows the build from D on and leaves earlier nights be.
        day1, day3 = START, START + timedelta(days=2)
        published_day1 = conn.execute("select * from marts.child_equity_profile where as_of_date = %s"
                                      " order by child_key", (day1,)).fetchall()
        conn.execute("update intermediate.int_children__versioned set days_absent = 99, built_at = now()"
                     " where valid_from = %s and present and education_status = 'ENROLLED'", (day1,))
        # The ordinary nights closed published versions on their own pages (HOT updates): no index
        # entry written for a close, as none of the published versions' indexes holds valid_to.
        updated, hot = conn.execute("select n_tup_upd, n_tup_hot_upd from pg_stat_user_tables"
                                    " where relid = 'marts.child_equity_profile_versions'::regclass").fetchone()
        assert updated > 0 and hot == updated, (updated, hot)
        # A published version ending on D that the build holds open and untouched since (put there by
        # hand): publishing D again shows the build from D on, so it is found without an index on valid_to.
        kept_open = conn.execute(
            "update marts.child_equity_profile_versions set valid_to = %(d3)s where valid_to is null"
            " and child_key = (select child_key from intermediate.int_children__versioned where present"
            "  and valid_from = %(d1)s and valid_to is null and education_status <> 'ENROLLED'"
            "  order by child_key limit 1) returning child_key", {"d1": day1, "d3": day3}).fetchone()[0]
        conn.commit()
    from equity.publish import publish

    # Autovacuum holds SHARE UPDATE EXCLUSIVE on the versions while it works on them (after a first
    # national night, into the next): publishing takes no lock that waits for it.
    with psycopg.connect(warehouse) as vacuum:
        vacuum.execute("lock table marts.child_equity_profile_versions in share update exclusive mode")
        monkeypatch.setenv("PGOPTIONS", "-c lock_timeout=5s")
        publish(warehouse, day3, "republish")
        monkeypatch.delenv("PGOPTIONS")
    with psycopg.connect(warehouse) as conn:
        assert conn.execute("select * from marts.child_equity_profile where as_of_date = %s"
                            " order by child_key", (day1,)).fetchall() == published_day1
        built, published = (conn.execute(f"select * from {schema}.child_equity_profile where as_of_date = %s"
                                          " order by child_key", (day3,)).fetchall()
                            for schema in ("marts_build", "marts"))
        assert built == published
        assert any(r[20] == 99 for r in published)  # days_absent: an unchanged child carries the re-built row
        assert conn.execute("select count(*) from marts.child_equity_profile where as_of_date = %s"
                            " and child_key = %s", (day3, kept_open)).fetchone()[0] == 1
    # A night on which no child changed has no rows to judge: the child gate passes it (the national
    # summary's gate is the one that refuses a night without children).
    from equity.gates import validate_mart

    assert validate_mart(warehouse, "marts_build", "child_equity_profile", day3 + timedelta(days=1),
                         "quiet-night").status == "passed"
    with psycopg.connect(warehouse) as conn:
        # no identified column reached the published versions
        columns = {r[0] for r in conn.execute(
            "select column_name from information_schema.columns"
            " where table_schema = 'marts' and table_name = 'child_equity_profile_versions'")}
        assert "person_id" not in columns and {"child_key", "valid_from", "valid_to"} <= columns
