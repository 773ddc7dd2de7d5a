"""Step 4: the Databricks workspace's secret scope, backed by the environment's Key Vault (as on Azure:
read-only from Databricks, the vault is the single place secrets are written)."""
from __future__ import annotations

from toolkit.release.deployment import Deployment
from toolkit.release.plan import Difference, Plan


def vault_resource_id(d: Deployment) -> str:
    return (f"/subscriptions/{d.target.subscription_id}/resourceGroups/{d.resource_group}/providers/"
            f"Microsoft.KeyVault/vaults/{d.output('keyVaultName')}")


class Workspace:
    name = "workspace"

    def plan(self, d: Deployment) -> Plan:
        from databricks.sdk.service.workspace import AzureKeyVaultSecretScopeMetadata, ScopeBackendType

        plan = Plan()
        workspace, scope = d.workspace, d.environment.databricks.secret_scope
        wanted = AzureKeyVaultSecretScopeMetadata(resource_id=vault_resource_id(d), dns_name=d.output("keyVaultUri"))
        current = next((s for s in workspace.secrets.list_scopes() if s.name == scope), None)
        backing = current.keyvault_metadata.resource_id if current and current.keyvault_metadata else None
        plan.read(f"secret scope {scope}", current.as_dict() if current else None)
        if current is None:
            plan.add("create", f"secret scope {scope}", f"backed by Key Vault {d.output('keyVaultName')}",
                     writes={"databricks": 1})
        elif current.backend_type != ScopeBackendType.AZURE_KEYVAULT or backing is None or \
                backing.lower() != wanted.resource_id.lower():
            plan.add("replace", f"secret scope {scope}", f"to be backed by Key Vault {d.output('keyVaultName')}",
                     writes={"databricks": 2}, reasons=[Difference("keyvault_metadata.resource_id", backing,
                                                                   wanted.resource_id)])
        if not plan.changes:
            return plan

        def apply() -> None:
            if current is not None:
                workspace.secrets.delete_scope(scope)
            workspace.secrets.create_scope(scope, scope_backend_type=ScopeBackendType.AZURE_KEYVAULT,
                                           backend_azure_keyvault=wanted)
        plan.apply = apply
        return plan
