"""A small JSON client for Azure Resource Manager REST calls that have no convenient SDK model (Data
Factory definitions as ADF's git stores them, listKeys), on azure-core's ARM pipeline: bearer token
with ARM's challenge handling, retries of 408/429/5xx honouring Retry-After, request ids, logging
without secrets."""
from __future__ import annotations

from typing import Any, Iterator

from toolkit.environments.target import ARM_SCOPE, RETRY_OPTIONS, Target


class ArmRequestError(RuntimeError):
    def __init__(self, status: int, code: str, message: str, where: str, details: list | None = None):
        from toolkit.azure.errors import error_text

        details = [d for d in details or [] if isinstance(d, dict)]
        super().__init__(f"{where}: {status} {error_text({'code': code, 'message': message, 'details': details})}")
        self.status, self.code, self.message, self.details = status, code, message, details or []


class ArmRest:
    def __init__(self, target: Target):
        from azure.core.pipeline import policies
        from azure.core.pipeline.transport import RequestsTransport
        from azure.mgmt.core import ARMPipelineClient
        from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy, ARMHttpLoggingPolicy

        self.target = target
        pipeline = [policies.RequestIdPolicy(), policies.HeadersPolicy(),
                    policies.UserAgentPolicy("parking-sensors-release"), policies.ContentDecodePolicy(),
                    policies.RetryPolicy(**RETRY_OPTIONS),
                    ARMChallengeAuthenticationPolicy(target.credential, ARM_SCOPE),
                    policies.NetworkTraceLoggingPolicy(), ARMHttpLoggingPolicy()]
        self._client = ARMPipelineClient(base_url=target.arm_url, policies=pipeline,
                                         transport=RequestsTransport(**target.transport_options()))

    def group_path(self, resource_group: str) -> str:
        return f"/subscriptions/{self.target.subscription_id}/resourceGroups/{resource_group}"

    def call(self, method: str, path: str, api_version: str, body: Any = None,
             not_found_ok: bool = False, params: dict[str, str] | None = None) -> Any:
        """The JSON answer of ``method path`` (None for an empty body, or for 404 when ``not_found_ok``)."""
        from azure.core.rest import HttpRequest

        request = HttpRequest(method, f"{self.target.arm_url}{path}",
                              params={"api-version": api_version, **(params or {})}, json=body)
        return self._answer(request, f"{method} {path}", not_found_ok)

    def long_running(self, method: str, path: str, api_version: str, body: Any = None) -> None:
        """A long-running ARM operation (202 + Location or Azure-AsyncOperation), polled by azure-mgmt-core's
        ARMPolling (honouring Retry-After) until it ends; a failure raises ArmRequestError."""
        from azure.core.exceptions import HttpResponseError
        from azure.core.polling import LROPoller
        from azure.core.rest import HttpRequest
        from azure.mgmt.core.polling.arm_polling import ARMPolling

        request = HttpRequest(method, f"{self.target.arm_url}{path}", params={"api-version": api_version}, json=body)
        where = f"{method} {path}"
        first = self._client._pipeline.run(request)  # a PipelineResponse, which the poller starts from
        if first.http_response.status_code >= 400:
            self._raise(first.http_response, where)
        try:
            LROPoller(self._client, first, lambda response: None, ARMPolling(1)).result()
        except HttpResponseError as exc:
            raise ArmRequestError(exc.status_code or 0, getattr(exc.error, "code", None) or "Error",
                                  exc.message.splitlines()[0], where) from None

    def pages(self, path: str, api_version: str) -> Iterator[Any]:
        """Every item of a pageable list: ``value`` of each page, following ``nextLink`` exactly as given (its
        query string holds the continuation token; dropping it would fetch the first page forever)."""
        from azure.core.rest import HttpRequest

        answer = self.call("GET", path, api_version)
        while True:
            yield from answer.get("value", [])
            link = answer.get("nextLink")
            if not link:
                return
            answer = self._answer(HttpRequest("GET", link), f"GET {path} (next page)", False)

    def _answer(self, request, where: str, not_found_ok: bool) -> Any:
        response = self._client.send_request(request)
        if response.status_code == 404 and not_found_ok:
            return None
        if response.status_code >= 400:
            self._raise(response, where)
        return response.json() if response.content else None

    @staticmethod
    def _raise(response, where: str) -> None:
        try:
            error = response.json().get("error") or {}
        except ValueError:
            error = {}
        raise ArmRequestError(response.status_code, error.get("code", "Error"),
                              error.get("message", response.text()[:300]), where, error.get("details"))
