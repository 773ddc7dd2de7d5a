"""Unity Catalog, the subset a release uses: the workspace's metastore assignment, storage credentials backed by an
Access Connector's managed identity (and their validation), external locations, catalogs, schemas, volumes and
grants (direct and effective). The metastore is the account's, one per region: every workspace of the sandbox is
assigned to the same one, and its objects outlive any workspace or resource group.

Refusals follow Databricks (sources in sandbox/RULES.md, ``uc.*``):
- a missing privilege is 403 PERMISSION_DENIED "User does not have <PRIVILEGE> on <Type> '<name>'.";
- an external location whose URL overlaps another's is INVALID_PARAMETER_VALUE (LOCATION_OVERLAP);
- an external location is validated on create unless ``skip_validation``: its credential must reach the storage
  (the access connector's identity needs a Storage Blob Data role on the account, propagated);
- a catalog needs a managed location when the metastore has no root storage (INVALID_STATE), and that location
  must lie inside an external location on which the caller has CREATE MANAGED STORAGE;
- notebooks reach an ``abfss://`` path only through the external location that covers it, with READ FILES (and
  WRITE FILES to change it): see ``path_access``.
"""
from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import Callable

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from sandbox.http import ApiError, json_response

UC = "/api/2.1/unity-catalog"
RULES = [
    Rule(f"{UC}/current-metastore-assignment", endpoint="uc_metastore_assignment", methods=["GET"]),
    Rule(f"{UC}/metastore_summary", endpoint="uc_metastore_summary", methods=["GET"]),
    Rule(f"{UC}/validate-storage-credentials", endpoint="uc_validate", methods=["POST"]),
    Rule(f"{UC}/permissions/<kind>/<path:full_name>", endpoint="uc_grants_get", methods=["GET"]),
    Rule(f"{UC}/permissions/<kind>/<path:full_name>", endpoint="uc_grants_update", methods=["PATCH"]),
    Rule(f"{UC}/effective-permissions/<kind>/<path:full_name>", endpoint="uc_grants_effective", methods=["GET"]),
]
for _collection in ("storage-credentials", "external-locations", "catalogs", "schemas", "volumes"):
    RULES += [Rule(f"{UC}/{_collection}", endpoint="uc_create", methods=["POST"], defaults={"collection": _collection}),
              Rule(f"{UC}/{_collection}", endpoint="uc_list", methods=["GET"], defaults={"collection": _collection}),
              Rule(f"{UC}/{_collection}/<name>", endpoint="uc_get", methods=["GET"],
                   defaults={"collection": _collection}),
              Rule(f"{UC}/{_collection}/<name>", endpoint="uc_update", methods=["PATCH"],
                   defaults={"collection": _collection}),
              Rule(f"{UC}/{_collection}/<name>", endpoint="uc_delete", methods=["DELETE"],
                   defaults={"collection": _collection})]

# collection -> (securable type, how messages name it, the privileges a grant on it may hold)
SECURABLES = {
    "metastores": ("METASTORE", "Metastore", {"CREATE_CATALOG", "CREATE_EXTERNAL_LOCATION", "CREATE_STORAGE_CREDENTIAL",
                                              "CREATE_CONNECTION", "CREATE_SHARE", "CREATE_RECIPIENT",
                                              "CREATE_PROVIDER", "USE_MARKETPLACE_ASSETS", "MANAGE_ALLOWLIST"}),
    "storage-credentials": ("STORAGE_CREDENTIAL", "Credential", {"ALL_PRIVILEGES", "CREATE_EXTERNAL_LOCATION",
                                                                 "CREATE_EXTERNAL_TABLE", "READ_FILES", "WRITE_FILES",
                                                                 "MANAGE"}),
    "external-locations": ("EXTERNAL_LOCATION", "External Location", {
        "ALL_PRIVILEGES", "BROWSE", "CREATE_EXTERNAL_TABLE", "CREATE_EXTERNAL_VOLUME", "CREATE_MANAGED_STORAGE",
        "READ_FILES", "WRITE_FILES", "MANAGE", "EXTERNAL_USE_LOCATION"}),
    "catalogs": ("CATALOG", "Catalog", {
        "ALL_PRIVILEGES", "APPLY_TAG", "BROWSE", "CREATE_FUNCTION", "CREATE_MATERIALIZED_VIEW", "CREATE_MODEL",
        "CREATE_SCHEMA", "CREATE_TABLE", "CREATE_VOLUME", "EXECUTE", "MODIFY", "READ_VOLUME", "REFRESH", "SELECT",
        "USE_CATALOG", "USE_SCHEMA", "WRITE_VOLUME", "MANAGE", "EXTERNAL_USE_SCHEMA"}),
    "schemas": ("SCHEMA", "Schema", {
        "ALL_PRIVILEGES", "APPLY_TAG", "CREATE_FUNCTION", "CREATE_MATERIALIZED_VIEW", "CREATE_MODEL", "CREATE_TABLE",
        "CREATE_VOLUME", "EXECUTE", "MODIFY", "READ_VOLUME", "REFRESH", "SELECT", "USE_SCHEMA", "WRITE_VOLUME",
        "MANAGE", "EXTERNAL_USE_SCHEMA"}),
    "volumes": ("VOLUME", "Volume", {"ALL_PRIVILEGES", "READ_VOLUME", "WRITE_VOLUME", "APPLY_TAG", "MANAGE"}),
}
KINDS = {kind.lower(): collection for collection, (kind, _, _) in SECURABLES.items()}
DEPLOYER_METASTORE_PRIVILEGES = ["CREATE_CATALOG", "CREATE_EXTERNAL_LOCATION", "CREATE_STORAGE_CREDENTIAL"]
ABFSS = re.compile(r"^abfss://(?P<container>[a-z0-9-]{3,63})@(?P<account>[a-z0-9]{3,24})\.dfs\.core\.windows\.net"
                   r"(?P<path>/[^?#]*)?$")
UC_ACCESS_MODES = ("SINGLE_USER", "USER_ISOLATION", "DATA_SECURITY_MODE_DEDICATED", "DATA_SECURITY_MODE_STANDARD",
                   "DATA_SECURITY_MODE_AUTO")
NOT_AUTHORIZED = ("This request is not authorized to perform this operation using this permission. "
                  "(AuthorizationPermissionMismatch)")


def account_metastore(data: dict, tenant_id: str, deployer: str) -> dict:
    """The account's metastore and every object in it (made on first use: enabled automatically, so with no root
    storage, as for accounts opened today; the deployer holds what an account admin has on it)."""
    catalog = data.setdefault("_unity_catalog", {})
    if "metastore" not in catalog:
        metastore_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant_id}/metastore"))
        catalog["metastore"] = {"metastore_id": metastore_id, "name": "metastore_azure_australiaeast",
                                "region": "australiaeast", "cloud": "azure", "owner": "System user",
                                "privilege_model_version": "1.0"}
        catalog["grants"] = {f"metastores/{metastore_id}": {deployer: list(DEPLOYER_METASTORE_PRIVILEGES)}}
    for collection in SECURABLES:
        catalog.setdefault(collection, {})
    return catalog


def set_deployer_privileges(data: dict, tenant_id: str, deployer: str, privileges: list[str]) -> None:
    catalog = account_metastore(data, tenant_id, deployer)
    catalog["grants"][f"metastores/{catalog['metastore']['metastore_id']}"][deployer] = list(privileges)


def permission_denied(privilege: str, kind_label: str, name: str, principal: str) -> ApiError:
    return ApiError(403, "PERMISSION_DENIED", f"User does not have {privilege.replace('_', ' ')} on {kind_label} "
                    f"'{name}'.", details=[{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                            "reason": "PERMISSION_DENIED", "domain": "unity-catalog.databricks.com",
                                            "metadata": {"principalName": principal,
                                                         "msg": privilege.replace('_', ' ')}}])


def normalize_url(url: str) -> str:
    """An abfss:// URL without a trailing slash (a container's root keeps none), or INVALID_PARAMETER_VALUE."""
    match = ABFSS.match(url or "")
    if not match:
        raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Invalid url '{url}': Azure Data Lake Storage Gen2 paths "
                       "look like abfss://<container>@<account>.dfs.core.windows.net/<path>.")
    return f"abfss://{match['container']}@{match['account']}.dfs.core.windows.net{(match['path'] or '').rstrip('/')}"


def covers(location: str, path: str) -> bool:
    return path == location or path.startswith(location + "/")


@dataclass(frozen=True)
class PathGrant:
    """Where a notebook's abfss:// path is served from: its external location, the blobs' account, container and
    prefix, and whether the caller may write there."""
    location: str
    account: str
    container: str
    prefix: str
    url: str
    writable: bool


class UnityCatalog:
    """Mixin of the Databricks service. Expects ``self.state``, ``self.workspace_id`` and ``self.storage_access``
    (access connector id, storage account -> 'rw', 'r' or '')."""

    storage_access: Callable[[str, str], str]

    # -- state -----------------------------------------------------------------------------------
    def caller(self) -> str:
        """Who calls: the sandbox has one principal (a service principal, named by its application id), whether
        it sends its Entra ID token or a personal access token it created."""
        return self.authority.client_id

    def uc(self, data: dict) -> dict:
        return account_metastore(data, self.authority.tenant_id, self.caller())

    def _find(self, catalog: dict, collection: str, name: str) -> dict:
        found = catalog[collection].get(name.lower())
        if found is None:
            label = SECURABLES[collection][1]
            raise ApiError(404, f"{SECURABLES[collection][0]}_DOES_NOT_EXIST", f"{label} '{name}' does not exist.")
        return found

    def _owns(self, record: dict) -> bool:
        return record.get("owner") == self.caller()

    def _privileges(self, catalog: dict, collection: str, name: str, principal: str) -> set[str]:
        """Privileges of ``principal`` on a securable, with those inherited from the catalog a schema or a volume
        is in."""
        held = set(catalog["grants"].get(f"{collection}/{name.lower()}", {}).get(principal, []))
        if collection in ("schemas", "volumes"):
            held |= self._privileges(catalog, "catalogs", name.split(".")[0], principal)
        if collection == "volumes":
            held |= self._privileges(catalog, "schemas", ".".join(name.split(".")[:2]), principal)
        return held

    def _require(self, catalog: dict, collection: str, name: str, privilege: str) -> None:
        metastore = collection == "metastores"
        record = catalog["metastore"] if metastore else self._find(catalog, collection, name)
        held = self._privileges(catalog, collection, catalog["metastore"]["metastore_id"] if metastore else name,
                                self.caller())
        if self._owns(record) or privilege in held or "ALL_PRIVILEGES" in held:
            return
        label = SECURABLES[collection][1]
        raise permission_denied(privilege, label, catalog["metastore"]["name"] if metastore else name, self.caller())

    # -- metastore -------------------------------------------------------------------------------
    def uc_metastore_assignment(self, request: Request) -> Response:
        with self.state.update() as data:
            metastore = self.uc(data)["metastore"]
        return json_response({"workspace_id": self.workspace_id, "metastore_id": metastore["metastore_id"],
                              "default_catalog_name": "hive_metastore"})

    def uc_metastore_summary(self, request: Request) -> Response:
        with self.state.update() as data:
            return json_response(dict(self.uc(data)["metastore"]))

    # -- objects ---------------------------------------------------------------------------------
    def _body(self, collection: str, record: dict) -> dict:
        body = {k: v for k, v in record.items() if not k.startswith("_")}
        body["securable_type"] = SECURABLES[collection][0]
        return body

    def uc_create(self, request: Request, collection: str) -> Response:
        body = request.get_json(silent=True) or {}
        with self.state.update() as data:
            catalog = self.uc(data)
            record = getattr(self, f"_create_{collection.replace('-', '_')}")(catalog, body)
            key = record["full_name"].lower()
            if key in catalog[collection]:
                raise ApiError(409, "RESOURCE_ALREADY_EXISTS", f"{SECURABLES[collection][1]} '{record['full_name']}' "
                               "already exists")
            now = int(time.time() * 1000)
            record.update(owner=self.caller(), created_by=self.caller(), created_at=now, updated_at=now,
                          metastore_id=catalog["metastore"]["metastore_id"])
            catalog[collection][key] = record
            return json_response(self._body(collection, record))

    def _create_storage_credentials(self, catalog: dict, body: dict) -> dict:
        self._require(catalog, "metastores", "", "CREATE_STORAGE_CREDENTIAL")
        identity = body.get("azure_managed_identity") or {}
        if not body.get("name") or not identity.get("access_connector_id"):
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "A storage credential needs a name and "
                           "azure_managed_identity.access_connector_id (the sandbox emulates managed identities only).")
        return {"name": body["name"], "full_name": body["name"], "id": str(uuid.uuid4()),
                "azure_managed_identity": {"access_connector_id": identity["access_connector_id"],
                                           "credential_id": str(uuid.uuid4())},
                "read_only": bool(body.get("read_only")), "comment": body.get("comment")}

    def _create_external_locations(self, catalog: dict, body: dict) -> dict:
        for required in ("name", "url", "credential_name"):
            if not body.get(required):
                raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Missing required field: {required}")
        self._require(catalog, "metastores", "", "CREATE_EXTERNAL_LOCATION")
        self._require(catalog, "storage-credentials", body["credential_name"], "CREATE_EXTERNAL_LOCATION")
        url = normalize_url(body["url"])
        self._check_overlap(catalog, body["name"], url)
        credential = self._find(catalog, "storage-credentials", body["credential_name"])
        read_only = bool(body.get("read_only"))
        if not body.get("skip_validation"):
            failed = [r for r in self._validation(credential, url, read_only) if r["result"] == "FAIL"]
            if failed:
                raise ApiError(403, "PERMISSION_DENIED", f"Failed to access cloud storage: {failed[0]['message']} "
                               f"(storage credential '{credential['name']}', url '{url}', operation "
                               f"{failed[0]['operation']})")
        return {"name": body["name"], "full_name": body["name"], "url": url, "credential_name": credential["name"],
                "credential_id": credential["id"], "read_only": read_only, "comment": body.get("comment")}

    def _check_overlap(self, catalog: dict, name: str, url: str) -> None:
        for other in catalog["external-locations"].values():
            if other["name"].lower() != name.lower() and (covers(other["url"], url) or covers(url, other["url"])):
                raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Input path url '{url}' overlaps with an existing "
                               f"external location within 'CreateExternalLocation' call. Conflicting location: "
                               f"{other['name']}.", details=[{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                                              "reason": "LOCATION_OVERLAP",
                                                              "domain": "unity-catalog.databricks.com"}])

    def _covering_location(self, catalog: dict, url: str) -> dict | None:
        return next((loc for loc in sorted(catalog["external-locations"].values(), key=lambda x: -len(x["url"]))
                     if covers(loc["url"], url)), None)

    def _create_catalogs(self, catalog: dict, body: dict) -> dict:
        if not body.get("name"):
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "Missing required field: name")
        self._require(catalog, "metastores", "", "CREATE_CATALOG")
        root = body.get("storage_root")
        if not root:
            if not catalog["metastore"].get("storage_root"):
                raise ApiError(400, "INVALID_STATE", "Metastore storage root URL does not exist. Please provide a "
                               "storage location for the catalog (for example 'CREATE CATALOG myCatalog MANAGED "
                               "LOCATION '<location-path>'). Alternatively set up a metastore root storage location "
                               "to provide a storage location for all catalogs in the metastore.")
        else:
            root = normalize_url(root)
            location = self._covering_location(catalog, root)
            if location is None:
                raise ApiError(400, "INVALID_PARAMETER_VALUE", f"The managed location '{root}' of catalog "
                               f"'{body['name']}' is not contained in any external location: create an external "
                               "location that covers it first.")
            self._require(catalog, "external-locations", location["name"], "CREATE_MANAGED_STORAGE")
        return {"name": body["name"], "full_name": body["name"], "catalog_type": "MANAGED_CATALOG",
                "storage_root": root, "storage_location": root and f"{root}/__unitystorage/catalogs/{uuid.uuid4()}",
                "comment": body.get("comment"), "isolation_mode": "OPEN"}

    def _create_schemas(self, catalog: dict, body: dict) -> dict:
        name, parent = body.get("name"), body.get("catalog_name")
        if not name or not parent:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "A schema needs name and catalog_name")
        self._require(catalog, "catalogs", parent, "USE_CATALOG")
        self._require(catalog, "catalogs", parent, "CREATE_SCHEMA")
        parent = self._find(catalog, "catalogs", parent)["name"]
        return {"name": name, "catalog_name": parent, "full_name": f"{parent}.{name}", "comment": body.get("comment"),
                "schema_id": str(uuid.uuid4())}

    def _create_volumes(self, catalog: dict, body: dict) -> dict:
        parts = [body.get(k) for k in ("catalog_name", "schema_name", "name")]
        if not all(parts) or body.get("volume_type") not in ("MANAGED", "EXTERNAL"):
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "A volume needs catalog_name, schema_name, name and "
                           "volume_type MANAGED or EXTERNAL")
        schema = ".".join(parts[:2])
        self._require(catalog, "catalogs", parts[0], "USE_CATALOG")
        self._require(catalog, "schemas", schema, "USE_SCHEMA")
        self._require(catalog, "schemas", schema, "CREATE_VOLUME")
        location = None
        if body["volume_type"] == "EXTERNAL":
            location = normalize_url(body.get("storage_location") or "")
            covering = self._covering_location(catalog, location)
            if covering is None:
                raise ApiError(400, "INVALID_PARAMETER_VALUE", f"The storage location '{location}' is not contained "
                               "in any external location.")
            self._require(catalog, "external-locations", covering["name"], "CREATE_EXTERNAL_VOLUME")
        return {"catalog_name": parts[0], "schema_name": parts[1], "name": parts[2], "full_name": ".".join(parts),
                "volume_type": body["volume_type"], "storage_location": location, "volume_id": str(uuid.uuid4())}

    def uc_list(self, request: Request, collection: str) -> Response:
        with self.state.update() as data:
            records = list(self.uc(data)[collection].values())
        parent = {"schemas": ("catalog_name",), "volumes": ("catalog_name", "schema_name")}.get(collection, ())
        for key in parent:
            records = [r for r in records if r[key].lower() == (request.args.get(key) or "").lower()]
        field = {"storage-credentials": "storage_credentials", "external-locations": "external_locations"}.get(
            collection, collection)
        return json_response({field: [self._body(collection, r) for r in records]} if records else {})

    def uc_get(self, request: Request, collection: str, name: str) -> Response:
        with self.state.update() as data:
            return json_response(self._body(collection, self._find(self.uc(data), collection, name)))

    def uc_update(self, request: Request, collection: str, name: str) -> Response:
        body = request.get_json(silent=True) or {}
        with self.state.update() as data:
            catalog = self.uc(data)
            record = self._find(catalog, collection, name)
            if not self._owns(record):
                self._require(catalog, collection, name, "MANAGE")
            changes = {k: v for k, v in body.items() if k in ("comment", "read_only", "owner")}
            if collection == "external-locations":
                if "credential_name" in body:
                    credential = self._find(catalog, "storage-credentials", body["credential_name"])
                    changes.update(credential_name=credential["name"], credential_id=credential["id"])
                if "url" in body:
                    changes["url"] = normalize_url(body["url"])
                    self._check_overlap(catalog, record["name"], changes["url"])
            if collection == "storage-credentials" and "azure_managed_identity" in body:
                changes["azure_managed_identity"] = {**record["azure_managed_identity"],
                                                     "access_connector_id": body["azure_managed_identity"][
                                                         "access_connector_id"]}
            record.update(changes, updated_at=int(time.time() * 1000), updated_by=self.caller())
            return json_response(self._body(collection, record))

    def uc_delete(self, request: Request, collection: str, name: str) -> Response:
        force = (request.args.get("force") or "").lower() == "true"
        with self.state.update() as data:
            catalog = self.uc(data)
            record = self._find(catalog, collection, name)
            if not self._owns(record):
                raise permission_denied("MANAGE", SECURABLES[collection][1], name, self.caller())
            dependents = self._dependents(catalog, collection, record)
            if dependents and not force:
                raise ApiError(400, "INVALID_STATE", f"{SECURABLES[collection][1]} '{name}' is not empty: it has "
                               f"{len(dependents)} dependent object(s) ({dependents[0][1]}). Use force to delete it.")
            if collection == "catalogs":  # force: its schemas and volumes go with it
                for child_collection, child in dependents:
                    catalog[child_collection].pop(child.lower(), None)
                    catalog["grants"].pop(f"{child_collection}/{child.lower()}", None)
            del catalog[collection][name.lower()]
            catalog["grants"].pop(f"{collection}/{name.lower()}", None)
        return json_response({})

    @staticmethod
    def _dependents(catalog: dict, collection: str, record: dict) -> list[tuple[str, str]]:
        if collection == "catalogs":
            return [(c, r["full_name"]) for c in ("schemas", "volumes") for r in catalog[c].values()
                    if r["catalog_name"].lower() == record["name"].lower()]
        if collection == "storage-credentials":
            return [("external-locations", r["name"]) for r in catalog["external-locations"].values()
                    if r["credential_name"].lower() == record["name"].lower()]
        return []

    # -- validation and data access ------------------------------------------------------------------
    def _validation(self, credential: dict, url: str, read_only: bool) -> list[dict]:
        """What validate-storage-credentials reports: each file operation PASS or FAIL, as the credential's
        identity may do on the account (its role assignment, once it has reached storage)."""
        account = ABFSS.match(url)["account"]
        access = self.storage_access(credential["azure_managed_identity"]["access_connector_id"], account)
        results = []
        for operation, needs in (("READ", "r"), ("LIST", "r"), ("WRITE", "w"), ("DELETE", "w")):
            if needs == "w" and read_only:
                results.append({"operation": operation, "result": "SKIP"})
            else:
                ok = needs in access
                results.append({"operation": operation, "result": "PASS" if ok else "FAIL",
                                **({} if ok else {"message": NOT_AUTHORIZED})})
        return results

    def uc_validate(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        with self.state.update() as data:
            catalog = self.uc(data)
            name = body.get("storage_credential_name")
            if not name:
                raise ApiError(400, "INVALID_PARAMETER_VALUE", "storage_credential_name is required (the sandbox "
                               "validates stored credentials)")
            credential = self._find(catalog, "storage-credentials", name)
            if not self._owns(credential):
                self._require(catalog, "storage-credentials", name, "CREATE_EXTERNAL_LOCATION")
            url = body.get("url")
            if not url and body.get("external_location_name"):
                url = self._find(catalog, "external-locations", body["external_location_name"])["url"]
            url = normalize_url(url)
        results = self._validation(credential, url, bool(body.get("read_only")))
        return json_response({"isDir": True, "results": results})

    def path_access(self, url: str) -> PathGrant:
        """What a notebook of the caller may do at an abfss:// path, or why it may not (PermissionError with
        Databricks' message)."""
        url = normalize_url(url)
        with self.state.update() as data:
            catalog = self.uc(data)
            location = self._covering_location(catalog, url)
            if location is None:
                raise PermissionError(f"[UNAUTHORIZED_ACCESS] PERMISSION_DENIED: no external location covers {url}: "
                                      "Unity Catalog reaches cloud storage only through an external location")
            try:
                self._require(catalog, "external-locations", location["name"], "READ_FILES")
            except ApiError as denied:
                raise PermissionError(f"PERMISSION_DENIED: {denied.message}") from None
            try:
                self._require(catalog, "external-locations", location["name"], "WRITE_FILES")
                writable = not location.get("read_only")
            except ApiError:
                writable = False
            credential = self._find(catalog, "storage-credentials", location["credential_name"])
        match = ABFSS.match(location["url"])
        access = self.storage_access(credential["azure_managed_identity"]["access_connector_id"], match["account"])
        if "r" not in access:
            raise PermissionError(f"Failed to access cloud storage: {NOT_AUTHORIZED} (external location "
                                  f"'{location['name']}', storage credential '{credential['name']}')")
        return PathGrant(location["name"], match["account"], match["container"], (match["path"] or "").strip("/"),
                         location["url"], writable and "w" in access)

    # -- grants ----------------------------------------------------------------------------------
    def _securable(self, catalog: dict, kind: str, full_name: str) -> tuple[str, str, dict]:
        collection = KINDS.get(kind.lower())
        if collection is None:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Unsupported securable type {kind!r}")
        if collection == "metastores":
            if full_name != catalog["metastore"]["metastore_id"]:
                raise ApiError(404, "METASTORE_DOES_NOT_EXIST", f"Metastore '{full_name}' does not exist.")
            return collection, full_name, catalog["metastore"]
        record = self._find(catalog, collection, full_name)
        return collection, record["full_name"], record

    def uc_grants_get(self, request: Request, kind: str, full_name: str) -> Response:
        with self.state.update() as data:
            catalog = self.uc(data)
            collection, name, _ = self._securable(catalog, kind, full_name)
            grants = catalog["grants"].get(f"{collection}/{name.lower()}", {})
        principal = request.args.get("principal")
        assignments = [{"principal": p, "privileges": sorted(v)} for p, v in sorted(grants.items())
                       if v and (not principal or p == principal)]
        return json_response({"privilege_assignments": assignments} if assignments else {})

    def uc_grants_update(self, request: Request, kind: str, full_name: str) -> Response:
        changes = (request.get_json(silent=True) or {}).get("changes") or []
        with self.state.update() as data:
            catalog = self.uc(data)
            collection, name, record = self._securable(catalog, kind, full_name)
            if collection == "metastores" or not self._owns(record):
                self._require(catalog, collection, name, "MANAGE")
            allowed = SECURABLES[collection][2]
            grants = catalog["grants"].setdefault(f"{collection}/{name.lower()}", {})
            for change in changes:
                wrong = sorted(set(change.get("add") or []) - allowed)
                if wrong:
                    raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Privilege {wrong[0]} is not applicable to this "
                                   f"entity [{name}:{SECURABLES[collection][0]}].")
                held = set(grants.get(change["principal"], [])) | set(change.get("add") or [])
                grants[change["principal"]] = sorted(held - set(change.get("remove") or []))
            assignments = [{"principal": p, "privileges": v} for p, v in sorted(grants.items()) if v]
        return json_response({"privilege_assignments": assignments})

    def uc_grants_effective(self, request: Request, kind: str, full_name: str) -> Response:
        with self.state.update() as data:
            catalog = self.uc(data)
            collection, name, _ = self._securable(catalog, kind, full_name)
            sources = [(collection, name)]
            if collection in ("schemas", "volumes"):
                sources.append(("catalogs", name.split(".")[0]))
            principals: dict[str, list[dict]] = {}
            for source_collection, source_name in sources:
                for principal, privileges in catalog["grants"].get(f"{source_collection}/{source_name.lower()}",
                                                                   {}).items():
                    for privilege in privileges:
                        entry = {"privilege": privilege}
                        if (source_collection, source_name) != (collection, name):
                            entry.update(inherited_from_type=SECURABLES[source_collection][0],
                                         inherited_from_name=source_name)
                        principals.setdefault(principal, []).append(entry)
        wanted = request.args.get("principal")
        assignments = [{"principal": p, "privileges": v} for p, v in sorted(principals.items())
                       if not wanted or p == wanted]
        return json_response({"privilege_assignments": assignments} if assignments else {})
