"""Workspace objects (notebooks, files, folders), secrets, DBFS, and the identity endpoints."""
from __future__ import annotations

import base64
import posixpath
import time

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from sandbox.databricks.errors import already_exists, invalid, not_found
from sandbox.http import ApiError, anonymous, json_response

NOTEBOOK_HEADER = b"# Databricks notebook source"
MAX_IMPORT_BYTES = 10 * 1024 * 1024
MAX_DBFS_BLOCK = 1024 * 1024
_LANGUAGE_SUFFIX = {".py": "PYTHON", ".sql": "SQL", ".scala": "SCALA", ".r": "R"}

RULES = [
    Rule("/.well-known/databricks-config", endpoint="well_known", methods=["GET"]),
    Rule("/api/2.0/preview/scim/v2/Me", endpoint="current_user", methods=["GET"]),
    Rule("/api/2.0/workspace/mkdirs", endpoint="ws_mkdirs", methods=["POST"]),
    Rule("/api/2.0/workspace/import", endpoint="ws_import", methods=["POST"]),
    Rule("/api/2.0/workspace/get-status", endpoint="ws_get_status", methods=["GET"]),
    Rule("/api/2.0/workspace/list", endpoint="ws_list", methods=["GET"]),
    Rule("/api/2.0/workspace/export", endpoint="ws_export", methods=["GET"]),
    Rule("/api/2.0/workspace/delete", endpoint="ws_delete", methods=["POST"]),
    Rule("/api/2.0/secrets/scopes/create", endpoint="scope_create", methods=["POST"]),
    Rule("/api/2.0/secrets/scopes/list", endpoint="scope_list", methods=["GET"]),
    Rule("/api/2.0/secrets/scopes/delete", endpoint="scope_delete", methods=["POST"]),
    Rule("/api/2.0/secrets/put", endpoint="secret_put", methods=["POST"]),
    Rule("/api/2.0/secrets/list", endpoint="secret_list", methods=["GET"]),
    Rule("/api/2.0/secrets/delete", endpoint="secret_delete", methods=["POST"]),
    Rule("/api/2.0/dbfs/create", endpoint="dbfs_create", methods=["POST"]),
    Rule("/api/2.0/dbfs/add-block", endpoint="dbfs_add_block", methods=["POST"]),
    Rule("/api/2.0/dbfs/close", endpoint="dbfs_close", methods=["POST"]),
    Rule("/api/2.0/dbfs/put", endpoint="dbfs_put", methods=["POST"]),
    Rule("/api/2.0/dbfs/get-status", endpoint="dbfs_get_status", methods=["GET"]),
    Rule("/api/2.0/dbfs/read", endpoint="dbfs_read", methods=["GET"]),
    Rule("/api/2.0/dbfs/delete", endpoint="dbfs_delete", methods=["POST"]),
    Rule("/api/2.0/dbfs/mkdirs", endpoint="dbfs_mkdirs", methods=["POST"]),
    Rule("/api/2.0/token/create", endpoint="token_create", methods=["POST"]),
    Rule("/api/2.0/token/list", endpoint="token_list", methods=["GET"]),
    Rule("/api/2.0/token/delete", endpoint="token_delete", methods=["POST"]),
]


def _now_ms() -> int:
    return int(time.time() * 1000)


def _normalize(path: str | None, what: str = "path") -> str:
    if not path or not path.startswith("/"):
        raise invalid(f"Path ({path}) doesn't start with '/'" if path else f"Missing required field: {what}")
    return posixpath.normpath(path)


def _dbfs_path(path: str | None) -> str:
    return _normalize((path or "").removeprefix("dbfs:"))


class WorkspaceObjects:
    """Mixin of the Databricks service: endpoints over ``self.ws`` (this workspace's state)."""

    # -- identity ----------------------------------------------------------------------------
    @anonymous
    def well_known(self, request: Request) -> Response:
        return json_response({"oidc_endpoint": f"{request.host_url.rstrip('/')}/oidc",
                              "workspace_id": str(self.workspace_id)})

    def current_user(self, request: Request) -> Response:
        # The deployer is a service principal: Databricks names it by its application id (userName), which is
        # what grants and a dedicated cluster's single_user_name take.
        return json_response({"id": "1", "userName": self.authority.client_id, "displayName": "sandbox deployer",
                              "active": True, "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]})

    # -- workspace ---------------------------------------------------------------------------
    def _object(self, data: dict, path: str) -> dict:
        found = data["objects"].get(path)
        if found is None:
            raise not_found(f"Path ({path}) doesn't exist.")
        return found

    def _mkdirs(self, data: dict, path: str) -> None:
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            current = "/" + "/".join(parts[:i])
            existing = data["objects"].get(current)
            if existing and existing["object_type"] != "DIRECTORY":
                raise already_exists(f"Cannot create directory {path}: {current} is a {existing['object_type']}")
            if not existing:
                data["objects"][current] = {"object_type": "DIRECTORY", "object_id": self._next_id(data),
                                            "created_at": _now_ms(), "modified_at": _now_ms()}

    def ws_mkdirs(self, request: Request) -> Response:
        path = _normalize((request.get_json(silent=True) or {}).get("path"))
        with self.state.update() as state:
            self._mkdirs(self.ws(state), path)
        return json_response({})

    def ws_import(self, request: Request) -> Response:
        if request.files:  # multipart, as WorkspaceExt.upload sends it
            fields = request.form
            content = request.files["content"].read()
        else:
            fields = request.get_json(silent=True) or {}
            content = base64.b64decode(fields.get("content") or "")
        path = _normalize(fields.get("path"))
        fmt = (fields.get("format") or "SOURCE").upper()
        overwrite = str(fields.get("overwrite", "false")).lower() == "true"
        if len(content) > MAX_IMPORT_BYTES:
            raise ApiError(400, "MAX_NOTEBOOK_SIZE_EXCEEDED", f"File size imported is ({len(content)} bytes), "
                           f"exceeded max size ({MAX_IMPORT_BYTES} bytes)")
        language = fields.get("language")
        suffix = posixpath.splitext(path)[1].lower()
        if fmt == "AUTO":
            is_notebook = content.lstrip(b"\xef\xbb\xbf").startswith(NOTEBOOK_HEADER) and suffix in _LANGUAGE_SUFFIX
            if is_notebook:
                path, language = path[: -len(suffix)], _LANGUAGE_SUFFIX[suffix]
        elif fmt == "SOURCE":
            if not language:
                raise invalid("The language field is required when importing a notebook in SOURCE format")
            is_notebook = True
        elif fmt == "RAW":
            is_notebook = False
        else:
            raise invalid(f"Import format {fmt} is not supported by the sandbox (SOURCE, AUTO, RAW are)")
        with self.state.update() as state:
            data = self.ws(state)
            parent = posixpath.dirname(path)
            if parent != "/" and data["objects"].get(parent, {}).get("object_type") != "DIRECTORY":
                raise not_found(f"The parent folder ({parent}) does not exist.")
            existing = data["objects"].get(path)
            if existing and (not overwrite or existing["object_type"] == "DIRECTORY"):
                raise already_exists(f"Path ({path}) already exists.")
            data["objects"][path] = {
                "object_type": "NOTEBOOK" if is_notebook else "FILE", "language": language if is_notebook else None,
                "blob": self.blobs.put(content), "size": len(content),
                "object_id": existing["object_id"] if existing else self._next_id(data),
                "created_at": existing["created_at"] if existing else _now_ms(), "modified_at": _now_ms()}
        return json_response({})

    @staticmethod
    def _status(path: str, obj: dict) -> dict:
        status = {"path": path, "object_type": obj["object_type"], "object_id": obj["object_id"],
                  "created_at": obj["created_at"], "modified_at": obj["modified_at"]}
        if obj.get("language"):
            status["language"] = obj["language"]
        if obj["object_type"] == "FILE":
            status["size"] = obj["size"]
        return status

    def ws_get_status(self, request: Request) -> Response:
        path = _normalize(request.args.get("path"))
        return json_response(self._status(path, self._object(self.ws(self.state.read()), path)))

    def ws_list(self, request: Request) -> Response:
        path = _normalize(request.args.get("path"))
        data = self.ws(self.state.read())
        if path != "/" and self._object(data, path)["object_type"] != "DIRECTORY":
            return json_response({"objects": [self._status(path, data["objects"][path])]})
        children = [self._status(p, o) for p, o in sorted(data["objects"].items())
                    if posixpath.dirname(p) == path and p != path]
        return json_response({"objects": children} if children else {})

    def ws_export(self, request: Request) -> Response:
        path = _normalize(request.args.get("path"))
        obj = self._object(self.ws(self.state.read()), path)
        if obj["object_type"] == "DIRECTORY":
            raise ApiError(400, "BAD_REQUEST", f"Cannot export a directory ({path}) in this format")
        content = self.blobs.get(obj["blob"])
        if request.args.get("direct_download", "").lower() == "true":
            return Response(content, content_type="application/octet-stream")
        return json_response({"content": base64.b64encode(content).decode(),
                              "file_type": "py" if obj.get("language") == "PYTHON" else None})

    def ws_delete(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        path = _normalize(body.get("path"))
        with self.state.update() as state:
            data = self.ws(state)
            obj = self._object(data, path)
            inside = [p for p in data["objects"] if p.startswith(path.rstrip("/") + "/")]
            if obj["object_type"] == "DIRECTORY" and inside and not body.get("recursive"):
                raise ApiError(400, "DIRECTORY_NOT_EMPTY", f"Folder ({path}) is not empty")
            for p in [path, *inside]:
                data["objects"].pop(p, None)
        return json_response({})

    # -- secrets -----------------------------------------------------------------------------
    def _scope(self, data: dict, name: str | None) -> dict:
        if not name or name not in data["scopes"]:
            raise not_found(f"Scope {name} does not exist!")
        return data["scopes"][name]

    # -- personal access tokens -------------------------------------------------------------------
    @staticmethod
    def _token_hash(value: str) -> str:
        import hashlib

        return hashlib.sha256(value.encode()).hexdigest()

    def token_create(self, request: Request) -> Response:
        import secrets

        body = request.get_json(silent=True) or {}
        value = "dapi" + secrets.token_hex(16)
        token_id = secrets.token_hex(32)
        lifetime = body.get("lifetime_seconds")
        info = {"token_id": token_id, "creation_time": _now_ms(), "comment": body.get("comment", ""),
                "expiry_time": _now_ms() + int(lifetime) * 1000 if lifetime else -1}
        with self.state.update() as state:
            self.ws(state).setdefault("tokens", {})[token_id] = {**info, "hash": self._token_hash(value)}
        return json_response({"token_value": value, "token_info": info})

    def token_list(self, request: Request) -> Response:
        tokens = self.ws(self.state.read()).get("tokens", {})
        return json_response({"token_infos": [{k: v for k, v in t.items() if k != "hash"}
                                              for t in tokens.values()]})

    def token_delete(self, request: Request) -> Response:
        token_id = (request.get_json(silent=True) or {}).get("token_id")
        with self.state.update() as state:
            if self.ws(state).get("tokens", {}).pop(token_id, None) is None:
                raise not_found(f"Token with ID {token_id} does not exist.")
        return json_response({})

    def token_is_valid(self, value: str) -> bool:
        digest = self._token_hash(value)
        return any(t["hash"] == digest and (t["expiry_time"] < 0 or t["expiry_time"] > _now_ms())
                   for t in self.ws(self.state.read()).get("tokens", {}).values())

    def scope_create(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        name = body.get("scope") or ""
        if not name or len(name) > 128 or not all(c.isalnum() or c in "-_." for c in name):
            raise invalid(f"Scope name {name!r} is invalid: use up to 128 letters, digits, -, _ and .")
        backend = body.get("scope_backend_type", "DATABRICKS")
        if backend == "AZURE_KEYVAULT":
            if not body.get("backend_azure_keyvault"):
                raise invalid("backend_azure_keyvault is required for an AZURE_KEYVAULT scope")
            # Databricks acts on the vault for the caller, so it needs the caller's Entra ID token, never a PAT
            # (sandbox/RULES.md: databricks.kv-scope-entra-token).
            if request.headers.get("Authorization", "").startswith("Bearer dapi"):
                raise invalid("Scope with Azure KeyVault must have userAADToken defined!")
            if name in self.ws(self.state.read())["scopes"]:
                raise already_exists(f"Scope {name} already exists!")
            if self.keyvault_grant:  # AzureDatabricks gets Get and List on the vault
                self.keyvault_grant(body["backend_azure_keyvault"].get("resource_id") or "")
        with self.state.update() as state:
            data = self.ws(state)
            if name in data["scopes"]:
                raise already_exists(f"Scope {name} already exists!")
            data["scopes"][name] = {"backend_type": backend, "keys": {},
                                    "keyvault": body.get("backend_azure_keyvault")}
        return json_response({})

    def scope_list(self, request: Request) -> Response:
        scopes = self.ws(self.state.read())["scopes"]
        listed = []
        for name, scope in sorted(scopes.items()):
            item = {"name": name, "backend_type": scope["backend_type"]}
            if scope.get("keyvault"):
                item["keyvault_metadata"] = scope["keyvault"]
            listed.append(item)
        return json_response({"scopes": listed} if listed else {})

    def scope_delete(self, request: Request) -> Response:
        name = (request.get_json(silent=True) or {}).get("scope")
        with self.state.update() as state:
            data = self.ws(state)
            self._scope(data, name)
            del data["scopes"][name]
        return json_response({})

    def secret_put(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        key = body.get("key") or ""
        if not key or not all(c.isalnum() or c in "-_." for c in key):
            raise invalid(f"Secret key {key!r} is invalid")
        if ("string_value" in body) == ("bytes_value" in body):
            raise invalid("Exactly one of string_value and bytes_value must be set")
        value = body.get("string_value")
        if value is None:
            value = base64.b64decode(body["bytes_value"]).decode("utf-8", errors="replace")
        with self.state.update() as state:
            scope = self._scope(self.ws(state), body.get("scope"))
            if scope["backend_type"] == "AZURE_KEYVAULT":
                raise invalid(f"Scope {body.get('scope')} is backed by Azure Key Vault and is read-only: set the "
                              "secret in the vault")
            scope["keys"][key] = {"value": value, "last_updated_timestamp": _now_ms()}
        return json_response({})

    def secret_list(self, request: Request) -> Response:
        scope = self._scope(self.ws(self.state.read()), request.args.get("scope"))
        keys = [{"key": k, "last_updated_timestamp": v["last_updated_timestamp"]}
                for k, v in sorted(scope["keys"].items())]
        return json_response({"secrets": keys} if keys else {})

    def secret_delete(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        with self.state.update() as state:
            scope = self._scope(self.ws(state), body.get("scope"))
            if body.get("key") not in scope["keys"]:
                raise not_found(f"Secret {body.get('key')} does not exist in scope {body.get('scope')}")
            del scope["keys"][body["key"]]
        return json_response({})

    def secrets_for_run(self) -> dict[str, dict[str, str] | str]:
        """The values notebooks read through dbutils.secrets (Key Vault-backed scopes resolve there, as
        AzureDatabricks: a vault whose access policies lost it gives the reason it cannot be read)."""
        scopes = {}
        for name, scope in self.ws(self.state.read())["scopes"].items():
            if scope["backend_type"] == "AZURE_KEYVAULT" and self.keyvault_reader:
                try:
                    scopes[name] = self.keyvault_reader(scope["keyvault"]["resource_id"])
                except ApiError as error:
                    scopes[name] = f"{error.code}: {error.message}"
            else:
                scopes[name] = {k: v["value"] for k, v in scope["keys"].items()}
        return scopes

    # -- DBFS --------------------------------------------------------------------------------
    def dbfs_create(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        path = _dbfs_path(body.get("path"))
        with self.state.update() as state:
            data = self.ws(state)
            if path in data["dbfs"] and not body.get("overwrite"):
                raise already_exists(f"A file or directory already exists at the input path dbfs:{path}.")
            handle = self._next_id(data)
            data["handles"][str(handle)] = {"path": path, "blocks": []}
        return json_response({"handle": handle})

    def dbfs_add_block(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        block = base64.b64decode(body.get("data") or "")
        if len(block) > MAX_DBFS_BLOCK:
            raise ApiError(400, "MAX_BLOCK_SIZE_EXCEEDED", f"Block size ({len(block)}) exceeds the 1 MB maximum")
        with self.state.update() as state:
            handle = self.ws(state)["handles"].get(str(body.get("handle")))
            if handle is None:
                raise not_found(f"Handle {body.get('handle')} does not exist")
            handle["blocks"].append(self.blobs.put(block))
        return json_response({})

    def dbfs_close(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        with self.state.update() as state:
            data = self.ws(state)
            handle = data["handles"].pop(str(body.get("handle")), None)
            if handle is None:
                raise not_found(f"Handle {body.get('handle')} does not exist")
            content = b"".join(self.blobs.get(b) for b in handle["blocks"])
            self._dbfs_write(data, handle["path"], content)
        return json_response({})

    def _dbfs_write(self, data: dict, path: str, content: bytes) -> None:
        parts = path.strip("/").split("/")
        for i in range(1, len(parts)):
            data["dbfs"].setdefault("/" + "/".join(parts[:i]), {"is_dir": True, "modification_time": _now_ms()})
        data["dbfs"][path] = {"is_dir": False, "blob": self.blobs.put(content), "file_size": len(content),
                              "modification_time": _now_ms()}

    def dbfs_put(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        path = _dbfs_path(body.get("path"))
        content = base64.b64decode(body.get("contents") or "")
        if len(content) > MAX_DBFS_BLOCK:
            raise ApiError(400, "MAX_BLOCK_SIZE_EXCEEDED", "Inline put is limited to 1 MB: use create, add-block "
                           "and close")
        with self.state.update() as state:
            data = self.ws(state)
            if path in data["dbfs"] and not body.get("overwrite"):
                raise already_exists(f"A file or directory already exists at the input path dbfs:{path}.")
            self._dbfs_write(data, path, content)
        return json_response({})

    def _dbfs_entry(self, path: str) -> dict:
        entry = self.ws(self.state.read())["dbfs"].get(path)
        if entry is None:
            raise not_found(f"No file or directory exists on path dbfs:{path}.")
        return entry

    def dbfs_get_status(self, request: Request) -> Response:
        path = _dbfs_path(request.args.get("path"))
        entry = self._dbfs_entry(path)
        return json_response({"path": path, "is_dir": entry["is_dir"], "file_size": entry.get("file_size", 0),
                              "modification_time": entry["modification_time"]})

    def dbfs_read(self, request: Request) -> Response:
        path = _dbfs_path(request.args.get("path"))
        entry = self._dbfs_entry(path)
        content = self.blobs.get(entry["blob"])
        offset, length = int(request.args.get("offset", 0)), int(request.args.get("length", MAX_DBFS_BLOCK))
        chunk = content[offset:offset + min(length, MAX_DBFS_BLOCK)]
        return json_response({"bytes_read": len(chunk), "data": base64.b64encode(chunk).decode()})

    def dbfs_delete(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        path = _dbfs_path(body.get("path"))
        with self.state.update() as state:
            data = self.ws(state)
            for p in [p for p in data["dbfs"] if p == path or (body.get("recursive") and p.startswith(path + "/"))]:
                del data["dbfs"][p]
        return json_response({})

    def dbfs_mkdirs(self, request: Request) -> Response:
        path = _dbfs_path((request.get_json(silent=True) or {}).get("path"))
        with self.state.update() as state:
            data = self.ws(state)
            parts = path.strip("/").split("/")
            for i in range(1, len(parts) + 1):
                data["dbfs"].setdefault("/" + "/".join(parts[:i]), {"is_dir": True, "modification_time": _now_ms()})
        return json_response({})

    # -- shared --------------------------------------------------------------------------------
    @staticmethod
    def _next_id(data: dict) -> int:
        data["next_id"] = data.get("next_id", 1000) + 1
        return data["next_id"]

    def library_file(self, location: str) -> bytes:
        """The bytes of a library path a cluster installs: a workspace file or a DBFS file."""
        data = self.ws(self.state.read())
        if location.startswith("dbfs:"):
            entry = data["dbfs"].get(_dbfs_path(location))
            if entry and not entry["is_dir"]:
                return self.blobs.get(entry["blob"])
        else:
            path = location.removeprefix("/Workspace")
            obj = data["objects"].get(path)
            if obj and obj["object_type"] == "FILE":
                return self.blobs.get(obj["blob"])
        raise FileNotFoundError(location)

    def notebook_source(self, path: str) -> bytes:
        obj = self.ws(self.state.read())["objects"].get(_normalize(path))
        if obj is None or obj["object_type"] != "NOTEBOOK":
            raise not_found(f"Notebook {path} does not exist.")
        return self.blobs.get(obj["blob"])
