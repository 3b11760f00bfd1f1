# The image every Airflow service in docker-compose.yml runs: the pinned official Airflow image
# plus this project (the `equity` package and its exact dependency pins from pyproject.toml).
#
# Build from the repository root (docker-compose.yml does this for you):
#   docker build -f docker/airflow.Dockerfile -t equity-airflow:3.3.2-python3.11 .
#
# The base tag must equal the apache-airflow pin in pyproject.toml and the Python of
# `requires-python`; tests/test_compose.py checks both.
FROM apache/airflow:3.3.2-python3.11

# Directories the compose file mounts named volumes on. Created here, owned by the airflow user
# (uid 50000, gid 0), so a fresh volume inherits an owner the services can write as.
USER root
RUN mkdir -p /opt/equity /opt/airflow/auth /opt/airflow/equity-state \
    && chown -R airflow:0 /opt/equity /opt/airflow/auth /opt/airflow/equity-state

USER airflow

# Copy only what the package and the pipeline need, never the whole build context: the context
# may hold .env (secrets), landing/ (personal data) and .equity/ (embedded database files), none of
# which may end up in an image layer.
COPY --chown=airflow:0 pyproject.toml README.md /opt/equity/
COPY --chown=airflow:0 plugins /opt/equity/plugins
COPY --chown=airflow:0 dags /opt/equity/dags
COPY --chown=airflow:0 dbt_project /opt/equity/dbt_project
COPY --chown=airflow:0 expectations /opt/equity/expectations

# Editable install: the `equity` package is imported from /opt/equity/plugins/equity, so the
# checkout that docker-compose.yml bind-mounts over /opt/equity/{dags,plugins,...} is the code that
# runs (one version for DAG, package, dbt project and suites). Dependencies come from the image:
# rebuild after pyproject.toml changes. Naming apache-airflow with the base image's version makes
# pip fail rather than silently swap the Airflow the image was built for.
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -e /opt/equity \
    && python -c "import equity, airflow; print('equity', equity.__file__, 'airflow', airflow.__version__)"

ENV EQUITY_PROJECT_ROOT=/opt/equity
