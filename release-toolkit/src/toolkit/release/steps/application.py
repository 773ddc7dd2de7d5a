"""Step 5: the data application in the workspace. Libraries (the wheel, its dependencies, jars) and
notebooks go under a release-versioned root (or, blue/green, the idle slot's root), which a marker
file closes once complete, so a finished release is recognised with one read and an interrupted one
is completed by a re-run. A slot's root is reused by each version deployed there: its marker goes
first, everything is written again, and what the version does not have is removed. The cluster is
created from the bundle's configuration or edited only when it differs; libraries are installed from
the release root, older releases' are uninstalled, and the cluster restarts when that changes what
it runs (Databricks keeps an installed wheel until restart)."""
from __future__ import annotations

import json
import posixpath

from toolkit.databricks import clusters
from toolkit.databricks.workspace_files import (WorkspaceObject, delete_objects, existing_objects, import_objects,
                                                read_file)
from toolkit.progress import Progress
from toolkit.release.deployment import Deployment
from toolkit.release.drift import CLUSTER_FIELDS, list_overwrites, plain
from toolkit.release.markers import MARKER
from toolkit.release.plan import Difference, Plan, StepFailed

LIBRARY_ROLES = {"wheel": "whl", "dependency": "whl", "jar": "jar"}


def release_objects(d: Deployment) -> list[WorkspaceObject]:
    objects = []
    for entry in d.manifest.files:
        if entry.role in LIBRARY_ROLES:
            path = f"{d.release_root}/libs/{posixpath.basename(entry.path)}"
        elif entry.role == "notebook":
            path = f"{d.release_root}/notebooks/{posixpath.splitext(posixpath.basename(entry.path))[0]}"
        else:
            continue
        content = (d.bundle / entry.path).read_bytes()
        objects.append(WorkspaceObject(path, content, entry.role == "notebook"))
    return objects


def release_marker(d: Deployment) -> bytes:
    """What the marker of a complete release root holds (a slot's also names the slot)."""
    content = {"version": d.version, "bundle_digest": d.manifest.digest}
    if d.slot is not None:
        content["slot"] = d.slot
    return json.dumps(content, sort_keys=True).encode()


def cluster_spec(d: Deployment) -> dict:
    spec = d.bundle_json("cluster/cluster.json")
    override = d.bundle / "cluster" / "overrides" / f"{d.environment.name}.json"
    if override.exists():
        spec.update(json.loads(override.read_text()))
    spec["cluster_name"] = d.cluster_name
    if d.environment.databricks.storage_access == "unity-catalog" and \
            spec.get("data_security_mode", "SINGLE_USER") in ("SINGLE_USER", "DATA_SECURITY_MODE_DEDICATED"):
        # A dedicated cluster runs only its single user's commands: the identity that runs the jobs.
        spec.setdefault("data_security_mode", "SINGLE_USER")
        spec["single_user_name"] = d.job_principal
    return spec


def wanted_libraries(d: Deployment) -> list[dict]:
    return [{LIBRARY_ROLES[e.role]: f"/Workspace{d.release_root}/libs/{posixpath.basename(e.path)}"}
            for e in d.manifest.files if e.role in LIBRARY_ROLES]


class Application:
    name = "application"

    def plan(self, d: Deployment) -> Plan:
        plan = Plan()
        workspace = d.workspace
        marker_path = f"{d.release_root}/{MARKER}"
        marker = release_marker(d)
        uploads: list[WorkspaceObject] = []
        stale: list[str] = []
        current_marker = read_file(workspace, marker_path)
        plan.read(f"marker {marker_path}", current_marker.decode(errors="replace") if current_marker else None)
        if current_marker != marker:
            existing = existing_objects(workspace, d.release_root)
            plan.read(f"objects under {d.release_root}", existing)
            wanted_objects = release_objects(d)
            if d.slot is None:  # a version's own root: what is there is this version's
                uploads = [o for o in wanted_objects if o.path not in existing
                           or (not o.notebook and existing[o.path] not in (None, len(o.content)))]
            else:  # a slot's root may hold another version: all of it is written again
                uploads = wanted_objects
                wanted_paths = {o.path for o in wanted_objects}
                stale = sorted(p for p in existing if p not in wanted_paths and p != marker_path
                               and not any(w.startswith(p + "/") for w in wanted_paths))
                if current_marker is not None:
                    plan.add("remove", marker_path, f"slot {d.slot} is incomplete until this version is all there",
                             writes={"databricks": 1})
            libraries = sum(1 for o in uploads if not o.notebook)
            # Each import is one request; import_objects first makes each folder (one request per folder).
            if libraries:
                plan.add("upload", f"{libraries} library files", f"to {d.release_root}/libs",
                         writes={"databricks": libraries + 1})
            if len(uploads) - libraries:
                plan.add("import", f"{len(uploads) - libraries} notebooks", f"to {d.release_root}/notebooks",
                         writes={"databricks": len(uploads) - libraries + 1})
            if stale:
                plan.add("delete", f"{len(stale)} objects", f"from {d.release_root}: not in version {d.version}",
                         writes={"databricks": len(stale)})
            was = json.loads(current_marker) if current_marker else {}
            plan.add("write", marker_path, "marks the release root complete", writes={"databricks": 2},
                     reasons=[Difference("version", was.get("version"), d.version)])

        spec = cluster_spec(d)
        try:
            current = clusters.find_cluster(workspace, spec["cluster_name"])
        except ValueError as exc:
            raise StepFailed(str(exc)) from None
        differences = clusters.spec_differences(current, spec) if current else []
        plan.read(f"cluster {spec['cluster_name']}", {"spec": {k: current.get(k) for k in spec},
                                                      "state": current.get("state")} if current else None)
        if differences:
            list_overwrites(plan, d, {f"cluster/{spec['cluster_name']}/{k}": plain(current[k])
                                      if k in current else None for k in differences if k in CLUSTER_FIELDS})
        if current is None:
            plan.add("create", f"cluster {spec['cluster_name']}", writes={"databricks": 1})
        elif differences:
            plan.add("update", f"cluster {spec['cluster_name']}", f"{', '.join(differences)} changed; restarts it "
                     "if running", writes={"databricks": 1},
                     reasons=[Difference(k, current.get(k), spec[k]) for k in differences])
        if current is not None:  # an edit keeps the cluster's id
            plan.learned["cluster_id"] = current["cluster_id"]

        wanted = wanted_libraries(d)
        installed = clusters.installed_libraries(workspace, current["cluster_id"]) if current else {}
        if current:
            plan.read(f"libraries of cluster {spec['cluster_name']}", installed)
        ours = f"/Workspace{d.library_scope}/"
        to_install = [lib for lib in wanted
                      if installed.get(clusters.library_key(lib)) in (None, "UNINSTALL_ON_RESTART")]
        to_remove = [{"whl" if k.endswith(".whl") else "jar": k} for k, status in installed.items()
                     if k.startswith(ours) and k not in {clusters.library_key(w) for w in wanted}
                     and status != "UNINSTALL_ON_RESTART"]
        if to_install or to_remove:
            list_overwrites(plan, d, {f"cluster/{spec['cluster_name']}/libraries": plain(sorted(installed))})
        if to_install:  # one request installs them all, as one uninstalls them all
            plan.add("install", ", ".join(clusters.library_key(lib).rsplit("/", 1)[-1] for lib in to_install),
                     writes={"databricks": 1})
        if to_remove:
            plan.add("uninstall", ", ".join(clusters.library_key(lib).rsplit("/", 1)[-1] for lib in to_remove),
                     "older release", writes={"databricks": 1})
        pending_restart = any(s == "UNINSTALL_ON_RESTART" for k, s in installed.items() if k.startswith(ours))
        restart = current is not None and not differences and current.get("state") == "RUNNING" and \
            bool(to_remove or pending_restart)
        if restart:
            plan.add("restart", f"cluster {spec['cluster_name']}", "so the new library versions take effect",
                     writes={"databricks": 1})
        if not plan.changes:
            return plan

        def apply() -> None:
            if d.slot is not None and current_marker not in (None, marker):
                delete_objects(workspace, [marker_path])
            if uploads:
                progress = Progress("import", len(uploads), unit="objects")
                import_objects(workspace, uploads, lambda o: progress.advance(len(o.content)))
            delete_objects(workspace, stale)
            if read_file(workspace, marker_path) != marker:
                import_objects(workspace, [WorkspaceObject(marker_path, marker, False)], lambda o: None)
            cluster_id = current["cluster_id"] if current else clusters.create_cluster(workspace, spec)
            plan.learned["cluster_id"] = cluster_id
            if to_install:
                clusters.install(workspace, cluster_id, to_install)
            if to_remove:
                clusters.uninstall(workspace, cluster_id, to_remove)
            if differences:  # last: the restart an edit causes also applies the library changes
                clusters.edit_cluster(workspace, cluster_id, spec, d.say)
            elif restart:
                clusters.restart(workspace, cluster_id, d.say)
        plan.apply = apply
        return plan
