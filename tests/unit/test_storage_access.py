"""Unity Catalog storage access, the parts that need no service: waiting for a role assignment to reach storage,
and reading from ARM's permission sets whether the deployer may assign roles."""
import pytest

from toolkit.azure.permissions import can_assign_roles
from toolkit.databricks.unity_catalog import wait_until_valid


class _Validations:
    """A workspace whose validate-storage-credentials answers FAIL ``failures`` times, then PASS."""

    def __init__(self, failures: int):
        self.failures, self.calls = failures, 0
        self.api_client = self

    def do(self, method, path, body=None, query=None):
        assert (method, path) == ("POST", "/api/2.1/unity-catalog/validate-storage-credentials")
        self.calls += 1
        result = "FAIL" if self.calls <= self.failures else "PASS"
        return {"results": [{"operation": op, "result": result, "message": "not authorized"}
                            for op in ("READ", "LIST", "WRITE", "DELETE")]}


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_the_wait_ends_when_the_credential_validates_and_says_why_it_waited():
    workspace, clock, lines = _Validations(2), _Clock(), []
    wait_until_valid(workspace, "c", "abfss://x@y.dfs.core.windows.net", 600, lines.append, clock.sleep, clock)
    assert workspace.calls == 3 and clock.now == 6  # waited 2 s, then 4 s
    assert lines[0].startswith("waiting for the access connector's role to reach storage (READ: not authorized)")


def test_the_wait_is_bounded_and_names_what_still_fails_and_what_to_check():
    workspace, clock = _Validations(1000), _Clock()
    with pytest.raises(TimeoutError) as timed_out:
        wait_until_valid(workspace, "c", "abfss://x@y.dfs.core.windows.net", 60, lambda _: None, clock.sleep, clock)
    assert clock.now <= 60
    assert str(timed_out.value) == ("storage credential c still cannot reach abfss://x@y.dfs.core.windows.net after "
                                    "60s (READ: not authorized): check that the access connector's identity has "
                                    "Storage Blob Data Contributor on the storage account (the ARM template "
                                    "assigns it)")


@pytest.mark.parametrize("permissions, allowed", [
    ([{"actions": ["*"], "notActions": []}], True),  # Owner
    ([{"actions": ["*"], "notActions": ["Microsoft.Authorization/*/Write"]}], False),  # Contributor
    ([{"actions": ["*/read", "Microsoft.Authorization/*"], "notActions": []}], True),  # User Access Administrator
    ([{"actions": ["*"], "notActions": ["Microsoft.Authorization/*/Write"]},
      {"actions": ["microsoft.authorization/roleassignments/write"]}], True),  # two roles, one allows (any case)
    ([], False),
])
def test_the_right_to_assign_roles_is_read_from_actions_and_not_actions(permissions, allowed):
    assert can_assign_roles(permissions) is allowed
