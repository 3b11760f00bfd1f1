"""python -m equity.synth OUT [--children N] [--start YYYY-MM-DD] [--days D] [--seed S]"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

from equity.synth import generate


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m equity.synth", description=__doc__)
    ap.add_argument("out", type=Path)
    ap.add_argument("--children", type=int, default=2000)
    ap.add_argument("--start", type=date.fromisoformat, default=date(2026, 11, 20))
    ap.add_argument("--days", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--faults", default="clean", help="fault profile: clean or default")
    ap.add_argument("--reference", type=Path, default=None)
    args = ap.parse_args(argv)
    summary = generate(args.out, children=args.children, start=args.start, days=args.days,
                       seed=args.seed, faults=args.faults, reference=args.reference,
                       progress=lambda d, i, n: print(f"day {i}/{n}: {d}", flush=True))
    print(json.dumps(summary["per_day"][-1], ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
