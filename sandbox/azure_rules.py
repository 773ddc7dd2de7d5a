"""Azure's rules for the resources the sandbox's ARM creates: names (length, characters, first and last
character), their scope of uniqueness, and the codes Azure answers with when a name breaks them.

Each rule cites its source; ``sandbox/RULES.md`` is the catalogue of every rule the sandbox enforces, with
the contract test that shows it. Checked on validate, what-if and deploy (a name that breaks its rule
never gets a resource), and by the providers' ``checkNameAvailability`` calls.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from sandbox.http import ApiError

NAMING_DOC = "https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules"


@dataclass(frozen=True)
class NameRule:
    kind: str
    pattern: re.Pattern
    minimum: int
    maximum: int
    scope: str  # "global" (every subscription), "subscription", or "resourceGroup"
    invalid_code: str
    invalid_message: str  # formatted with {name}
    source: str

    def problem(self, name: str) -> str | None:
        """Why ``name`` breaks this rule, or None."""
        if not self.minimum <= len(name) <= self.maximum:
            return f"{len(name)} characters, outside {self.minimum}-{self.maximum}"
        if not self.pattern.fullmatch(name):
            return "characters or their order not allowed"
        return None

    def refuse(self, name: str) -> ApiError:
        return ApiError(400, self.invalid_code, self.invalid_message.format(name=name))


NAME_RULES = {rule.kind.lower(): rule for rule in (
    NameRule("Microsoft.Storage/storageAccounts", re.compile(r"[a-z0-9]+"), 3, 24, "global",
             "AccountNameInvalid",
             "{name} is not a valid storage account name. Storage account name must be between 3 and 24 "
             "characters in length and use numbers and lower-case letters only.",
             f"{NAMING_DOC}#microsoftstorage; azure-rest-api-specs specification/storage/resource-manager/"
             "Microsoft.Storage/stable/2023-05-01/storage.json (Reason: AccountNameInvalid)"),
    NameRule("Microsoft.KeyVault/vaults", re.compile(r"[A-Za-z](?!.*--)[A-Za-z0-9-]*[A-Za-z0-9]"), 3, 24, "global",
             "VaultNameNotValid",
             "The vault name '{name}' is invalid. A vault's name must be between 3-24 alphanumeric characters. "
             "The name must begin with a letter, end with a letter or digit, and not contain consecutive hyphens.",
             f"{NAMING_DOC}#microsoftkeyvault; https://learn.microsoft.com/azure/key-vault/general/about-keys-"
             "secrets-certificates#vault-name-and-object-name"),
    NameRule("Microsoft.DataFactory/factories", re.compile(r"[A-Za-z0-9](?!.*--)[A-Za-z0-9-]*[A-Za-z0-9]"), 3, 63,
             "global", "InvalidResourceName",
             "Invalid factory name '{name}': a factory name must be 3-63 characters, contain only letters, "
             "numbers and hyphens, start and end with a letter or number, and not contain consecutive hyphens.",
             f"{NAMING_DOC}#microsoftdatafactory; https://learn.microsoft.com/azure/data-factory/naming-rules"),
    NameRule("Microsoft.Databricks/workspaces", re.compile(r"[A-Za-z0-9_-]+"), 3, 64, "resourceGroup",
             "InvalidWorkspaceName",
             "The workspace name '{name}' is invalid: it must be 3-64 alphanumerics, underscores and hyphens.",
             f"{NAMING_DOC}#microsoftdatabricks"),
    NameRule("Microsoft.Databricks/accessConnectors", re.compile(r"[A-Za-z0-9_-]+"), 3, 64, "resourceGroup",
             "InvalidResourceName",
             "The access connector name '{name}' is invalid: it must be 3-64 alphanumerics, underscores and hyphens.",
             f"{NAMING_DOC}#microsoftdatabricks"),
    NameRule("Microsoft.Resources/resourceGroups", re.compile(r"[\w().-]*[\w()-]"), 1, 90, "subscription",
             "InvalidResourceGroupName",
             "Resource group name '{name}' is invalid: 1-90 alphanumerics, underscores, parentheses, hyphens "
             "and periods, not ending in a period.",
             f"{NAMING_DOC}#microsoftresources"),
)}


def rule_for(kind: str) -> NameRule | None:
    return NAME_RULES.get(kind.lower())


def check_name(kind: str, name: str) -> None:
    """Refuse ``name`` as Azure does when it breaks the naming rule of ``kind`` (no rule: accepted)."""
    rule = rule_for(kind)
    if rule is not None and rule.problem(name) is not None:
        raise rule.refuse(name)


# A name taken elsewhere: (same subscription, other resource group) and (another subscription).
# Storage: https://learn.microsoft.com/azure/storage/common/storage-account-overview#storage-account-name and
# the storage RP's error codes (StorageAccountAlreadyTaken, StorageAccountInAnotherResourceGroup).
# Key Vault: https://learn.microsoft.com/azure/key-vault/general/soft-delete-overview (a deleted vault keeps its
# name) and VaultAlreadyExists. Data Factory: https://learn.microsoft.com/azure/data-factory/naming-rules
# ("must be globally unique").
_TAKEN = {
    "microsoft.storage/storageaccounts": (
        (409, "StorageAccountInAnotherResourceGroup",
         "The account {name} is already in another resource group in this subscription."),
        (409, "StorageAccountAlreadyTaken", "The storage account named {name} is already taken.")),
    "microsoft.keyvault/vaults": (
        (409, "VaultAlreadyExists",
         "The vault name '{name}' is already in use. Vault names are globally unique so it is possible that the "
         "name is already taken. If you are sure that the vault name was not taken then it is possible that a vault "
         "with the same name was recently deleted but not purged after being placed in a recoverable state. If the "
         "vault is in a recoverable state then the vault will need to be purged before reusing the name."),) * 2,
    "microsoft.datafactory/factories": (
        (409, "DataFactoryNameInUse",
         "The specified resource name '{name}' is already in use. Resource names must be globally unique."),) * 2,
}


def name_taken(kind: str, name: str, same_subscription: bool) -> ApiError:
    status, code, message = _TAKEN[kind.lower()][0 if same_subscription else 1]
    return ApiError(status, code, message.format(name=name))


SOFT_DELETED_VAULT = ("ConflictError", "Exist soft deleted vault with the same name. ")
