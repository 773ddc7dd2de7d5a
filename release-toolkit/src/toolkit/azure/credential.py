"""The one Microsoft Entra ID credential a release uses for ARM, Key Vault, Storage's listKeys and Databricks.

Chosen from where the release runs, all from azure-identity (which caches and refreshes the tokens):
- GitHub Actions with OpenID Connect (``id-token: write``): a ClientAssertionCredential whose assertion is a
  fresh GitHub ID token each time Entra ID is asked, so it never expires under a long release (the token
  the azure/login action exchanged once is valid for minutes: AADSTS700024 after that);
- Azure Pipelines with a workload identity service connection: AzurePipelinesCredential, which asks the
  pipeline's OIDC endpoint for a fresh token each time;
- anywhere else: DefaultAzureCredential (service principal or workload identity variables, managed
  identity, or a developer's ``az login``).
"""
from __future__ import annotations

import os
from typing import Any, Mapping

GITHUB_AUDIENCE = "api://AzureADTokenExchange"


def github_id_token(environ: Mapping[str, str] = os.environ) -> str:
    """A new GitHub Actions OIDC token for Entra ID's audience (the job needs ``permissions: id-token: write``)."""
    import requests

    answer = requests.get(environ["ACTIONS_ID_TOKEN_REQUEST_URL"], params={"audience": GITHUB_AUDIENCE},
                          headers={"Authorization": f"Bearer {environ['ACTIONS_ID_TOKEN_REQUEST_TOKEN']}"},
                          timeout=30)
    answer.raise_for_status()
    return answer.json()["value"]


def azure_credential(environ: Mapping[str, str] = os.environ) -> Any:
    github = ("ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "AZURE_CLIENT_ID", "AZURE_TENANT_ID")
    if all(environ.get(name) for name in github):
        from azure.identity import ClientAssertionCredential

        return ClientAssertionCredential(environ["AZURE_TENANT_ID"], environ["AZURE_CLIENT_ID"],
                                         lambda: github_id_token(environ))
    if environ.get("AZURESUBSCRIPTION_SERVICE_CONNECTION_ID") and environ.get("SYSTEM_ACCESSTOKEN"):
        from azure.identity import AzurePipelinesCredential

        return AzurePipelinesCredential(tenant_id=environ["AZURESUBSCRIPTION_TENANT_ID"],
                                        client_id=environ["AZURESUBSCRIPTION_CLIENT_ID"],
                                        service_connection_id=environ["AZURESUBSCRIPTION_SERVICE_CONNECTION_ID"],
                                        system_access_token=environ["SYSTEM_ACCESSTOKEN"])
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()
