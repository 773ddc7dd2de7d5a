"""Step 1: the environment's Azure resources from the bundle's ARM template: validate, what-if (the
plan), deploy under a unique name only when what-if shows a change; its outputs feed later steps."""
from __future__ import annotations

from toolkit.azure import arm
from toolkit.release.deployment import Deployment
from toolkit.release.plan import Plan, StepFailed


def template_parameters(d: Deployment) -> dict:
    infrastructure = d.environment.infrastructure
    parameters = {k: v["value"] for k, v in d.bundle_json(infrastructure.parameters_file)["parameters"].items()}
    parameters.update(infrastructure.parameters)
    if d.environment.on_demand:
        parameters["deploymentId"] = d.options.deployment_id
    return parameters


class Infrastructure:
    name = "infrastructure"

    def plan(self, d: Deployment) -> Plan:
        environment, group = d.environment, d.resource_group
        plan = Plan()
        exists = arm.group_exists(d.arm, group)
        if not (environment.infrastructure.deploy == "always" or d.options.infrastructure):
            return self._existing(d, plan, exists)
        template = d.bundle_json(environment.infrastructure.template)
        parameters = template_parameters(d)
        outputs = None
        if not exists:
            plan.add("create", f"resource group {group}", environment.infrastructure.location)
            plan.add("deploy", environment.infrastructure.template,
                     f"{len(template.get('resources', []))} resources, all new")
        else:
            try:
                arm.validate(d.arm, group, template, parameters)
                changes = arm.what_if(d.arm, group, template, parameters)
            except arm.TemplateRejected as exc:
                raise StepFailed(str(exc)) from None
            for change_type, resource_id in changes:
                kind = getattr(change_type, "value", change_type)
                if kind in arm.CHANGE_TYPES_THAT_WRITE:
                    plan.add(kind.lower(), resource_id.split("/providers/", 1)[-1])
            outputs = arm.latest_outputs(d.arm, group, environment.name)
            if not plan.changes and outputs is None:
                plan.add("deploy", environment.infrastructure.template, "no earlier deployment recorded outputs")
        if not plan.changes:
            d.outputs.update(outputs)
            return plan

        def apply() -> None:
            if not exists:
                arm.ensure_group(d.arm, group, environment.infrastructure.location,
                                 {"project": "parking-sensors", "environment": environment.name})
            try:
                if not exists:
                    arm.validate(d.arm, group, template, parameters)
                d.outputs.update(arm.deploy(d.arm, group, template, parameters, environment.name, d.say))
            except arm.TemplateRejected as exc:
                raise StepFailed(str(exc)) from None
        plan.apply = apply
        return plan

    @staticmethod
    def _existing(d: Deployment, plan: Plan, exists: bool) -> Plan:
        name, group = d.environment.name, d.resource_group
        outputs = arm.latest_outputs(d.arm, group, name) if exists else None
        if outputs is None:
            raise StepFailed(f"{name} has no infrastructure deployed in resource group {group}: deploy it once "
                             "with --infra")
        plan.notes.append(f"infrastructure not redeployed (pass --infra to): using the outputs of the last "
                          f"deployment in {group}")
        d.outputs.update(outputs)
        return plan
