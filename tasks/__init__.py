"""The release toolkit's invoke tasks. Run ``inv --list`` to see them, ``inv --help TASK`` for one.

Task modules stay light: each imports its library (toolkit/) inside the task body, so listing
tasks never loads Spark or a cloud SDK.
"""
from invoke import Collection

from tasks import artifacts, build, local_cloud, operations, quality, rehearse, release

ops = Collection("ops")
ops.add_task(artifacts.versions)
for ops_task in (operations.status, operations.rollback, operations.rerun, operations.triggers,
                 operations.restart_cluster, operations.rotate_secret, operations.unlock):
    ops.add_task(ops_task)

sandbox = Collection("sandbox")
for sandbox_task in (local_cloud.up, local_cloud.status, local_cloud.down, local_cloud.reset):
    sandbox.add_task(sandbox_task)

ns = Collection()
ns.add_task(build.build)
ns.add_task(quality.test)
ns.add_task(quality.lint)
ns.add_task(artifacts.publish)
ns.add_task(artifacts.fetch)
ns.add_task(artifacts.verify)
ns.add_task(rehearse.rehearse)
for stage_task in (release.deploy_qa, release.deploy_staging, release.deploy_prod, release.swap, release.qa_down):
    ns.add_task(stage_task)
ns.add_collection(ops)
ns.add_collection(sandbox)
