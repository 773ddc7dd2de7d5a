"""Pipeline runs that execute: activities in dependency order with ADF's dependency conditions
(Succeeded, Failed, Skipped, Completed), SetVariable, and DatabricksNotebook through the sandbox's
Databricks API (the linked service resolved, its token read from Key Vault). A run is Failed when an
activity failed and nothing depends on that failure (no Failed or Completed condition handles it).
Activity error codes are the sandbox's own."""
from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import datetime, timezone

import requests

from sandbox import adls
from sandbox.adf.expressions import Evaluator, ExpressionError

TERMINAL = ("Succeeded", "Failed", "Cancelled")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ActivityFailed(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def _retrying_session() -> requests.Session:
    """Data Factory retries throttled and unavailable answers of the services it calls, honouring
    Retry-After; without this, fault injection on Databricks would fail pipeline runs it should not."""
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    session = requests.Session()
    retry = Retry(total=10, backoff_factor=0.2, status_forcelist=(429, 500, 502, 503, 504),
                  allowed_methods=None, respect_retry_after_header=True)
    session.mount("https://", HTTPAdapter(max_retries=retry))
    session.mount("http://", HTTPAdapter(max_retries=retry))
    return session


class Engine:
    poll_s = 0.2

    def __init__(self, arm):
        self.arm = arm

    # -- state -------------------------------------------------------------------------------------
    def _update(self, factory_key: str, run_id: str, change) -> None:
        with self.arm.state.update() as data:
            change(data["factories"][factory_key]["runs"][run_id])

    def _record(self, factory_key: str) -> dict:
        return self.arm.state.read()["factories"][factory_key]

    def start(self, factory_key: str, pipeline: str, parameters: dict, recovery: dict | None = None) -> str:
        """Start a run; ``recovery`` ({"reference": run id, "from_failure": bool}) makes it a rerun in the
        referenced run's group, which (from failure) reuses the activities that succeeded there."""
        run_id = str(uuid.uuid4())
        with self.arm.state.update() as data:
            runs = data["factories"][factory_key]["runs"]
            group = run_id
            if recovery is not None:
                reference = runs[recovery["reference"]]
                group = reference["runGroupId"]
                for other in runs.values():
                    if other["runGroupId"] == group:
                        other["isLatest"] = False
            runs[run_id] = {
                "runId": run_id, "runGroupId": group, "isLatest": True, "pipelineName": pipeline,
                "parameters": {k: str(v) for k, v in parameters.items()}, "runDimensions": {}, "annotations": [],
                "invokedBy": {"name": "Manual", "id": uuid.uuid4().hex, "invokedByType": "Manual"},
                "runStart": _now(), "lastUpdated": _now(), "status": "Queued", "message": "", "activities": [],
                "cancel": False, "recoveryOf": recovery}
        threading.Thread(target=self._execute, args=(factory_key, run_id, parameters), daemon=True,
                         name=f"adf-run-{run_id}").start()
        return run_id

    def cancel(self, factory_key: str, run_id: str) -> None:
        def change(run):
            if run["status"] not in TERMINAL:
                run.update(cancel=True, status="Canceling")  # ADF spells it so (PipelineRun.status)
        self._update(factory_key, run_id, change)

    # -- execution ---------------------------------------------------------------------------------
    def _execute(self, factory_key: str, run_id: str, parameters: dict) -> None:
        started = time.monotonic()
        record = self._record(factory_key)
        run = record["runs"][run_id]
        pipeline = record["objects"]["pipelines"][run["pipelineName"]]["properties"]
        variables = {name: spec.get("defaultValue") for name, spec in (pipeline.get("variables") or {}).items()}
        outputs: dict[str, dict] = {}
        context = {"RunId": run_id, "Pipeline": run["pipelineName"], "DataFactory": factory_key.split("/")[-1],
                   "TriggerTime": run["runStart"], "TriggerType": "Manual", "parameters": parameters,
                   "globalParameters": {k: v.get("value") for k, v in (record.get("globalParameters") or {}).items()}}
        evaluator = Evaluator(context, variables, outputs)
        self._update(factory_key, run_id, lambda r: r.update(status="InProgress", lastUpdated=_now()))
        reused = self._reused_activities(record, run.get("recoveryOf"))
        states = self._run_activities(factory_key, run_id, pipeline.get("activities") or [], evaluator, outputs,
                                      reused)
        handled = {dep["activity"] for a in pipeline.get("activities") or [] for dep in a.get("dependsOn") or []
                   if set(dep.get("dependencyConditions") or []) & {"Failed", "Completed"}}
        failed = [name for name, state in states.items() if state == "Failed" and name not in handled]
        cancelled = self._record(factory_key)["runs"][run_id]["cancel"]
        status = "Cancelled" if cancelled else "Failed" if failed else "Succeeded"
        message = ""
        if failed:
            errors = {a["activityName"]: a["error"]["message"]
                      for a in self._record(factory_key)["runs"][run_id]["activities"]}
            message = f"Operation on target {failed[0]} failed: {errors.get(failed[0], '')}"

        def finish(r):
            r.update(status=status, message=message, runEnd=_now(), lastUpdated=_now(),
                     durationInMs=int((time.monotonic() - started) * 1000))
        self._update(factory_key, run_id, finish)

    @staticmethod
    def _reused_activities(record: dict, recovery: dict | None) -> dict[str, dict]:
        """Rerun from failure: the activities that succeeded in the referenced run, with their outputs."""
        if not recovery or not recovery.get("from_failure"):
            return {}
        reference = record["runs"][recovery["reference"]]
        return {a["activityName"]: a for a in reference["activities"] if a["status"] == "Succeeded"}

    def _run_activities(self, factory_key, run_id, activities, evaluator, outputs,
                        reused: dict[str, dict] | None = None) -> dict[str, str]:
        states: dict[str, str] = {}
        pending = list(activities)
        while pending:
            progressed = False
            for activity in list(pending):
                depends = activity.get("dependsOn") or []
                if any(d["activity"] not in states for d in depends):
                    continue
                pending.remove(activity)
                progressed = True
                satisfied = all(self._condition_met(states[d["activity"]], d.get("dependencyConditions") or [])
                                for d in depends)
                if activity["name"] in (reused or {}):  # succeeded in the run this one recovers: not run again
                    previous = reused[activity["name"]]
                    states[activity["name"]] = "Succeeded"
                    outputs[activity["name"]] = {"output": previous["output"]}
                    if activity["type"] == "SetVariable":
                        evaluator.variables[previous["output"]["name"]] = previous["output"]["value"]
                elif self._record(factory_key)["runs"][run_id]["cancel"]:
                    states[activity["name"]] = "Cancelled"
                elif not satisfied:
                    states[activity["name"]] = "Skipped"
                    self._log_activity(factory_key, run_id, activity, "Skipped", {}, None, time.monotonic())
                else:
                    states[activity["name"]] = self._run_one(factory_key, run_id, activity, evaluator, outputs)
            if not progressed:  # a dependency on an activity that does not exist: ADF refuses such pipelines
                for activity in pending:
                    states[activity["name"]] = "Skipped"
                break
        return states

    @staticmethod
    def _condition_met(state: str, conditions: list[str]) -> bool:
        return any(c == state or (c == "Completed" and state in ("Succeeded", "Failed")) for c in conditions)

    def _log_activity(self, factory_key, run_id, activity, status, output, error, started, activity_run_id=None,
                      activity_input=None) -> str:
        activity_run_id = activity_run_id or str(uuid.uuid4())
        entry = {"activityName": activity["name"], "activityType": activity["type"], "activityRunId": activity_run_id,
                 "pipelineRunId": run_id, "pipelineName": self._record(factory_key)["runs"][run_id]["pipelineName"],
                 "status": status, "activityRunStart": _now(), "input": activity_input or {}, "output": output,
                 "error": error or {"errorCode": "", "message": "", "failureType": "", "target": activity["name"]}}
        if status != "InProgress":
            entry.update(activityRunEnd=_now(), durationInMs=int((time.monotonic() - started) * 1000))

        def change(run):
            others = [a for a in run["activities"] if a["activityRunId"] != activity_run_id]
            run["activities"] = others + [entry]
            run["lastUpdated"] = _now()
        self._update(factory_key, run_id, change)
        return activity_run_id

    def _run_one(self, factory_key, run_id, activity, evaluator, outputs) -> str:
        started = time.monotonic()
        activity_input = {}
        activity_run_id = self._log_activity(factory_key, run_id, activity, "InProgress", {}, None, started)
        try:
            activity_input = evaluator.resolve(activity.get("typeProperties") or {})
            executor = getattr(self, f"_activity_{activity['type']}", None)
            if executor is None:
                raise ActivityFailed("ActivityTypeNotSupported",
                                     f"the sandbox does not run {activity['type']} activities")
            output = executor(factory_key, activity, activity_input, evaluator)
        except ExpressionError as error:
            failure = {"errorCode": "InvalidTemplate", "message": str(error), "failureType": "UserError",
                       "target": activity["name"]}
            self._log_activity(factory_key, run_id, activity, "Failed", {}, failure, started, activity_run_id,
                               activity_input)
            return "Failed"
        except ActivityFailed as error:
            failure = {"errorCode": error.code, "message": error.message, "failureType": "UserError",
                       "target": activity["name"]}
            status = "Cancelled" if self._record(factory_key)["runs"][run_id]["cancel"] else "Failed"
            self._log_activity(factory_key, run_id, activity, status, {}, failure, started, activity_run_id,
                               activity_input)
            return status
        outputs[activity["name"]] = {"output": output}
        self._log_activity(factory_key, run_id, activity, "Succeeded", output, None, started, activity_run_id,
                           activity_input)
        return "Succeeded"

    # -- activities ---------------------------------------------------------------------------------
    def _activity_SetVariable(self, factory_key, activity, resolved, evaluator) -> dict:
        evaluator.variables[resolved["variableName"]] = resolved.get("value")
        return {"name": resolved["variableName"], "value": resolved.get("value")}

    def _linked_service(self, factory_key, reference: dict, evaluator) -> dict:
        objects = self._record(factory_key)["objects"]["linkedservices"]
        service = objects.get(reference["referenceName"])
        if service is None:
            raise ActivityFailed("LinkedServiceNotFound", f"linked service {reference['referenceName']} not found")
        parameters = evaluator.resolve(reference.get("parameters") or {})
        return evaluator.with_scope(parameters).resolve(service["properties"].get("typeProperties") or {})

    def _secret(self, factory_key, value, evaluator) -> str:
        if isinstance(value, str):
            return value
        if value.get("type") == "SecureString":
            return value["value"]
        if value.get("type") == "AzureKeyVaultSecret":
            vault = self._linked_service(factory_key, value["store"], evaluator)
            secret = self.arm.sandbox.read_vault_secret(vault.get("baseUrl", ""), value["secretName"])
            if secret is None:
                raise ActivityFailed("KeyVaultSecretNotFound", f"secret {value['secretName']} not found in Key "
                                     f"Vault {vault.get('baseUrl')}")
            return secret
        raise ActivityFailed("InvalidSecret", f"unsupported secret type {value.get('type')}")

    # -- Copy between blob datasets -------------------------------------------------------------------
    def _dataset(self, factory_key, reference: dict, evaluator) -> tuple[dict, dict]:
        """(resolved dataset typeProperties, resolved linked service typeProperties) of a dataset reference."""
        dataset = self._record(factory_key)["objects"]["datasets"].get(reference["referenceName"])
        if dataset is None:
            raise ActivityFailed("DatasetNotFound", f"dataset {reference['referenceName']} not found")
        scoped = evaluator.with_scope(evaluator.resolve(reference.get("parameters") or {}))
        properties = scoped.resolve(dataset["properties"].get("typeProperties") or {})
        service = self._linked_service(factory_key, dataset["properties"]["linkedServiceName"], evaluator)
        return properties, service

    def _container(self, factory_key, dataset_properties: dict, service: dict, evaluator):
        from urllib.parse import urlparse

        from azure.storage.blob import BlobServiceClient

        if not self.arm.sandbox.blob_endpoint:
            raise ActivityFailed("StorageNotConfigured", "the sandbox runs without storage: start it with "
                                 "`inv sandbox.up`")
        location = dataset_properties.get("location") or {}
        container = location.get("fileSystem") or location.get("container")
        url = service.get("url") or service.get("serviceEndpoint")
        if not url or not container:
            raise ActivityFailed("UnsupportedDataset", "the sandbox copies between blob datasets with an "
                                 "AzureBlobFS or AzureBlobStorage linked service (url and container)")
        account = urlparse(url).hostname.split(".")[0]
        key = self._secret(factory_key, service.get("accountKey"), evaluator) if service.get("accountKey") else None
        client = BlobServiceClient(f"{self.arm.sandbox.blob_endpoint}/{account}",
                                   credential={"account_name": account, "account_key": key} if key else None)
        return client.get_container_client(container), location

    def _activity_Copy(self, factory_key, activity, resolved, evaluator) -> dict:
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        source_props, source_service = self._dataset(factory_key, activity["inputs"][0], evaluator)
        sink_props, sink_service = self._dataset(factory_key, activity["outputs"][0], evaluator)
        source, source_location = self._container(factory_key, source_props, source_service, evaluator)
        sink, sink_location = self._container(factory_key, sink_props, sink_service, evaluator)

        def path(location, name=None):
            parts = [location.get("folderPath") or "", name or location.get("fileName") or ""]
            return "/".join(p.strip("/") for p in parts if p)
        started = time.monotonic()
        try:
            if source_location.get("fileName"):
                names = [path(source_location)]
            else:
                names = [b.name for b in source.list_blobs(name_starts_with=path(source_location) + "/",
                                                           include=["metadata"])
                         if not adls.is_directory(b)]  # a folder copy copies files
            if not names:
                raise ActivityFailed("UserErrorSourceNotExist", f"no file at {path(source_location)!r} in "
                                     f"container {source.container_name}")
            written, folders = 0, set()
            for name in names:
                try:
                    data = source.download_blob(name).readall()
                except ResourceNotFoundError:  # worded as ADF words it
                    raise ActivityFailed("UserErrorSourceBlobNotExist", f"The required Blob is missing. ContainerName: "
                                         f"{source.container_name}, path: {name}.") from None
                target = path(sink_location, sink_location.get("fileName") if source_location.get("fileName")
                              else name.rsplit("/", 1)[-1])
                if not sink.exists():
                    sink.create_container()
                adls.write_parents(sink, target, folders)  # ADF writes to ADLS Gen2 as files in directories
                adls.write_file(sink, target, data)
                written += len(data)
        except AzureError as error:
            raise ActivityFailed("UserErrorFailedBlobOperation", f"{type(error).__name__}: "
                                 f"{str(error).splitlines()[0]}") from None
        return {"dataRead": written, "dataWritten": written, "filesRead": len(names), "filesWritten": len(names),
                "copyDuration": round(time.monotonic() - started, 3), "usedParallelCopies": 1,
                "effectiveIntegrationRuntime": "AutoResolveIntegrationRuntime (sandbox)"}

    def _activity_DatabricksNotebook(self, factory_key, activity, resolved, evaluator) -> dict:
        service = self._linked_service(factory_key, activity["linkedServiceName"], evaluator)
        domain = service["domain"].rstrip("/")
        token = self._secret(factory_key, service["accessToken"], evaluator)
        headers = {"Authorization": f"Bearer {token}"}
        verify = str(self.arm.sandbox.tls.trust_bundle)
        parameters = {k: str(v) for k, v in (resolved.get("baseParameters") or {}).items()}
        http = _retrying_session()
        submit = http.post(f"{domain}/api/2.1/jobs/runs/submit", headers=headers, verify=verify, timeout=60,
                           json={"run_name": f"ADF {activity['name']}", "tasks": [{
                               "task_key": activity["name"], "existing_cluster_id": service["existingClusterId"],
                               "notebook_task": {"notebook_path": resolved["notebookPath"],
                                                 "base_parameters": parameters}}]})
        if submit.status_code != 200:
            raise ActivityFailed("DatabricksSubmitFailed", f"Databricks refused the run: {submit.text}")
        databricks_run = submit.json()["run_id"]
        cancelled = False
        while True:
            state = http.get(f"{domain}/api/2.1/jobs/runs/get", params={"run_id": databricks_run},
                             headers=headers, verify=verify, timeout=60).json()
            if state["state"]["life_cycle_state"] in ("TERMINATED", "SKIPPED", "INTERNAL_ERROR"):
                break
            if not cancelled and self._record(factory_key)["runs"][evaluator.pipeline["RunId"]]["cancel"]:
                # A pipeline run cancelled while a notebook runs cancels the notebook's Databricks run too.
                http.post(f"{domain}/api/2.1/jobs/runs/cancel", headers=headers, verify=verify, timeout=60,
                          json={"run_id": databricks_run})
                cancelled = True
            time.sleep(self.poll_s)
        task_run = state["tasks"][0]["run_id"]
        output = http.get(f"{domain}/api/2.1/jobs/runs/get-output", params={"run_id": task_run},
                          headers=headers, verify=verify, timeout=60).json()
        page = f"{domain}/#job/runs/{databricks_run}"
        if state["state"].get("result_state") != "SUCCESS":
            raise ActivityFailed("DatabricksRunFailed", f"{output.get('error') or state['state'].get('state_message')}"
                                 f" (run page: {page})")
        result = (output.get("notebook_output") or {}).get("result")
        try:
            run_output = json.loads(result) if result is not None else None
        except ValueError:
            run_output = result
        return {"runPageUrl": page, "runOutput": run_output,
                "effectiveIntegrationRuntime": "AutoResolveIntegrationRuntime (sandbox)"}
