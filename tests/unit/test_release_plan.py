"""How a stage runs its steps: plan, print, apply unless a dry run; stop at the first failure with one line."""
from toolkit.release.plan import NotPlannable, Plan, StageReport, StepFailed, run_steps


class FakeDeployment:
    def __init__(self):
        self.changed_steps = []

    def learn(self, values):
        pass


class FakeStep:
    def __init__(self, name, changes=(), fail=None, plan_error=None):
        self.name, self.changes, self.fail, self.plan_error, self.applied = name, changes, fail, plan_error, False

    def plan(self, deployment):
        if self.plan_error:
            raise self.plan_error
        plan = Plan()
        for change in self.changes:
            plan.add("create", change)

        def apply():
            if self.fail:
                raise self.fail
            self.applied = True
        plan.apply = apply if plan.changes else None
        return plan


def _run(steps, dry_run=False):
    lines = []
    deployment = FakeDeployment()
    report = run_steps(StageReport("deploy-qa", "qa", "sandbox", "1.0", dry_run), steps, deployment, dry_run,
                       lines.append)
    return report, lines, deployment


def test_changes_are_applied_and_recorded():
    steps = [FakeStep("a", ["thing"]), FakeStep("b")]
    report, lines, deployment = _run(steps)
    assert steps[0].applied and [s.status for s in report.steps] == ["changed", "unchanged"]
    assert deployment.changed_steps == ["a"] and "[a] create thing" in lines and "[b] up to date" in lines


def test_a_dry_run_applies_nothing():
    steps = [FakeStep("a", ["thing"]), FakeStep("b", plan_error=NotPlannable("needs a"))]
    report, lines, _ = _run(steps, dry_run=True)
    assert not steps[0].applied and [s.status for s in report.steps] == ["planned", "not-plannable"]
    assert "[a] would create thing" in lines and report.outcome == "succeeded"


def test_a_failure_stops_the_stage_with_one_line():
    steps = [FakeStep("a", ["thing"], fail=StepFailed("the vault refused")), FakeStep("b", ["other"])]
    report, _, _ = _run(steps)
    assert report.outcome == "failed" and report.error == "a: the vault refused"
    assert not steps[1].applied and len(report.steps) == 1


def test_an_unexpected_error_is_explained_in_one_line():
    from azure.core.exceptions import ServiceRequestError

    report, _, _ = _run([FakeStep("a", plan_error=ServiceRequestError("Connection refused\ntraceback..."))])
    assert report.error == ("a: while planning: cannot reach the service: Connection refused (is the endpoint right "
                            "and reachable?)")


def test_signatures_never_reach_an_error_line():
    from toolkit.release.errors import explain_error

    line = explain_error(RuntimeError("GET https://a.blob.core.windows.net/c/b?sv=2024&sig=SECRETSIG%3D&se=x failed"))
    assert "SECRETSIG" not in line and "sig=***" in line
