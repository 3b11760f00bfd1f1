"""The production compose file, checked without a Docker engine (YAML parsing only).

What this guards: every service the deployment needs is there, images are pinned and Airflow's
agrees with pyproject.toml, long-running services have healthchecks, start order waits on health,
secrets come only from `.env` (documented in `.env.example`, never literal in the compose file),
every EQUITY_* variable the package reads is set, and the mounts line up with the paths the
environment names.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "docker" / "airflow.Dockerfile"
PYPROJECT = ROOT / "pyproject.toml"

# Services the deployment needs (docs/deploy.md explains each).
WAREHOUSE = "warehouse"
AIRFLOW_DB = "airflow-db"
INIT = "airflow-init"
AIRFLOW_LONG_RUNNING = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
}
REQUIRED_SERVICES = {WAREHOUSE, AIRFLOW_DB, INIT, *AIRFLOW_LONG_RUNNING}

# The run configuration documented in the shared contracts ("Run configuration") plus the project
# root paths.py reads. The package source is grepped on top of this (it is written concurrently;
# whatever it reads must be set too).
DOCUMENTED_EQUITY_VARS = {
    "EQUITY_LANDING",
    "EQUITY_REFERENCE",
    "EQUITY_WAREHOUSE_URL",
    "EQUITY_HMAC_KEY",
    "EQUITY_PROJECT_ROOT",
}
# EQUITY_* variables the code may read but the compose deliberately leaves unset (none today).
EQUITY_VARS_NOT_FOR_COMPOSE: set[str] = set()

# Repository folders mounted into the Airflow containers, each at $EQUITY_PROJECT_ROOT/<name>.
PROJECT_MOUNTS = ("dags", "plugins", "dbt_project", "expectations")

SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|(^|_)KEY$|HMAC|FERNET", re.IGNORECASE)
NOT_A_SECRET_VALUE = re.compile(r"_(FILE|PATH|DIR)$")
EXACT_TAG = re.compile(r"^\d+(\.\d+)+([-_.][A-Za-z0-9_.-]+)?$")
INTERPOLATION = re.compile(r"\$\{([^}]*)\}")
BARE_DOLLAR_VAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
ENV_READ = re.compile(
    r"""(?:environ(?:\.get|\.setdefault|\.pop)?\s*[\[(]|getenv\s*\()\s*['"](EQUITY_[A-Z0-9_]+)['"]"""
)
EQUITY_LITERAL = re.compile(r"""['"](EQUITY_[A-Z0-9_]+)['"]""")


# --------------------------------------------------------------------------- loading helpers


def _load_compose() -> dict:
    assert COMPOSE_FILE.is_file(), f"{COMPOSE_FILE} is missing"
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and isinstance(data.get("services"), dict), (
        "docker-compose.yml must be a mapping with a `services:` mapping"
    )
    return data


COMPOSE = _load_compose()
SERVICES: dict[str, dict] = COMPOSE["services"]


def _airflow_pin() -> str:
    deps = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["dependencies"]
    for dep in deps:
        m = re.fullmatch(r"apache-airflow\s*==\s*([0-9][0-9A-Za-z.]*)", dep.strip())
        if m:
            return m.group(1)
    raise AssertionError("pyproject.toml has no exact `apache-airflow==X.Y.Z` pin")


def _python_minor() -> str:
    spec = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["requires-python"]
    m = re.search(r">=\s*(\d+\.\d+)", spec)
    assert m, f"cannot read the minimum Python from requires-python = {spec!r}"
    return m.group(1)


def _env_example() -> dict[str, tuple[str, list[str]]]:
    """KEY -> (value, comment lines directly above it)."""
    assert ENV_EXAMPLE.is_file(), ".env.example is missing (copy target for .env)"
    entries: dict[str, tuple[str, list[str]]] = {}
    comments: list[str] = []
    for raw in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            comments = []
            continue
        if line.startswith("#"):
            comments.append(line)
            continue
        m = re.fullmatch(r"(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)", line)
        assert m, f".env.example: cannot parse line {raw!r} (expected KEY=value)"
        entries[m.group(1)] = (m.group(2).strip().strip("'\""), comments)
        comments = []
    return entries


def _strings(node, path="") -> list[tuple[str, str]]:
    """Every string (keys and values) in a parsed YAML tree, with where it was found."""
    out: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if isinstance(k, str):
                out.append((f"{path}/{k} (key)", k))
            out += _strings(v, f"{path}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _strings(v, f"{path}[{i}]")
    elif isinstance(node, str):
        out.append((path, node))
    return out


def _interpolations(text: str) -> list[tuple[str, str]]:
    """(name, operator+argument) of each ${...} compose would substitute ($$ is a literal $)."""
    found = []
    for inner in INTERPOLATION.findall(text.replace("$$", "")):
        m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)(.*)", inner, re.DOTALL)
        assert m, f"malformed interpolation ${{{inner}}}"
        found.append((m.group(1), m.group(2)))
    return found


def _resolve(text: str) -> str:
    """Substitute ${VAR:-default} by its default and any other ${VAR...} by a placeholder."""

    def sub(m: re.Match) -> str:
        inner = m.group(1)
        d = re.match(r"[A-Za-z_][A-Za-z0-9_]*:?-(.*)", inner, re.DOTALL)
        return d.group(1) if d else "INTERPOLATED"

    return INTERPOLATION.sub(sub, text.replace("$$", "$"))


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return {str(k): ("" if v is None else str(v)) for k, v in env.items()}


def _env_files(service: dict) -> list[str]:
    ef = service.get("env_file")
    if ef is None:
        return []
    items = ef if isinstance(ef, list) else [ef]
    return [i["path"] if isinstance(i, dict) else i for i in items]


def _is_airflow(service: dict) -> bool:
    image = str(service.get("image", ""))
    build = service.get("build")
    dockerfile = build.get("dockerfile", "") if isinstance(build, dict) else ""
    return image.startswith("apache/airflow:") or "airflow.Dockerfile" in dockerfile


AIRFLOW_SERVICES = {name: svc for name, svc in SERVICES.items() if _is_airflow(svc)}


def _is_one_shot(name: str, service: dict) -> bool:
    return str(service.get("restart", "")).strip() == "no"


def _mounts(service: dict) -> list[dict]:
    """Volumes as dicts: type (bind/volume), source, target, read_only."""
    out = []
    for v in service.get("volumes") or []:
        if isinstance(v, dict):
            out.append(
                {
                    "type": v.get("type", "volume"),
                    "source": _resolve(str(v.get("source", ""))),
                    "target": v["target"],
                    "read_only": bool(v.get("read_only", False)),
                }
            )
            continue
        parts = _resolve(v).split(":")
        source, target = parts[0], parts[1]
        mode = parts[2] if len(parts) > 2 else "rw"
        kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        out.append({"type": kind, "source": source, "target": target, "read_only": "ro" in mode.split(",")})
    return out


def _rel(source: str) -> str:
    """`./dags/` -> `dags`."""
    return source.removeprefix("./").rstrip("/")


def _gitignored(rel: str) -> bool:
    gitignore = ROOT / ".gitignore"
    if not gitignore.is_file():
        return False
    rel = _rel(rel)
    for line in gitignore.read_text(encoding="utf-8").splitlines():
        pattern = line.strip().strip("/")
        if pattern and not pattern.startswith("#") and pattern == rel:
            return True
    return False


def _equity_vars_read_by_code() -> set[str]:
    found: set[str] = set()
    sources = list((ROOT / "plugins" / "equity").rglob("*.py")) + list((ROOT / "dags").rglob("*.py"))
    # benchmark harnesses run beside the stack, not inside its services
    sources = [p for p in sources if not p.name.startswith("bench")]
    for path in sources:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # a file being written concurrently: skip, the next run sees it
        found |= set(ENV_READ.findall(text))
        found |= set(EQUITY_LITERAL.findall(text))
    return found


# --------------------------------------------------------------------------- services


def test_required_services_present():
    missing = REQUIRED_SERVICES - SERVICES.keys()
    assert not missing, f"docker-compose.yml lacks services: {sorted(missing)}"


def test_airflow_common_anchor_used():
    assert "x-airflow-common" in COMPOSE, "define the shared Airflow settings once, as `x-airflow-common`"
    expected = {INIT, *AIRFLOW_LONG_RUNNING}
    assert expected <= AIRFLOW_SERVICES.keys(), (
        f"these services should run the Airflow image: {sorted(expected - AIRFLOW_SERVICES.keys())}"
    )


@pytest.mark.parametrize("name,command", sorted(AIRFLOW_LONG_RUNNING.items()))
def test_airflow_component_commands(name, command):
    svc = SERVICES.get(name)
    assert svc is not None, f"service {name} missing"
    got = svc.get("command")
    got = " ".join(got) if isinstance(got, list) else str(got)
    assert got.strip() == command, f"{name}: command should be `{command}`, is `{got}`"


def test_init_migrates_and_sets_admin():
    svc = SERVICES[INIT]
    cmd = svc.get("command")
    cmd = "\n".join(cmd) if isinstance(cmd, list) else str(cmd)
    assert "airflow db migrate" in cmd, f"{INIT} must run `airflow db migrate`"
    env = _environment(svc)
    manager = env.get("AIRFLOW__CORE__AUTH_MANAGER", "")
    if manager.endswith("SimpleAuthManager"):
        assert "SIMPLE_AUTH_MANAGER_PASSWORDS_FILE" in cmd and "AIRFLOW_ADMIN_PASSWORD" in str(env), (
            f"{INIT} must write the admin password (from .env) into the simple auth manager's passwords file"
        )
    else:
        assert "airflow users create" in cmd, f"{INIT} must create the admin user"
    assert _is_one_shot(INIT, svc), f'{INIT} is one-shot: give it `restart: "no"`'


# --------------------------------------------------------------------------- images


def test_every_image_pinned_to_an_exact_tag():
    problems = []
    for name, svc in SERVICES.items():
        image = svc.get("image")
        if not image:
            problems.append(f"{name}: no `image:` (name the image, with a pinned tag, even when built)")
            continue
        if "@sha256:" in image:
            continue
        repo, _, tag = image.rpartition(":")
        if not repo or "/" in tag:
            problems.append(f"{name}: image {image!r} has no tag")
        elif tag == "latest" or not EXACT_TAG.match(tag):
            problems.append(f"{name}: image {image!r} is not pinned to an exact version tag")
        elif "${" in image:
            problems.append(f"{name}: image {image!r} must not depend on the environment")
    assert not problems, "\n".join(problems)


def test_postgres_images_are_pinned_15():
    for name in (WAREHOUSE, AIRFLOW_DB):
        image = SERVICES[name]["image"]
        assert re.fullmatch(r"postgres:15\.\d+(-[\w.]+)?", image), (
            f"{name}: expected a pinned postgres:15.x image, got {image!r}"
        )


def test_airflow_version_matches_pyproject_and_dockerfile():
    pin = _airflow_pin()
    py = _python_minor()
    images = {name: svc["image"] for name, svc in AIRFLOW_SERVICES.items()}
    assert len(set(images.values())) == 1, f"all Airflow services must run one image, got {images}"
    image = next(iter(images.values()))
    tag = image.rpartition(":")[2]
    assert tag == pin or tag.startswith(pin + "-"), (
        f"Airflow image {image!r} does not carry the apache-airflow pin {pin} from pyproject.toml"
    )

    assert DOCKERFILE.is_file(), f"{DOCKERFILE.relative_to(ROOT)} is missing"
    text = DOCKERFILE.read_text(encoding="utf-8")
    froms = re.findall(r"^\s*FROM\s+(\S+)", text, re.MULTILINE | re.IGNORECASE)
    assert froms, "the Dockerfile has no FROM line"
    expected = f"apache/airflow:{pin}-python{py}"
    assert froms[-1] == expected, (
        f"Dockerfile FROM is {froms[-1]!r}; expected {expected!r} (pyproject: apache-airflow=={pin}, "
        f"Python {py})"
    )
    if tag != pin:
        assert tag == f"{pin}-python{py}", f"image tag {tag!r} should mirror its base tag {pin}-python{py}"

    for name, svc in AIRFLOW_SERVICES.items():
        build = svc.get("build")
        assert isinstance(build, dict) and build.get("dockerfile") == "docker/airflow.Dockerfile", (
            f"{name}: should build from docker/airflow.Dockerfile"
        )
        context = (ROOT / build.get("context", ".")).resolve()
        assert context == ROOT, f"{name}: the build context must be the repository root, is {context}"


def test_dockerfile_installs_the_project_without_leaking_the_context():
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"pip install[^\n]*/opt/equity", text), "the Dockerfile must pip-install /opt/equity"
    copies_everything = re.search(r"^\s*COPY\s+(--\S+\s+)*\.\s", text, re.MULTILINE)
    if copies_everything:
        ignore = ROOT / ".dockerignore"
        ignored = ignore.read_text(encoding="utf-8").split() if ignore.is_file() else []
        assert {".env", "landing"} <= {p.strip("/") for p in ignored}, (
            "the Dockerfile copies the whole context: .dockerignore must exclude .env and landing/"
        )


# --------------------------------------------------------------------------- health and order


def test_long_running_services_have_healthchecks():
    problems = []
    for name, svc in SERVICES.items():
        if _is_one_shot(name, svc):
            continue
        hc = svc.get("healthcheck")
        if not hc or hc.get("disable") or not hc.get("test"):
            problems.append(f"{name}: long-running service without a healthcheck")
    assert not problems, "\n".join(problems)


def test_healthcheck_commands():
    def test_of(name):
        t = SERVICES[name]["healthcheck"]["test"]
        return " ".join(t) if isinstance(t, list) else t

    for name in (WAREHOUSE, AIRFLOW_DB):
        assert "pg_isready" in test_of(name), f"{name}: healthcheck should use pg_isready"
    assert "/api/v2/monitor/health" in test_of("airflow-apiserver"), (
        "airflow-apiserver: healthcheck should call /api/v2/monitor/health"
    )
    ports = [str(p) for p in SERVICES["airflow-apiserver"].get("ports", [])]
    assert any(_resolve(p).endswith(":8080") for p in ports), "airflow-apiserver must publish port 8080"
    assert "DagProcessorJob" in test_of("airflow-dag-processor")
    assert "TriggererJob" in test_of("airflow-triggerer")


def test_depends_on_waits_for_health_and_init():
    problems = []
    for name, svc in SERVICES.items():
        deps = svc.get("depends_on") or {}
        if isinstance(deps, list):
            problems.append(f"{name}: depends_on must use the long form with a condition")
            continue
        for dep, spec in deps.items():
            if dep not in SERVICES:
                problems.append(f"{name}: depends on unknown service {dep}")
                continue
            cond = (spec or {}).get("condition")
            if _is_one_shot(dep, SERVICES[dep]):
                if cond != "service_completed_successfully":
                    problems.append(f"{name} -> {dep}: condition should be service_completed_successfully")
            elif cond != "service_healthy":
                problems.append(f"{name} -> {dep}: condition should be service_healthy")
    for name in AIRFLOW_LONG_RUNNING:
        deps = SERVICES[name].get("depends_on") or {}
        for needed in (INIT, AIRFLOW_DB, WAREHOUSE):
            if needed not in deps:
                problems.append(f"{name}: should depend on {needed}")
    if AIRFLOW_DB not in (SERVICES[INIT].get("depends_on") or {}):
        problems.append(f"{INIT}: should wait for {AIRFLOW_DB} to be healthy")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- secrets and .env


def test_every_interpolated_variable_is_in_env_example():
    documented = _env_example()
    used: dict[str, list[str]] = {}
    for where, text in _strings(COMPOSE):
        for name, _op in _interpolations(text):
            used.setdefault(name, []).append(where)
        bare = BARE_DOLLAR_VAR.findall(re.sub(r"\$\{[^}]*\}", "", text.replace("$$", "")))
        assert not bare, f"{where}: use ${{VAR}} (or $$ for a literal $), not bare ${bare[0]}"
    missing = {name: where for name, where in used.items() if name not in documented}
    assert not missing, "variables used in docker-compose.yml but absent from .env.example:\n" + "\n".join(
        f"  {name} (at {where[0]})" for name, where in sorted(missing.items())
    )


def test_required_secrets_fail_loudly_and_are_placeholders():
    documented = _env_example()
    problems = []
    for where, text in _strings(COMPOSE):
        for name, op in _interpolations(text):
            if SECRET_NAME.search(name) and not op.startswith(":?"):
                problems.append(f"{where}: secret ${{{name}}} must be required: ${{{name}:?message}}")
    for name, (value, comments) in documented.items():
        if not SECRET_NAME.search(name) or NOT_A_SECRET_VALUE.search(name):
            continue
        if value:
            problems.append(f".env.example: {name} must be empty (a committed file holds no secret)")
        if not any("CHANGE_ME" in c for c in comments):
            problems.append(f".env.example: mark {name} with a `# CHANGE_ME` comment line above it")
    assert not problems, "\n".join(problems)


def test_no_literal_secrets_in_compose():
    problems = []
    for name, svc in {**SERVICES, "x-airflow-common": COMPOSE.get("x-airflow-common") or {}}.items():
        for key, value in _environment(svc).items():
            is_secret = SECRET_NAME.search(key) and not NOT_A_SECRET_VALUE.search(key)
            if is_secret and INTERPOLATION.sub("", value).strip():
                problems.append(f"{name}: {key} must come only from ${{...}} (.env), not a literal")
    for where, text in _strings(COMPOSE):
        # Each ${...} masked as one character, so `user:${PASS}@` leaves exactly that character.
        masked = INTERPOLATION.sub("\x01", text.replace("$$", ""))
        for url in re.findall(r"[a-z][a-z0-9+.-]*://[^\s\"']+", masked):
            m = re.match(r"[^:]+://[^/@:]*:([^@/]*)@", url)
            if m and m.group(1) != "\x01":
                problems.append(f"{where}: a URL in {text!r} carries a literal password (use ${{VAR:?...}})")
        for m in re.finditer(r"\b(\w*(?:PASSWORD|SECRET|TOKEN)\w*)=(\S+)", text):
            if not m.group(2).startswith(("$", '"$', "'$")):
                problems.append(f"{where}: {m.group(1)} is given a literal value")
    assert not problems, "\n".join(problems)


def test_airflow_services_read_env_file_and_env_is_ignored():
    for name, svc in AIRFLOW_SERVICES.items():
        assert ".env" in _env_files(svc), f"{name}: should have `env_file: .env`"
    assert _gitignored(".env"), ".env must be listed in .gitignore"


# --------------------------------------------------------------------------- Airflow settings


def test_airflow_core_settings():
    expected = {
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Bangkok",
    }
    problems = []
    for name, svc in AIRFLOW_SERVICES.items():
        env = _environment(svc)
        for key, want in expected.items():
            if env.get(key, "").lower() != want.lower():
                problems.append(f"{name}: {key} should be {want!r}, is {env.get(key)!r}")
        for key in ("AIRFLOW__CORE__DAGS_FOLDER", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"):
            if not env.get(key):
                problems.append(f"{name}: {key} is not set")
        conn = _resolve(env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", ""))
        if conn and urlsplit(conn).hostname != AIRFLOW_DB:
            problems.append(f"{name}: SQL_ALCHEMY_CONN should point at the {AIRFLOW_DB} service ({conn})")
    assert not problems, "\n".join(problems)


def test_equity_variables_read_by_code_are_set():
    needed = (DOCUMENTED_EQUITY_VARS | _equity_vars_read_by_code()) - EQUITY_VARS_NOT_FOR_COMPOSE
    problems = []
    for name, svc in AIRFLOW_SERVICES.items():
        env = _environment(svc)
        for var in sorted(needed):
            if not env.get(var, "").strip():
                problems.append(f"{name}: {var} is read by the equity code but not set")
    assert not problems, "\n".join(problems) + (
        "\n(set it in x-airflow-common's environment, or list it in EQUITY_VARS_NOT_FOR_COMPOSE with a reason)"
    )


def test_warehouse_url_points_at_the_warehouse_service():
    for name, svc in AIRFLOW_SERVICES.items():
        url = _resolve(_environment(svc).get("EQUITY_WAREHOUSE_URL", ""))
        parts = urlsplit(url)
        assert parts.scheme.startswith("postgresql"), f"{name}: EQUITY_WAREHOUSE_URL is not a postgresql URL"
        assert parts.hostname == WAREHOUSE, (
            f"{name}: EQUITY_WAREHOUSE_URL host is {parts.hostname!r}, should be the `{WAREHOUSE}` service"
        )


def test_the_warehouse_server_has_room_for_a_national_load():
    """The settings docs/deploy.md asks of a warehouse server, given to the compose one."""
    command = SERVICES[WAREHOUSE]["command"]
    assert command[0] == "postgres"
    settings = dict(arg.split("=", 1) for arg in command[1:] if arg != "-c")
    assert settings == {"max_wal_size": "4GB", "wal_buffers": "64MB"}


# --------------------------------------------------------------------------- mounts


def test_mounts_exist_and_agree_with_the_environment():
    declared_volumes = set((COMPOSE.get("volumes") or {}).keys())
    problems = []
    for name, svc in AIRFLOW_SERVICES.items():
        env = _environment(svc)
        root = PurePosixPath(env.get("EQUITY_PROJECT_ROOT", "<unset>"))
        by_target = {}
        for m in _mounts(svc):
            by_target[m["target"]] = m
            if m["type"] == "bind":
                source = m["source"]
                if source.startswith("./") or source == ".":
                    host = ROOT / source
                    if not host.exists() and not _gitignored(source):
                        problems.append(f"{name}: mounts {source}, which does not exist in the repository")
                elif not source.startswith("/"):
                    problems.append(f"{name}: bind mount {source} should be relative to the repository")
            elif m["source"] not in declared_volumes:
                problems.append(f"{name}: named volume {m['source']} is not declared under `volumes:`")

        by_folder = {_rel(m["source"]): m for m in _mounts(svc) if m["type"] == "bind"}
        for folder in PROJECT_MOUNTS:
            m = by_folder.get(folder)
            if m is None:
                problems.append(f"{name}: ./{folder} is not mounted")
                continue
            if PurePosixPath(m["target"]) != root / folder:
                problems.append(f"{name}: ./{folder} is mounted at {m['target']}, expected {root / folder}")
        dags = by_folder.get("dags")
        if dags and dags["target"] != env.get("AIRFLOW__CORE__DAGS_FOLDER"):
            problems.append(
                f"{name}: AIRFLOW__CORE__DAGS_FOLDER={env.get('AIRFLOW__CORE__DAGS_FOLDER')} but ./dags is "
                f"mounted at {dags['target']}"
            )
        landing = env.get("EQUITY_LANDING", "")
        m = by_target.get(landing)
        if m is None or m["type"] != "bind":
            problems.append(f"{name}: EQUITY_LANDING={landing} is not a mounted host folder")
        elif not m["read_only"]:
            problems.append(f"{name}: the landing zone must be mounted read-only (deliveries are immutable)")
        for folder in ("dags", "plugins"):
            if folder in by_folder and not by_folder[folder]["read_only"]:
                problems.append(f"{name}: ./{folder} should be mounted read-only")
        reference = env.get("EQUITY_REFERENCE", "")
        if reference.startswith(str(root) + "/"):
            rel = PurePosixPath(reference).relative_to(root)
            if rel.parts[0] not in PROJECT_MOUNTS:
                problems.append(f"{name}: EQUITY_REFERENCE={reference} is not inside a mounted folder")
    assert not problems, "\n".join(problems)


def test_warehouse_service_storage_and_password():
    svc = SERVICES[WAREHOUSE]
    env = _environment(svc)
    assert "${" in env.get("POSTGRES_PASSWORD", ""), "warehouse: POSTGRES_PASSWORD must come from .env"
    data = [m for m in _mounts(svc) if m["target"] == "/var/lib/postgresql/data"]
    assert data and data[0]["type"] == "volume", "warehouse: keep /var/lib/postgresql/data on a named volume"
