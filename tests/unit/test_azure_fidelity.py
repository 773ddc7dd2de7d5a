"""The release's answers to what Azure does that the sandbox once let pass: names within every rule, ARM's
inner error codes shown, ADLS Gen2 listings, runs that end in INTERNAL_ERROR, one refreshing credential for
every service, and CI definitions that pass what the environment files need."""
import itertools
import random
import string
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
import yaml

from toolkit.azure.errors import error_text
from toolkit.azure.storage import plan_copies
from toolkit.environments import naming
from toolkit.environments.model import load_environment
from toolkit.environments.target import Target
from tasks.repository import REPO_ROOT

SUBSCRIPTIONS = ("00000000-0000-0000-0000-000000000001", "5a4db0c5-0000-4000-8000-00000000cafe")


def _deployment_ids():
    chance = random.Random(7)
    alphabet = string.ascii_lowercase + string.digits
    fixed = ["1", "9" * 12, "a1b2c3d4e5f6", "12345678901", "z" * 12]
    return fixed + ["".join(chance.choice(alphabet) for _ in range(chance.randint(1, 12))) for _ in range(200)]


@pytest.mark.parametrize("environment", ["qa", "staging", "prod"])
def test_every_computed_name_obeys_its_azure_rule(environment):
    env = load_environment(REPO_ROOT / "environments", environment, "azure",
                           {"AZURE_SUBSCRIPTION_ID": SUBSCRIPTIONS[0], "AZURE_DEPLOYER_OBJECT_ID": "x"})
    ids = _deployment_ids() if env.on_demand else [None]
    seen = {}
    for subscription, deployment_id in itertools.product(SUBSCRIPTIONS, ids):
        names = env.resource_names(subscription, deployment_id)
        assert set(names) == set(naming.TEMPLATE_PARAMETERS)
        assert naming.name_problems(names, env.resource_group(deployment_id)) == [], (deployment_id, names)
        for parameter in ("storageAccountName", "keyVaultName", "dataFactoryName"):  # unique across Azure
            key = names[parameter].lower()
            assert seen.setdefault((parameter, key), (subscription, deployment_id)) == (subscription, deployment_id)
        assert env.resource_names(subscription, deployment_id) == names  # stable: a redeploy finds its resources


def test_a_name_that_breaks_its_rule_is_explained():
    problems = naming.name_problems({"storageAccountName": "st" + "a" * 23, "keyVaultName": "kv--x"}, "rg.")
    assert len(problems) == 3
    assert "Microsoft.Storage/storageAccounts name 'staaaaaaaaaaaaaaaaaaaaaaa' breaks Azure's rule: 3-24 lowercase" \
           in problems[1]
    assert "no consecutive hyphens" in problems[2] and "resource-name-rules" in problems[2]
    assert "not ending in a period" in problems[0]


def test_arm_errors_keep_their_inner_codes_in_one_line():
    inner = SimpleNamespace(code="AccountNameInvalid", message="x is not a valid storage account name.\nMore.",
                            details=[])
    outer = SimpleNamespace(code="InvalidTemplateDeployment", message="The template deployment is not valid.",
                            details=[SimpleNamespace(code="PreflightValidationCheckFailed", message="Preflight failed",
                                                     details=[inner])])
    assert error_text(outer) == ("InvalidTemplateDeployment: The template deployment is not valid. "
                                 "(PreflightValidationCheckFailed: Preflight failed (AccountNameInvalid: x is not a "
                                 "valid storage account name. More.))")


def _blob(name, size, md5=None, modified=0, folder=False):
    return SimpleNamespace(name=name, size=size, metadata={"hdi_isfolder": "true"} if folder else {},
                           content_settings=SimpleNamespace(content_md5=md5),
                           last_modified=datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=modified))


class _Container:
    def __init__(self, blobs):
        self.blobs = blobs

    def exists(self):
        return True

    def list_blobs(self, name_starts_with="", include=None):
        return [b for b in self.blobs if b.name.startswith(name_starts_with)]


def test_copies_skip_directories_and_compare_without_md5_by_modification_time():
    source = _Container([_blob("dw", 0, folder=True), _blob("dw/t", 0, folder=True),
                         _blob("dw/t/a.parquet", 10, modified=5),     # same size, written before the copy
                         _blob("dw/t/b.parquet", 10, modified=50),    # rewritten after the copy
                         _blob("dw/t/c.parquet", 11, modified=5),     # another size
                         _blob("dw/t/d.csv", 3, md5=b"1", modified=50),   # MD5 on both ends decides
                         _blob("dw/t/e.csv", 3, md5=b"1", modified=1)])
    destination = _Container([_blob("h/t/a.parquet", 10, modified=20), _blob("h/t/b.parquet", 10, modified=20),
                              _blob("h/t/c.parquet", 10, modified=20), _blob("h/t/d.csv", 3, md5=b"1", modified=20),
                              _blob("h/t/e.csv", 3, md5=b"2", modified=20)])
    copies = plan_copies(source, "dw", destination, "h")
    assert [(c.source_name, c.destination_name) for c in copies] == [
        ("dw/t/b.parquet", "h/t/b.parquet"), ("dw/t/c.parquet", "h/t/c.parquet"), ("dw/t/e.csv", "h/t/e.csv")]


class _Workspace:
    """A workspace whose run ends in INTERNAL_ERROR: the SDK's waiter raises OperationFailed."""

    def __init__(self):
        from databricks.sdk.service.jobs import Run, RunLifeCycleState, RunState

        self.jobs = self
        self.run = Run(run_id=77, state=RunState(life_cycle_state=RunLifeCycleState.INTERNAL_ERROR,
                                                 state_message="Cluster 0101 did not reach RUNNING"))

    def submit(self, **_):
        from databricks.sdk.errors import OperationFailed

        def result(**_):
            raise OperationFailed("failed to reach TERMINATED or SKIPPED, got RunLifeCycleState.INTERNAL_ERROR")
        return SimpleNamespace(run_id=77, result=result)

    def get_run(self, run_id):
        assert run_id == 77
        return self.run

    def get_run_output(self, run_id):
        from databricks.sdk.errors import InvalidParameterValue

        raise InvalidParameterValue("Run 77 has no output")


def test_a_run_that_ends_in_internal_error_comes_back_with_its_id_and_reason():
    from toolkit.databricks.runs import run_notebook

    said = []
    run = run_notebook(_Workspace(), "0101", "/nb", {}, "probe", 1, said.append)
    assert (run.run_id, run.result_state, run.succeeded) == (77, "INTERNAL_ERROR", False)
    assert "Run 77 has no output" in run.error


class _Credential:
    def __init__(self):
        self.scopes = []

    def get_token(self, scope):
        self.scopes.append(scope)
        return SimpleNamespace(token=f"entra-{len(self.scopes)}")


def test_the_databricks_sdk_gets_the_targets_entra_credential_whatever_the_variables_say(monkeypatch):
    from databricks.sdk.config import Config

    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-not-to-be-used")
    monkeypatch.setenv("ARM_CLIENT_SECRET", "not-to-be-used")
    credential = _Credential()
    target = Target("azure", SUBSCRIPTIONS[0], "https://management.azure.com", credential)
    # A host that refuses connections at once: the SDK's probe of it fails fast, and nothing leaves the machine.
    config = target.databricks_config("https://127.0.0.1:9", "/subscriptions/s/resourceGroups/g/"
                                      "providers/Microsoft.Databricks/workspaces/w")
    config = Config(**config, retry_timeout_seconds=1)  # what WorkspaceClient(**config) builds
    headers = config.authenticate()
    assert headers["Authorization"].startswith("Bearer entra-")
    assert headers["X-Databricks-Azure-Workspace-Resource-Id"].endswith("/workspaces/w")
    assert "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default" in credential.scopes


def test_in_github_actions_each_entra_token_is_asked_with_a_fresh_oidc_token(monkeypatch):
    from azure.identity import ClientAssertionCredential

    from toolkit.azure import credential as module

    environ = {"ACTIONS_ID_TOKEN_REQUEST_URL": "https://gh.invalid/token?api-version=2.0",
               "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-token", "AZURE_CLIENT_ID": "c", "AZURE_TENANT_ID": "t"}
    asked = []

    def get(url, params, headers, timeout):
        asked.append((url, params["audience"], headers["Authorization"]))
        return SimpleNamespace(raise_for_status=lambda: None, json=lambda: {"value": f"oidc-{len(asked)}"})
    monkeypatch.setattr("requests.get", get)
    chosen = module.azure_credential(environ)
    assert isinstance(chosen, ClientAssertionCredential)
    assert [module.github_id_token(environ), module.github_id_token(environ)] == ["oidc-1", "oidc-2"]
    assert asked[0] == ("https://gh.invalid/token?api-version=2.0", "api://AzureADTokenExchange",
                        "Bearer request-token")


def test_in_azure_pipelines_the_credential_is_the_pipelines_own():
    from azure.identity import AzurePipelinesCredential

    from toolkit.azure.credential import azure_credential

    chosen = azure_credential({"AZURESUBSCRIPTION_SERVICE_CONNECTION_ID": "sc", "SYSTEM_ACCESSTOKEN": "t",
                               "AZURESUBSCRIPTION_TENANT_ID": "tenant", "AZURESUBSCRIPTION_CLIENT_ID": "client",
                               "SYSTEM_OIDCREQUESTURI": "https://dev.azure.invalid/oidc"})
    assert isinstance(chosen, AzurePipelinesCredential)


def _jobs(path):
    document = yaml.safe_load((REPO_ROOT / path).read_text())
    return document, document.get("jobs") or {}


def test_the_release_workflows_pass_what_the_environment_files_need():
    """environments/*.toml read ${AZURE_SUBSCRIPTION_ID} and ${AZURE_DEPLOYER_OBJECT_ID} on the Azure target."""
    import re

    needed = set()
    for name in ("qa", "staging", "prod"):
        needed |= set(re.findall(r"\$\{([A-Z_]+)\}", (REPO_ROOT / "environments" / f"{name}.toml").read_text()))
    assert needed == {"AZURE_SUBSCRIPTION_ID", "AZURE_DEPLOYER_OBJECT_ID"}
    # GitHub: every release job is release-stage.yml's one job, whose variables the toolkit reads.
    github, _ = _jobs(".github/workflows/release.yml")
    stage, stage_jobs = _jobs(".github/workflows/release-stage.yml")
    assert needed | {"AZURE_CLIENT_ID", "AZURE_TENANT_ID"} <= set(stage_jobs["run"]["env"])
    assert github["permissions"]["id-token"] == stage["permissions"]["id-token"] == "write"
    # azure/login (whose token expires within minutes) only downloads the toolkit: the release itself asks GitHub
    # for fresh OIDC tokens (ClientAssertionCredential), so every parking-release step comes after it and no
    # parking-release step logs in.
    steps = stage_jobs["run"]["steps"]
    logins = [i for i, step in enumerate(steps) if str(step.get("uses", "")).startswith("azure/login")]
    runs = [i for i, step in enumerate(steps) if str(step.get("run", "")).startswith("parking-release")]
    assert runs and all(i < min(runs) for i in logins)
    pipelines = yaml.safe_load((REPO_ROOT / ".azure-pipelines/release.yml").read_text())
    assert {"group": "parking-sensors-azure"} in pipelines["variables"]
    template = yaml.safe_load((REPO_ROOT / ".azure-pipelines/templates/release-stage-steps.yml").read_text())
    steps = [step for step in template["steps"] if "parking-release" in str(step.get("bash", ""))]
    steps += [step for item in template["steps"] if isinstance(item, dict) for key, nested in item.items()
              if key.startswith("${{") for step in nested if "parking-release" in str(step.get("bash", ""))]
    assert len(steps) == 2 and all(step["env"]["SYSTEM_ACCESSTOKEN"] == "$(System.AccessToken)" and
                                   step["env"]["AZURESUBSCRIPTION_SERVICE_CONNECTION_ID"] for step in steps)
