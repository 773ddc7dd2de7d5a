"""CI pipeline definitions must only call invoke tasks that exist."""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

PIPELINE_GLOBS = (".azure-pipelines/*.yml", ".github/workflows/*.yml")
_SCRIPT_KEYS = {"script", "run", "bash"}
_INVOKE = {"inv", "invoke"}


@dataclass(frozen=True)
class TaskCall:
    file: str
    task: str


def _scripts(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _SCRIPT_KEYS and isinstance(value, str):
                yield value
            else:
                yield from _scripts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _scripts(item)


def tasks_called(script: str) -> list[str]:
    """Names of the invoke tasks a shell script calls (``inv TASK`` or ``./dev inv TASK``)."""
    names = []
    for line in script.splitlines():
        for command in re.split(r"&&|\|\||;|\|", line):
            words = shlex.split(command, comments=True)
            for i, word in enumerate(words):
                if word in _INVOKE:
                    following = [w for w in words[i + 1:] if not w.startswith("-")]
                    if following:
                        names.append(following[0])
                    break
    return names


def task_calls(root: Path, globs: Iterable[str] = PIPELINE_GLOBS) -> list[TaskCall]:
    import yaml

    calls = []
    for pattern in globs:
        for path in sorted(root.glob(pattern)):
            document = yaml.safe_load(path.read_text())
            for script in _scripts(document):
                calls += [TaskCall(str(path.relative_to(root)), t) for t in tasks_called(script)]
    return calls


def unknown_task_calls(root: Path, known: Iterable[str]) -> list[TaskCall]:
    known = set(known)
    return [call for call in task_calls(root) if call.task not in known]
