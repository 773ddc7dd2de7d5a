"""An audit as people and CI read it: Markdown and JSON, both made from the ledger's record, so the ledger,
`ops.audit` and the report files cannot disagree."""
from __future__ import annotations

import json
from pathlib import Path

VERDICTS = {"passed": "passed: the swap may proceed", "breached": "breached: the swap refuses (--force overrides)",
            "no-baseline": "no baseline: nothing to compare with (the swap proceeds)",
            "failed": "failed: the swap refuses (--force overrides)"}


def _cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def headline(record: dict) -> str:
    load = record.get("load") or {}
    against = record.get("against") or {}
    head = f"audit of slot {record.get('slot')} (version {record['version']}): {record['outcome']}"
    if record["outcome"] == "no-baseline":
        return f"{head}: {record.get('why')}"
    if record["outcome"] == "failed":
        return f"{head}: {record.get('error')}"
    findings = record.get("findings") or []
    blocking = record.get("breaches") or []
    return (f"{head}: load {load.get('load_id')} against live slot {against.get('slot')} "
            f"(version {against.get('version')}): {len(findings)} difference(s), {len(blocking)} breach(es)"
            + (f": {'; '.join(blocking)}" if blocking else ""))


def markdown(record: dict) -> str:
    lines = [f"### Audit of slot {record.get('slot')}, version {record['version']} ({record['environment']})", "",
             f"**{VERDICTS.get(record['outcome'], record['outcome'])}** (at {record['when']}, by {record['who']})"]
    load, against = record.get("load") or {}, record.get("against") or {}
    if load:
        lines += ["", f"Load `{load.get('load_id')}` from `{load.get('folder')}` (loaded on {load.get('loaded_on')}), "
                      f"run by both slots in shadow area `{record.get('area')}`; live slot {against.get('slot')} runs "
                      f"version {against.get('version')}"]
    if record["outcome"] == "no-baseline":
        lines += ["", f"No baseline: {_cell(record.get('why'))}"]
    if record.get("error"):
        lines += ["", f"Error: {_cell(record['error'])}"]
    breaches = record.get("breaches") or []
    if breaches:
        lines += ["", "Breaches:", ""] + [f"- {_cell(b)}" for b in breaches]
    diff = record.get("diff") or {}
    if diff.get("tables"):
        lines += ["", "| Table | Rows (live → idle) | Keys added | Keys removed | Schema | Changed columns |",
                  "|---|---|---|---|---|---|"]
        for table, t in sorted(diff["tables"].items()):
            rows = t.get("rows") or {}
            keys = t.get("key_changes") or {}
            schema = t.get("schema") or {}
            changes = [f"+{c['column']}" for c in schema.get("added", [])] + \
                [f"-{c['column']}" for c in schema.get("removed", [])] + \
                [f"{c['column']} {c['from']}→{c['to']}" for c in schema.get("retyped", [])]
            if t.get("missing"):
                changes = [f"missing in {t['missing']}"]
            changed = ", ".join(f"{c} ({v['rows']})" for c, v in sorted((t.get("changed") or {}).items()))
            lines.append(f"| {table} | {rows.get('baseline')} → {rows.get('candidate')} | {keys.get('added', '')} | "
                         f"{keys.get('removed', '')} | {_cell(', '.join(changes))} | {_cell(changed)} |")
    if diff.get("coverage"):
        lines += ["", "| Dimension | Facts at the unknown member (live → idle) |", "|---|---|"]
        for dimension, sides in sorted(diff["coverage"].items()):
            shares = [f"{s['unknown']}/{s['facts']} ({s['share']:.2%})" if s else "-"
                      for s in (sides.get("baseline"), sides.get("candidate"))]
            lines.append(f"| {dimension} | {shares[0]} → {shares[1]} |")
    findings = record.get("findings") or []
    if findings:
        lines += ["", "<details><summary>Differences</summary>", ""]
        for f in findings:
            where = f"{f['table']}.{f['column']}" if f["column"] else f["table"]
            verdict = "breach" if f["breach"] and not f["waived_by"] else (f["waived_by"] or "within its gate")
            lines.append(f"- **{_cell(where)}** {f['change']}: {_cell(f['detail'])} ({_cell(verdict)})")
            for example in ((diff.get("tables") or {}).get(f["table"], {}).get("changed") or {}).get(
                    f["column"], {}).get("examples", []) if f["change"] == "values" else []:
                lines.append(f"  - key {_cell(json.dumps(example['key']))}: {_cell(example['baseline'])} → "
                             f"{_cell(example['candidate'])}")
        lines += ["", "</details>"]
    if record.get("intended"):
        lines += ["", "Intended changes declared by this release:", ""]
        lines += [f"- {p['table']}.{p['column']} {p['change']}: {_cell(p.get('why') or '')}"
                  for p in record["intended"]]
    return "\n".join(lines) + "\n"


def write(record: dict, reports: Path) -> list[Path]:
    """reports/audit-<environment>.md and .json."""
    reports.mkdir(parents=True, exist_ok=True)
    md = reports / f"audit-{record['environment']}.md"
    md.write_text(markdown(record), encoding="utf-8")
    js = reports / f"audit-{record['environment']}.json"
    js.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return [md, js]
