"""ARM deployments of the sandbox: PUT answered 201 with Azure-AsyncOperation and run in the background to
Succeeded or Failed, validate, what-if (202 + Location) with change types, and outputs. A deployment
creates the sandbox resources it declares: key vaults and Databricks workspaces get live endpoints,
factories appear in Data Factory, storage accounts and containers are recorded."""
from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import datetime, timezone

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from sandbox import arm_authorization, arm_providers, azure_rules
from sandbox.arm_template import TemplateContext, TemplateError, resource_id
from sandbox.expression_language import ExpressionError
from sandbox.http import ApiError, json_response

SUPPORTED = ("Microsoft.Storage/storageAccounts", "Microsoft.Storage/storageAccounts/blobServices/containers",
             "Microsoft.KeyVault/vaults", "Microsoft.KeyVault/vaults/accessPolicies", "Microsoft.DataFactory/factories",
             "Microsoft.Databricks/workspaces", "Microsoft.Databricks/accessConnectors",
             arm_authorization.ROLE_ASSIGNMENT)


def rules(group_path: str) -> list[Rule]:
    base = f"{group_path}/providers/Microsoft.Resources/deployments/<name>"
    return [Rule(f"{group_path}/providers/Microsoft.Resources/deployments/", endpoint="deployment_list",
                 methods=["GET"]),
            Rule(base, endpoint="deployment_put", methods=["PUT"]),
            Rule(base, endpoint="deployment_get", methods=["GET"]),
            Rule(f"{base}/operationStatuses/<operation>", endpoint="deployment_operation", methods=["GET"]),
            Rule(f"{base}/validate", endpoint="deployment_validate", methods=["POST"]),
            Rule(f"{base}/whatIf", endpoint="deployment_what_if", methods=["POST"]),
            Rule(f"{base}/whatIfResults/<operation>", endpoint="deployment_what_if_result", methods=["GET"]),
            Rule(f"{group_path}/providers/Microsoft.Storage/storageAccounts/<name>/listKeys", endpoint="list_keys",
                 methods=["POST"])]


class _Unknown(dict):
    """What reference() gives during what-if for a resource not deployed yet: any property, unknown."""

    def __missing__(self, key):
        return _Unknown()

    def __str__(self) -> str:
        return "[unknown until deployed]"


DEPLOYMENT_FAILED = ("At least one resource deployment operation failed. Please list deployment operations for "
                     "details. Please see https://aka.ms/arm-deployment-operations for usage details.")


def update_access_policies(current: list[dict], given: list[dict], operation: str) -> list[dict]:
    """Vaults_UpdateAccessPolicy: ``add`` merges permissions into a principal's policy (or adds it), ``replace``
    sets them, ``remove`` takes them away (a policy left with none goes)."""
    if operation not in ("add", "replace", "remove"):
        raise ApiError(400, "BadRequest", f"operationKind must be add, replace or remove, not {operation!r}")
    policies = [json.loads(json.dumps(p)) for p in current]
    for policy in given:
        mine = next((p for p in policies if p.get("objectId") == policy.get("objectId")), None)
        if mine is None:
            if operation != "remove":
                policies.append(json.loads(json.dumps(policy)))
            continue
        for family, wanted in (policy.get("permissions") or {}).items():
            have = [x.lower() for x in (mine.setdefault("permissions", {}).get(family) or [])]
            wanted = [x.lower() for x in wanted]
            mine["permissions"][family] = (sorted(set(have) | set(wanted)) if operation == "add" else
                                           wanted if operation == "replace" else [x for x in have if x not in wanted])
        if not any(mine["permissions"].values()):
            policies.remove(mine)
    return policies


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Deployments:
    """Mixin of the ARM service. Expects ``self.state``, ``self.group``, ``self.sandbox``, ``self.authority``."""

    # -- evaluation --------------------------------------------------------------------------------
    def _context(self, data: dict, subscription: str, group: dict, body: dict, what_if: bool) -> TemplateContext:
        properties = body.get("properties") or {}
        template = properties.get("template")
        if not isinstance(template, dict):
            raise TemplateError("$.properties.template: a deployment needs an inline template")
        resources = data.setdefault("resources", {})

        def reference(target: str, full: bool) -> dict:
            found = resources.get(target.lower()) or next(
                (r for r in resources.values() if r["name"] == target), None)
            if found is None:
                if what_if:
                    return _Unknown()
                raise ExpressionError(f"reference('{target}'): the resource is not deployed")
            return found if full else found["properties"]
        return TemplateContext(template, properties.get("parameters") or {}, subscription, self.authority.tenant_id,
                               group, reference)

    def _plan(self, context: TemplateContext, subscription: str, group: str) -> list[tuple[str, dict, int]]:
        """(resource id, template resource, index) in dependency order."""
        planned = {}
        for index, resource in enumerate(context.template.get("resources") or []):
            condition = resource.get("condition", True)
            if not context.resolve(condition, f"$.resources[{index}].condition"):
                continue  # a resource whose condition is false is not deployed (nor what others depend on)
            kind = context.resolve(resource.get("type"), f"$.resources[{index}].type")
            if kind not in SUPPORTED:
                raise TemplateError(f"$.resources[{index}].type: the sandbox cannot deploy {kind} (it deploys "
                                    f"{', '.join(SUPPORTED)})")
            name = context.resolve(resource.get("name"), f"$.resources[{index}].name")
            azure_rules.check_name(kind, name)
            if "scope" in resource:  # an extension resource: it lives under the resource its scope names
                scope = context.resolve(resource["scope"], f"$.resources[{index}].scope")
                rid = arm_authorization.role_assignment_id(scope, name) if kind == arm_authorization.ROLE_ASSIGNMENT \
                    else f"{scope}/providers/{kind}/{name}"
            else:
                rid = resource_id(subscription, group, kind, *name.split("/"))
            depends = [context.resolve(d, f"$.resources[{index}].dependsOn") for d in resource.get("dependsOn") or []]
            planned[rid.lower()] = (rid, resource, index, [d.lower() for d in depends])
        ordered, done = [], set()

        def visit(key, trail):
            if key in done:
                return
            if key in trail:
                raise TemplateError(f"$.resources: circular dependsOn through {planned[key][0]}")
            for dependency in planned[key][3]:
                if dependency in planned:
                    visit(dependency, trail | {key})
            done.add(key)
            ordered.append(planned[key][:3])
        for key in planned:
            visit(key, frozenset())
        return ordered

    def _provision(self, data: dict, subscription: str, group: str, rid: str, kind: str, name: str,
                   resolved: dict) -> dict:
        properties = dict(resolved.get("properties") or {})
        record = {"id": rid, "type": kind, "name": name, "location": resolved.get("location"),
                  "tags": resolved.get("tags") or {}, "properties": properties}
        for field in ("sku", "kind"):
            if field in resolved:
                record[field] = resolved[field]
        existing = data["resources"].get(rid.lower())
        arm_providers.check_available(data, kind, rid, name)
        if kind == "Microsoft.KeyVault/vaults":
            create_mode = properties.pop("createMode", "default")
            if create_mode == "recover":
                arm_providers.recover_vault(data, rid, name)
            elif existing is None and arm_providers.deleted_vault(data, name) is not None:
                raise ApiError(409, *azure_rules.SOFT_DELETED_VAULT)
            properties["vaultUri"] = self.sandbox.ensure_vault(name) + "/"
        elif kind == "Microsoft.Databricks/workspaces":
            url = self.sandbox.ensure_workspace(name)
            properties["workspaceUrl"] = url.removeprefix("https://")
            properties["workspaceId"] = str(self.sandbox.services.read()["workspaces"][name]["id"])
        elif kind == "Microsoft.Databricks/accessConnectors":  # a system-assigned identity, kept across PUTs
            record["identity"] = {"type": "SystemAssigned", "tenantId": self.authority.tenant_id,
                                  "principalId": (existing or {}).get("identity", {}).get("principalId")
                                  or str(uuid.uuid4())}
        elif kind == arm_authorization.ROLE_ASSIGNMENT:
            arm_authorization.check_role_assignment(data, rid, name, properties, self.authority.client_id)
            properties["scope"] = rid.rsplit(f"/providers/{arm_authorization.ROLE_ASSIGNMENT}/", 1)[0]
            record["createdAt"] = (existing or {}).get("createdAt") or time.time()
        elif kind == "Microsoft.DataFactory/factories":
            principal = (existing or {}).get("identity", {}).get("principalId") or str(uuid.uuid4())
            record["identity"] = {"type": "SystemAssigned", "principalId": principal,
                                  "tenantId": self.authority.tenant_id}
            factory = self.ensure_factory(data, subscription, group, name, resolved.get("location") or "", principal)
            # ARM's PUT replaces the factory: global parameters the template does not declare are gone
            # (Azure-DataFactory issue 690; see sandbox/RULES.md).
            factory["globalParameters"] = properties.get("globalParameters") or {}
        elif kind == "Microsoft.Storage/storageAccounts":
            storage = self.sandbox.storage
            if storage is not None:  # a real account on the sandbox's Azurite
                storage.ensure_account(name)
                endpoint = f"{storage.endpoint}/{name}/"
                properties["primaryEndpoints"] = {"blob": endpoint, "dfs": endpoint}
            else:
                properties["primaryEndpoints"] = {"blob": f"https://{name}.blob.core.windows.net/",
                                                  "dfs": f"https://{name}.dfs.core.windows.net/"}
        elif kind == "Microsoft.KeyVault/vaults/accessPolicies":
            vault_name, operation = name.split("/")
            vault = self.vault_record(data, subscription, group, vault_name)
            vault["properties"]["accessPolicies"] = update_access_policies(
                vault["properties"].get("accessPolicies") or [], properties.get("accessPolicies") or [], operation)
        elif kind == "Microsoft.Storage/storageAccounts/blobServices/containers" and self.sandbox.storage:
            account, _, container = name.split("/")
            self._create_container(account, container)
        properties["provisioningState"] = "Succeeded"
        data["resources"][rid.lower()] = record
        return record

    def _create_container(self, account: str, container: str) -> None:
        from azure.core.exceptions import ResourceExistsError
        from azure.storage.blob import ContainerClient

        storage = self.sandbox.storage
        client = ContainerClient(f"{storage.endpoint}/{account}", container,  # retries ride out an Azurite restart
                                 credential={"account_name": account, "account_key": storage.key(account)},
                                 retry_total=10, retry_backoff_factor=0.2)
        try:
            client.create_container()
        except ResourceExistsError:
            pass

    @staticmethod
    def vault_record(data: dict, subscription: str, group: str, name: str) -> dict:
        vault = data.get("resources", {}).get(resource_id(subscription, group, "Microsoft.KeyVault/vaults",
                                                          name).lower())
        if vault is None:
            raise ApiError(404, "ResourceNotFound", f"The Resource 'Microsoft.KeyVault/vaults/{name}' under "
                           f"resource group '{group}' was not found.")
        return vault

    def delete_account_data(self, account: str) -> None:
        """A storage account deleted with its resource group takes its data with it (its key stays: Azurite
        serves an account until it restarts)."""
        from azure.storage.blob import BlobServiceClient

        storage = self.sandbox.storage
        if storage is None or storage.key(account) is None:
            return
        service = BlobServiceClient(f"{storage.endpoint}/{account}", retry_total=10, retry_backoff_factor=0.2,
                                    credential={"account_name": account, "account_key": storage.key(account)})
        for container in service.list_containers():
            service.delete_container(container.name)

    def list_keys(self, request, subscription, rg_word, group, name) -> Response:
        storage = self.sandbox.storage
        rid = resource_id(subscription, group, "Microsoft.Storage/storageAccounts", name).lower()
        premade = name in self.sandbox.identity.storage_keys  # the sandbox's own accounts (lakes, shared)
        if (rid not in self.state.read().get("resources", {}) and not premade) or storage is None \
                or storage.key(name) is None:
            raise ApiError(404, "ResourceNotFound", f"The Resource 'Microsoft.Storage/storageAccounts/{name}' under "
                           f"resource group '{group}' was not found.")
        return json_response({"keys": [{"keyName": "key1", "value": storage.key(name), "permissions": "FULL"}]})

    def _deploy(self, key: str, subscription: str, group_name: str, body: dict) -> None:
        try:
            with self.state.update() as data:
                group = self.group(data, subscription, group_name)
                context = self._context(data, subscription, group, body, what_if=False)
                created = []
                for rid, resource, index in self._plan(context, subscription, group["name"]):
                    resolved = context.resolve(resource, f"$.resources[{index}]")
                    created.append(self._provision(data, subscription, group["name"], rid, resolved["type"],
                                                   resolved["name"], resolved))
                outputs = {n: {"type": o.get("type"), "value": context.resolve(o.get("value"), f"$.outputs.{n}")}
                           for n, o in (context.template.get("outputs") or {}).items()}
                deployment = data["deployments"][key]
                deployment["properties"].update(provisioningState="Succeeded", outputs=outputs, timestamp=_now(),
                                                outputResources=[{"id": r["id"]} for r in created])
                data["operations"][deployment["operation"]] = {"status": "Succeeded"}
        except (TemplateError, ApiError, Exception) as error:  # whatever fails, the deployment ends (Failed)
            if isinstance(error, TemplateError):
                failure = {"code": "InvalidTemplate", "message": str(error)}
            elif not isinstance(error, ApiError):
                failure = {"code": "InternalServerError", "message": f"{type(error).__name__}: {error}"}
            else:  # as ARM reports a resource's failure: an outer DeploymentFailed, the provider's error inside
                failure = {"code": "DeploymentFailed", "message": DEPLOYMENT_FAILED,
                           "details": [{"code": error.code, "message": error.message}]}
            with self.state.update() as data:
                deployment = data["deployments"][key]
                deployment["properties"].update(provisioningState="Failed", error=failure, timestamp=_now())
                data["operations"][deployment["operation"]] = {"status": "Failed", "error": failure}

    # -- endpoints ---------------------------------------------------------------------------------
    def _deployment_key(self, subscription: str, group: str, name: str) -> str:
        return f"{subscription}/{group.lower()}/{name}"

    def _deployment_body(self, subscription: str, group: str, name: str, deployment: dict) -> dict:
        return {"id": f"/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Resources/"
                      f"deployments/{name}", "name": name, "type": "Microsoft.Resources/deployments",
                "properties": deployment["properties"]}

    def deployment_put(self, request: Request, subscription, rg_word, group, name) -> Response:
        body = request.get_json(silent=True) or {}
        mode = (body.get("properties") or {}).get("mode", "Incremental")
        if mode != "Incremental":
            raise ApiError(400, "InvalidDeploymentMode", f"the sandbox deploys in Incremental mode, not {mode}")
        operation = uuid.uuid4().hex
        key = self._deployment_key(subscription, group, name)
        with self.state.update() as data:
            self.group(data, subscription, group)
            data.setdefault("deployments", {})[key] = {
                "operation": operation, "properties": {"provisioningState": "Running", "mode": mode,
                                                       "timestamp": _now(), "correlationId": str(uuid.uuid4())}}
            data.setdefault("operations", {})[operation] = {"status": "Running"}
            deployment = data["deployments"][key]
        threading.Thread(target=self._deploy, args=(key, subscription, group, body), daemon=True,
                         name=f"deployment-{name}").start()
        status_url = (f"{request.host_url.rstrip('/')}{request.path}/operationStatuses/{operation}"
                      f"?api-version={request.args['api-version']}")
        return json_response(self._deployment_body(subscription, group, name, deployment), 201,
                             {"Azure-AsyncOperation": status_url, "Retry-After": "1"})

    def deployment_list(self, request: Request, subscription, rg_word, group) -> Response:
        data = self.state.read()
        self.group(data, subscription, group)
        prefix = self._deployment_key(subscription, group, "")
        found = [self._deployment_body(subscription, group, key[len(prefix):], deployment)
                 for key, deployment in data.get("deployments", {}).items() if key.startswith(prefix)]
        return json_response({"value": found})

    def deployment_get(self, request: Request, subscription, rg_word, group, name) -> Response:
        deployment = self.state.read().get("deployments", {}).get(self._deployment_key(subscription, group, name))
        if deployment is None:
            raise ApiError(404, "DeploymentNotFound", f"Deployment '{name}' could not be found.")
        return json_response(self._deployment_body(subscription, group, name, deployment))

    def _operation(self, operation: str) -> dict:
        found = self.state.read().get("operations", {}).get(operation)
        if found is None:
            raise ApiError(404, "OperationNotFound", f"Operation {operation} was not found.")
        return found

    def deployment_operation(self, request: Request, subscription, rg_word, group, name, operation) -> Response:
        return json_response(self._operation(operation))

    def deployment_validate(self, request: Request, subscription, rg_word, group, name) -> Response:
        body = request.get_json(silent=True) or {}
        data = self.state.read()
        group_record = self.group(data, subscription, group)
        try:
            context = self._context(data, subscription, group_record, body, what_if=True)
            planned = self._plan(context, subscription, group_record["name"])
            for _, resource, index in planned:
                context.resolve(resource, f"$.resources[{index}]")
        except TemplateError as error:
            raise ApiError(400, "InvalidTemplate", f"Deployment template validation failed: {error}") from None
        except ApiError as error:  # a resource the provider refuses (its name): ARM's preflight answer
            raise ApiError(400, "InvalidTemplateDeployment", f"The template deployment '{name}' is not valid "
                           "according to the validation procedure. See inner errors for details.",
                           details=[{"code": error.code, "message": error.message}]) from None
        return json_response({"id": f"/subscriptions/{subscription}/resourceGroups/{group}/providers/"
                                    f"Microsoft.Resources/deployments/{name}", "name": name,
                              "properties": {"provisioningState": "Succeeded", "mode": "Incremental",
                                             "validatedResources": [{"id": rid} for rid, _, _ in planned]}})

    def deployment_what_if(self, request: Request, subscription, rg_word, group, name) -> Response:
        body = request.get_json(silent=True) or {}
        data = self.state.read()
        group_record = self.group(data, subscription, group)
        try:
            context = self._context(data, subscription, group_record, body, what_if=True)
            changes = []
            for rid, resource, index in self._plan(context, subscription, group_record["name"]):
                after = json.loads(json.dumps(context.resolve(resource, f"$.resources[{index}]"), default=str))
                before = data.get("resources", {}).get(rid.lower())
                if before is not None and before["type"] == "Microsoft.DataFactory/factories":
                    live = data.get("factories", {}).get(self.factory_key(subscription, group_record["name"],
                                                                          before["name"]), {})
                    before = {**before, "properties": {**before["properties"],
                                                       "globalParameters": live.get("globalParameters") or {}}}
                if before is None:
                    change = "Create"
                else:
                    wanted = {k: after.get(k) for k in ("location", "tags", "sku", "kind", "properties") if k in after}
                    current = {k: before.get(k) for k in wanted}
                    current_props = {k: v for k, v in (current.get("properties") or {}).items()
                                     if k in (wanted.get("properties") or {})}
                    if "properties" in current:
                        current["properties"] = current_props
                    change = "NoChange" if current == wanted else "Modify"
                changes.append({"resourceId": rid, "changeType": change, "before": before, "after": after})
            result = {"status": "Succeeded", "properties": {"changes": changes}}
        except TemplateError as error:
            result = {"status": "Failed", "error": {"code": "InvalidTemplate", "message": str(error)}}
        except ApiError as error:
            result = {"status": "Failed", "error": {"code": "InvalidTemplateDeployment", "message": "The template "
                                                    "deployment is not valid according to the validation procedure.",
                                                    "details": [{"code": error.code, "message": error.message}]}}
        operation = uuid.uuid4().hex
        with self.state.update() as state:
            state.setdefault("operations", {})[operation] = result
        location = (f"{request.host_url.rstrip('/')}{request.path.rsplit('/', 1)[0]}/whatIfResults/{operation}"
                    f"?api-version={request.args['api-version']}")
        return Response(status=202, headers={"Location": location, "Retry-After": "1"})

    def deployment_what_if_result(self, request: Request, subscription, rg_word, group, name, operation) -> Response:
        result = self._operation(operation)
        if result["status"] == "Failed":
            return json_response({"error": result["error"]}, 400)
        return json_response(result)
