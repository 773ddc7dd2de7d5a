"""Key Vault secrets (REST API 7.x) for one vault: set, get, list, versions, update, delete with soft
delete, recover, purge; the keys a release signs with (keyvault_keys.py); 401 with the authorization
challenge; errors as Key Vault words them.

Every PUT makes a new version, as in Azure (the release compares before writing). A deleted
secret stays recoverable: PUT on its name answers 409 ObjectIsDeletedButRecoverable until it
is recovered or purged.
"""
from __future__ import annotations

import re
import time
import uuid

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from sandbox.http import ApiError, Service, json_response
from sandbox.keyvault_keys import KEY_RULES, KeyOperations, pick_version
from sandbox.state import JsonState

_NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
RECOVERABLE_DAYS = 7


class KeyVaultService(KeyOperations, Service):
    name = "keyvault"
    recoverable_days = RECOVERABLE_DAYS
    url_map = Map([
        Rule("/secrets", endpoint="list_secrets", methods=["GET"]),
        Rule("/secrets/<name>", endpoint="set_secret", methods=["PUT"]),
        Rule("/secrets/<name>", endpoint="delete_secret", methods=["DELETE"]),
        Rule("/secrets/<name>", endpoint="get_secret", methods=["GET"]),
        Rule("/secrets/<name>/versions", endpoint="list_versions", methods=["GET"]),
        Rule("/secrets/<name>/", endpoint="get_secret", methods=["GET"]),
        Rule("/secrets/<name>/<version>", endpoint="get_secret", methods=["GET"]),
        Rule("/secrets/<name>/<version>", endpoint="update_secret", methods=["PATCH"]),
        Rule("/secrets/<name>/", endpoint="update_secret", methods=["PATCH"]),
        Rule("/deletedsecrets", endpoint="list_deleted", methods=["GET"]),
        Rule("/deletedsecrets/<name>", endpoint="get_deleted", methods=["GET"]),
        Rule("/deletedsecrets/<name>", endpoint="purge_deleted", methods=["DELETE"]),
        Rule("/deletedsecrets/<name>/recover", endpoint="recover_deleted", methods=["POST"]),
        *KEY_RULES,
    ], strict_slashes=False, merge_slashes=False)

    def __init__(self, vault: str, state: JsonState, *args):
        super().__init__(*args)
        self.vault, self.state = vault, state

    # -- shape of answers ------------------------------------------------------------------
    def error_body(self, error: ApiError):
        body = {"code": error.code, "message": error.message}
        if error.inner:
            body["innererror"] = {"code": error.inner}
        return {"error": body}

    def challenge_headers(self, request: Request) -> dict[str, str]:
        return {"WWW-Authenticate": f'Bearer authorization="https://login.microsoftonline.com/'
                                    f'{self.authority.tenant_id}", resource="https://vault.azure.net"'}

    def dispatch(self, request: Request) -> Response:
        if "api-version" not in request.args:
            return json_response(self.error_body(ApiError(400, "BadParameter", "api-version query parameter is "
                                                          "required")), 400)
        return super().dispatch(request)

    def _base(self, request: Request) -> str:
        return request.host_url.rstrip("/")

    def _bundle(self, request: Request, name: str, version: dict, with_value: bool = True,
                versioned_id: bool = True) -> dict:
        secret_id = f"{self._base(request)}/secrets/{name}" + (f"/{version['version']}" if versioned_id else "")
        body = {"id": secret_id, "attributes": {**version["attributes"], "recoveryLevel": "Recoverable+Purgeable",
                                                "recoverableDays": RECOVERABLE_DAYS}}
        if version.get("contentType") is not None:
            body["contentType"] = version["contentType"]
        if version.get("tags"):
            body["tags"] = version["tags"]
        if with_value:
            body["value"] = version["value"]
        return body

    def _deleted_bundle(self, request: Request, name: str, deleted: dict, with_value: bool = False) -> dict:
        body = self._bundle(request, name, deleted["versions"][-1], with_value=with_value)
        body.update(recoveryId=f"{self._base(request)}/deletedsecrets/{name}", deletedDate=deleted["deletedDate"],
                    scheduledPurgeDate=deleted["scheduledPurgeDate"])
        return body

    # -- state helpers -----------------------------------------------------------------------
    def _vault(self, data: dict) -> dict:
        return data.setdefault(self.vault, {"secrets": {}, "deleted": {}})

    @staticmethod
    def _not_found(name: str, version: str | None = None) -> ApiError:
        what = f"{name}/{version}" if version else name
        return ApiError(404, "SecretNotFound", f"A secret with (name/id) {what} was not found in this key vault. "
                        "If you recently deleted this secret you may be able to recover it using the correct "
                        "recovery command.")

    def _version(self, name: str, version: str | None) -> dict:
        secret = self._vault(self.state.read())["secrets"].get(name)
        return pick_version(secret["versions"] if secret else None, name, version, self._not_found)

    # -- endpoints ---------------------------------------------------------------------------
    @staticmethod
    def check_name(name: str) -> None:
        """Secret and key names: 1-127 letters, digits and hyphens."""
        if not _NAME.match(name):
            raise ApiError(400, "BadParameter", f"The request URI contains an invalid name: {name}")

    def set_secret(self, request: Request, name: str) -> Response:
        self.check_name(name)
        body = request.get_json(silent=True) or {}
        if not isinstance(body.get("value"), str):
            raise ApiError(400, "BadParameter", "Property value is required and must be a string")
        now = int(time.time())
        attributes = {"enabled": True, **{k: v for k, v in (body.get("attributes") or {}).items()
                                          if k in ("enabled", "nbf", "exp")}, "created": now, "updated": now}
        version = {"version": uuid.uuid4().hex, "value": body["value"], "contentType": body.get("contentType"),
                   "tags": body.get("tags") or {}, "attributes": attributes}
        with self.state.update() as data:
            vault = self._vault(data)
            if name in vault["deleted"]:
                raise ApiError(409, "Conflict", f"Secret {name} is currently in a deleted but recoverable state, "
                               "and its name cannot be reused; in this state, the secret can only be recovered or "
                               "purged.", inner="ObjectIsDeletedButRecoverable")
            vault["secrets"].setdefault(name, {"versions": []})["versions"].append(version)
        return json_response(self._bundle(request, name, version))

    def get_secret(self, request: Request, name: str, version: str | None = None) -> Response:
        return json_response(self._bundle(request, name, self._version(name, version)))

    def update_secret(self, request: Request, name: str, version: str | None = None) -> Response:
        body = request.get_json(silent=True) or {}
        with self.state.update() as data:
            secret = self._vault(data)["secrets"].get(name)
            if not secret:
                raise self._not_found(name)
            target = next((v for v in secret["versions"] if v["version"] == version), None) if version \
                else secret["versions"][-1]
            if target is None:
                raise self._not_found(name, version)
            if "contentType" in body:
                target["contentType"] = body["contentType"]
            if "tags" in body:
                target["tags"] = body["tags"] or {}
            target["attributes"].update({k: v for k, v in (body.get("attributes") or {}).items()
                                         if k in ("enabled", "nbf", "exp")}, updated=int(time.time()))
        return json_response(self._bundle(request, name, target, with_value=False))

    def list_secrets(self, request: Request) -> Response:
        secrets = self._vault(self.state.read())["secrets"]
        items = [self._bundle(request, n, s["versions"][-1], with_value=False, versioned_id=False)
                 for n, s in sorted(secrets.items())]
        return json_response({"value": items, "nextLink": None})

    def list_versions(self, request: Request, name: str) -> Response:
        secret = self._vault(self.state.read())["secrets"].get(name)
        if not secret:
            raise self._not_found(name)
        return json_response({"value": [self._bundle(request, name, v, with_value=False)
                                        for v in secret["versions"]], "nextLink": None})

    def delete_secret(self, request: Request, name: str) -> Response:
        now = int(time.time())
        with self.state.update() as data:
            vault = self._vault(data)
            secret = vault["secrets"].pop(name, None)
            if secret is None:
                raise self._not_found(name)
            deleted = {**secret, "deletedDate": now, "scheduledPurgeDate": now + RECOVERABLE_DAYS * 86400}
            vault["deleted"][name] = deleted
        return json_response(self._deleted_bundle(request, name, deleted))

    def _deleted(self, name: str) -> dict:
        deleted = self._vault(self.state.read())["deleted"].get(name)
        if deleted is None:
            raise ApiError(404, "SecretNotFound", f"Deleted Secret not found: {name}")
        return deleted

    def get_deleted(self, request: Request, name: str) -> Response:
        return json_response(self._deleted_bundle(request, name, self._deleted(name)))

    def list_deleted(self, request: Request) -> Response:
        deleted = self._vault(self.state.read())["deleted"]
        return json_response({"value": [self._deleted_bundle(request, n, d) for n, d in sorted(deleted.items())],
                              "nextLink": None})

    def recover_deleted(self, request: Request, name: str) -> Response:
        with self.state.update() as data:
            vault = self._vault(data)
            deleted = vault["deleted"].pop(name, None)
            if deleted is None:
                raise ApiError(404, "SecretNotFound", f"Deleted Secret not found: {name}")
            vault["secrets"][name] = {"versions": deleted["versions"]}
        return json_response(self._bundle(request, name, deleted["versions"][-1], with_value=False))

    def purge_deleted(self, request: Request, name: str) -> Response:
        with self.state.update() as data:
            if self._vault(data)["deleted"].pop(name, None) is None:
                raise ApiError(404, "SecretNotFound", f"Deleted Secret not found: {name}")
        return Response(status=204)
