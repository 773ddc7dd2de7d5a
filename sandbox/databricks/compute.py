"""Clusters (with Databricks' state machine) and cluster libraries (with its restart semantics).

A RUNNING cluster is a live process (see cluster_process). States move on their own, as on
Databricks: create and start go PENDING then RUNNING, restart and edit of a running cluster
go RESTARTING then RUNNING, delete goes TERMINATING then TERMINATED. Libraries installed on a
running cluster are INSTALLED at once; uninstalling is UNINSTALL_ON_RESTART until a restart.
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import requests
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from sandbox.databricks.errors import invalid, invalid_state, not_found
from sandbox.http import json_response

RULES = []
for version in ("2.0", "2.1"):
    RULES += [
        Rule(f"/api/{version}/clusters/create", endpoint="cluster_create", methods=["POST"]),
        Rule(f"/api/{version}/clusters/edit", endpoint="cluster_edit", methods=["POST"]),
        Rule(f"/api/{version}/clusters/get", endpoint="cluster_get", methods=["GET"]),
        Rule(f"/api/{version}/clusters/list", endpoint="cluster_list", methods=["GET"]),
        Rule(f"/api/{version}/clusters/start", endpoint="cluster_start", methods=["POST"]),
        Rule(f"/api/{version}/clusters/restart", endpoint="cluster_restart", methods=["POST"]),
        Rule(f"/api/{version}/clusters/delete", endpoint="cluster_delete", methods=["POST"]),
        Rule(f"/api/{version}/clusters/permanent-delete", endpoint="cluster_permanent_delete", methods=["POST"]),
    ]
RULES += [
    Rule("/api/2.0/libraries/install", endpoint="libraries_install", methods=["POST"]),
    Rule("/api/2.0/libraries/uninstall", endpoint="libraries_uninstall", methods=["POST"]),
    Rule("/api/2.0/libraries/cluster-status", endpoint="libraries_status", methods=["GET"]),
]
SPEC_FIELDS = ("cluster_name", "spark_version", "node_type_id", "num_workers", "autoscale", "autotermination_minutes",
               "spark_conf", "spark_env_vars", "custom_tags", "data_security_mode", "single_user_name",
               "driver_node_type_id", "runtime_engine", "policy_id", "init_scripts")
STATE_MESSAGES = {"PENDING": "Starting Spark", "RUNNING": "", "RESTARTING": "Restarting Spark",
                  "TERMINATING": "Terminating", "TERMINATED": "Terminated by user"}


class Compute:
    """Mixin of the Databricks service. Expects ``self.state``, ``self.ws``, ``self.home``, ``self.library_file``."""

    transition_s = 0.3  # how long PENDING / RESTARTING / TERMINATING last

    def _init_compute(self) -> None:
        self._processes: dict[str, tuple[subprocess.Popen, int]] = {}
        self._compute_lock = threading.RLock()
        self._closed = False  # set by stop_clusters: a transition still pending must not start a process
        for cluster_id, cluster in self.ws(self.state.read())["clusters"].items():
            if cluster["state"] in ("PENDING", "RUNNING", "RESTARTING"):  # the sandbox restarted under it
                self._set_state(cluster_id, "PENDING")
                self._later(cluster_id, "RUNNING")

    # -- state machine ------------------------------------------------------------------------
    def _cluster(self, data: dict, cluster_id: str | None) -> dict:
        cluster = data["clusters"].get(cluster_id or "")
        if cluster is None:
            raise invalid(f"Cluster {cluster_id} does not exist")
        return cluster

    def _set_state(self, cluster_id: str, state: str) -> None:
        with self.state.update() as data:
            cluster = self.ws(data)["clusters"].get(cluster_id)
            if cluster is not None:
                cluster["state"], cluster["state_message"] = state, STATE_MESSAGES[state]
                if state == "RUNNING":
                    cluster["start_time"] = int(time.time() * 1000)
                if state == "TERMINATED":
                    cluster["terminated_time"] = int(time.time() * 1000)

    def _later(self, cluster_id: str, target: str) -> None:
        def finish() -> None:
            time.sleep(self.transition_s)
            if target == "RUNNING":
                self._spawn(cluster_id)
            else:
                self._kill(cluster_id)
            self._set_state(cluster_id, target)
        threading.Thread(target=finish, daemon=True, name=f"cluster-{cluster_id}").start()

    def _spawn(self, cluster_id: str) -> None:
        from sandbox.azurite import wait_for_port, free_port

        with self._compute_lock:
            if self._closed:
                return
            self._kill(cluster_id)
            with self.state.update() as data:  # a restart applies pending uninstalls and installs
                cluster = self.ws(data)["clusters"][cluster_id]
                cluster["libraries"] = [lib for lib in cluster["libraries"] if lib["status"] != "UNINSTALL_ON_RESTART"]
                for lib in cluster["libraries"]:
                    lib["status"] = "INSTALLED"
            port = free_port()
            process = subprocess.Popen([sys.executable, "-m", "sandbox.databricks.cluster_process", "--port",
                                        str(port)], cwd=Path(__file__).resolve().parents[2],
                                       stdout=subprocess.DEVNULL, stderr=(self.home / "clusters.log").open("ab"))
            wait_for_port("127.0.0.1", port, process, timeout=30)
            self._processes[cluster_id] = (process, port)
            self._push_libraries(cluster_id, [lib["library"] for lib in cluster["libraries"]])

    def _kill(self, cluster_id: str) -> None:
        with self._compute_lock:
            process, _ = self._processes.pop(cluster_id, (None, None))
            if process and process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()

    def stop_clusters(self, close: bool = True) -> None:
        """Kill every cluster process; ``close`` (at shutdown) also keeps new ones from starting."""
        with self._compute_lock:
            self._closed = self._closed or close
            for cluster_id in list(self._processes):
                self._kill(cluster_id)

    def cluster_port(self, cluster_id: str) -> int | None:
        process, port = self._processes.get(cluster_id, (None, None))
        return port if process and process.poll() is None else None

    def _library_path(self, cluster_id: str, library: dict) -> str | None:
        location = library.get("whl") or library.get("jar")
        if not location:
            return None  # pypi, maven, requirements: nothing to fetch offline
        target = self.home / "clusters" / cluster_id / "libs" / uuid.uuid5(uuid.NAMESPACE_URL, location).hex
        target = target / location.rsplit("/", 1)[-1]
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.library_file(location))
        return str(target)

    def _push_libraries(self, cluster_id: str, libraries: list[dict]) -> None:
        port = self.cluster_port(cluster_id)
        paths = [p for p in (self._library_path(cluster_id, lib) for lib in libraries) if p and p.endswith(".whl")]
        if port and paths:
            requests.post(f"http://127.0.0.1:{port}/libraries", json={"paths": paths}, timeout=30).raise_for_status()

    # -- clusters API ------------------------------------------------------------------------------
    def _details(self, cluster_id: str, cluster: dict) -> dict:
        details = {"cluster_id": cluster_id, "state": cluster["state"], "state_message": cluster["state_message"],
                   "creator_user_name": self.authority.client_id, "cluster_source": "API",
                   "default_tags": {"Vendor": "Databricks", "ClusterId": cluster_id}}
        details.update({k: v for k, v in cluster["spec"].items() if v is not None})
        for key in ("start_time", "terminated_time"):
            if cluster.get(key):
                details[key] = cluster[key]
        return details

    def cluster_create(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        for required in ("spark_version",):
            if not body.get(required):
                raise invalid(f"Missing required field: {required}")
        if body.get("num_workers") is None and not body.get("autoscale"):
            raise invalid("Either num_workers or autoscale must be set")
        cluster_id = f"{time.strftime('%m%d')}-{uuid.uuid4().hex[:6]}-sbx{uuid.uuid4().hex[:5]}"
        with self.state.update() as data:
            self.ws(data)["clusters"][cluster_id] = {
                "spec": {k: body.get(k) for k in SPEC_FIELDS}, "state": "PENDING",
                "state_message": STATE_MESSAGES["PENDING"], "libraries": []}
        self._later(cluster_id, "RUNNING")
        return json_response({"cluster_id": cluster_id})

    def cluster_edit(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        cluster_id = body.get("cluster_id")
        with self.state.update() as data:
            cluster = self._cluster(self.ws(data), cluster_id)
            if cluster["state"] in ("PENDING", "RESTARTING", "TERMINATING"):
                raise invalid_state(f"Cluster {cluster_id} is in unexpected state {cluster['state'].title()}.")
            cluster["spec"] = {k: body.get(k) for k in SPEC_FIELDS}
            running = cluster["state"] == "RUNNING"
        if running:  # editing a running cluster restarts it
            self._set_state(cluster_id, "RESTARTING")
            self._later(cluster_id, "RUNNING")
        return json_response({})

    def cluster_get(self, request: Request) -> Response:
        cluster_id = request.args.get("cluster_id")
        return json_response(self._details(cluster_id, self._cluster(self.ws(self.state.read()), cluster_id)))

    def cluster_list(self, request: Request) -> Response:
        clusters = self.ws(self.state.read())["clusters"]
        listed = [self._details(cid, c) for cid, c in sorted(clusters.items())]
        return json_response({"clusters": listed} if listed else {})

    def _transition(self, request: Request, allowed: tuple[str, ...], through: str, target: str) -> Response:
        cluster_id = (request.get_json(silent=True) or {}).get("cluster_id")
        with self.state.update() as data:
            cluster = self._cluster(self.ws(data), cluster_id)
            if cluster["state"] not in allowed:
                raise invalid_state(f"Cluster {cluster_id} is in unexpected state {cluster['state'].title()}.")
        self._set_state(cluster_id, through)
        self._later(cluster_id, target)
        return json_response({})

    def cluster_start(self, request: Request) -> Response:
        return self._transition(request, ("TERMINATED",), "PENDING", "RUNNING")

    def cluster_restart(self, request: Request) -> Response:
        return self._transition(request, ("RUNNING",), "RESTARTING", "RUNNING")

    def cluster_delete(self, request: Request) -> Response:
        cluster_id = (request.get_json(silent=True) or {}).get("cluster_id")
        if self._cluster(self.ws(self.state.read()), cluster_id)["state"] == "TERMINATED":
            return json_response({})
        return self._transition(request, ("PENDING", "RUNNING", "RESTARTING", "TERMINATING"), "TERMINATING",
                                "TERMINATED")

    def cluster_permanent_delete(self, request: Request) -> Response:
        cluster_id = (request.get_json(silent=True) or {}).get("cluster_id")
        self._kill(cluster_id)
        with self.state.update() as data:
            self._cluster(self.ws(data), cluster_id)
            del self.ws(data)["clusters"][cluster_id]
        return json_response({})

    # -- libraries API -----------------------------------------------------------------------------
    @staticmethod
    def _same(a: dict, b: dict) -> bool:
        return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)

    def libraries_install(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        cluster_id, wanted = body.get("cluster_id"), body.get("libraries") or []
        for library in wanted:
            location = library.get("whl") or library.get("jar")
            if location:
                try:
                    self.library_file(location)
                except FileNotFoundError:
                    raise invalid(f"Library {location} does not exist: upload it to the workspace or DBFS "
                                  "first") from None
        with self.state.update() as data:
            cluster = self._cluster(self.ws(data), cluster_id)
            status = "INSTALLED" if cluster["state"] == "RUNNING" else "PENDING"
            for library in wanted:
                existing = next((lib for lib in cluster["libraries"] if self._same(lib["library"], library)), None)
                if existing is None:
                    cluster["libraries"].append({"library": library, "status": status})
                elif existing["status"] == "UNINSTALL_ON_RESTART":
                    existing["status"] = "INSTALLED"
            running = cluster["state"] == "RUNNING"
        if running:
            self._push_libraries(cluster_id, wanted)
        return json_response({})

    def libraries_uninstall(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        with self.state.update() as data:
            cluster = self._cluster(self.ws(data), body.get("cluster_id"))
            for library in body.get("libraries") or []:
                for lib in cluster["libraries"]:
                    if self._same(lib["library"], library):
                        lib["status"] = "UNINSTALL_ON_RESTART"
        return json_response({})

    def libraries_status(self, request: Request) -> Response:
        cluster_id = request.args.get("cluster_id")
        cluster = self.ws(self.state.read())["clusters"].get(cluster_id or "")
        if cluster is None:
            raise not_found(f"Cluster {cluster_id} does not exist")
        statuses = [{"library": lib["library"], "status": lib["status"], "is_library_for_all_clusters": False}
                    for lib in cluster["libraries"]]
        return json_response({"cluster_id": cluster_id, "library_statuses": statuses} if statuses
                             else {"cluster_id": cluster_id})
