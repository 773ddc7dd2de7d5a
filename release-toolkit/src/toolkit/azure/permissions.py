"""What the deployer may do in a resource group, read from ARM (Permissions - List For Resource Group, api-version
2022-04-01), so that a missing right is named at plan time rather than half way through a deployment."""
from __future__ import annotations

import fnmatch

API = "2022-04-01"
ASSIGN_ROLES = "Microsoft.Authorization/roleAssignments/write"


def allows(permissions: list[dict], action: str) -> bool:
    """Whether ``action`` is granted by one of the permission sets (wildcards; case-insensitive, as ARM's)."""
    def matches(patterns) -> bool:
        return any(fnmatch.fnmatch(action.lower(), p.lower()) for p in patterns or [])
    return any(matches(p.get("actions")) and not matches(p.get("notActions")) for p in permissions)


def can_assign_roles(permissions: list[dict]) -> bool:
    return allows(permissions, ASSIGN_ROLES)


def group_permissions(rest, group: str) -> list[dict]:
    return list(rest.pages(f"{rest.group_path(group)}/providers/Microsoft.Authorization/permissions", API))
