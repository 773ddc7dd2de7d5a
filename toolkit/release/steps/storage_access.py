"""Step 6: the lake reachable from Databricks at the environment's mount point. Mounting happens inside
a notebook (there is no REST API for it), run once on the environment's cluster; a marker file in the
workspace records what was mounted, so an unchanged mount costs one read."""
from __future__ import annotations

import json
import posixpath

from toolkit.databricks.runs import run_notebook
from toolkit.databricks.workspace_files import WorkspaceObject, import_objects, read_file
from toolkit.environments.model import StorageKeySecret
from toolkit.release.deployment import Deployment
from toolkit.release.plan import Plan, StepFailed

MOUNT_NOTEBOOK = "90_mount_lake"


class StorageAccess:
    name = "storage-access"

    def plan(self, d: Deployment) -> Plan:
        plan = Plan()
        settings = d.environment.databricks
        key_secret = next((n for n, s in d.environment.secrets.items() if isinstance(s, StorageKeySecret)), None)
        if key_secret is None:
            raise StepFailed(f"{d.environment.source}: mounting the lake needs a secret with source = "
                             "\"storage-account-key\" under [secrets]")
        wanted = {"mount_name": settings.mount_point.removeprefix("/mnt/"), "account": d.output("storageAccountName"),
                  "container": settings.lake_container, "secret_scope": settings.secret_scope,
                  "secret_key": key_secret}
        record = f"{posixpath.dirname(settings.release_root)}/state/mount{settings.mount_point.replace('/', '-')}.json"
        marker = json.dumps(wanted, sort_keys=True).encode()
        if read_file(d.workspace, record) == marker:
            return plan
        plan.add("mount", f"{settings.mount_point}", f"container {settings.lake_container} of "
                 f"{wanted['account']}, by a notebook run on the cluster")

        def apply() -> None:
            run = run_notebook(d.workspace, d.value("cluster_id"), f"{d.release_root}/notebooks/{MOUNT_NOTEBOOK}",
                               wanted, f"mount {settings.mount_point} ({d.environment.name})", 30, d.say)
            if not run.succeeded:
                raise StepFailed(f"the mount notebook failed ({run.result_state}): {run.error} "
                                 f"(run page: {run.page_url})")
            import_objects(d.workspace, [WorkspaceObject(record, marker, False)], lambda o: None)
        plan.apply = apply
        return plan
