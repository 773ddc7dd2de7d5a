import subprocess

import pytest

from tasks.repository import REPO_ROOT


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """A fresh clone of this repository's committed state (what CI builds), one per test module."""
    target = tmp_path_factory.mktemp("clone") / "repo"
    subprocess.run(["git", "clone", "-q", str(REPO_ROOT), str(target)], check=True)
    return target


@pytest.fixture(scope="session")
def release_sandbox(tmp_path_factory):
    """A detached sandbox in its own home (as `inv sandbox.up` starts it), for the release tests."""
    from sandbox.lifecycle import down, up

    home = tmp_path_factory.mktemp("release-sandbox")
    up(home, REPO_ROOT)
    yield home
    down(home)


@pytest.fixture(scope="session")
def published_bundle(tmp_path_factory, release_sandbox):
    """This working tree built once, published signed (the release sandbox's key) to a store of its own, and
    fetched back as a stage gets it: (manifest, fetched bundle, store config)."""
    from tests.integration.release_helpers import publish_signed
    from toolkit.artifacts.config import load_store_config
    from toolkit.artifacts.stores import open_store
    from toolkit.build.application import build_application

    folder = tmp_path_factory.mktemp("release-bundle")
    result = build_application(REPO_ROOT, folder / "dist")
    config = folder / "store.toml"
    config.write_text(f'kind = "local"\npath = "{folder / "store"}"\n')
    manifest, fetched = publish_signed(release_sandbox, result.bundle, open_store(load_store_config(config), folder),
                                       folder / "fetched")
    return manifest, fetched, config
