"""A notebook run as a one-time Databricks job on an existing cluster, waited for with progress.
``jobs.submit(...).result()`` returns when the run is TERMINATED, whatever its outcome: the result
state is what says whether it succeeded. A run can also end in INTERNAL_ERROR or SKIPPED (the SDK's waiter
raises then) or outlast its timeout (it is cancelled): each comes back as a NotebookRun that did not succeed,
with its run id and the reason."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable

from toolkit.progress import Heartbeat


@dataclass
class NotebookRun:
    run_id: int
    result_state: str
    page_url: str | None
    output: Any  # the notebook's exit value (JSON decoded when it is JSON)
    error: str | None
    seconds: float

    @property
    def succeeded(self) -> bool:
        return self.result_state == "SUCCESS"


def _cancel(workspace, run_id: int, say: Callable[[str], None]) -> None:
    try:
        workspace.jobs.cancel_run(run_id)
        say(f"Databricks run {run_id} cancelled")
    except Exception as exc:
        say(f"could not cancel Databricks run {run_id} ({type(exc).__name__}: {str(exc).splitlines()[0]})")


def run_notebook(workspace, cluster_id: str, notebook_path: str, parameters: dict[str, str], run_name: str,
                 timeout_minutes: int, say: Callable[[str], None]) -> NotebookRun:
    import time

    from databricks.sdk.errors import DatabricksError, OperationFailed
    from databricks.sdk.service.jobs import NotebookTask, SubmitTask

    started = time.monotonic()
    waiter = workspace.jobs.submit(run_name=run_name, tasks=[SubmitTask(
        task_key="notebook", existing_cluster_id=cluster_id,
        notebook_task=NotebookTask(notebook_path=notebook_path, base_parameters=parameters))])
    say(f"Databricks run {waiter.run_id} of {notebook_path} started")
    heartbeat = Heartbeat(say, f"Databricks run {waiter.run_id}: PENDING")

    def report(run) -> None:
        state = run.state.life_cycle_state.value if run.state and run.state.life_cycle_state else "?"
        if f": {state}" not in heartbeat.state:
            say(f"Databricks run {waiter.run_id}: {state} ({heartbeat.elapsed()})")
        heartbeat.update(f"Databricks run {waiter.run_id}: {state}")
    try:
        with heartbeat:
            run = waiter.result(timeout=timedelta(minutes=timeout_minutes), callback=report)
    except KeyboardInterrupt:  # the caller was interrupted: the run it started does not go on without it
        _cancel(workspace, waiter.run_id, say)
        raise
    except OperationFailed:
        # INTERNAL_ERROR (or another end that is not TERMINATED): the SDK's waiter raises, but the run, its id
        # and its state message are what the caller records.
        run = workspace.jobs.get_run(waiter.run_id)
    except TimeoutError:
        workspace.jobs.cancel_run(waiter.run_id)
        return NotebookRun(waiter.run_id, "TIMEDOUT", None, None,
                           f"did not finish within {timeout_minutes} minutes (cancelled)",
                           round(time.monotonic() - started, 1))
    state = run.state
    result_state = state.result_state.value if state and state.result_state else \
        state.life_cycle_state.value if state and state.life_cycle_state else "NONE"
    task_run = run.tasks[0].run_id if run.tasks else run.run_id
    value, error = None, None
    try:
        output = workspace.jobs.get_run_output(task_run)
        value, error = (output.notebook_output.result if output.notebook_output else None), output.error
    except DatabricksError as exc:  # a run that ended in an internal error may have no output
        error = str(exc)
    try:
        value = json.loads(value) if value is not None else None
    except ValueError:
        pass
    error = error or (state.state_message if result_state != "SUCCESS" and state else None)
    return NotebookRun(waiter.run_id, result_state, run.run_page_url, value, error,
                       round(time.monotonic() - started, 1))
