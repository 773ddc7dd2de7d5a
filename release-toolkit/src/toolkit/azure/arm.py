"""Resource groups and template deployments (azure-mgmt-resource: long-running operations polled by
azure-core, honouring Retry-After)."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, Callable

from toolkit.azure.errors import error_text
from toolkit.environments.target import Target

DEPLOYMENT_PREFIX = "parking-"
CHANGE_TYPES_THAT_WRITE = ("Create", "Delete", "Modify", "Deploy")


class TemplateRejected(RuntimeError):
    pass


def resource_client(target: Target):
    from azure.mgmt.resource import ResourceManagementClient

    return ResourceManagementClient(target.credential, target.subscription_id, base_url=target.arm_url,
                                    **target.client_options())


def group_exists(client, group: str) -> bool:
    from azure.core.exceptions import ResourceNotFoundError

    try:
        client.resource_groups.get(group)
        return True
    except ResourceNotFoundError:
        return False


def ensure_group(client, group: str, location: str, tags: dict[str, str]) -> None:
    client.resource_groups.create_or_update(group, {"location": location, "tags": tags})


def _deployment(template: dict, parameters: dict[str, Any]) -> dict:
    return {"properties": {"mode": "Incremental", "template": template,
                           "parameters": {k: {"value": v} for k, v in parameters.items()}}}


def _rejected(what: str, exc) -> TemplateRejected:
    """An azure-core HttpResponseError as one line with ARM's codes (its message spans several lines)."""
    error = getattr(exc, "error", None)
    return TemplateRejected(f"{what}: {error_text(error) if error is not None else exc.message.splitlines()[0]}")


def validate(client, group: str, template: dict, parameters: dict[str, Any]) -> None:
    from azure.core.exceptions import HttpResponseError

    try:
        poller = client.deployments.begin_validate(group, new_deployment_name("validate"),
                                                   _deployment(template, parameters))
        result = poller.result()
    except HttpResponseError as exc:
        raise _rejected("ARM validation failed", exc) from None
    if getattr(result, "error", None):
        raise TemplateRejected(f"ARM validation failed: {error_text(result.error)}")


def what_if(client, group: str, template: dict, parameters: dict[str, Any]) -> list[tuple[str, str]]:
    """(change type, resource id) of every resource the deployment would touch."""
    from azure.core.exceptions import HttpResponseError

    try:
        result = client.deployments.begin_what_if(group, new_deployment_name("whatif"),
                                                  _deployment(template, parameters)).result()
    except HttpResponseError as exc:
        raise _rejected("ARM what-if failed", exc) from None
    if result.error:
        raise TemplateRejected(f"ARM what-if failed: {error_text(result.error)}")
    return [(c.change_type, c.resource_id) for c in result.changes or []]


def new_deployment_name(purpose: str) -> str:
    """Unique per run, as ARM keeps one record per name and a re-used name overwrites it."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    return f"{DEPLOYMENT_PREFIX}{purpose}-{stamp}-{uuid.uuid4().hex[:6]}"


def deploy(client, group: str, template: dict, parameters: dict[str, Any], purpose: str,
           waiting: Callable[[str], None]) -> dict[str, Any]:
    """Deploy and wait; the outputs by name. A failed deployment raises with ARM's error."""
    from azure.core.exceptions import HttpResponseError

    name = new_deployment_name(purpose)
    waiting(f"deployment {name} started in {group}")
    try:
        poller = client.deployments.begin_create_or_update(group, name, _deployment(template, parameters))
        while not poller.done():
            poller.wait(15)
            if not poller.done():
                waiting(f"deployment {name}: {poller.status()}")
        result = poller.result()
    except HttpResponseError as exc:
        raise _rejected(f"deployment {name} failed", exc) from None
    if result.properties.provisioning_state != "Succeeded":
        raise TemplateRejected(f"deployment {name} ended {result.properties.provisioning_state}: "
                               f"{error_text(result.properties.error)}")
    return {k: v.get("value") for k, v in (result.properties.outputs or {}).items()}


def latest_outputs(client, group: str, purpose: str) -> dict[str, Any] | None:
    """Outputs of the newest successful deployment of ``purpose`` in the group, or None."""
    prefix = f"{DEPLOYMENT_PREFIX}{purpose}-"
    found = [d for d in client.deployments.list_by_resource_group(group)
             if d.name.startswith(prefix) and d.properties.provisioning_state == "Succeeded"]
    if not found:
        return None
    newest = max(found, key=lambda d: d.name)  # names embed a UTC timestamp
    return {k: v.get("value") for k, v in (newest.properties.outputs or {}).items()}


def delete_group(client, group: str, waiting: Callable[[str], None]) -> bool:
    """Delete a resource group and everything in it; False if it did not exist."""
    if not group_exists(client, group):
        return False
    poller = client.resource_groups.begin_delete(group)
    while not poller.done():
        poller.wait(15)
        if not poller.done():
            waiting(f"deleting {group}: {poller.status()}")
    poller.result()
    return True
