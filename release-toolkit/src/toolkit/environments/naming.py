"""The Azure resource names of an environment, computed before any call and checked against Azure's rules.

The ARM template takes these names as parameters (``TEMPLATE_PARAMETERS``) rather than building them
itself, so the plan knows every name first: it checks each against its rule here, then asks the
providers' ``checkNameAvailability`` (toolkit/azure/names.py) before anything is written.

Names are ``<prefix><environment><deployment id>`` plus, for the globally unique kinds, a suffix hashed
from the subscription and resource group (so two subscriptions, or two QA deployments, never collide),
trimmed to fit every rule for any environment name and any deployment id of 1 to 12 characters.
Rules: https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules
"""
from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

RULES_DOC = "https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules"


@dataclass(frozen=True)
class NameRule:
    kind: str
    pattern: str  # a full-match regular expression
    minimum: int
    maximum: int
    globally_unique: bool
    wording: str  # the rule, as the doc states it

    def problem(self, name: str) -> str | None:
        if not self.minimum <= len(name) <= self.maximum or not re.fullmatch(self.pattern, name):
            return f"{self.kind} name {name!r} breaks Azure's rule: {self.wording} ({RULES_DOC})"
        return None


STORAGE = NameRule("Microsoft.Storage/storageAccounts", r"[a-z0-9]+", 3, 24, True,
                   "3-24 lowercase letters and digits, unique across Azure")
VAULT = NameRule("Microsoft.KeyVault/vaults", r"[A-Za-z](?!.*--)[A-Za-z0-9-]*[A-Za-z0-9]", 3, 24, True,
                 "3-24 letters, digits and hyphens, starting with a letter, ending with a letter or digit, no "
                 "consecutive hyphens, unique across Azure")
FACTORY = NameRule("Microsoft.DataFactory/factories", r"[A-Za-z0-9](?!.*--)[A-Za-z0-9-]*[A-Za-z0-9]", 3, 63, True,
                   "3-63 letters, digits and hyphens, starting and ending with a letter or digit, no consecutive "
                   "hyphens, unique across Azure")
WORKSPACE = NameRule("Microsoft.Databricks/workspaces", r"[A-Za-z0-9_-]+", 3, 64, False,
                     "3-64 letters, digits, underscores and hyphens")
ACCESS_CONNECTOR = NameRule("Microsoft.Databricks/accessConnectors", r"[A-Za-z0-9_-]+", 3, 64, False,
                            "3-64 letters, digits, underscores and hyphens")
RESOURCE_GROUP = NameRule("Microsoft.Resources/resourceGroups", r"[\w().-]*[\w()-]", 1, 90, False,
                          "1-90 letters, digits, underscores, parentheses, hyphens and periods, not ending in a period")

# Template parameter -> the rule its value obeys; the release sets every one of them.
TEMPLATE_PARAMETERS = {"storageAccountName": STORAGE, "keyVaultName": VAULT, "dataFactoryName": FACTORY,
                       "databricksWorkspaceName": WORKSPACE, "databricksManagedResourceGroupName": RESOURCE_GROUP,
                       "accessConnectorName": ACCESS_CONNECTOR}

_PROJECT = "parking"


def _digest(subscription_id: str, resource_group: str) -> str:
    """13 lowercase letters and digits, stable for one resource group of one subscription."""
    raw = hashlib.sha256(f"{subscription_id}/{resource_group}".lower().encode()).digest()
    return base64.b32encode(raw).decode().lower()[:13]


def resource_names(environment: str, subscription_id: str, resource_group: str,
                   deployment_id: str | None = None) -> dict[str, str]:
    """Every name the template takes, by template parameter."""
    core = re.sub(r"[^a-z0-9]", "", f"{environment}{deployment_id or ''}".lower())
    digest = _digest(subscription_id, resource_group)
    storage_core = f"st{core}"[:16]
    vault_core = core[:13]
    return {
        "storageAccountName": storage_core + digest[:STORAGE.maximum - len(storage_core)],
        "keyVaultName": f"kv-{vault_core}-{digest[:VAULT.maximum - 4 - len(vault_core)]}",
        "dataFactoryName": f"adf-{_PROJECT}-{core}-{digest[:6]}",
        "databricksWorkspaceName": f"dbw-{_PROJECT}-{core}",
        "accessConnectorName": f"dbac-{_PROJECT}-{core}",
        "databricksManagedResourceGroupName": f"rg-dbw-{_PROJECT}-{core}-{digest[:6]}-managed",
    }


def name_problems(names: dict[str, str], resource_group: str) -> list[str]:
    """Every name (resource group included) that breaks its rule, explained."""
    found = [RESOURCE_GROUP.problem(resource_group)]
    found += [TEMPLATE_PARAMETERS[parameter].problem(name) for parameter, name in names.items()
              if parameter in TEMPLATE_PARAMETERS]
    return [problem for problem in found if problem]
