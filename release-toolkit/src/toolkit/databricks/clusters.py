"""A cluster kept to its specification (created once, edited only on a real change) and the libraries
installed on it."""
from __future__ import annotations

import time
from typing import Any, Callable

TRANSITIONAL = ("PENDING", "RESTARTING", "RESIZING", "TERMINATING")


def find_cluster(workspace, name: str) -> dict[str, Any] | None:
    found = [c.as_dict() for c in workspace.clusters.list() if c.cluster_name == name]
    if len(found) > 1:
        raise ValueError(f"{len(found)} clusters are named {name!r}: the release keeps one; delete the others")
    return found[0] if found else None


def spec_differences(current: dict[str, Any], spec: dict[str, Any]) -> list[str]:
    """Keys of the specification whose value the cluster does not have (extra keys the service adds are
    not differences)."""
    return sorted(k for k, v in spec.items() if current.get(k) != v)


def create_cluster(workspace, spec: dict[str, Any]) -> str:
    # The raw API body, exactly as the bundle's cluster.json says it (the SDK's client: auth, retries).
    return workspace.api_client.do("POST", "/api/2.1/clusters/create", body=spec)["cluster_id"]


def wait_until_settled(workspace, cluster_id: str, say: Callable[[str], None], timeout_s: float = 1800) -> str:
    deadline, delay = time.monotonic() + timeout_s, 1.0
    while True:
        state = workspace.clusters.get(cluster_id).state.value
        if state not in TRANSITIONAL:
            return state
        if time.monotonic() > deadline:
            raise TimeoutError(f"cluster {cluster_id} stayed {state} for {timeout_s:.0f}s")
        say(f"cluster {cluster_id} is {state}; waiting")
        time.sleep(delay)
        delay = min(delay * 2, 20)


def edit_cluster(workspace, cluster_id: str, spec: dict[str, Any], say: Callable[[str], None]) -> None:
    """Edit (a running cluster restarts to apply it); waits out a transition first, which edit refuses."""
    wait_until_settled(workspace, cluster_id, say)
    workspace.api_client.do("POST", "/api/2.1/clusters/edit", body={"cluster_id": cluster_id, **spec})


def library_key(library: dict[str, Any]) -> str:
    return library.get("whl") or library.get("jar") or repr(sorted(library.items()))


def installed_libraries(workspace, cluster_id: str) -> dict[str, str]:
    """Location -> status of each library of the cluster."""
    return {library_key(s.library.as_dict()): s.status.value for s in workspace.libraries.cluster_status(cluster_id)
            if s.library is not None}


def install(workspace, cluster_id: str, libraries: list[dict[str, Any]]) -> None:
    from databricks.sdk.service.compute import Library

    workspace.libraries.install(cluster_id, [Library.from_dict(lib) for lib in libraries])


def uninstall(workspace, cluster_id: str, libraries: list[dict[str, Any]]) -> None:
    from databricks.sdk.service.compute import Library

    workspace.libraries.uninstall(cluster_id, [Library.from_dict(lib) for lib in libraries])


def restart(workspace, cluster_id: str, say: Callable[[str], None]) -> None:
    if wait_until_settled(workspace, cluster_id, say) == "RUNNING":
        workspace.clusters.restart(cluster_id)
