"""Azure's errors in one line: ARM and its providers nest the cause (AccountNameInvalid, VaultAlreadyExists,
...) inside an outer code (InvalidTemplateDeployment, DeploymentFailed), which a first line alone hides."""
from __future__ import annotations


def error_text(error) -> str:
    """``Code: message (InnerCode: inner message; ...)`` of an ARM error: azure-core's ODataV4Format, a management
    SDK's error model, or the JSON ``error`` object itself (code, message, details), inner errors included."""
    if error is None:
        return "no error detail"
    details = "; ".join(error_text(d) for d in (_field(error, "details") or []))
    message = " ".join(str(_field(error, "message") or "").split())
    return f"{_field(error, 'code') or 'Error'}: {message}" + (f" ({details})" if details else "")


def _field(error, name: str):
    return error.get(name) if isinstance(error, dict) else getattr(error, name, None)
