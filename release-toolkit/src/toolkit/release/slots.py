"""Blue/green slots of an environment. A slot is a complete copy of the data application: notebooks
and libraries under ``<slots.root>/<slot>`` and a cluster ``<cluster_name>-<slot>``. The live slot is
the one the factory's pointer names: its ``notebookRoot`` and ``clusterId`` global parameters, which
the notebook activities read, written together in one PUT of the factory."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from toolkit.databricks import clusters
from toolkit.environments.model import Environment
from toolkit.release.markers import read_marker

NOTEBOOK_ROOT, CLUSTER_ID = "notebookRoot", "clusterId"


@dataclass
class Slot:
    name: str
    root: str
    cluster_name: str
    live: bool
    version: str | None = None  # what the slot's marker says is completely deployed there
    bundle_digest: str | None = None
    cluster_id: str | None = None

    def to_json(self) -> dict:
        return asdict(self)


def slot_root(environment: Environment, slot: str) -> str:
    return f"{environment.slots.root}/{slot}"


def slot_cluster_name(environment: Environment, slot: str) -> str:
    return f"{environment.databricks.cluster_name}-{slot}"


def live_slot(environment: Environment, factory_globals: dict) -> str | None:
    """The slot the factory's pointer names (None before the first swap)."""
    root = (factory_globals.get(NOTEBOOK_ROOT) or {}).get("value") or ""
    return next((s for s in environment.slots.names if root.startswith(slot_root(environment, s) + "/")), None)


def idle_slot(environment: Environment, live: str | None) -> str:
    first, second = environment.slots.names
    return second if live == first else first


def read_slots(environment: Environment, factory_globals: dict, workspace) -> list[Slot]:
    live = live_slot(environment, factory_globals)
    found = []
    for name in environment.slots.names:
        marker = read_marker(workspace, slot_root(environment, name)) or {}
        cluster_name = slot_cluster_name(environment, name)
        cluster = clusters.find_cluster(workspace, cluster_name)
        found.append(Slot(name, slot_root(environment, name), cluster_name, name == live, marker.get("version"),
                          marker.get("bundle_digest"), cluster["cluster_id"] if cluster else None))
    return found


def pointer(factory_globals: dict) -> dict:
    """What the factory runs: its notebook root and cluster."""
    return {"notebook_root": (factory_globals.get(NOTEBOOK_ROOT) or {}).get("value"),
            "cluster_id": (factory_globals.get(CLUSTER_ID) or {}).get("value")}
