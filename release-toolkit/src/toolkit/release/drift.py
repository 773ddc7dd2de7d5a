"""Drift: what differs between an environment and what the toolkit last put there.

Every deploy, swap and state-changing ops task reads back what it is responsible for and records it in
the environment's ledger (``fingerprints``: one per item, and the categories it covers). The baseline
is those records folded in order: a record replaces every item of the categories it covers, so the last
deploy of each slot is its cluster's baseline, the last swap (or, without slots, the last deploy) the
factory's, ``ops.triggers`` the trigger states, ``ops.rotate-secret`` a secret's version. Drift is the
live state read now (concurrently) against that baseline: items edited, added or deleted outside the
toolkit. Comparing against the live state, not against a record of what was sent, is what sees an edit
made in the portal.

Items are named ``category/...``:
    factory/<kind>/<name>          a Data Factory definition (its properties, without the trigger's state)
    factory/globalParameters       the factory's global parameters other than the slot pointer
    factory/pointer                what the factory runs: the live slot, or the notebook root
    triggers/<name>                a trigger's runtime state
    cluster/<name>/<field>         a field of a cluster's specification
    cluster/<name>/libraries       the libraries installed on it
    secret/<name>                  a Key Vault secret's current version
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from toolkit.azure.datafactory import COLLECTIONS, Factory
from toolkit.release.plan import fingerprint
from toolkit.release.slots import NOTEBOOK_ROOT, CLUSTER_ID, live_slot

CLUSTER_FIELDS = ("spark_version", "node_type_id", "driver_node_type_id", "num_workers", "autoscale", "spark_conf",
                  "spark_env_vars", "custom_tags", "autotermination_minutes", "data_security_mode",
                  "single_user_name", "runtime_engine", "init_scripts", "policy_id")
READ_CONCURRENCY = 16


@dataclass(frozen=True)
class Scope:
    """What a record answers for: the factory (definitions, global parameters, pointer) and trigger states, some
    clusters, some secrets."""
    factory: bool = False
    triggers: bool = False
    clusters: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()

    def categories(self) -> list[str]:
        return (["factory"] if self.factory else []) + (["triggers"] if self.triggers else []) + \
            [f"cluster/{c}" for c in self.clusters] + [f"secret/{s}" for s in self.secrets]


def deploy_scope(d) -> Scope:
    """What a deploy answers for: the secrets and its cluster; the factory too where there are no slots (a
    blue/green deploy leaves the factory to the swap)."""
    whole = d.environment.slots is None
    return Scope(factory=whole, triggers=whole, clusters=(d.cluster_name,), secrets=tuple(d.environment.secrets))


def environment_scope(d) -> Scope:
    """Everything the toolkit answers for in an environment."""
    if d.environment.slots is not None:
        from toolkit.release.slots import slot_cluster_name

        names = tuple(slot_cluster_name(d.environment, s) for s in d.environment.slots.names)
    else:
        names = (d.environment.databricks.cluster_name,)
    return Scope(True, True, names, tuple(d.environment.secrets))


def category(item: str) -> str:
    parts = item.split("/")
    return parts[0] if parts[0] in ("factory", "triggers") else "/".join(parts[:2])


def plain(value: Any) -> str:
    """A short value as itself (a drift report names it), a long one by its digest."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return fingerprint(text if len(text) <= 80 else value)


def definition_print(properties: dict) -> str:
    """A Data Factory definition's fingerprint (a trigger's runtime state is an item of its own)."""
    return fingerprint({k: v for k, v in properties.items() if k != "runtimeState"})


def read_state(d, scope: Scope) -> dict[str, str]:
    """The live state of ``scope``: item -> fingerprint, read with concurrent calls (the factory's collections,
    its global parameters, the clusters, each cluster's libraries, each secret)."""
    from toolkit.azure.keyvault import read_secret
    from toolkit.concurrency import run_concurrently
    from toolkit.databricks import clusters

    factory = Factory(d.rest, d.resource_group, d.output("dataFactoryName")) if scope.factory or scope.triggers \
        else None
    reads: list[tuple[str, Any]] = []
    if factory is not None:  # trigger states alone need only the triggers
        reads += [("objects", kind) for kind in (COLLECTIONS if scope.factory else ("trigger",))]
        reads += [("globals", None)] if scope.factory else []
    if scope.clusters:
        reads.append(("clusters", None))
    reads += [("secret", name) for name in scope.secrets]

    def one(read: tuple[str, Any]) -> Any:
        what, name = read
        if what == "objects":
            return factory.objects(name)
        if what == "globals":
            return factory.global_parameters()
        if what == "clusters":
            return {c.cluster_name: c.as_dict() for c in d.workspace.clusters.list()
                    if c.cluster_name in scope.clusters}
        state = read_secret(d.secrets, name)
        return "soft-deleted" if state.deleted else state.version

    results = dict(zip(reads, run_concurrently(reads, one, READ_CONCURRENCY)))
    state: dict[str, str] = {}
    for (what, name), result in results.items():
        if what == "objects":
            for obj, properties in result.items():
                if scope.factory:
                    state[f"factory/{name}/{obj}"] = definition_print(properties)
                if name == "trigger" and scope.triggers:
                    state[f"triggers/{obj}"] = properties.get("runtimeState", "Stopped")
        elif what == "globals" and scope.factory:
            state["factory/globalParameters"] = fingerprint({k: v for k, v in result.items()
                                                             if k not in (NOTEBOOK_ROOT, CLUSTER_ID)})
            if d.environment.slots is not None:
                state["factory/pointer"] = live_slot(d.environment, result) or "none"
            else:
                state["factory/pointer"] = plain((result.get(NOTEBOOK_ROOT) or {}).get("value"))
        elif what == "secret":
            state[f"secret/{name}"] = plain(result)
    if scope.clusters:
        found = results[("clusters", None)]
        ids = [(name, found[name]["cluster_id"]) for name in scope.clusters if name in found]
        libraries = run_concurrently(ids, lambda pair: sorted(clusters.installed_libraries(d.workspace, pair[1])),
                                     READ_CONCURRENCY)
        for (name, _), installed in zip(ids, libraries):
            for key in CLUSTER_FIELDS:
                if key in found[name]:
                    state[f"cluster/{name}/{key}"] = plain(found[name][key])
            state[f"cluster/{name}/libraries"] = plain(installed)
    return dict(sorted(state.items()))


def state_record(d, scope: Scope) -> dict | None:
    """What a ledger record keeps of the state it leaves (None when it cannot be read: the record still stands,
    and drift then says it cannot tell)."""
    try:
        return {"covers": scope.categories(), "items": read_state(d, scope)}
    except Exception:  # the record of what was done matters more than its snapshot
        return None


def recorded_state(record: dict) -> dict | None:
    """The fingerprints a ledger record keeps of the state it left (None: it keeps none)."""
    state = record.get("fingerprints")
    return state if isinstance(state, dict) else None


def baseline(records: list[dict]) -> tuple[dict[str, str], dict[str, dict], set[str]]:
    """The records' states folded in order: (item -> fingerprint, item -> the record that set it, the categories
    some record covered)."""
    items: dict[str, str] = {}
    source: dict[str, dict] = {}
    covered: set[str] = set()
    for record in records:
        state = recorded_state(record)
        if state is None:
            continue
        covers = set(state.get("covers", []))
        for item in [i for i in items if category(i) in covers]:
            del items[item], source[item]
        for item, value in state.get("items", {}).items():
            items[item], source[item] = value, record
        covered |= covers
    return items, source, covered


@dataclass
class DriftItem:
    item: str
    change: str  # edited, added, deleted
    baseline: str | None
    now: str | None
    since: str | None = None  # the record whose state is the baseline: "deploy of 1.2.3 at ..."

    def __str__(self) -> str:
        if self.change == "edited":
            return f"{self.item}: {self.baseline} -> {self.now} (since the {self.since})"
        return f"{self.item}: {self.change} outside a release (since the {self.since})"


@dataclass
class DriftReport:
    environment: str
    items: list[DriftItem] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # categories live but in no record's state: cannot tell

    @property
    def drifted(self) -> bool:
        return bool(self.items)


def _describe(record: dict | None) -> str | None:
    if record is None:
        return None
    return f"{record['event']} of {record['version']} at {record['when']}" if record.get("version") not in (None, "-") \
        else f"{record['event']} at {record['when']}"


def compare(live: dict[str, str], records: list[dict], scope: Scope, environment: str) -> DriftReport:
    """The live state against the baseline the records give, for the categories of ``scope``."""
    items, source, covered = baseline(records)
    report = DriftReport(environment)
    wanted = set(scope.categories())
    # What no record covers cannot be told apart from drift, unless there is nothing of it (a slot never deployed).
    report.unknown = sorted(c for c in wanted - covered if any(category(i) == c for i in live))
    last_of = {c: next((r for r in reversed(records) if c in set((recorded_state(r) or {}).get("covers", []))),
                       None)
               for c in wanted}
    for item in sorted(set(items) | set(live)):
        kind = category(item)
        if kind not in wanted or kind not in covered:
            continue
        before, now = items.get(item), live.get(item)
        if before == now:
            continue
        change = "edited" if before is not None and now is not None else "added" if before is None else "deleted"
        report.items.append(DriftItem(item, change, before, now, _describe(source.get(item) or last_of[kind])))
    return report


def overwritten(d, item: str, now: str | None) -> str | None:
    """When a step is about to write ``item`` (whose live fingerprint is ``now``; None: absent): how it drifted
    from what the toolkit last put there, or None (no drift, or no record covers it)."""
    items, source, covered = d.baseline
    if category(item) not in covered or items.get(item) == now:
        return None
    since = _describe(source.get(item)) or "last release"
    if item not in items:
        return f"added outside a release (since the {since})"
    if now is None:
        return f"deleted outside a release (since the {since})"
    return f"{items[item]} -> {now} outside a release (since the {since})"


def list_overwrites(plan, d, items: dict[str, str | None]) -> None:
    """Add to a step's plan, as changes of their own (no request of their own: the step's writes make them), the
    drift among ``items`` (item -> its live fingerprint) that the step is about to overwrite."""
    for item, now in items.items():
        why = overwritten(d, item, now)
        if why:
            plan.add("overwrite", f"drift {item}", why, writes={})


def find_drift(environment, target, deployment_id: str | None, say=print) -> DriftReport:
    """The drift of a deployed environment (OperationFailed when it is not deployed)."""
    from toolkit.release import ledger
    from toolkit.release.operations import require_deployed  # operations records states: imported here, not above

    d = require_deployed(environment, target, deployment_id, say)
    scope = environment_scope(d)
    records = ledger.read_ledger(d.lake())[0]["records"]
    return compare(read_state(d, scope), records, scope, environment.name)
