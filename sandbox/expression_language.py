"""The grammar ADF expressions and ARM template expressions share: function calls, literals and
property access. Each service supplies its own functions."""
from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
                    r"|(?P<punct>[().,\[\]]))")


class ExpressionError(ValueError):
    pass


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            if text[position:].strip() == "":
                break
            raise ExpressionError(f"cannot read expression {text!r} at position {position}")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class FunctionLanguage:
    """Function calls, string/number/boolean literals and property access (``f(x).a.b``, ``f(x)['a']``):
    the grammar ADF expressions and ARM template expressions share. Subclasses implement ``_call``."""

    def evaluate(self, expression: str) -> Any:
        tokens = _tokens(expression)
        value, rest = self._expression(tokens)
        if rest:
            raise ExpressionError(f"unexpected {rest[0][1]!r} in expression {expression!r}")
        return value

    def _call(self, name: str, args: list) -> Any:
        raise NotImplementedError

    # -- parser -----------------------------------------------------------------------------------
    def _expression(self, tokens):
        if not tokens:
            raise ExpressionError("empty expression")
        kind, text = tokens[0]
        rest = tokens[1:]
        if kind == "string":
            value = text[1:-1].replace("''", "'")
        elif kind == "number":
            value = float(text) if "." in text else int(text)
        elif kind == "name" and text in ("true", "false", "null"):
            value = {"true": True, "false": False, "null": None}[text]
        elif kind == "name" and rest and rest[0] == ("punct", "("):
            args, rest = self._arguments(rest[1:])
            value = self._call(text, args)
        else:
            raise ExpressionError(f"unexpected {text!r}")
        return self._accessors(value, rest)

    def _arguments(self, tokens):
        args = []
        if tokens and tokens[0] == ("punct", ")"):
            return args, tokens[1:]
        while True:
            value, tokens = self._expression(tokens)
            args.append(value)
            if not tokens:
                raise ExpressionError("unclosed function call")
            if tokens[0] == ("punct", ")"):
                return args, tokens[1:]
            if tokens[0] != ("punct", ","):
                raise ExpressionError(f"expected ',' or ')', got {tokens[0][1]!r}")
            tokens = tokens[1:]

    def _accessors(self, value, tokens):
        while tokens and tokens[0] in (("punct", "."), ("punct", "[")):
            if tokens[0] == ("punct", "."):
                key, tokens = tokens[1][1], tokens[2:]
            else:
                key, tokens = self._expression(tokens[1:])
                tokens = tokens[1:]  # the closing bracket
            try:
                value = value[key]
            except (KeyError, IndexError, TypeError):
                raise ExpressionError(f"property {key!r} does not exist") from None
        return value, tokens
