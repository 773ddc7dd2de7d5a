"""A notebook run as a one-time Databricks job on an existing cluster, waited for with progress.
``jobs.submit(...).result()`` returns when the run is TERMINATED, whatever its outcome: the result
state is what says whether it succeeded."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable


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


def run_notebook(workspace, cluster_id: str, notebook_path: str, parameters: dict[str, str], run_name: str,
                 timeout_minutes: int, say: Callable[[str], None]) -> NotebookRun:
    import time

    from databricks.sdk.service.jobs import NotebookTask, SubmitTask

    started = time.monotonic()
    waiter = workspace.jobs.submit(run_name=run_name, tasks=[SubmitTask(
        task_key="notebook", existing_cluster_id=cluster_id,
        notebook_task=NotebookTask(notebook_path=notebook_path, base_parameters=parameters))])
    say(f"Databricks run {waiter.run_id} of {notebook_path} started")

    def report(run) -> None:
        state = run.state.life_cycle_state.value if run.state and run.state.life_cycle_state else "?"
        say(f"Databricks run {waiter.run_id}: {state} ({time.monotonic() - started:.0f}s)")
    run = waiter.result(timeout=timedelta(minutes=timeout_minutes), callback=report)
    result_state = run.state.result_state.value if run.state and run.state.result_state else "NONE"
    task_run = run.tasks[0].run_id if run.tasks else run.run_id
    output = workspace.jobs.get_run_output(task_run)
    value = output.notebook_output.result if output.notebook_output else None
    try:
        value = json.loads(value) if value is not None else None
    except ValueError:
        pass
    error = output.error or (run.state.state_message if result_state != "SUCCESS" and run.state else None)
    return NotebookRun(waiter.run_id, result_state, run.run_page_url, value, error,
                       round(time.monotonic() - started, 1))
