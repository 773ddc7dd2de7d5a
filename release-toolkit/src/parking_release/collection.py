"""The tasks of a release, wherever it runs from: the stages, the swap, the artifact store and the ops tasks."""
from invoke import Collection

from parking_release import artifacts, operations, release

OPS_TASKS = (artifacts.versions, operations.status, operations.drift,
             operations.audit, operations.rollback, operations.rerun,
             operations.triggers, operations.restart_cluster, operations.rotate_secret, operations.unlock)
RELEASE_TASKS = (artifacts.publish, artifacts.fetch, artifacts.verify, release.deploy_qa, release.deploy_staging,
                 release.deploy_prod, release.swap, release.qa_down)


def release_collection() -> Collection:
    """A fresh collection of the release tasks, with the ``ops`` collection (a caller may add its own tasks)."""
    namespace = Collection()
    for task in RELEASE_TASKS:
        namespace.add_task(task)
    ops = Collection("ops")
    for task in OPS_TASKS:
        ops.add_task(task)
    namespace.add_collection(ops)
    namespace.configure({"parking": {"root": None}})
    return namespace
