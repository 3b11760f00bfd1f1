"""Access control (PDPA): roles, grants, the identified layer's row-level security and audited path.

`apply_access(url)` applies plugins/equity/sql/access.sql (idempotent; after `bootstrap`).
`grant_officer(url, login_role, lao_codes)` assigns LAOs to a municipal officer's login role.
`purge_expired(url, days, run_id)` is the retention purge (equity.retention).
docs/security.md describes the model.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from importlib import resources

from psycopg import sql

from equity.retention import purge_expired  # noqa: F401 - part of this module's interface
from equity.warehouse import connect

log = logging.getLogger(__name__)

# The group roles the project creates (NOLOGIN; people and services log in as members).
LOADER = "equity_loader"
TRANSFORMER = "equity_transformer"
BI_READER = "bi_reader"
LAO_OFFICER = "lao_officer"
AUDITOR = "equity_auditor"
IDENTIFIED_ACCESS = "equity_identified_access"  # owns the audited read function
ROLES = (LOADER, TRANSFORMER, BI_READER, LAO_OFFICER, AUDITOR, IDENTIFIED_ACCESS)


class AccessError(ValueError):
    pass


def apply_access(url: str | None = None) -> None:
    """Create the roles (if missing) and apply grants, RLS and the audited path in this database."""
    sql_dir = resources.files("equity").joinpath("sql")
    with connect(url) as conn:
        # Under bootstrap's own lock, with bootstrap first (the tables and functions the grants name):
        # a bootstrap running beside the grants would replace the very catalog rows they update.
        conn.execute("select pg_advisory_xact_lock(hashtext('equity.bootstrap'))")
        conn.execute(sql_dir.joinpath("bootstrap.sql").read_text())
        conn.execute(sql_dir.joinpath("access.sql").read_text())
        conn.commit()
    log.info("access control applied")


def _role_exists(conn, role: str) -> bool:
    return conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone() is not None


def grant_officer(url: str | None, login_role: str, lao_codes: Iterable[str]) -> list[str]:
    """Make `login_role` an officer for `lao_codes` (added to what it has); return all its LAOs.

    The role must exist (created by the DBA, with its own credentials: never by the pipeline);
    every LAO must be in reference.laos.
    """
    codes = sorted(set(lao_codes))
    if not codes:
        raise AccessError("no LAO given")
    with connect(url) as conn:
        if not _role_exists(conn, login_role):
            raise AccessError(f"role {login_role!r} does not exist: create the officer's login first")
        known = {r[0] for r in conn.execute(
            "select lao_code from reference.laos where lao_code = any(%s)", (codes,)).fetchall()}
        unknown = [c for c in codes if c not in known]
        if unknown:
            raise AccessError(f"unknown LAO codes {unknown}")
        conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(LAO_OFFICER), sql.Identifier(login_role)))
        conn.execute(
            "insert into identified.officer_laos (officer_role, lao_code)"
            " select %s, unnest(%s::text[]) on conflict do nothing", (login_role, codes))
        held = [r[0] for r in conn.execute(
            "select lao_code from identified.officer_laos where officer_role = %s order by 1",
            (login_role,)).fetchall()]
        conn.commit()
    log.info("officer %s: LAOs %s", login_role, held)
    return held


def revoke_officer(url: str | None, login_role: str, lao_codes: Iterable[str] | None = None) -> list[str]:
    """Take LAOs (all when None) away from an officer; return the LAOs left.

    Membership in lao_officer is cluster-wide and is left alone (the login may be an officer in
    another database); without mapped LAOs the read function returns it nothing (and logs the try).
    """
    with connect(url) as conn:
        if lao_codes is None:
            conn.execute("delete from identified.officer_laos where officer_role = %s", (login_role,))
        else:
            conn.execute("delete from identified.officer_laos where officer_role = %s and lao_code = any(%s)",
                         (login_role, sorted(set(lao_codes))))
        left = [r[0] for r in conn.execute(
            "select lao_code from identified.officer_laos where officer_role = %s order by 1",
            (login_role,)).fetchall()]
        conn.commit()
    return left
