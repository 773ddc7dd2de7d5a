"""What the release and ops tasks share: progress on stderr, the target, the artifact store and the version's
bundle, the confirmation of destructive work, and one way of turning a failure into a one-line exit."""
import sys
from contextlib import contextmanager

from invoke import Exit


def say(message):
    print(message, file=sys.stderr, flush=True)


TARGETS = ("sandbox", "azure")


def check_target(task_name, name, json_=False):
    """Before anything reads an environment file for it: the target is one there is."""
    if name not in TARGETS:
        fail(task_name, f"unknown target {name!r}: expected {' or '.join(TARGETS)}", 2, json_)


def chosen_version(task_name, version, place=None, json_=False):
    """--version as given, or (in a clone) the last build's; an empty one is an error, not "the last build"."""
    from toolkit.build.application import read_build_info

    if version is not None:
        if not version.strip():
            fail(task_name, "--version is empty: give a published version, or leave it out to use the last build",
                 2, json_)
        return version.strip()
    if place is None or place.project is None:
        fail(task_name, "no --version given: pass the published version to release (`ops.versions` lists them)", 2,
             json_)
    try:
        return read_build_info(place.project.dist)["version"]
    except FileNotFoundError:
        fail(task_name, f"no version given and no build in {place.project.dist}: pass --version", 1, json_)


def target_for(name, place, environment=None):
    """The target to work on: the sandbox (which must be running: `inv sandbox.up` in a clone starts it), or Azure
    in ``environment``'s subscription (None for work that calls no ARM: signing with Key Vault)."""
    from toolkit.environments.target import azure_target, sandbox_target

    if name == "azure":
        if environment is None:
            return azure_target(None, data_plane_only=True)
        return azure_target(environment.azure.subscription_id)
    if name != "sandbox":
        raise Exit(f"unknown target {name!r}: expected {' or '.join(TARGETS)}", code=2)
    return sandbox_target(place.sandbox_home())


def deployment_id(given, environment="qa"):
    """The on-demand QA environment's id (default: CI's build id, else 'local'); None elsewhere."""
    import os
    import re

    if environment != "qa":
        return None
    if given:
        return given
    for variable in ("BUILD_BUILDID", "GITHUB_RUN_ID"):
        if os.environ.get(variable):
            return re.sub(r"[^a-z0-9]", "", os.environ[variable].lower())[:12]
    return "local"


def known_keys(target_name, place):
    """The job's trusted public keys (``$PARKING_TRUSTED_KEYS``, else the sandbox's own on the sandbox)."""
    from toolkit.signing.trusted_keys import load_trusted_keys, trusted_keys_file

    home = place.known_sandbox_home() if target_name == "sandbox" else None
    return load_trusted_keys(trusted_keys_file(target_name, home))


def open_store(place, store_config):
    """The artifact store the job configures (see parking_release.context)."""
    from toolkit.artifacts.config import load_store_config
    from toolkit.artifacts.stores import open_store as open_configured

    path = place.store_config(store_config)
    return open_configured(load_store_config(path), path.parent)


def fetched_bundle(place, store, version, trust, show_progress, digest=None):
    """``version`` fetched from the artifact store once its signature verifies with ``trust``, and every file
    verified (and its digest, when one is given): (bundle folder, manifest)."""
    from toolkit.artifacts.fetch import fetch

    bundle = place.work / "fetched" / version
    return bundle, fetch(store, version, bundle, trust, show_progress=show_progress, expected_digest=digest,
                         refresh=True)


def confirm(question, yes):
    if not yes and input(f"{question} [y/N] ").strip().lower() not in ("y", "yes"):
        raise Exit("not confirmed: nothing changed", code=1)


def fail(task_name, message, code=1, json_=False, outcome="failed", ci=None):
    """End the task with one line on stderr (and, with --json, a document on stdout for CI to parse; under a CI host,
    an error annotation: ``ci``, the task's reporter, else one made here)."""
    import json

    from toolkit.release.ci_report import CiReporter

    (ci or CiReporter.for_task(json_)).error(f"{task_name} {outcome}", message)
    if json_:
        print(json.dumps({"task": task_name, "outcome": outcome, "error": message}, indent=2))
    raise Exit(f"{task_name} {outcome}: {message}", code=code)


@contextmanager
def failures(task_name, json_=False, ci=None):
    """A failure as one line naming the task and the cause; exit 2 for bad input, 1 for the rest, 128 + the
    signal's number for a run stopped by SIGINT or SIGTERM (what it started is stopped first, and the lock
    given back)."""
    from toolkit.artifacts.fetch import FetchError
    from toolkit.bundle.verify import BundleError
    from toolkit.bundle.manifest import ManifestError
    from toolkit.configuration import ConfigError
    from toolkit.environments.target import TargetError
    from toolkit.release.errors import explain_error
    from toolkit.release.interruption import Interrupted, interruptible, signal_name
    from toolkit.release.lock import LockHeld
    from toolkit.release.operations import OperationFailed
    from toolkit.release.saved_plan import PlanRefused
    from toolkit.release.stages import PromotionRefused
    from toolkit.release.swap import SwapRefused
    from toolkit.signing.signatures import SignatureRefused

    try:
        with interruptible(say):
            yield
    except Exit:
        raise
    except KeyboardInterrupt as exc:
        fail(task_name, f"stopped by {signal_name(exc)}: nothing after that point ran (a lock it held is given back)",
             Interrupted(signal_name(exc)).exit_code, json_, "interrupted", ci)
    except ConfigError as exc:
        fail(task_name, str(exc), 2, json_, ci=ci)
    except (TargetError, FetchError, ManifestError, PromotionRefused, SwapRefused, OperationFailed,
            LockHeld, SignatureRefused, BundleError, PlanRefused) as exc:
        fail(task_name, str(exc), 1, json_, ci=ci)
    except Exception as exc:  # an endpoint that cannot be reached, a refused credential: one line
        fail(task_name, explain_error(exc), 1, json_, ci=ci)


SOURCE_HELP = {
    "store-config": "artifact store configuration (default: $PARKING_ARTIFACT_STORE, else the clone's "
                    "environments/artifacts.toml)",
    "version": "read the environment file from this published version's bundle (default: the clone's with --root, "
               "else the bundle of the release the environment runs)",
}


def deployed(place, target_name, name, deployment_id=None, store_config=None, version=None, show_progress=True,
             store=None, known=None):
    """(environment, target) for work on an environment that is deployed: its environment file from the bundle of
    ``version``, else from the clone given with --root, else from the bundle of the release it runs. ``store`` and
    ``known`` (the trusted keys), when the caller has them already, are not opened again."""
    from toolkit.artifacts.listing import list_versions
    from toolkit.environments.model import load_environment
    from toolkit.release.environment_source import bundle_environment, deployed_environment

    if version is None and place.project is not None:
        environment = load_environment(place.project.environments, name, target_name)
        return environment, target_for(target_name, place, environment)
    store = store or open_store(place, store_config)
    trust = (known or known_keys(target_name, place)).bundle_trust(name)

    def fetch(wanted, digest):
        return fetched_bundle(place, store, wanted, trust, show_progress, digest)[0]

    if version is not None:
        environment = bundle_environment(fetch(version, None), name, target_name)
        return environment, target_for(target_name, place, environment)
    newest = next((v.version for v in reversed(list_versions(store)) if v.complete), None)
    return deployed_environment(name, target_name, deployment_id, newest, fetch,
                                lambda environment: target_for(target_name, place, environment), say)
