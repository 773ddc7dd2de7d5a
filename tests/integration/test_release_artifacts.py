"""build + publish + fetch through the tasks, against Azurite: what the Build - Artifacts pipeline does."""
import hashlib
import json

import pytest
from invoke import Config, Context, Exit

from parking_release import artifacts as artifact_tasks
from toolkit.build.application import build_application
from tasks.repository import REPO_ROOT


def _tree(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_same_commit_builds_byte_identical_bundles(clone, tmp_path):
    first = build_application(clone, tmp_path / "a")
    second = build_application(clone, tmp_path / "b")
    assert first.manifest.to_json() == second.manifest.to_json()
    assert _tree(first.bundle) == _tree(second.bundle)
    roles = {f.role for f in first.manifest.files}
    assert roles >= {"wheel", "notebook", "cluster-config", "adf", "arm-template", "arm-parameters", "script"}
    paths = {f.path for f in first.manifest.files}
    assert {"notebooks/02_transform.py", "cluster/overrides/prod.json", "adf/pipeline/P_Ingest_MelbParkingData.json",
            "arm/azuredeploy.json", "arm/parameters/azuredeploy.parameters.qa.json",
            "arm/scripts/deploy-infrastructure.sh"} <= paths
    document = json.loads((first.bundle / "manifest.json").read_text())
    assert document["commit"] == first.wheel.commit and document["build_time"].endswith("Z")
    assert {"python", "setuptools", "build", "wheel"} <= set(document["tools"])


def test_a_bundle_is_never_assembled_from_broken_definitions(clone, tmp_path):
    from toolkit.definitions.findings import DefinitionError

    trigger = clone / "adf" / "trigger" / "T_Daily.json"
    original = trigger.read_text()
    trigger.write_text(original.replace('"P_Ingest_MelbParkingData"', '"P_Missing"'))
    try:
        with pytest.raises(DefinitionError, match="adf/trigger/T_Daily.json: .*PipelineReference to 'P_Missing'"):
            build_application(clone, tmp_path / "dist")
        assert not (tmp_path / "dist" / "bundle").exists()
    finally:
        trigger.write_text(original)


def test_publish_fetch_and_list_through_the_tasks_on_azurite(azurite, blob_container, tmp_path, monkeypatch,
                                                             capsys, release_sandbox):
    import shutil

    from tasks.repository import ENVIRONMENTS
    from toolkit.bundle.manifest import SIGNATURE

    # A clone's layout of the test's own: its environment files, and a build in its dist/.
    shutil.copytree(ENVIRONMENTS, tmp_path / "environments")
    build = build_application(REPO_ROOT, tmp_path / "dist")
    monkeypatch.setenv("PARKING_SANDBOX_HOME", str(release_sandbox))  # its vault signs, its keys are trusted
    monkeypatch.setenv("TEST_AZURITE_CS", azurite.connection_string())
    config = tmp_path / "artifacts.toml"
    config.write_text(f'kind = "blob"\ncontainer = "{blob_container.container_name}"\nauth = "connection-string"\n'
                      'connection_string_env = "TEST_AZURITE_CS"\n')
    c = Context(Config(overrides={"run": {"in_stream": False}, "parking": {"root": str(tmp_path)}}))

    artifact_tasks.publish(c, store_config=str(config), json_=True)
    report = json.loads(capsys.readouterr().out)
    assert report["outcome"] == "published" and report["uploaded_files"] == len(build.manifest.files)
    assert report["signature"] == "written" and "/keys/release-signer/" in report["signed_by"]
    artifact_tasks.publish(c, store_config=str(config))
    assert "already published" in capsys.readouterr().out

    artifact_tasks.fetch(c, build.version, dest=str(tmp_path / "fetched"), store_config=str(config), json_=True)
    fetched = json.loads(capsys.readouterr().out)
    assert fetched["bundle_digest"] == build.manifest.digest
    assert _tree(tmp_path / "fetched") == {**_tree(build.bundle), SIGNATURE: _tree(tmp_path / "fetched")[SIGNATURE]}

    artifact_tasks.versions(c, store_config=str(config), json_=True)
    listed = capsys.readouterr().out
    assert [v["version"] for v in json.loads(listed)] == [build.version]
    assert "AccountKey" not in listed + json.dumps(report) + json.dumps(fetched)

    with pytest.raises(Exit, match="fetch failed: version 0.0.1 is not published"):
        artifact_tasks.fetch(c, "0.0.1", store_config=str(config))


def test_the_tasks_explain_a_bad_store_configuration(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('kind = "blob"\ncontainer = "x"\n')
    with pytest.raises(Exit, match=r"bad.toml: container: String should match pattern"):
        artifact_tasks.versions(Context(), store_config=str(config))
