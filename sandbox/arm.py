"""The Azure Resource Manager endpoint of the sandbox: resource groups, and Data Factory beneath them.

Paths and bodies as ARM's: ``/subscriptions/{id}/resourcegroups/{name}`` (case-insensitive, as ARM),
``api-version`` required, errors as ``{"error": {"code", "message"}}``, and a 401 carrying ARM's
challenge. Resource groups are kept by subscription; names compare case-insensitively.
"""
from __future__ import annotations

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from sandbox import arm_deployments, arm_providers, azure_rules
from sandbox.adf import service as adf
from sandbox.arm_template import resource_id
from sandbox.http import ApiError, Service, json_response
from sandbox.state import JsonState

RG = "/subscriptions/<subscription>/<any(resourcegroups, resourceGroups):rg_word>/<group>"


class ArmService(Service, adf.DataFactory, arm_deployments.Deployments, arm_providers.Providers):
    name = "arm"
    url_map = Map([
        Rule(RG, endpoint="rg_put", methods=["PUT"]),
        Rule(RG, endpoint="rg_get", methods=["GET"]),
        Rule(RG, endpoint="rg_delete", methods=["DELETE"]),
        *adf.rules(RG),
        *arm_deployments.rules(RG),
        *arm_providers.rules(),
        Rule(f"{RG}/providers/Microsoft.Authorization/permissions", endpoint="permissions_list", methods=["GET"]),
        Rule(f"{RG}/providers/<namespace>/<kind>/<name>", endpoint="resource_get", methods=["GET"]),
        Rule(f"{RG}/providers/Microsoft.KeyVault/vaults/<name>/accessPolicies/<operation>",
             endpoint="vault_access_policies", methods=["PUT"]),
    ])

    def __init__(self, state: JsonState, authority, faults, sandbox):
        Service.__init__(self, authority, faults)
        self.state, self.sandbox = state, sandbox
        adf.DataFactory.__init__(self)

    def challenge_headers(self, request: Request) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer authorization_uri="https://login.windows.net/", error="invalid_token", '
                                    'error_description="The authentication failed because of missing '
                                    "'Authorization' header.\""}

    def dispatch(self, request: Request) -> Response:
        if "api-version" not in request.args:
            return json_response(self.error_body(ApiError(400, "MissingApiVersionParameter", "The api-version "
                                                          "query parameter (?api-version=) is required for all "
                                                          "requests.")), 400)
        return super().dispatch(request)

    # -- resource groups ------------------------------------------------------------------------
    @staticmethod
    def group_key(subscription: str, group: str) -> str:
        return f"{subscription}/{group.lower()}"

    def group(self, data: dict, subscription: str, group: str) -> dict:
        found = data.setdefault("groups", {}).get(self.group_key(subscription, group))
        if found is None:
            raise ApiError(404, "ResourceGroupNotFound", f"Resource group '{group}' could not be found.")
        return found

    def _group_body(self, subscription: str, group: dict) -> dict:
        return {"id": f"/subscriptions/{subscription}/resourceGroups/{group['name']}", "name": group["name"],
                "type": "Microsoft.Resources/resourceGroups", "location": group["location"],
                "tags": group.get("tags") or {}, "properties": {"provisioningState": "Succeeded"}}

    def rg_put(self, request: Request, subscription: str, rg_word: str, group: str) -> Response:
        body = request.get_json(silent=True) or {}
        if not body.get("location"):
            raise ApiError(400, "LocationRequired", "The location property is required for this definition.")
        azure_rules.check_name("Microsoft.Resources/resourceGroups", group)
        with self.state.update() as data:
            groups = data.setdefault("groups", {})
            key = self.group_key(subscription, group)
            created = key not in groups
            existing = groups.get(key, {"name": group})
            groups[key] = {"name": existing["name"], "location": body["location"], "tags": body.get("tags") or {}}
        return json_response(self._group_body(subscription, groups[key]), 201 if created else 200)

    def rg_get(self, request: Request, subscription: str, rg_word: str, group: str) -> Response:
        return json_response(self._group_body(subscription, self.group(self.state.read(), subscription, group)))

    def permissions_list(self, request: Request, subscription: str, rg_word: str, group: str) -> Response:
        """Permissions - List For Resource Group: what the caller may do there (its roles' actions)."""
        from sandbox.arm_authorization import deployer_permissions

        data = self.state.read()
        self.group(data, subscription, group)
        return json_response({"value": [{**p, "dataActions": [], "notDataActions": []}
                                        for p in deployer_permissions(data)]})

    def resource_get(self, request: Request, subscription: str, rg_word: str, group: str, namespace: str, kind: str,
                     name: str) -> Response:
        """A deployed resource as ARM shows it (id, name, type, location, tags, sku, kind, properties)."""
        data = self.state.read()
        self.group(data, subscription, group)
        record = data.get("resources", {}).get(resource_id(subscription, group, f"{namespace}/{kind}", name).lower())
        if record is None:
            raise ApiError(404, "ResourceNotFound", f"The Resource '{namespace}/{kind}/{name}' under resource group "
                           f"'{group}' was not found.")
        return json_response(record)

    def vault_access_policies(self, request: Request, subscription: str, rg_word: str, group: str, name: str,
                              operation: str) -> Response:
        """Vaults_UpdateAccessPolicy: add, replace or remove policies without a PUT of the whole vault."""
        body = request.get_json(silent=True) or {}
        given = (body.get("properties") or {}).get("accessPolicies")
        if not isinstance(given, list):
            raise ApiError(400, "BadRequest", "properties.accessPolicies is required")
        with self.state.update() as data:
            self.group(data, subscription, group)
            vault = self.vault_record(data, subscription, group, name)
            vault["properties"]["accessPolicies"] = arm_deployments.update_access_policies(
                vault["properties"].get("accessPolicies") or [], given, operation)
        return json_response({"id": f"{vault['id']}/accessPolicies/{operation}", "type":
                              "Microsoft.KeyVault/vaults/accessPolicies",
                              "properties": {"accessPolicies": vault["properties"]["accessPolicies"]}})

    def rg_delete(self, request: Request, subscription: str, rg_word: str, group: str) -> Response:
        with self.state.update() as data:
            self.group(data, subscription, group)
            del data["groups"][self.group_key(subscription, group)]
            prefix = self.group_key(subscription, group) + "/"
            for key in [k for k in data.get("factories", {}) if k.lower().startswith(prefix)]:
                del data["factories"][key]
            marker = f"/subscriptions/{subscription}/resourcegroups/{group}/".lower()
            removed = [data["resources"].pop(k) for k in [k for k in data.get("resources", {}) if k.startswith(marker)]]
            for resource in removed:
                if resource["type"] == arm_providers.VAULT:
                    arm_providers.soft_delete_vault(data, resource)
        for resource in removed:  # a deleted workspace's clusters stop, as its compute goes with it
            if resource["type"] == "Microsoft.Databricks/workspaces":
                self.sandbox.stop_workspace(resource["name"])
            elif resource["type"] == arm_providers.STORAGE:
                self.delete_account_data(resource["name"])
        return Response(status=200)
