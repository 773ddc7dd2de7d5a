"""A small JSON client for Azure Resource Manager REST calls that have no convenient SDK model (Data
Factory definitions as ADF's git stores them, listKeys), on azure-core's ARM pipeline: bearer token
with ARM's challenge handling, retries of 408/429/5xx honouring Retry-After, request ids, logging
without secrets."""
from __future__ import annotations

from typing import Any

from toolkit.environments.target import ARM_SCOPE, Target


class ArmRequestError(RuntimeError):
    def __init__(self, status: int, code: str, message: str, where: str):
        super().__init__(f"{where}: {status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class ArmRest:
    def __init__(self, target: Target):
        from azure.core.pipeline import policies
        from azure.core.pipeline.transport import RequestsTransport
        from azure.mgmt.core import ARMPipelineClient
        from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy, ARMHttpLoggingPolicy

        self.target = target
        pipeline = [policies.RequestIdPolicy(), policies.HeadersPolicy(),
                    policies.UserAgentPolicy("parking-sensors-release"), policies.ContentDecodePolicy(),
                    policies.RetryPolicy(), ARMChallengeAuthenticationPolicy(target.credential, ARM_SCOPE),
                    policies.NetworkTraceLoggingPolicy(), ARMHttpLoggingPolicy()]
        self._client = ARMPipelineClient(base_url=target.arm_url, policies=pipeline,
                                         transport=RequestsTransport(**target.client_options()))

    def group_path(self, resource_group: str) -> str:
        return f"/subscriptions/{self.target.subscription_id}/resourceGroups/{resource_group}"

    def call(self, method: str, path: str, api_version: str, body: Any = None,
             not_found_ok: bool = False, params: dict[str, str] | None = None) -> Any:
        """The JSON answer of ``method path`` (None for an empty body, or for 404 when ``not_found_ok``)."""
        from azure.core.rest import HttpRequest

        request = HttpRequest(method, f"{self.target.arm_url}{path}",
                              params={"api-version": api_version, **(params or {})}, json=body)
        response = self._client.send_request(request)
        if response.status_code == 404 and not_found_ok:
            return None
        if response.status_code >= 400:
            try:
                error = response.json().get("error") or {}
            except ValueError:
                error = {}
            raise ArmRequestError(response.status_code, error.get("code", "Error"),
                                  error.get("message", response.text()[:300]), f"{method} {path}")
        return response.json() if response.content else None
