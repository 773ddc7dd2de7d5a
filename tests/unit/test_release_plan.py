"""How a stage runs its steps: plan, print, apply unless a dry run; stop at the first failure with one line."""
import json
from types import SimpleNamespace

import pytest

from toolkit.configuration import ConfigError
from toolkit.release.plan import (Difference, NotPlannable, Plan, StageReport, StepFailed, differences, fingerprint,
                                  run_steps)
from toolkit.release.saved_plan import PlanRefused, canonical, plan_document, read_plan, write_plan


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
            plan.add("create", change, writes={"arm": 1})

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


# -- plans as data, saved and applied (toolkit/release/saved_plan.py) ---------------------------------------------
class ReadingStep:
    """A step whose plan reads one remote item (``world[name]``) and changes it when it is not 'wanted'."""

    def __init__(self, name, world):
        self.name, self.world, self.applied = name, world, 0

    def plan(self, deployment):
        plan = Plan()
        plan.read(f"item {self.name}", self.world[self.name])
        if self.world[self.name] != "wanted":
            plan.add("update", f"item {self.name}", writes={"arm": 1},
                     reasons=[Difference("value", self.world[self.name], "wanted")])

            def apply():
                self.applied += 1
            plan.apply = apply
        return plan


class PlannableDeployment(FakeDeployment):
    def __init__(self):
        super().__init__()
        self.options = SimpleNamespace(dry_run=False)
        self.outputs = {}


def _saved(tmp_path, steps, **document):
    report = run_steps(StageReport("deploy-prod", "prod", "sandbox", "1.0", True), steps, PlannableDeployment(), True,
                       lambda line: None)
    path = tmp_path / "plan.json"
    digest = write_plan(path, plan_document(report, bundle_digest="d" * 64, options={"force": False}, **document))
    return read_plan(path, digest)


def test_a_plan_is_data_with_reasons_write_counts_and_fingerprints(tmp_path):
    world = {"a": "old", "b": "wanted"}
    saved = _saved(tmp_path, [ReadingStep("a", world), ReadingStep("b", world)])
    first, second = saved.document["steps"]
    assert first["changes"] == [{"action": "update", "target": "item a", "detail": "", "writes": {"arm": 1},
                                 "reasons": [{"field": "value", "current": "old", "desired": "wanted"}]}]
    assert first["reads"] == {"item a": "old"} and second == {"step": "b", "status": "unchanged", "changes": [],
                                                              "reads": {"item b": "wanted"}, "notes": []}
    assert saved.document["writes"] == {"arm": 1, "storage": 1}  # the change, and the deploy's ledger record
    assert (tmp_path / "plan.json").read_bytes() == canonical(saved.document)


def test_a_secret_is_shown_only_as_differing_and_fingerprints_hide_large_values():
    assert Difference("value", "s3cret", "n3w", secret=True).to_dict() == {"field": "value", "differs": True}
    assert fingerprint("blue") == "blue" and fingerprint(None) == "absent"
    assert fingerprint({"x": 1}).startswith("sha256:") and fingerprint({"x": 1}) != fingerprint({"x": 2})
    assert [(d.field, d.current, d.desired) for d in differences({"a": {"b": 1, "c": 2}, "extra": 0},
                                                                 {"a": {"b": 1, "c": 3}})] == [("a.c", 2, 3)]
    inline = {"type": "SecureString", "value": "p4ss"}
    assert [d.to_dict() for d in differences({"password": inline}, {"password": dict(inline, value="n3w")})] == [
        {"field": "password", "differs": True}]
    assert fingerprint({"password": inline}) == fingerprint({"password": dict(inline, value="other")})
    with pytest.raises(ValueError, match="unknown services"):
        Plan().add("create", "x", writes={"ftp": 1})


def test_applying_a_plan_refuses_another_file_an_edited_one_or_another_bundle(tmp_path):
    saved = _saved(tmp_path, [ReadingStep("a", {"a": "old"})])
    with pytest.raises(PlanRefused, match="its SHA-256 is .*, not the approved 00"):
        read_plan(tmp_path / "plan.json", "00")
    edited = dict(saved.document, version="2.0")
    (tmp_path / "edited.json").write_text(json.dumps(edited))
    with pytest.raises(PlanRefused, match="it was edited after it was written"):
        read_plan(tmp_path / "edited.json")
    (tmp_path / "other.json").write_text("{}")
    with pytest.raises(ConfigError, match="not a plan of this toolkit"):
        read_plan(tmp_path / "other.json")
    with pytest.raises(PlanRefused, match="it is for bundle_digest 'd{64}', not 'e{64}'".replace("d{64}", "d" * 64)
                       .replace("e{64}", "e" * 64)):
        saved.check("deploy-prod", "prod", "sandbox", "1.0", "e" * 64)
    saved.check("deploy-prod", "prod", "sandbox", "1.0", "d" * 64)


def test_drift_since_the_plan_is_named_and_nothing_is_applied(tmp_path):
    world = {"a": "old", "b": "wanted"}
    steps = [ReadingStep("a", world), ReadingStep("b", world)]
    saved = _saved(tmp_path, steps)
    saved.verify(steps, PlannableDeployment(), lambda line: None)  # nothing changed: it may be applied
    world["b"] = "edited in the portal"
    with pytest.raises(PlanRefused) as refused:
        saved.verify(steps, PlannableDeployment(), lambda line: None)
    assert "item b: wanted -> edited in the portal" in str(refused.value)
    assert "b: now also update item b" in str(refused.value) and steps[0].applied == 0


def test_the_guard_refuses_a_step_whose_changes_are_no_longer_the_approved_ones(tmp_path):
    world = {"a": "old"}
    step = ReadingStep("a", world)
    saved = _saved(tmp_path, [step])
    deployment = PlannableDeployment()
    world["a"] = "older"  # same change, another reason: the approved plan said old -> wanted
    report = run_steps(StageReport("deploy-prod", "prod", "sandbox", "1.0", False), [step], deployment, False,
                       lambda line: None, saved.guard(deployment))
    assert report.outcome == "failed" and "differs from the approved plan" in report.error and step.applied == 0
    world["a"] = "old"
    report = run_steps(StageReport("deploy-prod", "prod", "sandbox", "1.0", False), [step], deployment, False,
                       lambda line: None, saved.guard(deployment))
    assert report.outcome == "succeeded" and step.applied == 1


def test_a_step_planned_after_another_applies_only_when_the_outputs_are_the_expected_ones(tmp_path):
    saved = _saved(tmp_path, [FakeStep("later", plan_error=NotPlannable("needs the infrastructure output 'x'"))],
                   expects={"outputs": {"storageAccountName": "stplanned"}})
    assert saved.document["steps"][0]["status"] == "after"
    deployment = PlannableDeployment()
    deployment.outputs = {"storageAccountName": "stother"}
    check = saved.guard(deployment)
    assert "storageAccountName is 'stother', the plan expected 'stplanned'" in check("later", None)
    deployment.outputs = {"storageAccountName": "stplanned"}
    assert check("later", None) is None and check("unplanned", None) == "not in the approved plan"
