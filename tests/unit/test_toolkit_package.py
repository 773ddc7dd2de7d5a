"""The release toolkit as a distribution of its own: pinned like the environment that tests it, reaching the
sandbox only over HTTP, trusting TLS roots per client, and finding nothing through its own location."""
import re
import tomllib

import pytest

from tasks.repository import REPO_ROOT

PROJECT = REPO_ROOT / "release-toolkit"
SOURCES = sorted((PROJECT / "src").rglob("*.py"))


def _pins(lines) -> dict[str, str]:
    found = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            found[re.sub(r"[-_.]+", "-", name).lower()] = version
    return found


def test_the_toolkits_pins_are_the_versions_its_tests_run_with():
    declared = _pins(tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]["dependencies"])
    locked = _pins((PROJECT / "requirements.txt").read_text().splitlines())
    tested = _pins((REPO_ROOT / "requirements" / "dev.txt").read_text().splitlines())
    assert {"invoke", "pydantic", "requests", "azure-identity", "azure-core", "azure-storage-blob",
            "azure-keyvault-secrets", "azure-mgmt-resource", "azure-mgmt-core", "databricks-sdk"} <= set(declared)
    assert {n: v for n, v in declared.items() if locked.get(n) != v} == {}  # the lock holds what is declared
    assert {n: v for n, v in locked.items() if tested.get(n) != v} == {}  # and what the tests ran with
    assert not set(locked) & {"pyspark", "werkzeug", "pytest", "flake8", "pyyaml"}


def test_the_sandbox_is_an_optional_distribution_that_depends_on_the_toolkit_never_the_reverse():
    sandbox = tomllib.loads((REPO_ROOT / "sandbox" / "pyproject.toml").read_text())
    toolkit = tomllib.loads((PROJECT / "pyproject.toml").read_text())
    assert sandbox["project"]["name"] == "parking-sandbox" and "parking-release" in sandbox["project"]["dependencies"]
    assert {"werkzeug", "pyspark"} <= set(_pins(sandbox["project"]["dependencies"][1:]))
    assert not [d for d in toolkit["project"]["dependencies"] if "sandbox" in d or "werkzeug" in d]
    assert sandbox["tool"]["setuptools"]["packages"] == sorted(
        "sandbox" + ("." + p.parent.relative_to(REPO_ROOT / "sandbox").as_posix().replace("/", ".")).rstrip(".")
        for p in (REPO_ROOT / "sandbox").rglob("__init__.py") if "build" not in p.parts)


def test_the_console_entry_point_is_invokes_program():
    scripts = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"parking-release": "parking_release.program:main"}


@pytest.mark.parametrize("pattern, why", [
    (r"^\s*(from|import) sandbox\b", "the toolkit reaches the sandbox over HTTP only"),
    (r"__file__", "nothing is found through the package's own location"),
])
def test_the_toolkit_never(pattern, why):
    found = [f"{path.relative_to(PROJECT)}:{n}" for path in SOURCES
             for n, line in enumerate(path.read_text().splitlines(), 1) if re.search(pattern, line)]
    assert found == [], why


def test_the_sandboxs_tls_trust_goes_to_the_databricks_client_alone(monkeypatch, tmp_path):
    """The trust bundle becomes the client's session's; REQUESTS_CA_BUNDLE is set only while the SDK builds the
    client (its discovery probe has no other way in), and then is as it was."""
    import types

    import databricks.sdk

    from toolkit.environments.target import Target

    seen = []

    class Client:
        def __init__(self, **config):
            import os

            seen.append(os.environ.get("REQUESTS_CA_BUNDLE"))
            self.api_client = types.SimpleNamespace(_api_client=types.SimpleNamespace(_session=types.SimpleNamespace(
                verify=True, trust_env=True)))
    monkeypatch.setattr(databricks.sdk, "WorkspaceClient", Client)
    bundle = str(tmp_path / "trust-bundle.pem")
    target = Target("sandbox", "s", "https://127.0.0.1:1", credential=None, verify=bundle)
    for before in (None, "/etc/ssl/theirs.pem"):
        if before is None:
            monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
        else:
            monkeypatch.setenv("REQUESTS_CA_BUNDLE", before)
        client = target.workspace_client("https://127.0.0.1:2", None)
        session = client.api_client._api_client._session
        assert session.verify == bundle and seen[-1] == bundle
        assert session.trust_env is False  # else a REQUESTS_CA_BUNDLE in the environment would override verify
        import os

        assert os.environ.get("REQUESTS_CA_BUNDLE") == before


def test_a_program_option_or_the_config_key_names_the_clone(tmp_path):
    from invoke import Config, MockContext

    from parking_release.context import workplace
    from toolkit.configuration import ConfigError

    assert workplace(MockContext()).project is None
    (tmp_path / "environments").mkdir()
    found = workplace(MockContext(config=Config(overrides={"parking": {"root": str(tmp_path)}})))
    assert found.project.root == tmp_path and found.work == tmp_path / "dist"
    with pytest.raises(ConfigError, match="not a clone of the repository"):
        workplace(MockContext(config=Config(overrides={"parking": {"root": str(tmp_path / "nowhere")}})))


def test_the_program_takes_root_before_the_task(tmp_path, monkeypatch, capsys):
    from parking_release import operations
    from parking_release.program import main

    (tmp_path / "environments").mkdir()
    seen = []

    def deployed(place, *args, **kwargs):
        seen.append(place)
        raise RuntimeError("stop here")
    monkeypatch.setattr(operations, "deployed", deployed)
    with pytest.raises(SystemExit):
        main(["parking-release", "--root", str(tmp_path), "ops.unlock", "--env", "prod", "--dry-run"])
    assert [place.project.root for place in seen] == [tmp_path]
    assert "ops.unlock failed: RuntimeError: stop here" in capsys.readouterr().err
