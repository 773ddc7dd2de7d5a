"""Step 1: the environment's Azure resources from the bundle's ARM template.

The plan first computes every resource name (toolkit/environments/naming.py) and checks it against Azure's
rules, then asks the providers whether each name can be had (toolkit/azure/names.py), then validates and
previews the deployment with what-if. A deployment runs under a unique name only when what-if shows a change.

An ARM PUT replaces a resource with what the template says. What later steps add to two resources would be
lost on a redeploy, so the template declares it from what is live, read here first:
- the factory's global parameters (the blue/green pointer among them: Azure-DataFactory issue 690);
- the vault's access policies beyond the admin's (AzureDatabricks', added with the Key Vault-backed scope).
After a deployment both are read back and restored if anything still dropped them.
"""
from __future__ import annotations

from toolkit.azure import arm, names, permissions
from toolkit.azure.datafactory import API as FACTORY_API, Factory
from toolkit.environments.naming import name_problems
from toolkit.release.deployment import Deployment
from toolkit.release.plan import Plan, StepFailed

KEYVAULT_API = names.KEYVAULT_API


def template_parameters(d: Deployment) -> dict:
    infrastructure = d.environment.infrastructure
    parameters = {k: v["value"] for k, v in d.bundle_json(infrastructure.parameters_file)["parameters"].items()}
    parameters.update(infrastructure.parameters)
    parameters.update(d.resource_names)
    parameters["unityCatalog"] = d.environment.databricks.storage_access == "unity-catalog"
    return parameters


def live_state(d: Deployment, parameters: dict) -> dict:
    """What later steps added to the factory and the vault, as template parameters (empty where the resource
    does not exist yet)."""
    group = d.resource_group
    factory = d.rest.call("GET", Factory(d.rest, group, parameters["dataFactoryName"]).path, FACTORY_API,
                          not_found_ok=True)
    vault = d.rest.call("GET", _vault_path(d, parameters["keyVaultName"]), KEYVAULT_API, not_found_ok=True)
    admin = parameters.get("keyVaultAdminObjectId")
    policies = [p for p in ((vault or {}).get("properties") or {}).get("accessPolicies") or []
                if p.get("objectId") != admin]
    return {"factoryGlobalParameters": ((factory or {}).get("properties") or {}).get("globalParameters") or {},
            "keyVaultAccessPolicies": policies}


def _vault_path(d: Deployment, vault: str) -> str:
    return f"{d.rest.group_path(d.resource_group)}/providers/Microsoft.KeyVault/vaults/{vault}"


def restore_live_state(d: Deployment, parameters: dict) -> list[str]:
    """Read back what the deployment was told to keep; put back whatever it lost. What was restored, said."""
    restored = []
    now = live_state(d, parameters)
    wanted_globals = parameters["factoryGlobalParameters"]
    if wanted_globals and now["factoryGlobalParameters"] != wanted_globals:
        Factory(d.rest, d.resource_group, parameters["dataFactoryName"]).set_global_parameters(wanted_globals)
        restored.append(f"global parameters of factory {parameters['dataFactoryName']}")
    have = {p.get("objectId") for p in now["keyVaultAccessPolicies"]}
    lost = [p for p in parameters["keyVaultAccessPolicies"] if p.get("objectId") not in have]
    if lost:
        d.rest.call("PUT", f"{_vault_path(d, parameters['keyVaultName'])}/accessPolicies/add", KEYVAULT_API,
                    {"properties": {"accessPolicies": lost}})
        restored.append(f"{len(lost)} access policies of vault {parameters['keyVaultName']}")
    return restored


class Infrastructure:
    name = "infrastructure"

    def plan(self, d: Deployment) -> Plan:
        environment, group = d.environment, d.resource_group
        problems = name_problems(d.resource_names, group)
        if problems:  # before any call
            raise StepFailed("; ".join(problems))
        plan = Plan()
        # The stage has already read the last deployment's outputs when the environment has a lake (it locks
        # before this step then): they are not read again.
        known = dict(d.outputs) if "storageAccountName" in d.outputs else None
        exists = known is not None or arm.group_exists(d.arm, group)
        if not (environment.infrastructure.deploy == "always" or d.options.infrastructure):
            return self._existing(d, plan, exists, known)
        template = d.bundle_json(environment.infrastructure.template)
        parameters = template_parameters(d)
        location = environment.infrastructure.location
        check = names.check_names(d.rest, group, exists, location, d.resource_names, environment.on_demand)
        if check.refusals:
            raise StepFailed("; ".join(check.refusals))
        plan.read("soft-deleted vaults to purge", sorted(v["name"] for v in check.purges))
        for vault in check.purges:
            plan.add("purge", f"soft-deleted vault {vault['name']}", "a teardown of this environment left it; "
                     "its name is needed again", writes={"arm": 1})
        outputs = None
        if not exists:
            parameters.update(factoryGlobalParameters={}, keyVaultAccessPolicies=[])
            plan.read(f"resource group {group}", "absent")
            plan.add("create", f"resource group {group}", location, writes={"arm": 1})
            plan.add("deploy", environment.infrastructure.template,
                     f"{len(template.get('resources', []))} resources, all new", writes={"arm": 1})
        else:
            live = live_state(d, parameters)
            parameters.update(live)
            plan.read(f"factory {parameters['dataFactoryName']} global parameters", live["factoryGlobalParameters"])
            plan.read(f"vault {parameters['keyVaultName']} access policies", live["keyVaultAccessPolicies"])
            try:
                arm.validate(d.arm, group, template, parameters)
                changes = arm.what_if(d.arm, group, template, parameters)
            except arm.TemplateRejected as exc:
                raise StepFailed(str(exc)) from None
            plan.read("what-if", sorted((getattr(t, "value", t), r) for t, r in changes))
            for change_type, resource_id in changes:
                kind = getattr(change_type, "value", change_type)
                if kind in arm.CHANGE_TYPES_THAT_WRITE:  # all made by the one deployment below
                    plan.add(kind.lower(), resource_id.split("/providers/", 1)[-1], writes={})
                if kind == "Create" and "/providers/Microsoft.Authorization/roleAssignments/" in resource_id and \
                        not permissions.can_assign_roles(permissions.group_permissions(d.rest, group)):
                    raise StepFailed(f"the deployer may not assign Azure roles in {group} "
                                     f"({permissions.ASSIGN_ROLES}), which Unity Catalog's access connector needs on "
                                     "the lake: give it User Access Administrator or Role Based Access Control "
                                     "Administrator there (README: Releasing to Azure)")
            outputs = known or arm.latest_outputs(d.arm, group, environment.name)
            plan.read("infrastructure outputs", outputs)
            changing = sum(1 for t, _ in changes if getattr(t, "value", t) in arm.CHANGE_TYPES_THAT_WRITE)
            if changing:
                plan.add("deploy", environment.infrastructure.template, f"{changing} resources change",
                         writes={"arm": 1})
            elif outputs is None:
                plan.add("deploy", environment.infrastructure.template, "no earlier deployment recorded outputs",
                         writes={"arm": 1})
        if not plan.changes:
            d.outputs.update(outputs)
            return plan

        def apply() -> None:
            for vault in check.purges:
                names.purge_deleted_vault(d.rest, vault, d.say)
            if not exists:
                arm.ensure_group(d.arm, group, location,
                                 {"project": "parking-sensors", "environment": environment.name})
            try:
                if not exists:
                    arm.validate(d.arm, group, template, parameters)
                d.outputs.update(arm.deploy(d.arm, group, template, parameters, environment.name, d.say))
            except arm.TemplateRejected as exc:
                raise StepFailed(str(exc)) from None
            for what in restore_live_state(d, parameters):
                d.say(f"restored {what}, which the deployment dropped")
        plan.apply = apply
        return plan

    @staticmethod
    def _existing(d: Deployment, plan: Plan, exists: bool, known: dict | None) -> Plan:
        name, group = d.environment.name, d.resource_group
        outputs = known or (arm.latest_outputs(d.arm, group, name) if exists else None)
        if outputs is None:
            raise StepFailed(f"{name} has no infrastructure deployed in resource group {group}: deploy it once "
                             "with --infra")
        plan.notes.append(f"infrastructure not redeployed (pass --infra to): using the outputs of the last "
                          f"deployment in {group}")
        plan.read("infrastructure outputs", outputs)
        d.outputs.update(outputs)
        return plan
