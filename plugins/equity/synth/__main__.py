"""python -m equity.synth OUT [--persons N] [--start YYYY-MM-DD] [--days D] [--seed S]
[--faults clean|default] [--shard-persons N]"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

from equity.synth import Params, generate


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m equity.synth", description=__doc__)
    ap.add_argument("out", type=Path)
    ap.add_argument("--persons", type=int, default=2000, help="persons aged 0-24")
    ap.add_argument("--start", type=date.fromisoformat, default=date(2026, 11, 20))
    ap.add_argument("--days", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--faults", default="clean", help="fault profile: clean or default")
    ap.add_argument("--reference", type=Path, default=None)
    ap.add_argument("--shard-persons", type=int, default=None,
                    help="simulate runs above this many persons in province shards "
                         f"(default {Params().shard_persons:,}; 0 = never)")
    args = ap.parse_args(argv)
    params = Params() if args.shard_persons is None else Params(shard_persons=args.shard_persons)
    summary = generate(args.out, persons=args.persons, start=args.start, days=args.days,
                       seed=args.seed, faults=args.faults, reference=args.reference, params=params,
                       progress=lambda d, i, n: print(f"day {i}/{n}: {d}", flush=True))
    print(json.dumps(summary["per_day"][-1], ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
