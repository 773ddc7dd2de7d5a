import pytest

from toolkit.environments.sandbox_client import SandboxCredential
from sandbox.server import Sandbox


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory, azurite):
    """The sandbox's control planes, in this process, with their state in a fresh home and Azurite as storage."""
    server = Sandbox(tmp_path_factory.mktemp("sandbox-home"), blob_endpoint=f"http://{azurite.host}:{azurite.port}")
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def credential(sandbox):
    identity = sandbox.identity
    return SandboxCredential(f"{sandbox.url}/{identity.tenant_id}/oauth2/v2.0/token", identity.client_id,
                             identity.client_secret, verify=str(sandbox.tls.trust_bundle))
