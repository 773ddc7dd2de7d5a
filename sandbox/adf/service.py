"""Data Factory resources: factories (with global parameters), linked services, datasets, pipelines and
triggers, as ADF answers for them: PUTs are synchronous, a reference to a missing object is refused,
an object still referenced cannot be deleted, and an enabled trigger cannot be updated."""
from __future__ import annotations

import uuid

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from sandbox.adf.engine import Engine
from sandbox.arm_providers import FACTORY as FACTORY_KIND, check_available
from sandbox.http import ApiError, json_response

FACTORY = "/providers/Microsoft.DataFactory/factories/<factory>"
KINDS = {"linkedservices": "LinkedServiceReference", "datasets": "DatasetReference", "pipelines": "PipelineReference",
         "dataflows": "DataFlowReference", "triggers": None}
REFERENCE_KIND = {v: k for k, v in KINDS.items() if v}
LIST_PAGE_SIZE = 2  # small, so that every caller must follow nextLink (ADF does not document its page size)
_HIDDEN = ("activities", "cancel", "variables", "recoveryOf")  # a run's fields that are the sandbox's own bookkeeping


def _iso(value: str):
    from datetime import datetime, timezone

    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _page(items: list, body: dict) -> dict:
    """One page of a run query (RunFilterParameters.continuationToken in, continuationToken out while more)."""
    try:
        start = int(body.get("continuationToken") or 0)
    except ValueError:
        raise ApiError(400, "BadRequest", "The continuationToken is not valid.") from None
    page = {"value": items[start:start + LIST_PAGE_SIZE]}
    if start + LIST_PAGE_SIZE < len(items):
        page["continuationToken"] = str(start + LIST_PAGE_SIZE)
    return page


def rules(group_path: str) -> list[Rule]:
    base = group_path + FACTORY
    kind = "<any(linkedservices, datasets, pipelines, dataflows, triggers):kind>"
    return [
        Rule(base, endpoint="factory_put", methods=["PUT"]),
        Rule(base, endpoint="factory_get", methods=["GET"]),
        Rule(base, endpoint="factory_delete", methods=["DELETE"]),
        Rule(f"{base}/{kind}", endpoint="object_list", methods=["GET"]),
        Rule(f"{base}/{kind}/<name>", endpoint="object_put", methods=["PUT"]),
        Rule(f"{base}/{kind}/<name>", endpoint="object_get", methods=["GET"]),
        Rule(f"{base}/{kind}/<name>", endpoint="object_delete", methods=["DELETE"]),
        Rule(f"{base}/triggers/<name>/start", endpoint="trigger_start", methods=["POST"]),
        Rule(f"{base}/triggers/<name>/stop", endpoint="trigger_stop", methods=["POST"]),
        Rule(f"{base}/pipelines/<name>/createRun", endpoint="run_create", methods=["POST"]),
        Rule(f"{base}/queryPipelineRuns", endpoint="run_query", methods=["POST"]),
        Rule(f"{base}/pipelineruns/<run_id>", endpoint="run_get", methods=["GET"]),
        Rule(f"{base}/pipelineruns/<run_id>/queryActivityruns", endpoint="run_query_activities", methods=["POST"]),
        Rule(f"{base}/pipelineruns/<run_id>/cancel", endpoint="run_cancel", methods=["POST"]),
    ]


def references(document: dict) -> set[tuple[str, str]]:
    """(kind, name) of every object a definition references."""
    found = set()

    def walk(node):
        if isinstance(node, dict):
            kind = REFERENCE_KIND.get(node.get("type"))
            if kind and isinstance(node.get("referenceName"), str):
                found.add((kind, node["referenceName"]))
            if node.get("type") == "AzureKeyVaultSecret" and isinstance(node.get("store"), dict):
                found.add(("linkedservices", node["store"].get("referenceName")))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(document)
    return found


class DataFactory:
    """Mixin of the ARM service. Expects ``self.state`` and ``self.group``."""

    def __init__(self) -> None:
        self.engine = Engine(self)

    # -- helpers ---------------------------------------------------------------------------------
    def factory_key(self, subscription: str, group: str, factory: str) -> str:
        return f"{subscription}/{group.lower()}/{factory.lower()}"

    def factory_data(self, data: dict, subscription: str, group: str, factory: str) -> dict:
        self.group(data, subscription, group)
        found = data.setdefault("factories", {}).get(self.factory_key(subscription, group, factory))
        if found is None:
            raise ApiError(404, "ResourceNotFound", f"The Resource 'Microsoft.DataFactory/factories/{factory}' "
                           f"under resource group '{group}' was not found.")
        return found

    @staticmethod
    def _id(subscription: str, group: str, factory: str, kind: str | None = None, name: str | None = None) -> str:
        base = (f"/subscriptions/{subscription}/resourceGroups/{group}"
                f"/providers/Microsoft.DataFactory/factories/{factory}")
        return f"{base}/{kind}/{name}" if kind else base

    def _object_body(self, subscription, group, factory, kind, name, obj) -> dict:
        properties = dict(obj["properties"])
        if kind == "triggers":
            properties["runtimeState"] = obj.get("runtimeState", "Stopped")
        return {"id": self._id(subscription, group, factory, kind, name), "name": name,
                "type": f"Microsoft.DataFactory/factories/{kind}", "properties": properties,
                "etag": obj["etag"]}

    # -- factories -------------------------------------------------------------------------------
    def _factory_body(self, subscription, group, factory, record) -> dict:
        return {"id": self._id(subscription, group, factory), "name": factory,
                "type": "Microsoft.DataFactory/factories", "location": record["location"],
                "tags": record.get("tags") or {}, "eTag": record["etag"],
                "identity": {"type": "SystemAssigned", "principalId": record["principalId"],
                             "tenantId": self.authority.tenant_id},
                "properties": {"provisioningState": "Succeeded", "createTime": record["createTime"],
                               "version": "2018-06-01", "globalParameters": record.get("globalParameters") or {}}}

    def ensure_factory(self, data: dict, subscription: str, group: str, factory: str, location: str,
                       principal: str | None = None) -> dict:
        """The factory's record, created if missing (by a PUT or an ARM deployment)."""
        import datetime

        self.group(data, subscription, group)
        factories = data.setdefault("factories", {})
        key = self.factory_key(subscription, group, factory)
        if key not in factories:
            factories[key] = {"name": factory, "principalId": principal or str(uuid.uuid4()),
                              "createTime": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                              "objects": {k: {} for k in KINDS}, "runs": {}, "location": location,
                              "etag": uuid.uuid4().hex, "globalParameters": {}}
        return factories[key]

    def factory_put(self, request: Request, subscription, rg_word, group, factory) -> Response:
        body = request.get_json(silent=True) or {}
        with self.state.update() as data:
            check_available(data, FACTORY_KIND, self._id(subscription, group, factory), factory)
            record = self.ensure_factory(data, subscription, group, factory, body.get("location") or "australiaeast")
            record.update(location=body.get("location") or record["location"], tags=body.get("tags") or {},
                          etag=uuid.uuid4().hex,
                          globalParameters=(body.get("properties") or {}).get("globalParameters") or {})
        return json_response(self._factory_body(subscription, group, factory, record))

    def factory_get(self, request: Request, subscription, rg_word, group, factory) -> Response:
        record = self.factory_data(self.state.read(), subscription, group, factory)
        return json_response(self._factory_body(subscription, group, factory, record))

    def factory_delete(self, request: Request, subscription, rg_word, group, factory) -> Response:
        with self.state.update() as data:
            self.factory_data(data, subscription, group, factory)
            del data["factories"][self.factory_key(subscription, group, factory)]
        return Response(status=200)

    # -- objects ---------------------------------------------------------------------------------
    def object_put(self, request: Request, subscription, rg_word, group, factory, kind, name) -> Response:
        body = request.get_json(silent=True) or {}
        properties = body.get("properties")
        if not isinstance(properties, dict):
            raise ApiError(400, "BadRequest", f"The request body of {kind[:-1]} '{name}' has no properties.")
        with self.state.update() as data:
            record = self.factory_data(data, subscription, group, factory)
            for ref_kind, ref_name in sorted(references(properties)):
                if ref_name not in record["objects"][ref_kind]:
                    raise ApiError(400, "BadRequest", f"The document creation or update failed because of "
                                   f"invalid reference '{ref_name}'.")
            existing = record["objects"][kind].get(name)
            if kind == "triggers" and existing and existing.get("runtimeState") == "Started":
                raise ApiError(400, "TriggerEnabledCannotUpdate", f"Cannot update enabled Trigger '{name}'; it "
                               "needs to be stopped first.")
            record["objects"][kind][name] = {"properties": properties, "etag": uuid.uuid4().hex,
                                             "runtimeState": (existing or {}).get("runtimeState", "Stopped")}
            obj = record["objects"][kind][name]
        return json_response(self._object_body(subscription, group, factory, kind, name, obj))

    def _object(self, record: dict, kind: str, name: str) -> dict:
        obj = record["objects"][kind].get(name)
        if obj is None:
            raise ApiError(404, "NotFound", f"Entity {name} not found")
        return obj

    def object_get(self, request: Request, subscription, rg_word, group, factory, kind, name) -> Response:
        record = self.factory_data(self.state.read(), subscription, group, factory)
        return json_response(self._object_body(subscription, group, factory, kind, name,
                                               self._object(record, kind, name)))

    def object_list(self, request: Request, subscription, rg_word, group, factory, kind) -> Response:
        """A page of the list (x-ms-pageable, nextLinkName nextLink): the link to the next page is a full URL
        carrying its own continuation token in the query string, to be followed as given."""
        record = self.factory_data(self.state.read(), subscription, group, factory)
        items = sorted(record["objects"][kind].items())
        start = int(request.args.get("$skiptoken", "0") or 0)
        body = {"value": [self._object_body(subscription, group, factory, kind, n, o)
                          for n, o in items[start:start + LIST_PAGE_SIZE]]}
        if start + LIST_PAGE_SIZE < len(items):
            body["nextLink"] = (f"{request.host_url.rstrip('/')}{request.path}?api-version="
                                f"{request.args['api-version']}&$skiptoken={start + LIST_PAGE_SIZE}")
        return json_response(body)

    def object_delete(self, request: Request, subscription, rg_word, group, factory, kind, name) -> Response:
        with self.state.update() as data:
            record = self.factory_data(data, subscription, group, factory)
            if name not in record["objects"][kind]:
                return Response(status=204)  # ADF answers 204 for an object that is not there
            for other_kind, objects in record["objects"].items():
                for other_name, other in objects.items():
                    if (kind, name) in references(other["properties"]):
                        raise ApiError(400, "BadRequest", f"The document cannot be deleted since it is referenced "
                                       f"by {other_name}.")
            if kind == "triggers" and record["objects"][kind][name].get("runtimeState") == "Started":
                raise ApiError(400, "TriggerEnabledCannotUpdate", f"Cannot delete enabled Trigger '{name}'; it "
                               "needs to be stopped first.")
            del record["objects"][kind][name]
        return Response(status=200)

    def _set_trigger_state(self, subscription, group, factory, name, state) -> Response:
        with self.state.update() as data:
            record = self.factory_data(data, subscription, group, factory)
            trigger = self._object(record, "triggers", name)
            trigger["runtimeState"] = state
        return Response(status=200)

    def trigger_start(self, request: Request, subscription, rg_word, group, factory, name) -> Response:
        return self._set_trigger_state(subscription, group, factory, name, "Started")

    def trigger_stop(self, request: Request, subscription, rg_word, group, factory, name) -> Response:
        return self._set_trigger_state(subscription, group, factory, name, "Stopped")

    # -- runs --------------------------------------------------------------------------------------
    def run_create(self, request: Request, subscription, rg_word, group, factory, name) -> Response:
        parameters = request.get_json(silent=True) or {}
        record = self.factory_data(self.state.read(), subscription, group, factory)
        pipeline = self._object(record, "pipelines", name)
        reference_id = request.args.get("referencePipelineRunId")
        recovery = None
        if reference_id:  # ADF: the referenced run's parameters are used; a recovery run joins its run group
            reference = self._run(subscription, group, factory, reference_id)
            if reference["pipelineName"] != name:
                raise ApiError(400, "BadRequest", f"Pipeline run {reference_id} is a run of "
                               f"{reference['pipelineName']}, not {name}.")
            parameters = dict(reference["parameters"])
            if request.args.get("isRecovery", "").lower() == "true":
                from_failure = request.args.get("startFromFailure", "").lower() == "true"
                recovery = {"reference": reference_id, "from_failure": from_failure}
        declared = pipeline["properties"].get("parameters") or {}
        unknown = sorted(set(parameters) - set(declared))
        if unknown:
            raise ApiError(400, "BadRequest", f"The pipeline {name} has no parameter {unknown[0]}.")
        values = {k: parameters.get(k, spec.get("defaultValue")) for k, spec in declared.items()}
        missing = sorted(k for k, v in values.items() if v is None)
        if missing:
            raise ApiError(400, "BadRequest", f"Missing value for required parameter '{missing[0]}' of pipeline "
                           f"{name}.")
        run_id = self.engine.start(self.factory_key(subscription, group, factory), name, values, recovery)
        return json_response({"runId": run_id})

    def _run(self, subscription, group, factory, run_id) -> dict:
        record = self.factory_data(self.state.read(), subscription, group, factory)
        run = record["runs"].get(run_id)
        if run is None:
            raise ApiError(404, "PipelineRunNotFound", f"Pipeline run {run_id} was not found.")
        return run

    def run_get(self, request: Request, subscription, rg_word, group, factory, run_id) -> Response:
        run = self._run(subscription, group, factory, run_id)
        return json_response({k: v for k, v in run.items() if k not in _HIDDEN})

    def run_query(self, request: Request, subscription, rg_word, group, factory) -> Response:
        """Pipeline runs last updated in a window, with ADF's Equals/In filters on Status and PipelineName."""
        record = self.factory_data(self.state.read(), subscription, group, factory)
        body = request.get_json(silent=True) or {}
        for required in ("lastUpdatedAfter", "lastUpdatedBefore"):
            if not body.get(required):
                raise ApiError(400, "BadRequest", f"The {required} field is required.")
        fields = {"Status": "status", "PipelineName": "pipelineName", "RunGroupId": "runGroupId"}
        runs = [r for r in record["runs"].values()
                if _iso(body["lastUpdatedAfter"]) <= _iso(r["lastUpdated"]) <= _iso(body["lastUpdatedBefore"])]
        for condition in body.get("filters") or []:
            field = fields.get(condition.get("operand"))
            if field is None or condition.get("operator") not in ("Equals", "In"):
                raise ApiError(400, "BadRequest", f"The sandbox does not filter on {condition.get('operand')} "
                               f"{condition.get('operator')}.")
            runs = [r for r in runs if r[field] in condition.get("values", [])]
        return json_response(_page([{k: v for k, v in r.items() if k not in _HIDDEN} for r in runs], body))

    def run_query_activities(self, request: Request, subscription, rg_word, group, factory, run_id) -> Response:
        run = self._run(subscription, group, factory, run_id)
        body = request.get_json(silent=True) or {}
        for required in ("lastUpdatedAfter", "lastUpdatedBefore"):
            if not body.get(required):
                raise ApiError(400, "BadRequest", f"The {required} field is required.")
        return json_response(_page(run["activities"], body))

    def run_cancel(self, request: Request, subscription, rg_word, group, factory, run_id) -> Response:
        self._run(subscription, group, factory, run_id)
        self.engine.cancel(self.factory_key(subscription, group, factory), run_id)
        return Response(status=200)
