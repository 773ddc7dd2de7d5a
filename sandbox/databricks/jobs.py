"""Jobs and runs. A notebook task runs, for real, the notebook stored in the workspace on its
cluster's process (see cluster_process); the run ends TERMINATED with SUCCESS or FAILED, the
error, and the notebook's exit value as its output, or INTERNAL_ERROR with no result when its
cluster never came up or the sandbox itself failed it (RunLifeCycleState, databricks-sdk)."""
from __future__ import annotations

import threading
import time

import requests
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from sandbox.databricks.errors import invalid, not_found
from sandbox.http import json_response

RULES = []
for version in ("2.1", "2.2"):
    RULES += [
        Rule(f"/api/{version}/jobs/create", endpoint="job_create", methods=["POST"]),
        Rule(f"/api/{version}/jobs/reset", endpoint="job_reset", methods=["POST"]),
        Rule(f"/api/{version}/jobs/get", endpoint="job_get", methods=["GET"]),
        Rule(f"/api/{version}/jobs/list", endpoint="job_list", methods=["GET"]),
        Rule(f"/api/{version}/jobs/delete", endpoint="job_delete", methods=["POST"]),
        Rule(f"/api/{version}/jobs/run-now", endpoint="job_run_now", methods=["POST"]),
        Rule(f"/api/{version}/jobs/runs/submit", endpoint="run_submit", methods=["POST"]),
        Rule(f"/api/{version}/jobs/runs/get", endpoint="run_get", methods=["GET"]),
        Rule(f"/api/{version}/jobs/runs/list", endpoint="run_list", methods=["GET"]),
        Rule(f"/api/{version}/jobs/runs/get-output", endpoint="run_get_output", methods=["GET"]),
        Rule(f"/api/{version}/jobs/runs/cancel", endpoint="run_cancel", methods=["POST"]),
    ]
CLUSTER_WAIT_S = 120


def _now_ms() -> int:
    return int(time.time() * 1000)


INTERNAL_ERROR = "INTERNAL_ERROR"  # a life-cycle state: the run ended without a result (RunLifeCycleState)


def _end_state(result: str, message: str) -> dict:
    """How a run or task ends: TERMINATED with a result state, or INTERNAL_ERROR without one."""
    if result == INTERNAL_ERROR:
        return {"life_cycle_state": INTERNAL_ERROR, "state_message": message}
    return {"life_cycle_state": "TERMINATED", "result_state": result, "state_message": message}


class Jobs:
    """Mixin of the Databricks service."""

    def _validate_tasks(self, tasks: list[dict]) -> None:
        if not tasks:
            raise invalid("A job needs at least one task")
        for task in tasks:
            if not task.get("task_key"):
                raise invalid("Every task needs a task_key")
            if not task.get("notebook_task", {}).get("notebook_path"):
                raise invalid(f"Task {task['task_key']}: the sandbox runs notebook tasks only (notebook_task)")
            if not task.get("existing_cluster_id"):
                raise invalid(f"Task {task['task_key']}: existing_cluster_id is required in the sandbox")
            self._cluster(self.ws(self.state.read()), task["existing_cluster_id"])

    # -- jobs ------------------------------------------------------------------------------------
    def job_create(self, request: Request) -> Response:
        settings = request.get_json(silent=True) or {}
        self._validate_tasks(settings.get("tasks") or [])
        with self.state.update() as data:
            ws = self.ws(data)
            job_id = self._next_id(ws)
            ws["jobs"][str(job_id)] = {"settings": settings, "created_time": _now_ms()}
        return json_response({"job_id": job_id})

    def _job(self, data: dict, job_id) -> dict:
        job = data["jobs"].get(str(job_id))
        if job is None:
            raise invalid(f"Job {job_id} does not exist.")
        return job

    def job_reset(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        settings = body.get("new_settings") or {}
        self._validate_tasks(settings.get("tasks") or [])
        with self.state.update() as data:
            self._job(self.ws(data), body.get("job_id"))["settings"] = settings
        return json_response({})

    def _job_body(self, job_id: str, job: dict) -> dict:
        return {"job_id": int(job_id), "settings": job["settings"], "created_time": job["created_time"],
                "creator_user_name": self.authority.client_id}

    def job_get(self, request: Request) -> Response:
        job_id = request.args.get("job_id")
        return json_response(self._job_body(job_id, self._job(self.ws(self.state.read()), job_id)))

    def job_list(self, request: Request) -> Response:
        jobs = self.ws(self.state.read())["jobs"]
        name = request.args.get("name")
        listed = [self._job_body(i, j) for i, j in sorted(jobs.items(), key=lambda kv: int(kv[0]))
                  if not name or j["settings"].get("name") == name]
        return json_response({"jobs": listed, "has_more": False} if listed else {"has_more": False})

    def job_delete(self, request: Request) -> Response:
        job_id = (request.get_json(silent=True) or {}).get("job_id")
        with self.state.update() as data:
            self._job(self.ws(data), job_id)
            del self.ws(data)["jobs"][str(job_id)]
        return json_response({})

    # -- runs ------------------------------------------------------------------------------------
    def _start_run(self, run_name: str, tasks: list[dict], job_id: int | None, overrides: dict) -> int:
        with self.state.update() as data:
            ws = self.ws(data)
            run_id = self._next_id(ws)
            task_runs = []
            for task in tasks:
                task_runs.append({"run_id": self._next_id(ws), "task_key": task["task_key"],
                                  "notebook_task": task["notebook_task"],
                                  "existing_cluster_id": task["existing_cluster_id"],
                                  "state": {"life_cycle_state": "PENDING", "state_message": ""}})
            ws["runs"][str(run_id)] = {"run_id": run_id, "job_id": job_id, "run_name": run_name,
                                       "start_time": _now_ms(), "tasks": task_runs, "overrides": overrides,
                                       "state": {"life_cycle_state": "PENDING", "state_message": ""},
                                       "cancel": False}
        threading.Thread(target=self._execute, args=(run_id,), daemon=True, name=f"run-{run_id}").start()
        return run_id

    def job_run_now(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        job = self._job(self.ws(self.state.read()), body.get("job_id"))
        run_id = self._start_run(job["settings"].get("name", ""), job["settings"]["tasks"], int(body["job_id"]),
                                 body.get("notebook_params") or {})
        return json_response({"run_id": run_id, "number_in_job": run_id})

    def run_submit(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        self._validate_tasks(body.get("tasks") or [])
        return json_response({"run_id": self._start_run(body.get("run_name", ""), body["tasks"], None, {})})

    def cluster_lock(self, cluster_id: str) -> threading.Lock:
        with self._run_locks_guard:
            return self._run_locks.setdefault(cluster_id, threading.Lock())

    def _update_run(self, run_id: int, change) -> None:
        with self.state.update() as data:
            change(self.ws(data)["runs"][str(run_id)])

    def _wait_for_cluster(self, cluster_id: str) -> str | None:
        deadline = time.monotonic() + CLUSTER_WAIT_S
        while time.monotonic() < deadline:
            state = self.ws(self.state.read())["clusters"].get(cluster_id, {}).get("state")
            if state is None:
                return f"Cluster {cluster_id} does not exist"
            if state == "RUNNING" and self.cluster_port(cluster_id):
                return None
            if state == "TERMINATED":  # a job run starts its existing cluster, as Databricks does
                self._set_state(cluster_id, "PENDING")
                self._later(cluster_id, "RUNNING")
            time.sleep(0.1)
        return f"Cluster {cluster_id} did not reach RUNNING within {CLUSTER_WAIT_S}s"

    def _run_task(self, run_id: int, index: int, task: dict, overrides: dict) -> tuple[str, dict]:
        problem = self._wait_for_cluster(task["existing_cluster_id"])
        if problem:  # the run never started: Databricks ends it in INTERNAL_ERROR, with no result state
            return INTERNAL_ERROR, {"error": problem}
        notebook = self.home / "runs" / str(run_id) / f"{task['task_key']}.py"
        notebook.parent.mkdir(parents=True, exist_ok=True)
        notebook.write_bytes(self.notebook_source(task["notebook_task"]["notebook_path"]))
        parameters = {**(task["notebook_task"].get("base_parameters") or {}), **overrides}
        cluster_id = task["existing_cluster_id"]
        port = self.cluster_port(cluster_id)
        cluster = self.ws(self.state.read())["clusters"].get(cluster_id, {})
        with self.cluster_lock(cluster_id):  # its local copies are synced down, run on and synced up in turn
            try:
                parameters, lake_folders = self.lake_folders(parameters, cluster, cluster_id)
            except PermissionError as refused:  # the notebook's first read fails, as Unity Catalog refuses it
                return "FAILED", {"error": str(refused)}
            mounts = self.sync_mounts_down(cluster_id)
            answer = requests.post(f"http://127.0.0.1:{port}/run", timeout=3600, json={
                "notebook": str(notebook), "parameters": parameters, "secrets": self.secrets_for_run(),
                "dbfs_root": str(self.home / "dbfs-root"), "mounts": {p: f for p, (f, _) in mounts.items()},
                "mount_root": str(self.cluster_home(cluster_id) / "mounts") if self.legacy else None,
                "mount_sources": {p: s.source for p, s in self._mount_sources().items()}}).json()
            self.record_mounts(answer.get("created_mounts") or {}, answer.get("removed_mounts") or [])
            self.sync_mounts_up(cluster_id, mounts)
            refused = self.sync_lake_folders_up(lake_folders)
        if refused and "error" not in answer:
            return "FAILED", {"error": refused}
        if "error" in answer:
            return "FAILED", {"error": answer["error"], "error_trace": answer.get("error_trace")}
        return "SUCCESS", {"notebook_output": {"result": answer.get("exit_value"), "truncated": False}}

    def _execute(self, run_id: int) -> None:
        run = self.ws(self.state.read())["runs"][str(run_id)]
        self._update_run(run_id, lambda r: r["state"].update(life_cycle_state="RUNNING"))
        result, message = "SUCCESS", ""
        for index, task in enumerate(run["tasks"]):
            if self.ws(self.state.read())["runs"][str(run_id)]["cancel"]:
                result, message = "CANCELED", "Run cancelled."
                break

            def running(r, i=index):
                r["tasks"][i]["state"] = {"life_cycle_state": "RUNNING", "state_message": ""}
                r["tasks"][i]["start_time"] = _now_ms()
            self._update_run(run_id, running)
            try:
                task_result, output = self._run_task(run_id, index, task, run["overrides"])
            except Exception as error:  # the sandbox itself failed: an internal error, as Databricks reports
                task_result, output = INTERNAL_ERROR, {"error": f"{type(error).__name__}: {error}"}

            def finished(r, i=index, task_result=task_result, output=output):
                r["tasks"][i]["state"] = _end_state(task_result, output.get("error", ""))
                r["tasks"][i]["end_time"] = _now_ms()
                r["tasks"][i]["output"] = output
            self._update_run(run_id, finished)
            if self.ws(self.state.read())["runs"][str(run_id)]["cancel"]:  # cancelled while the task ran
                result, message = "CANCELED", "Run cancelled."
                break
            if task_result != "SUCCESS":
                result, message = task_result, f"Task {task['task_key']} failed: {output.get('error', '')}"
                break

        def done(r):
            r["state"] = _end_state(result, message)
            r["end_time"] = _now_ms()
        self._update_run(run_id, done)

    def _find_run(self, run_id) -> tuple[dict, dict | None]:
        runs = self.ws(self.state.read())["runs"]
        if str(run_id) in runs:
            return runs[str(run_id)], None
        for run in runs.values():
            for task in run["tasks"]:
                if str(task["run_id"]) == str(run_id):
                    return run, task
        raise not_found(f"Run {run_id} does not exist.")

    @staticmethod
    def _run_body(run: dict) -> dict:
        body = {k: v for k, v in run.items() if k not in ("overrides", "cancel")}
        body["tasks"] = [{k: v for k, v in t.items() if k != "output"} for t in run["tasks"]]
        if body.get("job_id") is None:
            body.pop("job_id")
        return body

    def run_get(self, request: Request) -> Response:
        run, task = self._find_run(request.args.get("run_id"))
        if task is None:
            return json_response(self._run_body(run))
        return json_response({k: v for k, v in task.items() if k != "output"})

    def run_list(self, request: Request) -> Response:
        """Runs newest first, ``limit`` a page (1-25, default 20, 0 the maximum), ``page_token`` the next;
        ``active_only`` (queued, pending, running or terminating) or ``completed_only``, and ``job_id``. Source: Jobs
        API 2.2, GET /api/2.2/jobs/runs/list (docs.databricks.com/api/jobs/v2/list-runs)."""
        args = request.args
        if args.get("active_only") == "true" and args.get("completed_only") == "true":
            raise invalid("active_only and completed_only cannot both be true")
        limit = int(args.get("limit", 20)) or 25
        if not 1 <= limit <= 25:
            raise invalid(f"limit must be between 1 and 25, got {limit}")
        runs = sorted(self.ws(self.state.read())["runs"].values(), key=lambda r: -r["run_id"])
        ended = ("TERMINATED", "SKIPPED", INTERNAL_ERROR)
        if args.get("active_only") == "true":
            runs = [r for r in runs if r["state"]["life_cycle_state"] not in ended]
        if args.get("completed_only") == "true":
            runs = [r for r in runs if r["state"]["life_cycle_state"] in ended]
        if args.get("job_id"):
            runs = [r for r in runs if str(r.get("job_id")) == args["job_id"]]
        start = int(args.get("page_token") or 0)
        page = runs[start:start + limit]
        body: dict = {"has_more": start + limit < len(runs)}
        if page:
            body["runs"] = [self._run_body(r) for r in page]
        if body["has_more"]:
            body["next_page_token"] = str(start + limit)
        return json_response(body)

    def run_get_output(self, request: Request) -> Response:
        run, task = self._find_run(request.args.get("run_id"))
        if task is None:
            if len(run["tasks"]) != 1:
                raise invalid("Retrieving the output of a run with multiple tasks is not supported: use a task run id")
            task = run["tasks"][0]
        return json_response({**task.get("output", {}), "metadata": self._run_body(run)})

    def run_cancel(self, request: Request) -> Response:
        run_id = (request.get_json(silent=True) or {}).get("run_id")
        self._find_run(run_id)
        self._update_run(run_id, lambda r: r.update(cancel=True))
        return json_response({})
