"""The subset of the ARM template language the project's templates use, evaluated for real.

Expressions are strings in brackets (``"[concat(...)]"``; ``"[["`` escapes a literal bracket).
Functions: parameters, variables, concat, toLower, toUpper, uniqueString, guid, take, resourceGroup,
subscription, resourceId, subscriptionResourceId, reference, format, string, bool. Anything else is
refused with an error naming the function and where it is used.

``guid`` is ARM's own: a version-5 UUID of its arguments joined with "-", in the namespace
11fb06fb-712d-4ddd-98c7-e71bbd588830 (Azure/bicep, GuidFunction; see sandbox/RULES.md rbac.guid).

``uniqueString`` is deterministic like ARM's but not bit-identical to it (ARM's hash is not
published): names differ from Azure's, and stay stable across deployments.
"""
from __future__ import annotations

import base64
import hashlib
import re
import uuid
from typing import Any, Callable

from sandbox.expression_language import ExpressionError, FunctionLanguage

PARAMETER_TYPES = {"string": str, "securestring": str, "int": int, "bool": bool, "object": dict,
                   "secureobject": dict, "array": list}


class TemplateError(ValueError):
    """A template the sandbox cannot deploy: names the JSON path and the problem (code InvalidTemplate)."""


GUID_NAMESPACE = uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830")


def guid(*parts: str) -> str:
    return str(uuid.uuid5(GUID_NAMESPACE, "-".join(parts)))


def unique_string(*parts: str) -> str:
    digest = hashlib.sha256("-".join(parts).encode()).digest()
    return base64.b32encode(digest).decode().lower()[:13]


class TemplateContext(FunctionLanguage):
    def __init__(self, template: dict, parameters: dict, subscription: str, tenant: str, group: dict,
                 reference: Callable[[str, bool], dict]):
        self.template, self.subscription, self.tenant, self.group = template, subscription, tenant, group
        self._reference = reference
        self.parameters = self._bind_parameters(parameters)
        self._variables: dict[str, Any] = {}

    # -- parameters and variables ---------------------------------------------------------------
    def _bind_parameters(self, given: dict) -> dict:
        declared = self.template.get("parameters") or {}
        unknown = sorted(set(given) - set(declared))
        if unknown:
            raise TemplateError(f"$.parameters: the template does not declare parameter '{unknown[0]}'")
        bound = {}
        for name, spec in declared.items():
            if name in given:
                value = given[name].get("value") if isinstance(given[name], dict) else given[name]
            elif "defaultValue" in spec:
                value = self.resolve(spec["defaultValue"], f"$.parameters.{name}.defaultValue")
            else:
                raise TemplateError(f"$.parameters.{name}: the deployment sets no value for required parameter "
                                    f"'{name}'")
            expected = PARAMETER_TYPES.get(str(spec.get("type", "string")).lower(), object)
            if not isinstance(value, expected):
                raise TemplateError(f"$.parameters.{name}: expected a {spec.get('type')}, got {value!r}")
            if "allowedValues" in spec and value not in spec["allowedValues"]:
                raise TemplateError(f"$.parameters.{name}: {value!r} is not one of {spec['allowedValues']}")
            if "maxLength" in spec and len(value) > spec["maxLength"]:
                raise TemplateError(f"$.parameters.{name}: longer than maxLength {spec['maxLength']}")
            if "minLength" in spec and len(value) < spec["minLength"]:
                raise TemplateError(f"$.parameters.{name}: shorter than minLength {spec['minLength']}")
            bound[name] = value
        return bound

    def variable(self, name: str) -> Any:
        if name not in self._variables:
            declared = self.template.get("variables") or {}
            if name not in declared:
                raise ExpressionError(f"variable '{name}' is not declared")
            self._variables[name] = self.resolve(declared[name], f"$.variables.{name}")
        return self._variables[name]

    # -- evaluation ------------------------------------------------------------------------------
    def resolve(self, value: Any, path: str = "$") -> Any:
        if isinstance(value, dict):
            return {k: self.resolve(v, f"{path}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, str) and value.startswith("[") and value.endswith("]"):
            if value.startswith("[["):
                return value[1:]
            try:
                return self.evaluate(value[1:-1])
            except ExpressionError as error:
                raise TemplateError(f"{path}: {error}") from None
        return value

    def _call(self, name: str, args: list) -> Any:
        key = name.lower()
        simple: dict[str, Callable[..., Any]] = {
            "concat": lambda *a: [x for part in a for x in part] if a and isinstance(a[0], list)
            else "".join(str(x) for x in a),
            "tolower": str.lower, "toupper": str.upper, "string": str,
            "uniquestring": unique_string, "guid": guid,
            "bool": lambda v: v if isinstance(v, bool) else str(v).lower() == "true",
            "equals": lambda a, b: a == b, "not": lambda v: not v,
            "take": lambda value, count: value[:count],
            "format": lambda fmt, *a: re.sub(r"\{(\d+)\}", lambda m: str(a[int(m.group(1))]), fmt),
        }
        if key in simple:
            return simple[key](*args)
        if key == "parameters":
            if args[0] not in self.parameters:
                raise ExpressionError(f"parameter '{args[0]}' is not declared")
            return self.parameters[args[0]]
        if key == "variables":
            return self.variable(args[0])
        if key == "resourcegroup":
            return {"id": f"/subscriptions/{self.subscription}/resourceGroups/{self.group['name']}",
                    "name": self.group["name"], "location": self.group["location"]}
        if key == "subscription":
            return {"id": f"/subscriptions/{self.subscription}", "subscriptionId": self.subscription,
                    "tenantId": self.tenant}
        if key == "resourceid":
            return resource_id(self.subscription, self.group["name"], args[0], *args[1:])
        if key == "subscriptionresourceid":
            kind, *names = args
            return f"/subscriptions/{self.subscription}/providers/{kind}/{'/'.join(names)}" if "/" in kind and \
                not kind.startswith("Microsoft.Resources/resourceGroups") else \
                f"/subscriptions/{self.subscription}/resourceGroups/{names[0]}"
        if key == "reference":
            return self._reference(args[0], len(args) > 2 and str(args[2]).lower() == "full")
        raise ExpressionError(f"the sandbox does not support the template function {name}()")


def resource_id(subscription: str, group: str, kind: str, *names: str) -> str:
    provider, *types = kind.split("/")
    if len(types) != len(names):
        raise ExpressionError(f"resourceId('{kind}', ...) needs {len(types)} name(s), got {len(names)}")
    path = "/".join(f"{t}/{n}" for t, n in zip(types, names))
    return f"/subscriptions/{subscription}/resourceGroups/{group}/providers/{provider}/{path}"
