"""Subscription-level calls of the resource providers the sandbox's ARM emulates, and the name rules they
share with deployments: ``checkNameAvailability`` of Storage and Key Vault; Key Vault's deleted vaults (a
deleted vault keeps its name until it is purged or recovered). Data Factory's stable API (2018-06-01) has no
name check that the SDK exposes: a factory name taken elsewhere is refused on the PUT (DataFactoryNameInUse).

Sources (see sandbox/RULES.md): azure-rest-api-specs specification/storage/resource-manager/Microsoft.Storage/
stable/2023-05-01/storage.json (StorageAccounts_CheckNameAvailability), specification/keyvault/resource-manager/
Microsoft.KeyVault/stable/2023-07-01/keyvault.json (Vaults_CheckNameAvailability, Vaults_ListDeleted,
Vaults_GetDeleted, Vaults_PurgeDeleted, Vaults_UpdateAccessPolicy).
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from sandbox import azure_rules
from sandbox.http import ApiError, json_response

STORAGE = "Microsoft.Storage/storageAccounts"
VAULT = "Microsoft.KeyVault/vaults"
FACTORY = "Microsoft.DataFactory/factories"
SUB = "/subscriptions/<subscription>/providers"


def rules() -> list[Rule]:
    deleted = f"{SUB}/Microsoft.KeyVault/locations/<location>/deletedVaults/<name>"
    return [Rule(f"{SUB}/Microsoft.Storage/checkNameAvailability", endpoint="storage_name_available",
                 methods=["POST"]),
            Rule(f"{SUB}/Microsoft.KeyVault/checkNameAvailability", endpoint="vault_name_available",
                 methods=["POST"]),
            Rule(f"{SUB}/Microsoft.KeyVault/deletedVaults", endpoint="deleted_vault_list", methods=["GET"]),
            Rule(deleted, endpoint="deleted_vault_get", methods=["GET"]),
            Rule(f"{deleted}/purge", endpoint="deleted_vault_purge", methods=["POST"]),
            Rule(f"{SUB}/Microsoft.KeyVault/locations/<location>/operationResults/<operation>",
                 endpoint="deleted_vault_purge_result", methods=["GET"])]


def _subscription_of(resource_id: str) -> str:
    return resource_id.split("/")[2].lower()


def owners(data: dict, kind: str, name: str) -> list[str]:
    """Resource ids of every existing resource of ``kind`` named ``name`` (any subscription or group)."""
    found = [r["id"] for r in data.get("resources", {}).values()
             if r["type"].lower() == kind.lower() and r["name"].lower() == name.lower()]
    if kind == FACTORY:  # factories PUT directly through Data Factory's API have no deployment record
        for key, factory in data.get("factories", {}).items():
            subscription, group, _ = key.split("/")
            rid = f"/subscriptions/{subscription}/resourceGroups/{group}/providers/{FACTORY}/{factory['name']}"
            if factory["name"].lower() == name.lower() and rid.lower() not in {f.lower() for f in found}:
                found.append(rid)
    return found


def deleted_vault(data: dict, name: str) -> dict | None:
    return data.get("deletedVaults", {}).get(name.lower())


def check_available(data: dict, kind: str, resource_id: str, name: str) -> None:
    """Refuse creating ``resource_id`` when its name breaks its rule or is held by another resource (in any
    subscription, for globally unique kinds) or by a soft-deleted vault; the resource itself may be updated."""
    azure_rules.check_name(kind, name)
    rule = azure_rules.rule_for(kind)
    if rule is None or rule.scope != "global":
        return
    others = [o for o in owners(data, kind, name) if o.lower() != resource_id.lower()]
    if others:
        raise azure_rules.name_taken(kind, name, _subscription_of(others[0]) == _subscription_of(resource_id))


def soft_delete_vault(data: dict, record: dict) -> None:
    """A vault leaves its resource group into the deleted vaults, keeping its name (and its secrets) until it
    is purged, recovered, or its retention ends (https://learn.microsoft.com/azure/key-vault/general/
    soft-delete-overview)."""
    now = datetime.now(timezone.utc)
    properties = record.get("properties") or {}
    days = int(properties.get("softDeleteRetentionInDays") or 90)
    subscription = record["id"].split("/")[2]
    location = (record.get("location") or "").lower()
    data.setdefault("deletedVaults", {})[record["name"].lower()] = {
        "id": f"/subscriptions/{subscription}/providers/{VAULT.split('/')[0]}/locations/{location}/deletedVaults/"
              f"{record['name']}",
        "name": record["name"], "type": "Microsoft.KeyVault/deletedVaults",
        "properties": {"vaultId": record["id"], "location": location,
                       "deletionDate": now.isoformat().replace("+00:00", "Z"),
                       "scheduledPurgeDate": (now + timedelta(days=days)).isoformat().replace("+00:00", "Z"),
                       "tags": record.get("tags") or {},
                       "purgeProtectionEnabled": bool(properties.get("enablePurgeProtection"))},
        "record": record}


def _availability(kind: str, name: str, data: dict) -> dict:
    rule = azure_rules.rule_for(kind)
    if rule.problem(name) is not None:
        return {"nameAvailable": False, "reason": "AccountNameInvalid",
                "message": rule.invalid_message.format(name=name)}
    if owners(data, kind, name) or (kind == VAULT and deleted_vault(data, name)):
        message = (f"The storage account named {name} is already taken." if kind == STORAGE else
                   azure_rules.name_taken(kind, name, False).message)
        return {"nameAvailable": False, "reason": "AlreadyExists", "message": message}
    return {"nameAvailable": True}


def recover_vault(data: dict, resource_id: str, name: str) -> dict:
    """``createMode: recover``: the deleted vault comes back (with its secrets) as it was."""
    entry = deleted_vault(data, name)
    if entry is None or entry["properties"]["vaultId"].lower() != resource_id.lower():
        raise ApiError(404, "ResourceNotFound", f"No deleted vault named {name} was found to recover into "
                       f"{resource_id}.")
    del data["deletedVaults"][name.lower()]
    return entry["record"]


class Providers:
    """Mixin of the ARM service. Expects ``self.state`` and ``self.sandbox``."""

    def _name_request(self, request: Request, kind: str) -> str:
        body = request.get_json(silent=True) or {}
        if not isinstance(body.get("name"), str) or str(body.get("type", "")).lower() != kind.lower():
            raise ApiError(400, "InvalidRequestContent",
                           f"The request content must have a 'name' and 'type': '{kind}'.")
        return body["name"]

    def storage_name_available(self, request: Request, subscription: str) -> Response:
        return json_response(_availability(STORAGE, self._name_request(request, STORAGE), self.state.read()))

    def vault_name_available(self, request: Request, subscription: str) -> Response:
        return json_response(_availability(VAULT, self._name_request(request, VAULT), self.state.read()))

    @staticmethod
    def _deleted_body(entry: dict) -> dict:
        return {k: v for k, v in entry.items() if k != "record"}

    def _deleted_in(self, data: dict, subscription: str, name: str, location: str | None = None) -> dict:
        entry = deleted_vault(data, name)
        if entry is None or _subscription_of(entry["id"]) != subscription.lower() or \
                (location and entry["properties"]["location"] != location.lower()):
            raise ApiError(404, "ResourceNotFound", f"The Resource 'Microsoft.KeyVault/deletedVaults/{name}' was "
                           "not found.")
        return entry

    def deleted_vault_list(self, request: Request, subscription: str) -> Response:
        entries = [self._deleted_body(e) for e in self.state.read().get("deletedVaults", {}).values()
                   if _subscription_of(e["id"]) == subscription.lower()]
        return json_response({"value": entries})

    def deleted_vault_get(self, request: Request, subscription: str, location: str, name: str) -> Response:
        return json_response(self._deleted_body(self._deleted_in(self.state.read(), subscription, name, location)))

    def deleted_vault_purge(self, request: Request, subscription: str, location: str, name: str) -> Response:
        with self.state.update() as data:
            entry = self._deleted_in(data, subscription, name, location)
            if entry["properties"]["purgeProtectionEnabled"]:
                raise ApiError(409, "ConflictError", f"Vault {name} has purge protection enabled and cannot be "
                               "purged before its scheduled purge date.")
            del data["deletedVaults"][name.lower()]
        self.sandbox.purge_vault(entry["name"])
        operation = uuid.uuid4().hex
        location_url = (f"{request.host_url.rstrip('/')}/subscriptions/{subscription}/providers/Microsoft.KeyVault/"
                        f"locations/{location}/operationResults/{operation}?api-version={request.args['api-version']}")
        return Response(status=202, headers={"Location": location_url, "Retry-After": "1"})

    def deleted_vault_purge_result(self, request: Request, subscription: str, location: str,
                                   operation: str) -> Response:
        return Response(status=200)  # purges complete at once in the sandbox
