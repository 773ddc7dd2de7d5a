"""The release toolkit's invoke tasks. Run ``inv --list`` to see them, ``inv --help TASK`` for one.

Task modules stay light: each imports its library (toolkit/) inside the task body, so listing
tasks never loads Spark or a cloud SDK.
"""
from invoke import Collection

from tasks import build, quality, rehearse

ns = Collection()
ns.add_task(build.build)
ns.add_task(quality.test)
ns.add_task(quality.lint)
ns.add_task(rehearse.rehearse)
