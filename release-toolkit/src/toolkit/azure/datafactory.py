"""Data Factory (REST API 2018-06-01) over the ARM client: the factory's global parameters, definitions
as ADF's git integration stores them, triggers, and pipeline runs. PUT of a definition is synchronous;
an enabled trigger cannot be updated; monitoring calls may be throttled (429, retried by azure-core)."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

from toolkit.azure.rest import ArmRest
from toolkit.progress import Heartbeat

API = "2018-06-01"
COLLECTIONS = {"linkedService": "linkedservices", "dataset": "datasets", "dataflow": "dataflows",
               "pipeline": "pipelines", "trigger": "triggers"}
TERMINAL = ("Succeeded", "Failed", "Cancelled", "Canceled")
_READ_ONLY = ("provisioningState", "createTime", "version")


class Factory:
    def __init__(self, rest: ArmRest, resource_group: str, name: str):
        self.rest, self.name = rest, name
        self.path = f"{rest.group_path(resource_group)}/providers/Microsoft.DataFactory/factories/{name}"

    def get(self) -> dict:
        return self.rest.call("GET", self.path, API)

    def global_parameters(self) -> dict:
        return (self.get().get("properties") or {}).get("globalParameters") or {}

    def set_global_parameters(self, parameters: dict) -> None:
        """PUT the factory as it is (location, identity, tags, other properties) with new global parameters."""
        current = self.get()
        properties = {k: v for k, v in (current.get("properties") or {}).items() if k not in _READ_ONLY}
        properties["globalParameters"] = parameters
        body = {"location": current["location"], "tags": current.get("tags") or {}, "properties": properties}
        if current.get("identity"):
            body["identity"] = {"type": current["identity"].get("type", "SystemAssigned")}
        self.rest.call("PUT", self.path, API, body)

    def objects(self, kind: str) -> dict[str, dict]:
        """name -> properties of every object of a kind (triggers include runtimeState)."""
        found = {}
        for item in self.rest.pages(f"{self.path}/{COLLECTIONS[kind]}", API):
            found[item["name"]] = item.get("properties") or {}
        return found

    def put(self, kind: str, name: str, properties: dict) -> None:
        self.rest.call("PUT", f"{self.path}/{COLLECTIONS[kind]}/{name}", API, {"properties": properties})

    def delete(self, kind: str, name: str) -> None:
        self.rest.call("DELETE", f"{self.path}/{COLLECTIONS[kind]}/{name}", API)

    def start_trigger(self, name: str) -> None:
        self.rest.call("POST", f"{self.path}/triggers/{name}/start", API)

    def stop_trigger(self, name: str) -> None:
        self.rest.call("POST", f"{self.path}/triggers/{name}/stop", API)

    # -- runs ------------------------------------------------------------------------------------
    def create_run(self, pipeline: str, parameters: dict[str, Any]) -> str:
        return self.rest.call("POST", f"{self.path}/pipelines/{pipeline}/createRun", API, parameters)["runId"]

    def rerun_from_failure(self, pipeline: str, run_id: str) -> str:
        """A recovery run of ``run_id`` (its parameters, its run group) that starts at the failed activities."""
        return self.rest.call("POST", f"{self.path}/pipelines/{pipeline}/createRun", API, {},
                              params={"referencePipelineRunId": run_id, "isRecovery": "true",
                                      "startFromFailure": "true"})["runId"]

    def run(self, run_id: str) -> dict:
        return self.rest.call("GET", f"{self.path}/pipelineruns/{run_id}", API)

    def cancel_run(self, run_id: str) -> None:
        """Pipeline Runs - Cancel, with the runs it started (isRecursive): ADF stops the running activity (a
        Databricks notebook's run included) and marks the rest Cancelled."""
        self.rest.call("POST", f"{self.path}/pipelineruns/{run_id}/cancel", API, params={"isRecursive": "true"})

    def runs_in_progress(self, days: int = 7) -> list[dict]:
        """Pipeline runs queued, in progress or being cancelled (updated in the last ``days``): a run being
        cancelled still runs its current activity."""
        now = datetime.now(timezone.utc)
        body = {"lastUpdatedAfter": (now - timedelta(days=days)).isoformat(),
                "lastUpdatedBefore": (now + timedelta(days=1)).isoformat(),
                "filters": [{"operand": "Status", "operator": "In", "values": ["Queued", "InProgress", "Canceling"]}]}
        return list(self._query(f"{self.path}/queryPipelineRuns", body))

    def succeeded_runs(self, pipeline: str, days: int) -> list[dict]:
        """Runs of ``pipeline`` that succeeded in the last ``days``, newest end first."""
        now = datetime.now(timezone.utc)
        body = {"lastUpdatedAfter": (now - timedelta(days=days)).isoformat(),
                "lastUpdatedBefore": (now + timedelta(days=1)).isoformat(),
                "filters": [{"operand": "PipelineName", "operator": "Equals", "values": [pipeline]},
                            {"operand": "Status", "operator": "Equals", "values": ["Succeeded"]}]}
        return sorted(self._query(f"{self.path}/queryPipelineRuns", body), key=lambda r: r.get("runEnd") or "",
                      reverse=True)

    def activity_runs(self, run_id: str) -> list[dict]:
        now = datetime.now(timezone.utc)
        window = {"lastUpdatedAfter": (now - timedelta(days=1)).isoformat(),
                  "lastUpdatedBefore": (now + timedelta(days=1)).isoformat()}
        found = self._query(f"{self.path}/pipelineruns/{run_id}/queryActivityruns", window)
        return sorted(found, key=lambda a: a.get("activityRunStart") or "")

    def _query(self, path: str, body: dict) -> Iterator[dict]:
        """Every item a run query finds: its pages follow one another by ``continuationToken``."""
        answer = self.rest.call("POST", path, API, body)
        while True:
            yield from answer.get("value", [])
            if not answer.get("continuationToken"):
                return
            answer = self.rest.call("POST", path, API, {**body, "continuationToken": answer["continuationToken"]})


def run_values(run: dict, activities: list[dict]) -> dict[str, str | int | float]:
    """What a finished run gives the templates of later work: {run_id}, and {activity.<name>.<key>} for each plain
    value of each activity's output (a SetVariable's ``value``, a notebook's ``runOutput``...)."""
    values: dict[str, str | int | float] = {"run_id": run["runId"]}
    for activity in activities:
        for key, value in (activity.get("output") or {}).items():
            if isinstance(value, (str, int, float)):
                values[f"activity.{activity['activityName']}.{key}"] = value
    return values


def wait_for_run(factory: Factory, run_id: str, timeout_minutes: int, say: Callable[[str], None],
                 owned: bool = True) -> tuple[dict, list[dict]]:
    """Poll a pipeline run to a terminal state, saying at least every 5 s which activity runs and for how long;
    the run and its activity runs, printed. A run this caller started (``owned``) is cancelled when the wait
    ends without it: at the timeout, or on an interruption (SIGINT, SIGTERM), so nothing keeps writing the lake
    behind the caller's back."""
    started, delay, last = time.monotonic(), 1.0, None
    deadline = started + timeout_minutes * 60
    with Heartbeat(say, f"pipeline run {run_id}: Queued") as heartbeat:
        try:
            while True:
                run = factory.run(run_id)
                if run["status"] != last:
                    say(f"pipeline run {run_id}: {run['status']} ({heartbeat.elapsed()})")
                    last = run["status"]
                if run["status"] in TERMINAL:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"pipeline run {run_id} still {run['status']} after {timeout_minutes} min")
                running = [f"{a['activityName']} ({a.get('activityType', '')})" for a in factory.activity_runs(run_id)
                           if a.get("status") == "InProgress"]
                heartbeat.update(f"pipeline run {run_id}: {run['status']}"
                                 + (f", running {', '.join(running)}" if running else ""))
                time.sleep(delay)
                delay = min(delay * 1.5, 5)  # ADF's monitoring limits allow far more than a poll every 5 s
        except (KeyboardInterrupt, TimeoutError):
            if owned:
                cancel_run(factory, run_id, say)
            raise
    activities = factory.activity_runs(run_id)
    for activity in activities:
        error = (activity.get("error") or {}).get("message")
        say(f"  {activity['activityName']:<20} {activity.get('activityType', ''):<20} "
            f"{activity.get('status', ''):<10} {(activity.get('durationInMs') or 0) / 1000:6.1f}s"
            + (f"  {error}" if error else ""))
    return run, activities


def cancel_run(factory: Factory, run_id: str, say: Callable[[str], None]) -> None:
    """Cancel a run this caller started and is leaving; a cancel that fails is said (the next run waits for it)."""
    try:
        factory.cancel_run(run_id)
        say(f"pipeline run {run_id} cancelled")
    except Exception as exc:
        say(f"could not cancel pipeline run {run_id} ({type(exc).__name__}: {str(exc).splitlines()[0]}): the next "
            "run of the pipeline waits for it")


def wait_for_earlier_runs(factory: Factory, pipeline: str, timeout_minutes: int, say: Callable[[str], None]) -> None:
    """Wait for runs of ``pipeline`` already queued or in progress (a run left by an interrupted or killed
    stage, a trigger's run): a second run would read and write the same folders at the same time."""
    for earlier in [r for r in factory.runs_in_progress(days=1) if r.get("pipelineName") == pipeline]:
        say(f"pipeline run {earlier['runId']} of {pipeline} is still {earlier['status']} (started "
            f"{earlier.get('runStart', '?')}, not by this run): waiting for it before starting another")
        wait_for_run(factory, earlier["runId"], timeout_minutes, say, owned=False)


def run_failure(run: dict, activities: list[dict]) -> str:
    """Where a run that did not succeed failed: its first failed activity and error, else the run's message."""
    failed = [a for a in activities if a.get("status") == "Failed"]
    if failed:
        return f"activity {failed[0]['activityName']}: {(failed[0].get('error') or {}).get('message')}"
    return run.get("message") or "no activity failed"
