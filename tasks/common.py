"""What the release and ops tasks share: progress on stderr, the target, the version's bundle, the
confirmation of destructive work, and one way of turning a failure into a one-line exit."""
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


def chosen_version(task_name, version, json_=False):
    """--version as given, or the last build's; an empty one is an error, not "the last build"."""
    from toolkit.build.application import read_build_info
    from toolkit.paths import DIST

    if version is not None:
        if not version.strip():
            fail(task_name, "--version is empty: give a published version, or leave it out to use the last build",
                 2, json_)
        return version.strip()
    try:
        return read_build_info(DIST)["version"]
    except FileNotFoundError:
        fail(task_name, f"no version given and no build in {DIST}: pass --version", 1, json_)


def target_for(name, environment=None):
    """The target to work on; ``environment`` None for work that calls no ARM (signing with Key Vault)."""
    from toolkit.environments.model import load_environment
    from toolkit.environments.target import azure_target, sandbox_target
    from toolkit.paths import ENVIRONMENTS, REPO_ROOT, SANDBOX_HOME

    if name == "azure":
        if environment is None:
            return azure_target(None, data_plane_only=True)
        return azure_target(load_environment(ENVIRONMENTS, environment, "azure").azure.subscription_id)
    if name != "sandbox":
        raise Exit(f"unknown target {name!r}: expected {' or '.join(TARGETS)}", code=2)
    from sandbox.lifecycle import up

    up(SANDBOX_HOME, REPO_ROOT)  # the default target is always there to deploy to
    return sandbox_target(SANDBOX_HOME)


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


def known_keys(target_name):
    """The job's trusted public keys (``$PARKING_TRUSTED_KEYS``, else the sandbox's own on the sandbox)."""
    from toolkit.paths import SANDBOX_HOME
    from toolkit.signing.trusted_keys import load_trusted_keys, trusted_keys_file

    return load_trusted_keys(trusted_keys_file(target_name, SANDBOX_HOME))


def fetched_bundle(store, version, trust, show_progress, digest=None):
    """``version`` fetched from the artifact store once its signature verifies with ``trust``, and every file
    verified (and its digest, when one is given): (bundle folder, manifest)."""
    from toolkit.artifacts.fetch import fetch
    from toolkit.paths import DIST

    bundle = DIST / "fetched" / version
    return bundle, fetch(store, version, bundle, trust, show_progress=show_progress, expected_digest=digest,
                         refresh=True)


def confirm(question, yes):
    if not yes and input(f"{question} [y/N] ").strip().lower() not in ("y", "yes"):
        raise Exit("not confirmed: nothing changed", code=1)


def fail(task_name, message, code=1, json_=False, outcome="failed"):
    """End the task with one line on stderr (and, with --json, a document on stdout for CI to parse)."""
    import json

    if json_:
        print(json.dumps({"task": task_name, "outcome": outcome, "error": message}, indent=2))
    raise Exit(f"{task_name} {outcome}: {message}", code=code)


@contextmanager
def failures(task_name, json_=False):
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
             Interrupted(signal_name(exc)).exit_code, json_, "interrupted")
    except ConfigError as exc:
        fail(task_name, str(exc), 2, json_)
    except (TargetError, FetchError, ManifestError, PromotionRefused, SwapRefused, OperationFailed,
            LockHeld, SignatureRefused, BundleError) as exc:
        fail(task_name, str(exc), 1, json_)
    except Exception as exc:  # an endpoint that cannot be reached, a refused credential: one line
        fail(task_name, explain_error(exc), 1, json_)
