"""CI pipeline definitions must only call invoke tasks that exist (through `inv`, `./dev inv` or the installed
`parking-release`, whose arguments a release job template may take as a `command` or `after` parameter)."""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

PIPELINE_GLOBS = (".azure-pipelines/*.yml", ".azure-pipelines/templates/*.yml", ".github/workflows/*.yml")
_SCRIPT_KEYS = {"script", "run", "bash", "inlineScript"}
_COMMAND_KEYS = {"command", "after"}  # a release job's parking-release arguments
_INVOKE = {"inv", "invoke", "parking-release"}  # the programs that run tasks
_VALUE_OPTIONS = {"--root", "-f", "--config", "-c", "--collection", "-r", "--search-root"}  # theirs, with a value


INSTALLED = "parking-release"  # the installed toolkit's program: only the release tasks, not the clone's own


@dataclass(frozen=True)
class TaskCall:
    file: str
    task: str
    program: str = "inv"


def _scripts(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _SCRIPT_KEYS and isinstance(value, str):
                yield value
            elif key in _COMMAND_KEYS and isinstance(value, str) and value and not value.startswith("$"):
                yield f"{INSTALLED} {value}"
            else:
                yield from _scripts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _scripts(item)


def tasks_called(script: str) -> list[tuple[str, str]]:
    """(program, task) of each invoke task a shell script calls (``inv TASK``, ``./dev inv TASK``,
    ``parking-release TASK``); a task given by a pipeline expression (``parking-release ${{ inputs.command }}``) is
    checked where it is set."""
    names = []
    for line in script.splitlines():
        for command in re.split(r"&&|\|\||;|\|", line):
            try:
                words = shlex.split(command, comments=True)
            except ValueError:  # not a command line of its own (a sed expression's backslashes, a heredoc)
                words = command.split()
            for i, word in enumerate(words):
                if word in _INVOKE:
                    task = _first_argument(words[i + 1:])
                    if task and not task.startswith("$"):
                        names.append((INSTALLED if word == INSTALLED else "inv", task))
                    break
    return names


def _first_argument(words: list[str]) -> str | None:
    """The first word that is neither an option nor the value of one of the program's own options."""
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word in _VALUE_OPTIONS:
            skip = True
        elif not word.startswith("-"):
            return word
    return None


def task_calls(root: Path, globs: Iterable[str] = PIPELINE_GLOBS) -> list[TaskCall]:
    import yaml

    calls = []
    for pattern in globs:
        for path in sorted(root.glob(pattern)):
            document = yaml.safe_load(path.read_text())
            for script in _scripts(document):
                calls += [TaskCall(str(path.relative_to(root)), t, program) for program, t in tasks_called(script)]
    return calls


def unknown_task_calls(root: Path, known: Iterable[str], installed: Iterable[str] | None = None) -> list[TaskCall]:
    """Calls of tasks that do not exist: ``known`` for `inv`, ``installed`` (default: the same) for
    `parking-release`."""
    known = set(known)
    installed = known if installed is None else set(installed)
    return [call for call in task_calls(root)
            if call.task not in (installed if call.program == INSTALLED else known)]
