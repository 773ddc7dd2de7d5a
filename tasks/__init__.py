"""The repository's invoke tasks: the release toolkit's (parking_release, also installable as the
`parking-release` program) plus what only a clone does: build, test, lint, rehearse and the sandbox. Run
``inv --list`` to see them, ``inv --help TASK`` for one.

Task modules stay light: each imports its library (toolkit/) inside the task body, so listing tasks never
loads Spark or a cloud SDK.
"""
from pathlib import Path

from invoke import Collection

from parking_release.collection import release_collection
from tasks import build, local_cloud, quality, rehearse

sandbox = Collection("sandbox")
for sandbox_task in (local_cloud.up, local_cloud.status, local_cloud.down, local_cloud.reset):
    sandbox.add_task(sandbox_task)

ns = release_collection()
ns.add_task(build.build)
ns.add_task(quality.test)
ns.add_task(quality.lint)
ns.add_task(rehearse.rehearse)
ns.add_collection(sandbox)
# This clone (the folder above this package): the release tasks read its builds and settings.
ns.configure({"parking": {"root": str(Path(__file__).resolve().parent.parent)}})
