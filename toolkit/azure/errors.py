"""Azure's errors in one line: ARM and its providers nest the cause (AccountNameInvalid, VaultAlreadyExists,
...) inside an outer code (InvalidTemplateDeployment, DeploymentFailed), which a first line alone hides."""
from __future__ import annotations


def error_text(error) -> str:
    """``Code: message (InnerCode: inner message; ...)`` of an ARM error object (azure-core's ODataV4Format or
    a management SDK's error model: anything with code, message and details), inner errors included."""
    if error is None:
        return "no error detail"
    details = "; ".join(error_text(d) for d in (getattr(error, "details", None) or []))
    message = " ".join(str(getattr(error, "message", "") or "").split())
    return f"{getattr(error, 'code', None) or 'Error'}: {message}" + (f" ({details})" if details else "")
