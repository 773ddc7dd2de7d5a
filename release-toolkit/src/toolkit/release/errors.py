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
        if getattr(error, "error", None) is not None and getattr(error.error, "code", None):
            from toolkit.azure.errors import error_text

            return _redact(f"{error.status_code} {error_text(error.error)}")[:1000]
        return f"{error.status_code} {error.reason}: {_first_line(error.message or str(error))}"
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


def full_text(error: BaseException) -> str:
    """The whole text of a failure (every line, the service's inner details included), secrets redacted: for
    --json and the ledger, where the one-line explanation is not enough to act on."""
    return _redact(f"{type(error).__name__}: {error}")[:20000]


def _redact(text: str) -> str:
    return _SIG.sub(r"\1=***", text)


def _first_line(error) -> str:
    text = str(error).strip().splitlines()
    return _redact(text[0] if text else type(error).__name__)[:400]
