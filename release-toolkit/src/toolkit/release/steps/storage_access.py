"""Step 6: the lake reachable from Databricks, in the environment's storage-access mode.

- ``unity-catalog`` (the default, and all an account opened today has): the lake's container is an external
  location, reached with the Access Connector's managed identity (a storage credential); the environment's
  catalog has its managed location there, and the identity that runs the jobs gets the least it needs. The
  notebooks take the lake as an ``abfss://`` root.
- ``mount`` (legacy workspaces only): the container mounted at the mount point by a notebook run with the
  account key (there is no REST API for mounts); a marker file in the workspace records what was mounted.

A switch from ``mount`` to ``unity-catalog`` converges in one deploy: nothing in the lake moves (the root is the
same container), and the mount is removed by the mount-retirement step once the factory no longer reads it.
"""
from __future__ import annotations

import json
import posixpath

from toolkit.databricks import unity_catalog as uc
from toolkit.databricks.runs import run_notebook
from toolkit.databricks.workspace_files import WorkspaceObject, import_objects, read_file
from toolkit.environments.model import StorageKeySecret
from toolkit.release.deployment import Deployment
from toolkit.release.plan import Difference, Plan, StepFailed, differences

MOUNT_NOTEBOOK = "90_mount_lake"
NO_MOUNTS = ("INVALID_DBFS_MOUNT", "DBFS mounts are not available", "disable_legacy_dbfs", "DBFS root and mounts")


def lake_url(d: Deployment) -> str:
    """The lake's container as Unity Catalog names it (its external location)."""
    return uc.lake_url(d.output("storageAccountName"), d.environment.databricks.lake_container)


def lake_root(d: Deployment) -> str:
    """The lake as the notebooks take it: the container's abfss:// URL, or the mount point."""
    settings = d.environment.databricks
    return settings.mount_point if settings.storage_access == "mount" else lake_url(d)


def catalog_setup(d: Deployment) -> uc.CatalogSetup:
    settings = d.environment.databricks
    root = lake_url(d)
    return uc.CatalogSetup(d.environment.catalog_name(d.options.deployment_id), root,
                           f"{root}/{settings.unity_catalog.managed_location}", d.output("accessConnectorId"),
                           tuple(settings.unity_catalog.schemas), d.job_principal)


def mount_record(d: Deployment) -> str:
    settings = d.environment.databricks
    return f"{posixpath.dirname(settings.release_root)}/state/mount{settings.mount_point.replace('/', '-')}.json"


class StorageAccess:
    name = "storage-access"

    def plan(self, d: Deployment) -> Plan:
        if d.environment.databricks.storage_access == "mount":
            return self._mount(d)
        return self._unity_catalog(d)

    # -- unity-catalog ---------------------------------------------------------------------------
    def _unity_catalog(self, d: Deployment) -> Plan:
        plan, setup, workspace = Plan(), catalog_setup(d), d.workspace
        state = uc.read_state(workspace, setup)
        plan.read(f"unity catalog objects of {setup.catalog}", {k: sorted(v) if isinstance(v, set) else v
                                                                for k, v in vars(state).items()})
        to_create = set()
        credential_differs = (state.credential_connector or "").lower() != setup.access_connector_id.lower()
        if state.credential_connector is None:
            plan.add("create", f"storage credential {setup.credential}", "the access connector's managed identity",
                     writes={"databricks": 1})
            to_create.add("credential")
        elif credential_differs:
            plan.add("update", f"storage credential {setup.credential}", f"access connector "
                     f"{state.credential_connector or '(none)'} -> {setup.access_connector_id}",
                     writes={"databricks": 1}, reasons=[Difference("azure_managed_identity.access_connector_id",
                                                                   state.credential_connector,
                                                                   setup.access_connector_id)])
        wanted_location = {"url": setup.url, "credential_name": setup.credential, "read_only": False}
        if state.location is None:
            plan.add("create", f"external location {setup.location}", setup.url, writes={"databricks": 1})
            to_create.add("location")
        elif state.location != wanted_location:
            differs = [f"{k} {state.location[k]!r} -> {v!r}" for k, v in wanted_location.items()
                       if state.location.get(k) != v]
            plan.add("update", f"external location {setup.location}", "; ".join(differs), writes={"databricks": 1},
                     reasons=differences(state.location, wanted_location))
        if not state.catalog_exists:
            plan.add("create", f"catalog {setup.catalog}", f"managed location {setup.managed_location}",
                     writes={"databricks": 1})
            to_create.add("catalog")
        elif state.catalog_root != setup.managed_location:
            raise StepFailed(f"catalog {setup.catalog} has managed location {state.catalog_root}, not "
                             f"{setup.managed_location}: a catalog's managed location cannot be changed; set "
                             f"databricks.unity_catalog.managed_location in {d.environment.source} to match, or drop "
                             "the catalog")
        new_schemas = [s for s in setup.schemas if s not in state.schemas]
        if new_schemas:
            plan.add("create", f"schemas {', '.join(new_schemas)}", f"in catalog {setup.catalog}",
                     writes={"databricks": len(new_schemas)})
        location_grants = [p for p in uc.LOCATION_PRIVILEGES if p not in state.location_grants]
        catalog_grants = [p for p in uc.CATALOG_PRIVILEGES if p not in state.catalog_grants]
        if location_grants:
            plan.add("grant", f"{', '.join(location_grants)} on external location {setup.location}", setup.principal,
                     writes={"databricks": 1})
        if catalog_grants:
            plan.add("grant", f"{', '.join(catalog_grants)} on catalog {setup.catalog}", setup.principal,
                     writes={"databricks": 1})
        missing = uc.missing_privileges(workspace, {uc.CREATE_PRIVILEGE[k] for k in to_create})
        if missing:
            raise StepFailed(f"the deployer lacks {', '.join(missing)} on the Unity Catalog metastore, needed to "
                             "create this environment's objects: ask an account admin to grant them (README: "
                             "Releasing to Azure)")
        if read_file(workspace, mount_record(d)) is not None:
            plan.notes.append(f"{d.environment.databricks.mount_point} is still mounted: the mount-retirement step "
                              "removes it once the factory's lakeRoot no longer reads it")
        if not plan.changes:
            return plan
        validate = credential_differs or state.location != wanted_location
        timeout_s = d.environment.databricks.unity_catalog.validation_timeout_minutes * 60

        def apply() -> None:
            if state.credential_connector is None:
                uc.create_credential(workspace, setup)
            elif credential_differs:
                uc.update_credential(workspace, setup)
            if validate:  # a new role assignment takes time to reach storage; the location is validated on create
                try:
                    uc.wait_until_valid(workspace, setup.credential, setup.url, timeout_s, d.say)
                except TimeoutError as exc:
                    raise StepFailed(str(exc)) from None
            if state.location != wanted_location:
                uc.put_location(workspace, setup, state.location is not None)
            if not state.catalog_exists:
                uc.create_catalog(workspace, setup)
            for schema in new_schemas:
                uc.create_schema(workspace, setup, schema)
            if location_grants:
                uc.grant(workspace, "external_location", setup.location, setup.principal, location_grants)
            if catalog_grants:
                uc.grant(workspace, "catalog", setup.catalog, setup.principal, catalog_grants)
        plan.apply = apply
        return plan

    # -- mount -----------------------------------------------------------------------------------
    def _mount(self, d: Deployment) -> Plan:
        plan = Plan()
        settings = d.environment.databricks
        key_secret = next((n for n, s in d.environment.secrets.items() if isinstance(s, StorageKeySecret)), None)
        if key_secret is None:
            raise StepFailed(f"{d.environment.source}: mounting the lake needs a secret with source = "
                             "\"storage-account-key\" under [secrets]")
        wanted = {"mount_name": settings.mount_point.removeprefix("/mnt/"), "account": d.output("storageAccountName"),
                  "container": settings.lake_container, "secret_scope": settings.secret_scope,
                  "secret_key": key_secret}
        record = mount_record(d)
        marker = json.dumps(wanted, sort_keys=True).encode()
        current = read_file(d.workspace, record)
        plan.read(f"mount record {record}", current.decode(errors="replace") if current else None)
        if current == marker:
            return plan
        # A notebook run (one request), then the record written (its folder made, then imported).
        plan.add("mount", f"{settings.mount_point}", f"container {settings.lake_container} of "
                 f"{wanted['account']}, by a notebook run on the cluster", writes={"databricks": 3},
                 reasons=differences(json.loads(current) if current else {}, wanted))

        def apply() -> None:
            run = run_notebook(d.workspace, d.value("cluster_id"), f"{d.release_root}/notebooks/{MOUNT_NOTEBOOK}",
                               wanted, f"mount {settings.mount_point} ({d.environment.name})", 30, d.say)
            if not run.succeeded and any(sign in (run.error or "") for sign in NO_MOUNTS):
                raise StepFailed(f"this workspace has no DBFS mounts (Databricks accounts opened since they were "
                                 f"withdrawn have none): set storage_access = \"unity-catalog\" under [databricks] in "
                                 f"{d.environment.source}")
            if not run.succeeded:
                raise StepFailed(f"the mount notebook failed ({run.result_state}): {run.error} "
                                 f"(run page: {run.page_url})")
            import_objects(d.workspace, [WorkspaceObject(record, marker, False)], lambda o: None)
        plan.apply = apply
        return plan


class RetireMount:
    """After a switch to unity-catalog: the old mount is removed once nothing reads it, that is once the factory's
    lakeRoot (set by the datafactory step, or by the swap in production) no longer names it."""
    name = "mount-retirement"

    def plan(self, d: Deployment) -> Plan:
        from toolkit.azure.datafactory import Factory

        plan, settings = Plan(), d.environment.databricks
        if settings.storage_access == "mount":
            return plan
        record = mount_record(d)
        current = read_file(d.workspace, record)
        plan.read(f"mount record {record}", current.decode(errors="replace") if current else None)
        if current is None:
            return plan
        factory = Factory(d.rest, d.resource_group, d.output("dataFactoryName"))
        root = ((factory.global_parameters().get("lakeRoot") or {}).get("value") or "")
        plan.read(f"factory {factory.name} lakeRoot", root)
        if root == settings.mount_point or root.startswith(settings.mount_point + "/"):
            plan.notes.append(f"{settings.mount_point} kept: the factory's lakeRoot still reads it ({root}); the "
                              "deploy after the factory moves to Unity Catalog removes it")
            return plan
        plan.add("unmount", settings.mount_point, "nothing reads it: the factory's lakeRoot is "
                 f"{root or '(not set)'}", writes={"databricks": 2})  # the notebook's run, the record's deletion

        def apply() -> None:
            from toolkit.databricks.workspace_files import delete_objects

            run = run_notebook(d.workspace, d.value("cluster_id"), f"{d.release_root}/notebooks/{MOUNT_NOTEBOOK}",
                               {"mount_name": settings.mount_point.removeprefix("/mnt/"), "action": "unmount"},
                               f"unmount {settings.mount_point} ({d.environment.name})", 30, d.say)
            if not run.succeeded:
                raise StepFailed(f"the unmount notebook failed ({run.result_state}): {run.error} "
                                 f"(run page: {run.page_url})")
            delete_objects(d.workspace, [record])
        plan.apply = apply
        return plan
