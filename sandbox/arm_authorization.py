"""Azure RBAC as far as the sandbox needs it: role assignments (an extension resource deployed with a ``scope``),
the built-in roles the release uses, who may assign roles, and whether a principal's data-plane access to a
storage account has reached storage yet.

Rules (sources in sandbox/RULES.md, ``rbac.*``):
- a role assignment's name is a GUID (InvalidRoleAssignmentId otherwise);
- one principal holds one role at one scope once: the same triple under another name is RoleAssignmentExists;
- its principal must exist in the tenant (PrincipalNotFound);
- writing it needs ``Microsoft.Authorization/roleAssignments/write`` at its scope: Owner, User Access
  Administrator or Role Based Access Control Administrator have it, Contributor does not (AuthorizationFailed);
- a new assignment takes time to reach the data plane: storage refuses the principal until it has.
"""
from __future__ import annotations

import fnmatch
import re
import time

from sandbox.http import ApiError

ROLE_ASSIGNMENT = "Microsoft.Authorization/roleAssignments"
ASSIGN_ROLES = "Microsoft.Authorization/roleAssignments/write"

# Built-in role definition ids (the same in every tenant) and what the sandbox needs of each.
STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
STORAGE_BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
DATA_ACCESS = {STORAGE_BLOB_DATA_CONTRIBUTOR: "rw", STORAGE_BLOB_DATA_OWNER: "rw", STORAGE_BLOB_DATA_READER: "r"}

# The control-plane permissions of the roles a deployer may hold (Owner, Contributor, and the two roles that
# may assign roles), as "Permissions - List For Resource Group" reports them.
DEPLOYER_ROLES = {
    "Owner": {"actions": ["*"], "notActions": []},
    "Contributor": {"actions": ["*"], "notActions": ["Microsoft.Authorization/*/Delete",
                                                     "Microsoft.Authorization/*/Write",
                                                     "Microsoft.Authorization/elevateAccess/Action",
                                                     "Microsoft.Blueprint/blueprintAssignments/write",
                                                     "Microsoft.Blueprint/blueprintAssignments/delete",
                                                     "Microsoft.Compute/galleries/share/action",
                                                     "Microsoft.Purview/consents/write",
                                                     "Microsoft.Purview/consents/delete"]},
    "User Access Administrator": {"actions": ["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"],
                                  "notActions": []},
}
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def permitted(permissions: list[dict], action: str) -> bool:
    """Whether ``action`` is allowed by a list of {actions, notActions} (wildcards, case-insensitive)."""
    def matches(patterns: list[str]) -> bool:
        return any(fnmatch.fnmatch(action.lower(), p.lower()) for p in patterns)
    return any(matches(p.get("actions") or []) and not matches(p.get("notActions") or []) for p in permissions)


def deployer_permissions(data: dict) -> list[dict]:
    """What the sandbox's deployer may do (its roles are set with ``/admin/deployer-roles``; Owner by default)."""
    return [DEPLOYER_ROLES[role] for role in data.get("deployerRoles") or ["Owner"]]


def role_assignment_id(scope: str, name: str) -> str:
    return f"{scope.rstrip('/')}/providers/{ROLE_ASSIGNMENT}/{name}"


def known_principals(data: dict, deployer: str) -> set[str]:
    """Principal ids that exist in the sandbox tenant: managed identities of deployed resources and the deployer."""
    principals = {deployer}
    for resource in data.get("resources", {}).values():
        principal = (resource.get("identity") or {}).get("principalId")
        if principal:
            principals.add(principal)
    return principals


def check_role_assignment(data: dict, rid: str, name: str, properties: dict, deployer: str) -> None:
    """Refuse a role assignment as Azure does (see the module's rules)."""
    if not _GUID.match(name):
        raise ApiError(400, "InvalidRoleAssignmentId", f"The role assignment ID '{name}' is not valid. The role "
                       "assignment ID must be a GUID.")
    if not permitted(deployer_permissions(data), ASSIGN_ROLES):
        raise ApiError(403, "AuthorizationFailed", f"The client '{deployer}' with object id '{deployer}' does not "
                       f"have authorization to perform action '{ASSIGN_ROLES}' over scope "
                       f"'{rid.rsplit('/providers/', 1)[0]}' or the scope is invalid. If access was recently granted, "
                       "please refresh your credentials.")
    principal = properties.get("principalId") or ""
    if principal not in known_principals(data, deployer):
        raise ApiError(400, "PrincipalNotFound", f"Principal {principal.replace('-', '')} does not exist in the "
                       "directory. Check that you have the correct principal ID. If you are creating this principal "
                       "and then immediately assigning a role, this error might be related to a replication delay.")
    scope = rid.rsplit(f"/providers/{ROLE_ASSIGNMENT}/", 1)[0].lower()
    role = (properties.get("roleDefinitionId") or "").rsplit("/", 1)[-1].lower()
    for other in data.get("resources", {}).values():
        if other["type"] == ROLE_ASSIGNMENT and other["id"].lower() != rid.lower() \
                and other["id"].lower().rsplit(f"/providers/{ROLE_ASSIGNMENT.lower()}/", 1)[0] == scope \
                and other["properties"].get("principalId") == principal \
                and other["properties"].get("roleDefinitionId", "").rsplit("/", 1)[-1].lower() == role:
            raise ApiError(409, "RoleAssignmentExists", "The role assignment already exists.")


def data_access(data: dict, principal: str, account_id: str, propagation_s: float, now: float | None = None) -> str:
    """'rw', 'r' or '' : what ``principal`` may do with the blobs of a storage account (its resource id), counting
    only role assignments at the account or above that have had ``propagation_s`` to reach storage."""
    now = time.time() if now is None else now
    target, granted = account_id.lower().rstrip("/") + "/", ""
    for record in data.get("resources", {}).values():
        if record["type"] != ROLE_ASSIGNMENT or record["properties"].get("principalId") != principal:
            continue
        scope = record["id"].lower().rsplit(f"/providers/{ROLE_ASSIGNMENT.lower()}/", 1)[0] + "/"
        access = DATA_ACCESS.get(record["properties"].get("roleDefinitionId", "").rsplit("/", 1)[-1].lower(), "")
        propagated = now - record.get("createdAt", 0) >= propagation_s
        if target.startswith(scope) and propagated and len(access) > len(granted):
            granted = access
    return granted
