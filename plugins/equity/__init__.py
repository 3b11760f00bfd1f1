"""National equity data warehouse: the importable package behind the DAGs and the `equity` CLI."""

__version__ = "0.1.0"
