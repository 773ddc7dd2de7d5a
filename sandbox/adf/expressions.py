"""The subset of the ADF expression language the project's definitions use.

A value is an expression when it is ``{"value": "@...", "type": "Expression"}`` or a string that
starts with ``@`` (``@@`` escapes a literal ``@``); ``@{...}`` interpolates inside a string.
Functions: pipeline(), variables(), activity(), dataset(), linkedService(), utcnow(),
formatDateTime(), concat(), string(), int(), equals(), toLower(), toUpper(). Anything else fails
with an error that names it.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Callable

from sandbox.expression_language import ExpressionError, FunctionLanguage

_NET_FORMAT = re.compile(r"yyyy|yy|MM|dd|HH|hh|mm|ss|f{1,7}|tt|.", re.DOTALL)


def format_datetime(value: Any, fmt: str | None = None) -> str:
    """.NET custom date format (the subset ADF users write) of an ISO 8601 timestamp."""
    if isinstance(value, datetime):
        instant = value
    else:
        instant = datetime.fromisoformat(str(value)[:26].rstrip("Z").replace(" ", "T"))
    if fmt is None:
        return instant.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
    parts = {"yyyy": "%Y", "yy": "%y", "MM": "%m", "dd": "%d", "HH": "%H", "hh": "%I", "mm": "%M", "ss": "%S",
             "tt": "%p"}
    out = []
    for token in _NET_FORMAT.findall(fmt):
        if token in parts:
            out.append(instant.strftime(parts[token]))
        elif token.startswith("f"):
            out.append(f"{instant.microsecond:06d}{'0'}"[:len(token)])
        else:
            out.append(token)
    return "".join(out)


class Evaluator(FunctionLanguage):
    """Evaluates ADF expressions against a run's context: pipeline, variables, activity outputs, scopes."""

    def __init__(self, pipeline: dict, variables: dict, activities: dict, scope: dict | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.pipeline, self.variables, self.activities = pipeline, variables, activities
        self.scope = scope or {}  # dataset() / linkedService() parameters
        self.now = now

    def with_scope(self, scope: dict) -> "Evaluator":
        return Evaluator(self.pipeline, self.variables, self.activities, scope, self.now)

    # -- values --------------------------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        """A JSON value with every expression in it evaluated."""
        if isinstance(value, dict):
            if value.get("type") == "Expression" and set(value) <= {"value", "type"}:
                return self.evaluate_text(value["value"])
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, str):
            return self.evaluate_text(value)
        return value

    def evaluate_text(self, text: str) -> Any:
        if text.startswith("@@"):
            return text[1:]
        if text.startswith("@") and not text.startswith("@{"):
            return self.evaluate(text[1:])
        if "@{" in text:
            return re.sub(r"@\{([^}]*)\}", lambda m: str(self.evaluate(m.group(1))), text)
        return text

    def _call(self, name: str, args: list) -> Any:
        if name == "pipeline":
            return self.pipeline
        if name == "variables":
            if args[0] not in self.variables:
                raise ExpressionError(f"variable {args[0]!r} is not set")
            return self.variables[args[0]]
        if name == "activity":
            if args[0] not in self.activities:
                raise ExpressionError(f"activity {args[0]!r} has not run")
            return self.activities[args[0]]
        if name in ("dataset", "linkedService"):
            return self.scope
        if name == "utcnow":
            return format_datetime(self.now(), args[0] if args else None)
        if name == "formatDateTime":
            return format_datetime(args[0], args[1] if len(args) > 1 else None)
        simple = {"concat": lambda *a: "".join(str(x) for x in a), "string": str, "int": int,
                  "equals": lambda a, b: a == b, "toLower": str.lower, "toUpper": str.upper}
        if name in simple:
            return simple[name](*args)
        raise ExpressionError(f"the sandbox does not support the expression function {name}()")
