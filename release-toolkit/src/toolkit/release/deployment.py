"""What every step of a stage works from: the environment, the target, the verified bundle, the
infrastructure's outputs, and the clients (made once, on first use)."""
from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Iterator

from toolkit.bundle.manifest import Manifest
from toolkit.environments.model import Environment
from toolkit.environments.target import Target
from toolkit.release.plan import NotPlannable, StepFailed
from toolkit.release.slots import slot_cluster_name, slot_root


@dataclass
class Options:
    dry_run: bool = False
    deployment_id: str | None = None
    infrastructure: bool = False  # deploy ARM even where the environment only does it when asked
    retest: bool = False  # run the integration tests even when nothing changed since they passed
    prune: bool = False  # delete Data Factory objects that are no longer in the bundle
    wait: bool = False  # wait for the environment lock instead of failing when another run holds it
    force: bool = False  # accept a version the promotion rule refuses (recorded in the ledger)
    audit_input: str | None = None  # the landing folder the audit processes (default: the last successful run's)


@dataclass
class Deployment:
    environment: Environment
    target: Target
    bundle: Path
    manifest: Manifest
    options: Options
    say: Callable[[str], None] = print
    reports: Path | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)  # what later steps learn (cluster id, ...)
    changed_steps: list[str] = field(default_factory=list)
    results: list[str] = field(default_factory=list)  # what the stage's tests found, for its report
    sections: list[str] = field(default_factory=list)  # Markdown for the report's CI summary (the audit's)
    audit: dict | None = None  # the audit this run recorded
    slot: str | None = None  # blue/green environments: the slot this run writes (the idle one)
    lock: Any = None  # the environment lock while this run holds it (ledger writes carry its lease)
    store: Any = None  # the artifact store: the bundle came from there, and passed integration tests are kept there
    evidence_signer: Any = None  # this stage's own key (toolkit/signing/signers.py), which signs that evidence
    _keys: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def version(self) -> str:
        return self.manifest.version

    @cached_property
    def resource_group(self) -> str:
        return self.environment.resource_group(self.options.deployment_id)

    @cached_property
    def resource_names(self) -> dict[str, str]:
        """The names of the environment's Azure resources, by ARM template parameter (known before any call)."""
        return self.environment.resource_names(self.target.subscription_id, self.options.deployment_id)

    @property
    def release_root(self) -> str:
        """Where this version's notebooks and libraries go: its own folder, or the slot's."""
        if self.environment.slots is not None:
            return slot_root(self.environment, self.value("slot"))
        return f"{self.environment.databricks.release_root}/{self.version}"

    @property
    def library_scope(self) -> str:
        """The folder every library this toolkit installs on the cluster comes from (older ones are removed)."""
        return self.release_root if self.environment.slots is not None else self.environment.databricks.release_root

    @property
    def cluster_name(self) -> str:
        if self.environment.slots is not None:
            return slot_cluster_name(self.environment, self.value("slot"))
        return self.environment.databricks.cluster_name

    @contextmanager
    def locked(self, task: str) -> Iterator[None]:
        """Hold the environment lock (waiting for it with ``options.wait``, else LockHeld at once); ledger
        writes made meanwhile carry its lease."""
        from toolkit.release.lock import EnvironmentLock

        with EnvironmentLock(self.lake(), self.environment.name, task, self.say).acquire(self.options.wait) as lock:
            self.lock = lock
            try:
                yield
            finally:
                self.lock = None

    def record(self, event: str, outcome: str, **details: Any) -> None:
        """Append to the environment's ledger (under this run's lock, when it holds one; never once that lock was
        lost: another run may hold it by now)."""
        from toolkit.release import ledger

        lost = self.lock.lapsed() if self.lock is not None else None
        if lost:
            raise StepFailed(f"not written to the ledger: {lost}")
        ledger.append_record(self.lake(), ledger.new_record(event, self.environment.name, self.version,
                                                            self.manifest.digest, outcome, slot=self.slot,
                                                            **details), self.lock)

    def output(self, name: str) -> Any:
        if name in self.outputs:
            return self.outputs[name]
        if self.options.dry_run:
            raise NotPlannable(f"needs the infrastructure output {name!r}, which exists only after the "
                               "infrastructure step applies")
        raise StepFailed(f"the infrastructure of {self.environment.name} has no output {name!r}")

    def learn(self, values: dict[str, str]) -> None:
        """What a step's plan (or its apply) established, for the steps after it: the run's one way to learn."""
        for name, value in values.items():
            if name == "slot":
                self.slot = value
            else:
                self.values[name] = value

    def value(self, name: str) -> str:
        """Something an earlier step of this run learned (the slot, the cluster id, ...)."""
        if name == "slot" and self.slot is not None:
            return self.slot
        if name in self.values:
            return self.values[name]
        if self.options.dry_run:
            raise NotPlannable(f"needs {name}, which exists only after an earlier step applies")
        raise StepFailed(f"no earlier step provided {name}")

    @cached_property
    def baseline(self) -> tuple[dict, dict, set]:
        """What the toolkit last put in the environment, by the ledger's records (toolkit/release/drift.py): what a
        step is about to overwrite is drift when it differs."""
        from toolkit.release import drift, ledger

        return drift.baseline(ledger.read_ledger(self.lake())[0]["records"])

    def bundle_json(self, relative: str) -> dict:
        return json.loads((self.bundle / relative).read_text(encoding="utf-8"))

    # -- clients ---------------------------------------------------------------------------------
    @cached_property
    def arm(self):
        from toolkit.azure.arm import resource_client

        return resource_client(self.target)

    @cached_property
    def rest(self):
        from toolkit.azure.rest import ArmRest

        return ArmRest(self.target)

    @cached_property
    def secrets(self):
        from azure.keyvault.secrets import SecretClient

        return SecretClient(self.output("keyVaultUri"), self.target.credential, **self.target.keyvault_options())

    @cached_property
    def workspace(self):
        return self.target.workspace_client(self.output("databricksWorkspaceUrl"),
                                            self.output("databricksWorkspaceResourceId"))

    @cached_property
    def job_principal(self) -> str:
        """Who runs the notebooks (Data Factory's token and the release's runs are the deployer's unless the
        environment names another): Unity Catalog grants and a dedicated cluster's single user name it."""
        configured = self.environment.databricks.unity_catalog.job_principal
        return configured or self.workspace.current_user.me().user_name

    def storage_key(self, resource_group: str, account: str) -> str:
        """An account key (ARM listKeys, a read): what server-side copies sign their source with."""
        if (resource_group, account) not in self._keys:
            from toolkit.azure.storage import account_key

            self._keys[(resource_group, account)] = account_key(self.rest, resource_group, account)
        return self._keys[(resource_group, account)]

    def blob_service(self, resource_group: str, account: str):
        from azure.storage.blob import BlobServiceClient

        key = self.storage_key(resource_group, account)
        # The SDK's default (3 retries of a throttled answer, after 15 s, 18 s and 24 s) can outlast the
        # environment lock's 60-second lease; throttling is retried sooner and more often (1, 3, 5, 9, 17, 33 s).
        return BlobServiceClient(self.target.account_url(account),
                                 credential={"account_name": account, "account_key": key},
                                 retry_total=6, retry_status=6, initial_backoff=1, increment_base=2)

    def lake(self):
        if "lake" not in self._clients:
            self._clients["lake"] = self.blob_service(self.resource_group, self.output("storageAccountName"))
        return self._clients["lake"]


def open_deployed(environment: Environment, target: Target, deployment_id: str | None = None,
                  say: Callable[[str], None] = print) -> Deployment | None:
    """The environment as its last successful infrastructure deployment left it (its outputs), for the
    work that follows a stage (status, swap, ops); None when it is not deployed. Reads only."""
    from toolkit.azure import arm

    group = environment.resource_group(deployment_id)
    client = arm.resource_client(target)
    outputs = arm.latest_outputs(client, group, environment.name) if arm.group_exists(client, group) else None
    if outputs is None:
        return None
    return Deployment(environment, target, Path("."), None, Options(deployment_id=deployment_id), say=say,
                      outputs=outputs)
