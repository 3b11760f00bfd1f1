"""`equity`: the one command for people. generate, run, backfill, status, demo, stop."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
import time
import warnings
from datetime import date, timedelta
from pathlib import Path

from equity import config
from equity.paths import state_dir


def _progress(label: str):
    started = time.monotonic()

    def show(item, done: int, total: int) -> None:
        elapsed = time.monotonic() - started
        width = 24
        filled = int(width * done / max(total, 1))
        print(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {item}  {elapsed:5.0f}s",
              end="\n" if done == total else "", file=sys.stderr, flush=True)

    return show


def cmd_generate(args) -> int:
    from equity.synth import CHILDREN_PER_PERSON, generate, persons_for_children

    out = Path(args.out or config.landing())
    persons = args.persons or persons_for_children(args.children)
    print(f"generating {args.days} night(s) from {args.start}: {persons:,} persons aged 0-24"
          f" (about {round(persons * CHILDREN_PER_PERSON):,} children aged 3-18) into {out}")
    summary = generate(out, persons=persons, start=args.start, days=args.days, seed=args.seed,
                       faults=args.faults, progress=_progress("generate"))
    days = summary.get("per_day", [])
    print(f"done: {summary.get('persons', 0):,} persons, {len(days)} night(s), faults: {args.faults}"
          f" ({sum(summary.get('fault_counts', {}).values())} row faults,"
          f" {len(summary.get('delivery_faults', []))} broken deliveries)")
    for d in days:
        print(f"  {d['as_of_date']}: {d['children']:,} children (truth), rows delivered {d['delivered_rows']}")
    print(f"  ground truth and fault log: {out / '_truth'}")
    return 0


def cmd_run(args) -> int:
    from equity.orchestrate import run_dates

    end = args.to or args.date
    if end < args.date:
        print("--to must not be before --date", file=sys.stderr)
        return 2
    config.hmac_key()  # refuse before starting anything
    show = _progress("run")
    results = run_dates(args.date, end, progress=lambda d, i, n: show(d, i, n))
    show("", len(results), len(results))
    bad = 0
    for r in results:
        print(f"  {r['date']}: {r['state']}")
        bad += r["state"] != "success"
    _print_status(limit=len(results))
    return 1 if bad else 0


def cmd_status(args) -> int:
    _print_status(limit=args.limit)
    return 0


def _print_status(limit: int = 5) -> None:
    from equity.report import status_text

    print(status_text(limit))


def cmd_demo(args) -> int:
    """Generate a few nights, run them in order through Airflow, show what the marts say."""
    from equity.report import marts_text

    if not os.environ.get("EQUITY_HMAC_KEY"):
        key_file = state_dir() / "demo_hmac_key"
        key_file.parent.mkdir(parents=True, exist_ok=True)
        if not key_file.exists():
            key_file.write_text(secrets.token_hex(32))
            key_file.chmod(0o600)
        os.environ["EQUITY_HMAC_KEY"] = key_file.read_text().strip()
        print(f"demo: using a local random HMAC key ({key_file}); production sets EQUITY_HMAC_KEY")
    landing = Path(config.landing())
    gen = argparse.Namespace(out=str(landing), children=args.children, persons=None, start=args.start,
                             days=args.days, seed=args.seed, faults="clean")
    cmd_generate(gen)
    rc = cmd_run(argparse.Namespace(date=args.start, to=args.start + timedelta(days=args.days - 1)))
    print(marts_text(args.start + timedelta(days=args.days - 1)))
    return rc


def cmd_url(args) -> int:
    from equity.warehouse import warehouse_url

    print(warehouse_url())
    return 0


def cmd_stop(args) -> int:
    from equity.embedded import stop_embedded

    print("embedded PostgreSQL stopped" if stop_embedded() else "embedded PostgreSQL was not running")
    return 0


def _quiet_third_party_warnings() -> None:
    """Library deprecation chatter is for developers, not for people running the pipeline."""
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    warnings.filterwarnings("ignore", message=".*httpx.*")


def main(argv: list[str] | None = None) -> int:
    _quiet_third_party_warnings()
    logging.basicConfig(level=os.environ.get("EQUITY_LOG_LEVEL", "WARNING"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    p = argparse.ArgumentParser(prog="equity", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="write synthetic deliveries with ground truth")
    size = g.add_mutually_exclusive_group()
    size.add_argument("--children", type=int, default=1300,
                      help="children aged 3-18 to simulate (13000000 = Thailand); persons 0-24 follow")
    size.add_argument("--persons", type=int, help="size the run by persons aged 0-24 instead")
    g.add_argument("--start", type=date.fromisoformat, default=date(2026, 11, 20))
    g.add_argument("--days", type=int, default=5)
    g.add_argument("--seed", type=int, default=7)
    g.add_argument("--out", help="landing folder (default EQUITY_LANDING or ./landing)")
    g.add_argument("--faults", default="clean",
                   help="fault profile: clean (none), default (every kind), rows (row faults only)")
    g.set_defaults(func=cmd_generate)

    for name, help_ in (("run", "run the nightly DAG for a date or a range, in order"),
                        ("backfill", "re-run a range of dates in order (same as run with --to)")):
        r = sub.add_parser(name, help=help_)
        r.add_argument("--date", type=date.fromisoformat, required=True)
        r.add_argument("--to", type=date.fromisoformat)
        r.set_defaults(func=cmd_run)

    s = sub.add_parser("status", help="the latest runs, their gates and counts")
    s.add_argument("--limit", type=int, default=5)
    s.set_defaults(func=cmd_status)

    d = sub.add_parser("demo", help="generate a few nights, run them, print what the marts say")
    d.add_argument("--children", type=int, default=1300, help="children aged 3-18 to simulate")
    d.add_argument("--start", type=date.fromisoformat, default=date(2026, 11, 20))
    d.add_argument("--days", type=int, default=3)
    d.add_argument("--seed", type=int, default=7)
    d.set_defaults(func=cmd_demo)

    u = sub.add_parser("url", help="print the warehouse URL (starting the embedded server if needed)")
    u.set_defaults(func=cmd_url)

    st = sub.add_parser("stop", help="stop the embedded PostgreSQL server")
    st.set_defaults(func=cmd_stop)

    args = p.parse_args(argv)
    try:
        return args.func(args)
    except config.MissingSecret as exc:
        print(f"equity: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
