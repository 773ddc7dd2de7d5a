"""What the release and ops tasks share: progress on stderr, the target, the version's bundle, the
confirmation of destructive work, and one way of turning a failure into a one-line exit."""
import sys
from contextlib import contextmanager

from invoke import Exit


def say(message):
    print(message, file=sys.stderr, flush=True)


def target_for(name, environment):
    from toolkit.environments.model import load_environment
    from toolkit.environments.target import azure_target, sandbox_target
    from toolkit.paths import ENVIRONMENTS, REPO_ROOT, SANDBOX_HOME

    if name == "azure":
        return azure_target(load_environment(ENVIRONMENTS, environment, "azure").azure.subscription_id)
    if name != "sandbox":
        raise Exit(f"unknown target {name!r}: expected sandbox or azure", code=2)
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


def fetched_bundle(store, version, show_progress):
    """``version`` fetched from the artifact store and verified: (bundle folder, manifest)."""
    from toolkit.artifacts.fetch import fetch
    from toolkit.paths import DIST

    bundle = DIST / "fetched" / version
    return bundle, fetch(store, version, bundle, show_progress=show_progress)


def confirm(question, yes):
    if not yes and input(f"{question} [y/N] ").strip().lower() not in ("y", "yes"):
        raise Exit("not confirmed: nothing changed", code=1)


@contextmanager
def failures(task_name):
    """A failure as one line naming the task and the cause; exit 2 for bad input, 1 for the rest."""
    from toolkit.artifacts.fetch import FetchError
    from toolkit.bundle.manifest import ManifestError
    from toolkit.configuration import ConfigError
    from toolkit.environments.target import TargetError
    from toolkit.release.errors import explain_error
    from toolkit.release.lock import LockHeld
    from toolkit.release.operations import OperationFailed
    from toolkit.release.stages import PromotionRefused
    from toolkit.release.swap import SwapRefused

    try:
        yield
    except Exit:
        raise
    except ConfigError as exc:
        raise Exit(f"{task_name} failed: {exc}", code=2)
    except (TargetError, FetchError, ManifestError, PromotionRefused, SwapRefused, OperationFailed,
            LockHeld) as exc:
        raise Exit(f"{task_name} failed: {exc}", code=1)
    except Exception as exc:  # an endpoint that cannot be reached, a refused credential: one line
        raise Exit(f"{task_name} failed: {explain_error(exc)}", code=1)
