"""One clear line for any failure of a call: what failed and why, without a traceback or a secret."""
from __future__ import annotations

import re

_SIG = re.compile(r"(sig|se|sv|sp|sr|skoid|sktid)=[^&\s]+", re.IGNORECASE)


def explain_error(error: BaseException) -> str:
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError

    if isinstance(error, ServiceRequestError):
        return f"cannot reach the service: {_first_line(error)} (is the endpoint right and reachable?)"
    if isinstance(error, ClientAuthenticationError):
        return f"authentication failed: {_first_line(error)}"
    if isinstance(error, HttpResponseError):
        code = getattr(getattr(error, "error", None), "code", None) or error.reason
        return f"{error.status_code} {code}: {_first_line(error.message or str(error))}"
    try:
        from databricks.sdk.errors import DatabricksError
    except ImportError:  # pragma: no cover
        DatabricksError = ()
    if isinstance(error, DatabricksError):
        return f"Databricks: {type(error).__name__}: {_first_line(error)}"
    import requests

    if isinstance(error, requests.ConnectionError):
        return f"cannot reach the service: {_first_line(error)}"
    return f"{type(error).__name__}: {_first_line(error)}"


def _first_line(error) -> str:
    text = str(error).strip().splitlines()
    return _SIG.sub(r"\1=***", text[0] if text else type(error).__name__)[:400]
