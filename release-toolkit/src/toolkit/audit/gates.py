"""What an audit's comparison found, judged against the environment's gates ([audit.gates]) and the changes a
release declares it intends (notebooks/intended_changes.toml in its bundle). Every difference is a finding; a
finding over its gate is a breach, unless a standing exception or a declared intention covers it."""
from __future__ import annotations

import fnmatch
from dataclasses import asdict, dataclass
from typing import Any, Iterable

from toolkit.environments.model import AuditGates, ChangePattern


@dataclass(frozen=True)
class Finding:
    change: str  # column-added, column-removed, column-retyped, rows, keys, values, coverage, table
    table: str
    column: str  # "" for the table as a whole; the dimension for coverage
    measure: float | None  # percent (points for coverage); None for a change that is there or not
    limit: float | None  # None: not allowed at all (or allowed at all: breach says)
    breach: bool
    waived_by: str | None  # "allowed: <why>" or "intended: <why>"
    detail: str

    @property
    def blocks(self) -> bool:
        return self.breach and self.waived_by is None

    def describe(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        return f"{where}: {self.detail}"


def _percent(part: float, whole: float) -> float:
    if whole == 0:
        return 0.0 if part == 0 else float("inf")
    return round(100.0 * part / whole, 4)


def _covered(patterns: Iterable[ChangePattern], change: str, table: str, column: str) -> ChangePattern | None:
    return next((p for p in patterns if p.change in ("*", change) and fnmatch.fnmatchcase(table, p.table)
                 and fnmatch.fnmatchcase(column or "", p.column)), None)


def _changes(diff: dict, gates: AuditGates) -> Iterable[tuple[str, str, str, float | None, float | None, bool, str]]:
    """(change, table, column, measure, limit, over the limit, detail) of every difference in ``diff``."""
    for table, t in sorted((diff.get("tables") or {}).items()):
        missing = t.get("missing")
        if missing == "candidate":
            yield "table", table, "", None, None, True, (f"the idle slot wrote no {table} "
                                                         f"(the live slot wrote {t['rows']['baseline']} rows)")
            continue
        if missing == "baseline":
            yield "table", table, "", None, None, False, f"new table: {t['rows']['candidate']} rows"
            continue
        if missing:
            continue
        schema = t.get("schema") or {}
        for c in schema.get("added", []):
            yield ("column-added", table, c["column"], None, None, not gates.allow_added_columns,
                   f"column added ({c['type']})")
        for c in schema.get("removed", []):
            yield ("column-removed", table, c["column"], None, None, not gates.allow_removed_columns,
                   f"column removed (was {c['type']})")
        for c in schema.get("retyped", []):
            yield ("column-retyped", table, c["column"], None, None, not gates.allow_retyped_columns,
                   f"column retyped {c['from']} -> {c['to']}")
        rows = t["rows"]
        if rows["candidate"] != rows["baseline"]:
            share = _percent(abs(rows["candidate"] - rows["baseline"]), rows["baseline"])
            yield ("rows", table, "", share, gates.max_row_change_percent, share > gates.max_row_change_percent,
                   f"{rows['baseline']} -> {rows['candidate']} rows ({share:g}%)")
        keys = t.get("key_changes")
        if keys and (keys["added"] or keys["removed"]):
            share = _percent(keys["added"] + keys["removed"], keys["baseline"])
            yield ("keys", table, "", share, gates.max_key_change_percent, share > gates.max_key_change_percent,
                   f"{keys['added']} keys added, {keys['removed']} removed of {keys['baseline']} ({share:g}%)")
        for column, changed in sorted((t.get("changed") or {}).items()):
            share = _percent(changed["rows"], t.get("matched") or 0)
            yield ("values", table, column, share, gates.max_value_change_percent,
                   share > gates.max_value_change_percent,
                   f"{changed['rows']} of {t.get('matched')} matched rows differ ({share:g}%)")
        only = t.get("rows_only")
        if only and (only["baseline"] or only["candidate"]):
            share = _percent(only["baseline"] + only["candidate"], rows["baseline"])
            yield ("values", table, "", share, gates.max_value_change_percent, share > gates.max_value_change_percent,
                   f"{only['baseline']} rows only in the live slot's output, {only['candidate']} only in the idle "
                   f"slot's ({share:g}%, compared whole: no business key)")
    for dimension, sides in sorted((diff.get("coverage") or {}).items()):
        before, after = sides.get("baseline"), sides.get("candidate")
        if before is None or after is None:
            if before is not None:
                yield ("coverage", (diff.get("coverage_table") or "coverage"), dimension, None, None, True,
                       "the idle slot's facts no longer carry this dimension's key")
            continue
        points = round(abs(after["share"] - before["share"]) * 100, 4)
        if points:
            yield ("coverage", diff.get("coverage_table") or "coverage", dimension, points,
                   gates.max_coverage_change_points, points > gates.max_coverage_change_points,
                   f"facts at the unknown member {before['share']:.2%} -> {after['share']:.2%} ({points:g} points)")


def evaluate(diff: dict, gates: AuditGates, intended: Iterable[ChangePattern] = ()) -> list[Finding]:
    """Every difference in ``diff`` (a compare result), each judged: over its gate or not, and waived or not."""
    intended = list(intended)
    findings = []
    for change, table, column, measure, limit, over, detail in _changes(diff, gates):
        waiver = None
        if over:
            allowed = _covered(gates.allowed_changes, change, table, column)
            declared = _covered(intended, change, table, column)
            if declared is not None:
                waiver = f"intended: {declared.why or 'declared by the release'}"
            elif allowed is not None:
                waiver = f"allowed: {allowed.why or 'an [audit.gates] allowed change'}"
        findings.append(Finding(change, table, column, measure, limit, over, waiver, detail))
    return findings


def breaches(findings: Iterable[Finding]) -> list[str]:
    """What blocks the swap, each named."""
    return [f.describe() + _limit(f) for f in findings if f.blocks]


_GATE = {"rows": "max_row_change_percent", "keys": "max_key_change_percent", "values": "max_value_change_percent",
         "coverage": "max_coverage_change_points"}


def _limit(f: Finding) -> str:
    if f.change in _GATE:
        unit = " points" if f.change == "coverage" else "%"
        return f" (over [audit.gates] {_GATE[f.change]} = {f.limit:g}{unit})"
    if f.change.startswith("column-"):
        return f" (not allowed: [audit.gates] allow_{f.change.split('-')[1]}_columns = false)"
    return ""


def as_dicts(findings: Iterable[Finding]) -> list[dict[str, Any]]:
    return [{k: (None if isinstance(v, float) and v == float("inf") else v) for k, v in asdict(f).items()}
            for f in findings]
