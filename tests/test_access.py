"""Access control (PDPA, issue #8), proven with real roles on real PostgreSQL (both servers).

One small warehouse per server (the hand-made scenario's first night, loaded, gated by the real GX
suites, built by dbt, published) with `apply_access` applied BEFORE the night runs, so that what
the night creates (marts tables by publish's CREATE TABLE ... LIKE, the identified table by dbt,
raw partitions by the loader) is covered by default privileges and the model's post-hook. It runs
under a distinctive HMAC key that is then looked for everywhere it must not be.

Logins are created per module with unique names and connect as themselves (both servers trust
127.0.0.1), so session_user is the login, as in production; they are dropped at the end.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import uuid
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import errors, sql

from conftest import _SESSION_DIR, TEST_KEY, _admin_url
from deliveries import enrolment_csv, enrolment_row, write_delivery
from scenario import LAO_OF, SUB_COUNTED, SUB_GENERAL, T0, T0B, T1, T2, build_scenario, child_key

LAO_A = LAO_OF[SUB_GENERAL]   # the officer's LAO
LAO_B = LAO_OF[SUB_COUNTED]   # someone else's
INJECTION = "x'); drop table raw.enrolment_roster; --"
SOURCES = ("registry", "welfare", "enrolment")


def _new_db(admin: str) -> tuple[str, str]:
    name = f"equity_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    return name, admin.rsplit("/", 1)[0] + f"/{name}"


def _drop_db(admin: str, name: str) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


@contextmanager
def login(url: str, role: str):
    """A connection AS the login role (not SET ROLE): session_user is the role."""
    with psycopg.connect(url, user=role, autocommit=True) as conn:
        yield conn


def _create_login(url: str, role: str, *groups: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("create role {} login").format(sql.Identifier(role)))
        for g in groups:
            conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(g), sql.Identifier(role)))


def _drop_login(admin: str, role: str) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(role)))


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        try:
            self.lines.append(self.format(record))
        except Exception:  # noqa: BLE001
            self.lines.append(str(record.msg))


class Night:
    def __init__(self, url, admin, server, key, home, docs, logs, pids, logins):
        self.url, self.admin, self.server, self.key = url, admin, server, key
        self.home, self.docs, self.logs, self.pids, self.logins = home, docs, logs, pids, logins

    def count(self, query, *args):
        with psycopg.connect(self.url) as conn:
            return conn.execute(query, args).fetchone()[0]


@pytest.fixture(scope="module", params=["embedded", "system"])
def night(request, tmp_path_factory):
    from equity import pipeline
    from equity.access import AUDITOR, BI_READER, IDENTIFIED_ACCESS, apply_access, grant_officer
    from equity.gates import validate_mart, validate_raw_batch

    admin = _admin_url(request.param)
    name, url = _new_db(admin)
    tag = uuid.uuid4().hex[:8]
    key = f"canary{uuid.uuid4().hex}"  # distinctive: found anywhere only if it leaked
    home = tmp_path_factory.mktemp(f"home-{request.param}")
    docs = tmp_path_factory.mktemp(f"docs-{request.param}")
    scenario = build_scenario()
    # A priority child of LAO A (poor, 18 days absent) whose last name is an SQL injection attempt.
    victim = scenario.pid["absent_18_poor"]
    for row in scenario.enrolment[T0]:
        if row[0] == victim:
            row[11] = INJECTION
    landing = scenario.write(tmp_path_factory.mktemp(f"landing-{request.param}"))
    logins = {"officer": f"t_officer_{tag}", "bi": f"t_bi_{tag}", "auditor": f"t_auditor_{tag}",
              "probe": f"t_probe_{tag}", "nobody": f"t_nobody_{tag}"}
    capture = _Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("EQUITY_WAREHOUSE_URL", url)
            mp.setenv("EQUITY_HMAC_KEY", key)
            mp.setenv("EQUITY_HOME", str(home))
            mp.setenv("EQUITY_LANDING", str(landing))
            apply_access(url)  # before the night: what the night creates must be covered too
            run_id = f"access-{tag}"
            pipeline.start_run(T0, run_id)
            gates = []
            for source in SOURCES:
                loaded = pipeline.ingest(source, T0, run_id)
                assert loaded["status"] == "loaded", loaded
                gates.append(pipeline.gate_source(loaded, run_id))
                validate_raw_batch(url, source, loaded["batch_id"], run_id + "-docs", docs_dir=docs)
            assert all(g["status"] in ("passed", "warned") for g in gates), gates
            pipeline.transform(T0, run_id)
            marts_gate = pipeline.gate_marts(T0, run_id)
            validate_mart(url, "marts_build", "child_equity_profile", T0, run_id + "-docs", docs_dir=docs)
            published = pipeline.publish(T0, run_id, marts_gate)
            pipeline.finish_run(T0, run_id, gates, marts_gate, published)
            _create_login(url, logins["officer"])
            grant_officer(url, logins["officer"], [LAO_A])
            _create_login(url, logins["bi"], BI_READER)
            _create_login(url, logins["auditor"], AUDITOR)
            _create_login(url, logins["probe"], IDENTIFIED_ACCESS)  # to test RLS on its own
            with psycopg.connect(url, autocommit=True) as conn:  # (nobody logs in as that role in earnest)
                conn.execute(sql.SQL("grant connect on database {} to {}").format(
                    sql.Identifier(name), sql.Identifier(logins["probe"])))
            _create_login(url, logins["nobody"])
        yield Night(url, admin, request.param, key, home, docs, capture.lines, scenario.pid, logins)
    finally:
        root.removeHandler(capture)
        root.setLevel(old_level)
        _drop_db(admin, name)
        for role in logins.values():
            _drop_login(admin, role)


# --- 1. roles ----------------------------------------------------------------------------------------

def test_group_roles_exist_nologin_and_apply_access_is_idempotent_and_concurrent(night):
    from equity.access import ROLES, apply_access

    with psycopg.connect(night.url) as conn:
        roles = dict(conn.execute("select rolname, rolcanlogin from pg_roles where rolname = any(%s)",
                                  (list(ROLES),)).fetchall())
        flags = conn.execute("select bool_or(rolsuper or rolbypassrls or rolcreaterole or rolcreatedb)"
                             " from pg_roles where rolname = any(%s)", (list(ROLES),)).fetchone()[0]
    assert roles == {r: False for r in ROLES}
    assert flags is False
    # Again, twice at once on this database and once on another database of the same cluster (roles
    # are cluster-wide, grants per database): no error, nothing changes.
    other, other_url = _new_db(night.admin)
    errs = []

    def run(u):
        try:
            apply_access(u)
        except Exception as exc:  # noqa: BLE001
            errs.append(exc)

    try:
        threads = [threading.Thread(target=run, args=(u,)) for u in (night.url, night.url, other_url)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        _drop_db(night.admin, other)
    assert errs == []


# --- least privilege, read from the catalog ----------------------------------------------------------

def _readable(url: str, role: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute(
            "select n.nspname || '.' || c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where c.relkind in ('r', 'p', 'v', 'm', 'f')"
            " and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_toast'"
            " and has_schema_privilege(%s, n.oid, 'USAGE')"
            " and (has_table_privilege(%s, c.oid, 'SELECT') or has_any_column_privilege(%s, c.oid, 'SELECT'))",
            (role, role, role)).fetchall()}


def test_privilege_matrix(night):
    schemas = lambda names: {n.split(".")[0] for n in names}  # noqa: E731
    assert schemas(_readable(night.url, "bi_reader")) == {"marts"}
    assert "marts.child_equity_profile" in _readable(night.url, "bi_reader")  # created by publish
    assert _readable(night.url, "lao_officer") == set()
    assert schemas(_readable(night.url, "equity_auditor")) == {"audit"}
    assert "audit.access_log" in _readable(night.url, "equity_auditor")
    assert _readable(night.url, "equity_identified_access") == {
        "identified.priority_children", "identified.priority_children_versions",
        "identified.priority_children_versions__nights", "identified.officer_laos",
        "staging.stg_reference__laos", "staging.stg_reference__subdistricts"}
    assert _readable(night.url, "public") == set()
    for role in ("equity_loader", "equity_transformer"):
        assert {"raw.enrolment_roster", "raw.registry_events"} <= _readable(night.url, role)
    with psycopg.connect(night.url) as conn:
        # nobody but loader and transformer (and superusers) reads raw or quarantine
        readers = {r[0] for r in conn.execute(
            "select distinct r.rolname from pg_roles r cross join (values ('raw'), ('quarantine')) s(nspname)"
            " join pg_namespace n on n.nspname = s.nspname"
            " join pg_class c on c.relnamespace = n.oid and c.relkind in ('r', 'p')"
            " where not r.rolsuper and r.rolname !~ '^pg_'"  # predefined (pg_read_all_data): the DBA's
            " and has_schema_privilege(r.oid, n.oid, 'USAGE')"
            " and has_table_privilege(r.oid, c.oid, 'SELECT')").fetchall()}
        assert readers <= {"equity_loader", "equity_transformer"}, readers
        # PUBLIC: no connect/temp on the database, nothing on schema public, no function of ours
        db = conn.execute("select current_database()").fetchone()[0]
        assert not conn.execute("select has_database_privilege('public', %s, 'CONNECT')"
                                " or has_database_privilege('public', %s, 'TEMPORARY')", (db, db)).fetchone()[0]
        assert not conn.execute("select has_schema_privilege('public', 'public', 'CREATE')"
                                " or has_schema_privilege('public', 'public', 'USAGE')").fetchone()[0]
        public_exec = conn.execute(
            "select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace"
            " where n.nspname in ('identified', 'util', 'audit') and has_function_privilege('public', p.oid, 'EXECUTE')"
        ).fetchall()
        assert public_exec == []
        officer_exec = {r[0] for r in conn.execute(
            "select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace"
            " where n.nspname not in ('pg_catalog', 'information_schema')"
            " and has_function_privilege('lao_officer', p.oid, 'EXECUTE')").fetchall()}
        assert officer_exec == {"identified.priority_children_for(text,date)"}
        # the read function runs as a role that RLS applies to
        owner = conn.execute(
            "select r.rolname, r.rolsuper, r.rolbypassrls, p.prosecdef"
            " from pg_proc p join pg_roles r on r.oid = p.proowner"
            " where p.oid = 'identified.priority_children_for(text,date)'::regprocedure").fetchone()
        assert owner == ("equity_identified_access", False, False, True)
        assert conn.execute("select relrowsecurity from pg_class"
                            " where oid = 'identified.priority_children_versions'::regclass").fetchone()[0] is True
        # the list's view applies that security to its reader, not its owner
        assert "security_invoker=true" in conn.execute(
            "select reloptions from pg_class where oid = 'identified.priority_children'::regclass").fetchone()[0]


# --- 5. denials with real logins --------------------------------------------------------------------

@pytest.mark.parametrize("relation", [
    "raw.enrolment_roster", "raw.registry_events", "quarantine.enrolment_rejects",
    "staging.stg_enrolment__roster", "intermediate.int_children__classified",
    "marts_build.child_equity_profile", "identified.priority_children", "identified.priority_children_versions",
    "identified.officer_laos", "audit.access_log", "audit.load_batches", "reference.laos",
])
def test_bi_reader_cannot_select(night, relation):
    with login(night.url, night.logins["bi"]) as conn:
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(f"select * from {relation} limit 1")


def test_bi_reader_reads_the_published_marts_and_cannot_call_the_identified_function(night):
    with login(night.url, night.logins["bi"]) as conn:
        assert conn.execute("select count(*) from marts.child_equity_profile").fetchone()[0] > 0
        assert conn.execute("select count(*) from marts.municipality_equity_summary").fetchone()[0] > 0
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("select * from identified.priority_children_for(%s)", (LAO_A,))
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("create table public.leak (x int)")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("create temp table leak (x int)")


def test_login_without_group_cannot_even_connect(night):
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        psycopg.connect(night.url, user=night.logins["nobody"]).close()


def _copy_rows(conn, statement: str) -> list[bytes]:
    with conn.cursor() as cur:
        with cur.copy(statement) as copy:
            return [bytes(block) for block in copy]


def test_officer_gets_no_row_of_another_lao_by_any_path(night):
    assert night.count("select count(*) from identified.priority_children where lao_code = %s", LAO_B) > 0
    with login(night.url, night.logins["officer"]) as conn:
        # the function, with the other LAO's code: nothing (and it is logged, below)
        assert conn.execute("select * from identified.priority_children_for(%s)", (LAO_B,)).fetchall() == []
        assert conn.execute("select * from identified.priority_children_for(%s, %s)", (LAO_B, T0)).fetchall() == []
        # the code as an injection attempt: a parameter, never SQL
        assert conn.execute("select * from identified.priority_children_for(%s)",
                            (f"{LAO_A}' or '1'='1",)).fetchall() == []
        assert _copy_rows(conn, f"copy (select * from identified.priority_children_for('{LAO_B}')) to stdout") == []
        # the table itself, by select and by both forms of COPY
        for statement in ("select * from identified.priority_children",
                          f"select * from identified.priority_children where lao_code = '{LAO_B}'"):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(statement)
        for statement in ("copy identified.priority_children to stdout",
                          f"copy (select * from identified.priority_children where lao_code = '{LAO_B}') to stdout"):
            with pytest.raises(errors.InsufficientPrivilege):
                _copy_rows(conn, statement)
        # every view and every table of the warehouse: none readable
        relations = [r[0] for r in psycopg.connect(night.url).execute(
            "select format('%I.%I', n.nspname, c.relname) from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where c.relkind in ('r', 'p', 'v', 'm') and n.nspname not in ('pg_catalog', 'information_schema')"
            " and n.nspname !~ '^pg_'").fetchall()]
        assert any(r.startswith("staging.") for r in relations)
        for relation in relations:
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(f"select * from {relation} limit 1")
        # nor widen its own access
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("insert into identified.officer_laos (officer_role, lao_code) values (current_user, %s)",
                         (LAO_B,))
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("set role equity_identified_access")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("select identified.secure_priority_children()")


def test_officer_reads_own_lao_through_the_function_as_data(night):
    expected = night.count("select count(*) from identified.priority_children where lao_code = %s", LAO_A)
    assert expected > 0
    with login(night.url, night.logins["officer"]) as conn:
        cur = conn.execute("select * from identified.priority_children_for(%s)", (LAO_A,))
        cols = [d.name for d in cur.description]
        rows = [dict(zip(cols, r)) for r in cur.fetchall()]
        copied = b"".join(_copy_rows(conn, f"copy (select * from identified.priority_children_for('{LAO_A}', "
                                           f"'{T0.isoformat()}')) to stdout"))
    assert len(rows) == expected and {r["lao_code"] for r in rows} == {LAO_A}
    assert copied.count(b"\n") == expected
    assert {"person_id", "first_name", "last_name", "house_id", "subdistrict_code", "school_code",
            "education_status", "poverty_level", "chronic_absence", "reasons"} <= set(cols)
    victim = next(r for r in rows if r["person_id"] == night.pids["absent_18_poor"])
    # the injection in a delivered cell is a name like any other
    assert victim["last_name"] == INJECTION
    assert victim["reasons"] == ["POOR_AND_CHRONIC_ABSENCE"] and victim["house_id"]
    dropout = [r for r in rows if r["education_status"] == "OUT_OF_SCHOOL"]
    assert all(r["reasons"][0] == "OUT_OF_SCHOOL:" + r["out_of_school_reason"] for r in dropout)
    assert night.count("select to_regclass('raw.enrolment_roster') is not null")


def test_row_level_security_alone_limits_the_function_owner_role(night):
    """Defence in depth: the role the function runs as sees, by RLS alone, only the LAOs mapped to the
    login (session_user) - none for a login without LAOs, LAO A's rows once it has LAO A."""
    from equity.access import grant_officer, revoke_officer

    probe = night.logins["probe"]
    with login(night.url, probe) as conn:
        assert conn.execute("select count(*) from identified.priority_children").fetchone()[0] == 0
    grant_officer(night.url, probe, [LAO_A])
    try:
        with login(night.url, probe) as conn:
            lao = conn.execute("select array_agg(distinct lao_code) from identified.priority_children").fetchone()[0]
    finally:
        assert revoke_officer(night.url, probe) == []
    assert lao == [LAO_A]


# --- every read is written to audit.access_log ---------------------------------------------------------

def test_every_call_writes_who_when_which_lao_and_how_many_rows(night):
    officer = night.logins["officer"]
    expected = night.count("select count(*) from identified.priority_children where lao_code = %s", LAO_A)
    before = night.count("select coalesce(max(access_id), 0) from audit.access_log")
    with login(night.url, officer) as conn:
        conn.execute("select * from identified.priority_children_for(%s)", (LAO_A,)).fetchall()
        conn.execute("select * from identified.priority_children_for(%s, %s)", (LAO_B, T0)).fetchall()
        _copy_rows(conn, f"copy (select person_id from identified.priority_children_for('{LAO_A}')) to stdout")
    with psycopg.connect(night.url) as conn:
        log_rows = conn.execute(
            "select who, lao_code, as_of_date, rows_returned, granted, accessed_at > now() - interval '5 minutes'"
            " from audit.access_log where access_id > %s order by access_id", (before,)).fetchall()
    assert log_rows == [
        (officer, LAO_A, T0, expected, True, True),
        (officer, LAO_B, T0, 0, False, True),
        (officer, LAO_A, T0, expected, True, True),
    ]
    # the officer cannot read or alter the log; the auditor reads it and nothing personal
    with login(night.url, officer) as conn:
        for statement in ("select * from audit.access_log", "delete from audit.access_log",
                          "insert into audit.access_log (who, rows_returned, granted, via) values ('x', 0, true, 'x')"):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(statement)
    with login(night.url, night.logins["auditor"]) as conn:
        assert conn.execute("select count(*) from audit.access_log where who = %s", (officer,)).fetchone()[0] >= 3
        for relation in ("identified.priority_children", "raw.enrolment_roster", "marts.child_equity_profile"):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(f"select * from {relation} limit 1")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("delete from audit.access_log")


# --- 2. the key is in no log, artifact, result or file --------------------------------------------------

def test_hmac_key_leaks_nowhere(night):
    key = night.key.encode()
    # it was used: child_key is HMAC under it
    pid = night.pids["absent_18_poor"]
    assert night.count("select count(*) from marts.child_equity_profile where child_key = %s",
                       child_key(pid, night.key)) == 1
    # files: dbt target and logs (EQUITY_HOME), GX Data Docs
    files = [p for root in (night.home, night.docs) for p in Path(root).rglob("*") if p.is_file()]
    assert any(p.name == "manifest.json" for p in files) and any(p.suffix == ".html" for p in files)
    assert any(p.suffix == ".log" for p in files)
    assert [str(p) for p in files if key in p.read_bytes()] == []
    # the Python logs of the whole night (pipeline, dbt wrapper, GX)
    assert night.logs and [line for line in night.logs if night.key in line] == []
    # every table and every comment of the warehouse, GX results in audit.validation_results included
    with psycopg.connect(night.url) as conn:
        assert conn.execute("select count(*) from audit.validation_results").fetchone()[0] > 0
        tables = [r[0] for r in conn.execute(
            "select format('%I.%I', n.nspname, c.relname) from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema')"
            " and n.nspname !~ '^pg_' and not c.relispartition").fetchall()]
        hits = [t for t in tables if conn.execute(
            f"select count(*) from {t} as x where strpos(x::text, %s) > 0", (night.key,)).fetchone()[0]]
        assert hits == []
        assert conn.execute("select count(*) from pg_description where strpos(description, %s) > 0",
                            (night.key,)).fetchone()[0] == 0
        assert conn.execute("select count(*) from pg_db_role_setting where strpos(setconfig::text, %s) > 0",
                            (night.key,)).fetchone()[0] == 0
    # the server's log, where readable
    server_logs = [_SESSION_DIR / "embedded" / "pgdata" / "server.log"] if night.server == "embedded" else \
        list(Path("/var/log/postgresql").glob("*.log"))
    for path in server_logs:
        try:
            assert key not in path.read_bytes(), path
        except PermissionError:
            pass


def test_repository_holds_no_key_or_password():
    """Tracked files: no value assigned to the key or a password (compose reads them from .env)."""
    import re

    from equity.paths import PROJECT_ROOT

    tracked = subprocess.run(["git", "-C", str(PROJECT_ROOT), "ls-files"], capture_output=True, text=True,
                             check=True).stdout.split()
    assignment = re.compile(
        r"(EQUITY_HMAC_KEY|_PASSWORD|PGPASSWORD)[\"']?\s*[:=]\s*[\"']?(?!\$\{|\$\$|\"?\$|os\.environ)([A-Za-z0-9+/_\-]{12,})")
    offenders = []
    for name in tracked:
        path = PROJECT_ROOT / name
        if not path.is_file() or path.suffix in (".parquet", ".png", ".ico") or name.startswith("tests/"):
            continue
        text = path.read_text(errors="ignore")
        offenders += [f"{name}: {m.group(0)}" for m in assignment.finditer(text)]
        if TEST_KEY in text:
            offenders.append(f"{name}: the test key")
    assert offenders == []


def test_key_from_airflow_variable_and_refusal_without_any(monkeypatch):
    from equity.config import MissingSecret, hmac_key

    monkeypatch.delenv("EQUITY_HMAC_KEY", raising=False)
    monkeypatch.delenv("AIRFLOW_CTX_DAG_ID", raising=False)
    monkeypatch.setenv("AIRFLOW_VAR_EQUITY_HMAC_KEY", "from-airflow")
    assert hmac_key() == "from-airflow"
    monkeypatch.delenv("AIRFLOW_VAR_EQUITY_HMAC_KEY")
    with pytest.raises(MissingSecret):
        hmac_key()


# --- SQL injection through a delivery's file name, header and cells -------------------------------------

def test_injection_in_file_name_header_and_cells_never_executes(warehouse, tmp_path):
    from equity.access import apply_access
    from equity.landing import DeliveryRefused
    from equity.load import load_delivery
    from equity.paths import SHIPPED_REFERENCE_DIR
    from equity.reference import load_reference

    apply_access(warehouse)
    load_reference(warehouse, SHIPPED_REFERENCE_DIR)
    day = date(2026, 11, 20)
    ok_name = f"enrolment_{day:%Y%m%d}_001.csv"

    def tables_intact():
        with psycopg.connect(warehouse) as conn:
            return conn.execute("select to_regclass('raw.enrolment_roster') is not null"
                                " and to_regclass('audit.load_batches') is not null"
                                " and to_regclass('quarantine.enrolment_rejects') is not null").fetchone()[0]

    # 1. file name: refused by the contract's name pattern before anything is read
    landing = tmp_path / "a"
    write_delivery(landing, "enrolment", day, {f"{INJECTION}.csv": (enrolment_csv([enrolment_row()]), "utf-8", 1)})
    out = None
    try:
        out = load_delivery(warehouse, str(landing), "enrolment", day, "inj-1")
    except DeliveryRefused as exc:
        assert "file_name" in str(exc)
    assert out is None or out.status == "refused"
    assert tables_intact()

    # 2. header: a column named as an injection is refused as a header that differs from the contract
    landing = tmp_path / "b"
    data = enrolment_csv([enrolment_row()]).replace(b"first_name", f'"{INJECTION}"'.encode(), 1)
    write_delivery(landing, "enrolment", day, {ok_name: (data, "utf-8", 1)})
    out = None
    try:
        out = load_delivery(warehouse, str(landing), "enrolment", day, "inj-2")
    except DeliveryRefused as exc:
        assert "header" in str(exc)
    assert out is None or out.status == "refused"
    assert tables_intact()

    # 3. cells: stored as the text they are
    landing = tmp_path / "c"
    evil_school = 'x"); drop table audit.load_batches; --'
    data = enrolment_csv([enrolment_row(name=INJECTION, school_name=evil_school),
                          enrolment_row("1101700203468", name="'; select pg_sleep(30); --")])
    write_delivery(landing, "enrolment", day, {ok_name: (data, "utf-8", 2)})
    out = load_delivery(warehouse, str(landing), "enrolment", day, "inj-3")
    assert out.status == "loaded"
    assert tables_intact()
    with psycopg.connect(warehouse) as conn:
        rows = conn.execute("select first_name, school_name from raw.enrolment_roster order by _line").fetchall()
    assert rows == [(INJECTION, evil_school), ("'; select pg_sleep(30); --", "โรงเรียนบ้านหนองบัว")]


# --- 4. retention ------------------------------------------------------------------------------------------

def _mart(url, day):
    with psycopg.connect(url) as conn:
        profile = conn.execute("select * from marts_build.child_equity_profile where as_of_date = %s"
                               " order by child_key", (day,)).fetchall()
        identified = conn.execute("select * from identified.priority_children where as_of_date = %s"
                                  " order by person_id", (day,)).fetchall()
    return profile, identified


def _raw_counts(url):
    with psycopg.connect(url) as conn:
        return {t: conn.execute(f"select count(*) from raw.{t}").fetchone()[0]
                for t in ("enrolment_roster", "registry_events", "welfare_screenings")}


def test_retention_purges_what_no_rerun_needs_and_records_it(warehouse, tmp_path):
    """Cutoff between T1 and T2: old raw rows, quarantine and identified lists go; a re-run of T2 after
    the purge gives exactly the marts and the identified list it gave before."""
    from equity.access import apply_access
    from equity.load import load_delivery
    from equity.paths import SHIPPED_REFERENCE_DIR
    from equity.reference import load_reference
    from equity.retention import purge_expired
    from equity.transform import build
    from scenario import DELIVERY_DATES, GATE_OVERRIDES

    apply_access(warehouse)
    load_reference(warehouse, SHIPPED_REFERENCE_DIR)
    landing = build_scenario().write(tmp_path / "landing")
    for day in DELIVERY_DATES:
        for source in SOURCES:
            assert load_delivery(warehouse, str(landing), source, day, f"ret-{day}").status == "loaded"
    with psycopg.connect(warehouse) as conn:
        conn.execute("update audit.load_batches set gate_status = 'passed' where status = 'loaded'")
        for (source, day), gate in GATE_OVERRIDES.items():
            conn.execute("update audit.load_batches set gate_status = %s where status = 'loaded'"
                         " and source = %s and extract_date = %s", (gate, source, day))
        # a quarantined row of an old batch
        old_batch = conn.execute("select batch_id from audit.load_batches where source = 'enrolment'"
                                 " and extract_date = %s", (T0,)).fetchone()[0]
        conn.execute("insert into quarantine.enrolment_rejects (_batch_id, _file, _line, reason, original)"
                     " values (%s, 'f.csv', 2, 'test', '{}')", (old_batch,))
    build(warehouse, T0)
    build(warehouse, T2)
    before = _mart(warehouse, T2)
    assert before[0] and before[1]
    raw_before = _raw_counts(warehouse)

    cutoff = T1 + timedelta(days=1)
    days = (T2 - cutoff).days
    deleted = purge_expired(warehouse, days, "ret-run", as_of=T2)
    raw_after = _raw_counts(warehouse)
    assert all(raw_after[t] < raw_before[t] for t in raw_after), (raw_before, raw_after)
    assert deleted["quarantine.enrolment_rejects"] == 1
    assert deleted["identified.priority_children_versions__nights"] == 1  # T0's list
    with psycopg.connect(warehouse) as conn:
        assert conn.execute("select count(*) from identified.priority_children where as_of_date < %s",
                            (cutoff,)).fetchone()[0] == 0
        assert conn.execute("select count(*) from identified.priority_children where as_of_date = %s",
                            (T2,)).fetchone()[0] > 0
        assert conn.execute("select count(*) from identified.priority_children_versions where valid_to < %s"
                            " or (not listed and valid_from < %s)", (cutoff, cutoff)).fetchone()[0] == 0
        # the T0B roster (gate failed) is gone whole; of T0's, only people never seen again on a roll
        # up to the cutoff remain (their last record decides their history)
        left = dict(conn.execute(
            "select b.extract_date, count(*) from raw.enrolment_roster r join audit.load_batches b"
            " on b.batch_id = r._batch_id group by 1").fetchall())
        assert T0B not in left and 0 < left[T0] < raw_before["enrolment_roster"]
        # no identified child version that ended before the cutoff is left
        assert conn.execute("select count(*) from intermediate.int_children__versioned where valid_to < %s"
                            " or (not present and valid_from < %s)", (cutoff, cutoff)).fetchone()[0] == 0
        purges = conn.execute("select target, rule, rows_deleted, cutoff_date, retention_days, purged_by, run_id"
                              " from audit.purges").fetchall()
    assert {p[0] for p in purges} >= {"raw.enrolment_roster", "raw.registry_events", "raw.welfare_screenings",
                                      "quarantine.enrolment_rejects", "identified.priority_children_versions",
                                      "identified.priority_children_versions__nights",
                                      "intermediate.int_children__versioned"}
    assert all(p[3] == cutoff and p[4] == days and p[5] == "postgres" and p[6] == "ret-run" for p in purges)
    assert sum(p[2] for p in purges) == sum(deleted.values())

    build(warehouse, T2)  # the re-run of a date after the cutoff
    after = _mart(warehouse, T2)
    assert after[0] == before[0]
    assert after[1] == before[1]
    # a second purge finds nothing more
    assert sum(purge_expired(warehouse, days, "ret-run-2", as_of=T2).values()) == 0


def test_retention_days_from_environment(monkeypatch):
    from equity.config import DEFAULT_RETENTION_DAYS, retention_days

    monkeypatch.delenv("EQUITY_RETENTION_DAYS", raising=False)
    assert retention_days() == DEFAULT_RETENTION_DAYS
    monkeypatch.setenv("EQUITY_RETENTION_DAYS", "30")
    assert retention_days() == 30
    monkeypatch.setenv("EQUITY_RETENTION_DAYS", "0")
    with pytest.raises(ValueError):
        retention_days()
