"""Whether an environment's resource names can be had, asked before anything is written: the providers'
``checkNameAvailability`` (Storage, Key Vault), whether a taken name is the environment's own resource,
and Key Vault's deleted vaults (a deleted vault keeps its name until it is purged or recovered).

Data Factory's stable API (2018-06-01) exposes no name check in its SDK: a factory name is checked against
its rule at plan time, and a name taken elsewhere is refused by the deployment (DataFactoryNameInUse).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from toolkit.azure.rest import ArmRest
from toolkit.azure.storage import STORAGE_API

KEYVAULT_API = "2023-07-01"


@dataclass
class NameCheck:
    refusals: list[str]  # names the deployment cannot have, each explained
    purges: list[dict]  # soft-deleted vaults of this very resource group, whose names the deployment needs


def _provider(rest: ArmRest, namespace: str) -> str:
    return f"/subscriptions/{rest.target.subscription_id}/providers/{namespace}"


def _resource(rest: ArmRest, group: str, kind: str, name: str, api: str) -> dict | None:
    return rest.call("GET", f"{rest.group_path(group)}/providers/{kind}/{name}", api, not_found_ok=True)


def _available(rest: ArmRest, namespace: str, kind: str, name: str, api: str) -> dict:
    return rest.call("POST", f"{_provider(rest, namespace)}/checkNameAvailability", api, {"name": name, "type": kind})


def deleted_vault(rest: ArmRest, location: str, name: str) -> dict | None:
    return rest.call("GET", f"{_provider(rest, 'Microsoft.KeyVault')}/locations/{location}/deletedVaults/{name}",
                     KEYVAULT_API, not_found_ok=True)


def deleted_vaults_of_group(rest: ArmRest, group: str) -> list[dict]:
    """The soft-deleted vaults that lived in ``group`` (what a teardown of it leaves behind)."""
    marker = f"{rest.group_path(group)}/providers/".lower()
    return [v for v in rest.pages(f"{_provider(rest, 'Microsoft.KeyVault')}/deletedVaults", KEYVAULT_API)
            if str((v.get("properties") or {}).get("vaultId", "")).lower().startswith(marker)]


def purge_deleted_vault(rest: ArmRest, deleted: dict, say: Callable[[str], None]) -> None:
    """Purge a soft-deleted vault (long-running: polled by azure-core until done)."""
    location = deleted["properties"]["location"]
    say(f"purging soft-deleted vault {deleted['name']} ({location})")
    rest.long_running("POST", f"{_provider(rest, 'Microsoft.KeyVault')}/locations/{location}/deletedVaults/"
                              f"{deleted['name']}/purge", KEYVAULT_API)


def check_names(rest: ArmRest, group: str, group_exists: bool, location: str, names: dict[str, str],
                on_demand: bool) -> NameCheck:
    """Ask the providers about the storage account's and the vault's names. A name held by this group's own
    resource is fine (a redeploy). A vault name held by a soft-deleted vault of this same group is planned for
    a purge on an on-demand environment (its teardown left it) and refused elsewhere (recover it instead)."""
    check = NameCheck([], [])
    for kind, namespace, api, name in (
            ("Microsoft.Storage/storageAccounts", "Microsoft.Storage", STORAGE_API, names["storageAccountName"]),
            ("Microsoft.KeyVault/vaults", "Microsoft.KeyVault", KEYVAULT_API, names["keyVaultName"])):
        answer = _available(rest, namespace, kind, name, api)
        if answer.get("nameAvailable"):
            continue
        if answer.get("reason") != "AccountNameInvalid" and group_exists and _resource(rest, group, kind, name, api):
            continue  # this environment's own resource
        deleted = deleted_vault(rest, location, name) if kind.endswith("vaults") else None
        mine = deleted is not None and str(deleted["properties"].get("vaultId", "")).lower().startswith(
            f"{rest.group_path(group)}/providers/".lower())
        if mine and on_demand:
            check.purges.append(deleted)
        elif mine:
            when = deleted["properties"]
            check.refusals.append(
                f"vault {name} of this environment is soft-deleted (deleted {when.get('deletionDate')}, purged for "
                f"good on {when.get('scheduledPurgeDate')}): recover it with its secrets (az keyvault recover --name "
                f"{name}) and deploy again, or purge it (az keyvault purge --name {name})")
        else:
            check.refusals.append(f"{kind} name {name} cannot be had: {answer.get('reason')}: "
                                  f"{answer.get('message', '').strip()}")
    return check
