"""Step 2: the environment's sensitive configuration in Key Vault. Each secret's value comes from where
the environment file says (a storage account key, a Databricks token, an environment variable) and is
written only when it differs from the current version. Values are never printed."""
from __future__ import annotations

import os
import time

from toolkit.azure.keyvault import SecretState, read_secret, recover_secret, write_secret
from toolkit.environments.model import DatabricksTokenSecret, StorageKeySecret, VariableSecret
from toolkit.release.deployment import Deployment
from toolkit.release.drift import list_overwrites, plain
from toolkit.release.plan import Difference, Plan, StepFailed

TOKEN_ID_TAG = "databricks-token-id"
DAY_MS = 86_400_000


class Secrets:
    name = "secrets"

    def plan(self, d: Deployment) -> Plan:
        plan = Plan()
        client = d.secrets
        writes = []
        for name, source in d.environment.secrets.items():
            state = read_secret(client, name)
            # The version, never the value: a new value is a new version.
            plan.read(f"secret {name}", "soft-deleted" if state.deleted else state.version)
            if state.deleted:
                plan.add("recover", f"secret {name}", "soft-deleted", writes={"keyvault": 1})
            if isinstance(source, DatabricksTokenSecret):
                if not token_is_current(d, state, source):
                    old = state.tags.get(TOKEN_ID_TAG)
                    plan.add("set", f"secret {name}", "new Databricks token" if state.value is None
                             else "Databricks token missing, revoked or expiring",
                             writes={"keyvault": 1, "databricks": 2 if old else 1},  # token created, old one revoked
                             reasons=[Difference("value", secret=True)])
                    writes.append((name, source, state))
                continue
            wanted = secret_value(d, name, source)
            if state.deleted:  # its value is unknown until recovered: set only if it then differs
                plan.add("set", f"secret {name}", "if the recovered value differs", writes={"keyvault": 1},
                         reasons=[Difference("value", secret=True)])
                writes.append((name, wanted, state))
            elif state.value != wanted:
                plan.add("set", f"secret {name}", "new" if state.value is None else "value changed",
                         writes={"keyvault": 1}, reasons=[Difference("value", secret=True)])
                writes.append((name, wanted, state))

        list_overwrites(plan, d, {f"secret/{name}": "soft-deleted" if state.deleted else plain(state.version)
                                  for name, _, state in writes})

        def apply() -> None:
            for name, wanted, state in writes:
                if state.deleted:
                    recover_secret(client, name)
                    state = read_secret(client, name)
                if isinstance(wanted, DatabricksTokenSecret):
                    if not token_is_current(d, state, wanted):
                        rotate_token(d, name, wanted, state)
                elif state.value != wanted:
                    write_secret(client, name, wanted)
        if plan.changes:
            plan.apply = apply
        return plan


def secret_value(d: Deployment, name: str, source) -> str:
    """The value a secret of ``source`` (a storage account key, an environment variable) must hold."""
    if isinstance(source, StorageKeySecret):
        return d.storage_key(d.resource_group, d.output("storageAccountName"))
    if isinstance(source, VariableSecret):
        value = os.environ.get(source.variable)
        if not value:
            raise StepFailed(f"secret {name}: environment variable {source.variable} is not set")
        return value
    raise StepFailed(f"secret {name}: unknown source {source!r}")


def token_is_current(d: Deployment, state: SecretState, source: DatabricksTokenSecret) -> bool:
    """Whether the token the secret holds still exists in the workspace and is not about to expire."""
    token_id = state.tags.get(TOKEN_ID_TAG)
    if state.value is None or not token_id:
        return False
    horizon = time.time() * 1000 + source.renew_within_days * DAY_MS
    for token in d.workspace.tokens.list():
        if token.token_id == token_id:
            return token.expiry_time is None or token.expiry_time < 0 or token.expiry_time > horizon
    return False


def rotate_token(d: Deployment, name: str, source: DatabricksTokenSecret, state: SecretState) -> None:
    """A new Databricks token into the secret, then the one it replaces revoked."""
    created = d.workspace.tokens.create(comment=f"Data Factory of {d.environment.name} (release toolkit)",
                                        lifetime_seconds=source.lifetime_days * 86_400)
    write_secret(d.secrets, name, created.token_value, {TOKEN_ID_TAG: created.token_info.token_id})
    old = state.tags.get(TOKEN_ID_TAG)
    if old and old != created.token_info.token_id:  # the vault no longer points at it: revoke
        from databricks.sdk.errors import NotFound

        try:
            d.workspace.tokens.delete(old)
        except NotFound:
            pass
