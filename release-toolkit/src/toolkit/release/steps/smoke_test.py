"""Blue/green environments: the smoke test of the idle slot. The integration-test notebook runs in its
read-only mode from the slot's root on the slot's cluster, and must report the wheel version being
deployed (proof the slot's cluster runs the slot's libraries). The result goes to the ledger, where
`swap` looks for it. A re-deploy that changed nothing does not run it again (unless --retest)."""
from __future__ import annotations

from toolkit.databricks.runs import run_notebook
from toolkit.definitions.adf_deployment import ReplacementError, render
from toolkit.release import ledger
from toolkit.release.deployment import Deployment
from toolkit.release.plan import Plan, StepFailed
from toolkit.release.steps.storage_access import lake_root

EVENT = "smoke-test"


class SmokeTest:
    name = "smoke-test"

    def plan(self, d: Deployment) -> Plan:
        plan = Plan()
        smoke = d.environment.slots.smoke_test
        passed = ledger.last_record(ledger.read_ledger(d.lake())[0], event=EVENT, slot=d.slot, version=d.version,
                                    bundle_digest=d.manifest.digest)
        plan.read(f"last smoke test of slot {d.slot} with this version", passed)
        if passed and passed["outcome"] == "passed" and not d.changed_steps and not d.options.retest:
            plan.notes.append(f"slot {d.slot} passed its smoke test with version {d.version} at {passed['when']} "
                              "and nothing changed since (--retest runs it again)")
            return plan
        plan.add("run", f"notebook {smoke.notebook}", f"read-only, in slot {d.slot} on cluster {d.cluster_name}",
                 writes={"databricks": 1, "storage": 1})  # the run; its result in the ledger
        plan.apply = lambda: self._run(d)
        return plan

    @staticmethod
    def _run(d: Deployment) -> None:
        smoke = d.environment.slots.smoke_test
        settings = d.environment.databricks
        values = {"lake_root": lake_root(d), "table_format": settings.table_format, "slot": d.slot,
                  "version": d.version}
        try:
            parameters = {k: render(v, values, f"slots.smoke_test.parameters.{k}") for k, v in smoke.parameters.items()}
        except ReplacementError as exc:
            raise StepFailed(f"{d.environment.source}: {str(exc).replace('[datafactory.properties] ', '')}") from None
        run = run_notebook(d.workspace, d.value("cluster_id"), f"{d.release_root}/notebooks/{smoke.notebook}",
                           parameters, f"smoke test of {d.version} in slot {d.slot} ({d.environment.name})",
                           smoke.timeout_minutes, d.say)
        output = run.output if isinstance(run.output, dict) else {}
        if not run.succeeded:
            error = f"smoke test of slot {d.slot} ended {run.result_state}: {run.error} (run page: {run.page_url})"
        elif output.get("version") != d.version:
            error = (f"smoke test of slot {d.slot}: its cluster runs parking-sensors {output.get('version')!r}, not "
                     f"{d.version} (a library not installed or not restarted?)")
        else:
            error = None
        d.record(EVENT, "failed" if error else "passed", notebook_run_id=run.run_id, error=error,
                 summary=output or None)
        if error:
            raise StepFailed(error)
        d.say(f"smoke test of slot {d.slot}: version {output['version']}, tables {output.get('tables')}")
        d.results.append(f"smoke test of slot {d.slot} passed: version {output['version']}, tables "
                         f"{output.get('tables')}")
