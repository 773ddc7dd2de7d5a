"""The release toolkit's invoke tasks. Run ``inv --list`` to see them, ``inv --help TASK`` for one.

Task modules stay light: each imports its library (toolkit/) inside the task body, so listing
tasks never loads Spark or a cloud SDK.
"""
from invoke import Collection

from tasks import artifacts, build, quality, rehearse

ops = Collection("ops")
ops.add_task(artifacts.versions)

ns = Collection()
ns.add_task(build.build)
ns.add_task(quality.test)
ns.add_task(quality.lint)
ns.add_task(artifacts.publish)
ns.add_task(artifacts.fetch)
ns.add_task(rehearse.rehearse)
ns.add_collection(ops)
