"""Which environment file describes an environment that is already deployed, for the work that is not a release
of a new bundle (status, swap, ops): the one in the bundle of the release the environment runs. A release's
settings are part of its bundle, so the file that deployed it is the one to operate it with.

Finding that release needs the environment's names first, so a published bundle opens the way (the newest, or
the one given), and the environment itself then says which release it runs: the live slot's (blue/green),
else the last successful deploy's, in its ledger.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from toolkit.environments.model import Environment, load_environment
from toolkit.environments.target import Target

ENVIRONMENTS_FOLDER = "environments"  # in a bundle: the environment files as they were at build time


@dataclass(frozen=True)
class Release:
    version: str
    bundle_digest: str | None


def bundle_environment(bundle: Path, name: str, target_name: str) -> Environment:
    """Environment ``name`` as the bundle in folder ``bundle`` describes it."""
    return load_environment(bundle / ENVIRONMENTS_FOLDER, name, target_name)


def running_release(environment: Environment, target: Target, deployment_id: str | None,
                    say: Callable[[str], None]) -> Release | None:
    """The release ``environment`` runs (None when nothing is deployed). Reads only."""
    from toolkit.release import ledger
    from toolkit.release.deployment import open_deployed

    d = open_deployed(environment, target, deployment_id, say)
    if d is None or "storageAccountName" not in d.outputs:
        return None
    if environment.slots is not None:
        from toolkit.azure.datafactory import Factory
        from toolkit.release.slots import read_slots

        factory_globals = Factory(d.rest, d.resource_group, d.output("dataFactoryName")).global_parameters()
        live = next((s for s in read_slots(environment, factory_globals, d.workspace) if s.live and s.version), None)
        return Release(live.version, live.bundle_digest) if live else None
    deployed = ledger.last_record(ledger.read_ledger(d.lake())[0], event="deploy", outcome="succeeded")
    return Release(deployed["version"], deployed.get("bundle_digest")) if deployed else None


def deployed_environment(name: str, target_name: str, deployment_id: str | None, newest: str | None,
                         fetch: Callable[[str, str | None], Path], target_of: Callable[[Environment], Target],
                         say: Callable[[str], None]) -> tuple[Environment, Target]:
    """``name`` as the bundle of the release it runs describes it, found through the bundle of version ``newest``
    (``fetch(version, digest) -> bundle folder``, verified). With no release deployed, the newest one's."""
    if newest is None:
        from toolkit.configuration import ConfigError

        raise ConfigError(f"no version is published, so no environment file describes {name}: pass --root with a "
                          "clone of the repository")
    environment = bundle_environment(fetch(newest, None), name, target_name)
    target = target_of(environment)
    running = running_release(environment, target, deployment_id, say)
    if running is None or running.version == newest:
        return environment, target
    say(f"{name} runs version {running.version}: using its environment file")
    environment = bundle_environment(fetch(running.version, running.bundle_digest), name, target_name)
    return environment, target_of(environment)
