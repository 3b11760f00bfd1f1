"""Plain-text views of the warehouse for people: run status and what the marts say."""

from __future__ import annotations

import json
from datetime import date

from equity.warehouse import connect, redact, warehouse_url


def status_text(limit: int = 5) -> str:
    url = warehouse_url()
    lines = [f"warehouse: {redact(url)}"]
    with connect(url) as conn:
        exists = conn.execute("select to_regclass('audit.pipeline_runs')").fetchone()[0]
        if not exists:
            return "\n".join(lines + ["no runs yet: try `equity demo` or `equity run --date YYYY-MM-DD`"])
        runs = conn.execute(
            "select as_of_date, status, run_id, revisions, gates, counts, started_at, finished_at, timings"
            " from audit.pipeline_runs order by started_at desc limit %s", (limit,)).fetchall()
    if not runs:
        lines.append("no runs yet")
    for as_of, status, run_id, revisions, gates, counts, started, finished, timings in runs:
        took = f"{(finished - started).total_seconds():.0f}s" if finished else "running"
        lines.append(f"{as_of}  {status:<9} {took:>6}  {run_id}")
        for s in (gates or {}).get("sources", []):
            fails = "; ".join(" ".join(f) for f in s.get("failures", [])[:3])
            why = fails or s.get("message", "")
            lines.append(f"    {s.get('source'):<10} {s.get('status')}" + (f"  ({why[:200]})" if why else ""))
        marts = (gates or {}).get("marts")
        if marts:
            lines.append(f"    marts gate: {json.dumps(marts)}")
        if counts:
            lines.append(f"    rows loaded: {counts.get('raw')}  children: {counts.get('children')}")
        if revisions:
            lines.append(f"    revisions: {revisions}")
        if timings:
            lines.append("    seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    return "\n".join(lines)


def marts_text(as_of: date, top: int = 5) -> str:
    with connect() as conn:
        total = conn.execute(
            "select count(*), count(*) filter (where education_status = 'OUT_OF_SCHOOL'),"
            " count(*) filter (where poverty_level in ('POOR', 'EXTREMELY_POOR')),"
            " count(*) filter (where poverty_level = 'EXTREMELY_POOR'), count(*) filter (where is_priority)"
            " from marts.child_equity_profile where as_of_date = %s", (as_of,)).fetchone()
        rows = conn.execute(
            "select lao_code, lao_name, children, out_of_school, poor + extremely_poor, priority_children"
            " from marts.municipality_equity_summary where as_of_date = %s"
            " order by priority_children desc, out_of_school desc, lao_code limit %s", (as_of, top)).fetchall()
        laos = conn.execute(
            "select count(*), count(*) filter (where children > 0) from marts.municipality_equity_summary"
            " where as_of_date = %s", (as_of,)).fetchone()
    children, oos, poor, extreme, priority = total
    out = [
        f"\nWhat the marts say for {as_of}:",
        f"  children (3-18): {children:,}   out of school: {oos:,}   poor: {poor:,}"
        f" (extremely: {extreme:,})   priority: {priority:,}",
        f"  municipalities: {laos[0]:,} in the reference, {laos[1]:,} with children",
        f"  top {top} by priority children:",
        f"    {'LAO':<8} {'name':<36} {'children':>8} {'out':>5} {'poor':>5} {'priority':>8}",
    ]
    for code, name, ch, o, p, pr in rows:
        out.append(f"    {code:<8} {name[:36]:<36} {ch:>8} {o:>5} {p:>5} {pr:>8}")
    out += [
        "",
        "Where to look next:",
        "  equity status                              runs, gates, counts",
        "  psql \"$(equity url)\" -c 'table marts.municipality_equity_summary limit 5'",
        "  docs/rules.md (what each number means), docs/ (how it works)",
    ]
    return "\n".join(out)
