"""Step 8: the integration tests. The ADF pipeline runs (createRun, polled with backoff to a terminal
state, its activity runs printed), then the integration-test notebook runs as a Databricks job against
what the pipeline produced. Either failing fails the stage with the failing activity's error. Results
go to JUnit XML and the environment's ledger; a re-deploy that changed nothing does not run them again
for a version that already passed here (unless --retest)."""
from __future__ import annotations

from toolkit.azure.datafactory import Factory, run_failure, run_values, wait_for_earlier_runs, wait_for_run
from toolkit.databricks.runs import run_notebook
from toolkit.definitions.adf_deployment import ReplacementError, render
from toolkit.release import ledger, promotion
from toolkit.release.deployment import Deployment
from toolkit.release.junit import TestCase, write_junit
from toolkit.release.plan import Plan, StepFailed
from toolkit.release.steps.storage_access import lake_root
from toolkit.signing.trusted_keys import KnownKeys, Trust

EVENT = "integration-tests"


def describe_summary(summary) -> str:
    if not isinstance(summary, dict):
        return str(summary)
    rows = ", ".join(f"{table} {counts.get('good')}/{counts.get('input')} good"
                     for table, counts in (summary.get("rows") or {}).items())
    checks = summary.get("checks") or []
    coverage = "; ".join(f"{name} unknown {c.get('share', 0):.1%}"
                         for name, c in (summary.get("coverage") or {}).items())
    return (f"load {summary.get('load_id')}: {rows}; {summary.get('fact_rows')} facts; "
            f"{sum(1 for c in checks if not c.get('violations'))}/{len(checks)} checks passed"
            + (f"; reference coverage: {coverage}" if coverage else ""))


def coverage_breaches(summary, maximum: dict[str, float], source: str) -> list[str]:
    """The dimensions whose share of facts at the unknown member is above the environment's maximum. A
    dimension the maximum names but the notebook did not report is a breach too: the gate cannot be checked."""
    coverage = (summary.get("coverage") if isinstance(summary, dict) else None) or {}
    breaches = []
    for name, limit in sorted(maximum.items()):
        measured = coverage.get(name)
        if measured is None:
            breaches.append(f"{name}: the integration-test notebook reported no reference coverage for it "
                            f"({source} integration_tests.max_unknown_share names it)")
        elif measured["share"] > limit:
            breaches.append(f"{name}: {measured['unknown']} of {measured['facts']} facts ({measured['share']:.2%}) "
                            f"point at its unknown member, above the maximum {limit:.2%} "
                            f"({source} integration_tests.max_unknown_share)")
    return breaches


class IntegrationTests:
    name = "integration-tests"

    def plan(self, d: Deployment) -> Plan:
        plan = Plan()
        tests = d.environment.integration_tests
        if tests is None:
            plan.notes.append(f"{d.environment.source} defines no [integration_tests]")
            return plan
        passed = ledger.last_record(ledger.read_ledger(d.lake())[0], event=EVENT, version=d.version,
                                    bundle_digest=d.manifest.digest)
        plan.read("last integration tests of this version", passed)
        if passed and passed["outcome"] == "passed" and not d.changed_steps and not d.options.retest:
            if d.store is None or promotion.passed_in(d.store, d.version, d.manifest.digest, d.environment.name,
                                                      self._own_trust(d)):
                plan.notes.append(f"version {d.version} passed its integration tests here at {passed['when']} and "
                                  "nothing changed since (--retest runs them again)")
                return plan
            # Evidence is signed only for tests this run saw pass: the ledger lives in the environment's lake,
            # and a row there is no proof.
            plan.notes.append(f"version {d.version} passed here at {passed['when']}, but its signed promotion "
                              f"evidence is not in {d.store.describe()}: the tests run again to sign it")
        # Besides these, the pipeline's own activities write what they produce (the run makes them, not the release).
        plan.add("run", f"pipeline {tests.pipeline}", ", ".join(f"{k}={v}" for k, v in tests.parameters.items()),
                 writes={"arm": 1})
        plan.add("run", f"notebook {tests.notebook}", "as a Databricks job; its result in the ledger",
                 writes={"databricks": 1, "storage": 1})
        plan.apply = lambda: self._run(d)
        return plan

    @staticmethod
    def _own_trust(d: Deployment) -> Trust:
        """Evidence this stage itself signed (with its current key): what it would write again."""
        return KnownKeys.only(d.evidence_signer.trusted_key(), d.evidence_signer.describe(),
                              f"{d.environment.name}'s own evidence")

    def _run(self, d: Deployment) -> None:
        tests = d.environment.integration_tests
        factory = Factory(d.rest, d.resource_group, d.output("dataFactoryName"))
        cases: list[TestCase] = []
        record = {"pipeline": tests.pipeline}
        try:
            run, activities = self._pipeline(d, factory, tests)
            record["pipeline_run_id"] = run["runId"]
            for activity in activities:
                error = (activity.get("error") or {}).get("message") if activity.get("status") == "Failed" else None
                cases.append(TestCase(activity["activityName"], f"adf.{tests.pipeline}",
                                      (activity.get("durationInMs") or 0) / 1000, error))
            if run["status"] != "Succeeded":
                raise StepFailed(f"pipeline run {run['runId']} of {tests.pipeline} ended {run['status']}: "
                                 f"{run_failure(run, activities)}")
            notebook = self._notebook(d, tests, run, activities)
            record["notebook_run_id"] = notebook.run_id
            cases.append(TestCase(tests.notebook, "databricks", notebook.seconds,
                                  None if notebook.succeeded else f"{notebook.result_state}: {notebook.error}",
                                  str(notebook.output)))
            if not notebook.succeeded:
                raise StepFailed(f"integration-test notebook {tests.notebook} ended {notebook.result_state}: "
                                 f"{notebook.error} (run page: {notebook.page_url})")
            record["summary"] = notebook.output
            breaches = coverage_breaches(notebook.output, tests.max_unknown_share, d.environment.source)
            if breaches:
                cases.append(TestCase("reference coverage", "quality", 0, "; ".join(breaches)))
                raise StepFailed(f"reference coverage of load {run['runId']}: {'; '.join(breaches)}")
            d.say(f"integration-test notebook: {describe_summary(notebook.output)}")
            d.results.append(f"integration tests of {d.version} passed: {describe_summary(notebook.output)}")
        except StepFailed as failure:
            d.record(EVENT, "failed", error=str(failure), **record)
            raise
        finally:
            if d.reports is not None and cases:
                path = write_junit(d.reports / f"integration-{d.environment.name}.xml",
                                   f"integration tests of {d.environment.name}", cases)
                d.say(f"JUnit report: {path}")
        d.record(EVENT, "passed", **record)
        if d.store is not None:  # kept with the version: QA's ledger goes when QA is torn down
            promotion.record_passed(d.store, d.manifest, ledger.new_record(
                EVENT, d.environment.name, d.version, d.manifest.digest, "passed", resource_group=d.resource_group,
                **record), d.evidence_signer)

    @staticmethod
    def _pipeline(d: Deployment, factory: Factory, tests) -> tuple[dict, list[dict]]:
        try:
            wait_for_earlier_runs(factory, tests.pipeline, tests.timeout_minutes, d.say)
        except TimeoutError as exc:
            raise StepFailed(f"an earlier run of {tests.pipeline} is still running: {exc}") from None
        run_id = factory.create_run(tests.pipeline, tests.parameters)
        d.say(f"pipeline {tests.pipeline} run {run_id} started")
        try:
            return wait_for_run(factory, run_id, tests.timeout_minutes, d.say)
        except TimeoutError as exc:
            raise StepFailed(str(exc)) from None

    @staticmethod
    def _notebook(d: Deployment, tests, run: dict, activities: list[dict]):
        values = {**run_values(run, activities), "lake_root": lake_root(d),
                  "table_format": d.environment.databricks.table_format}
        try:
            parameters = {k: render(v, values, f"integration_tests.notebook_parameters.{k}")
                          for k, v in tests.notebook_parameters.items()}
        except ReplacementError as exc:
            raise StepFailed(str(exc).replace("[datafactory.properties] ", "")) from None
        return run_notebook(d.workspace, d.value("cluster_id"), f"{d.release_root}/notebooks/{tests.notebook}",
                            parameters, f"integration tests of {d.version} ({d.environment.name})",
                            tests.timeout_minutes, d.say)
