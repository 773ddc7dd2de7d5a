"""ARM parameters of the project's template for a test deployment: the parameter file of an environment plus
the resource names the release computes (toolkit/environments/naming.py)."""
import json

from toolkit.environments.naming import resource_names
from tasks.repository import REPO_ROOT


def template_parameters(environment: str, subscription: str, group: str, deployment_id: str | None = None) -> dict:
    parameters = json.loads((REPO_ROOT / f"arm/parameters/azuredeploy.parameters.{environment}.json").read_text())[
        "parameters"]
    names = resource_names(environment, subscription, group, deployment_id)
    return {**parameters, **{k: {"value": v} for k, v in names.items()}}
