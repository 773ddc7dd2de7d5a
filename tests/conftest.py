import json
import os
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "melbourne"


@pytest.fixture(scope="session")
def spark():
    from sandbox.notebook.spark import local_spark_session

    session = local_spark_session("tests", shuffle_partitions=2)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def raw_sensor_rows():
    return json.loads((SAMPLE / "MelbParkingSensorData.json").read_text(encoding="utf-8-sig"))


@pytest.fixture(scope="session")
def raw_bay_rows():
    return json.loads((SAMPLE / "MelbParkingBayData.json").read_text(encoding="utf-8-sig"))


def write_extract(path: Path, rows) -> Path:
    """Write rows the way the open-data API does: a JSON array, UTF-8 with a byte-order mark."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(rows).encode("utf-8"))
    return path


@pytest.fixture(scope="session")
def azurite():
    """An in-memory Azurite blob endpoint on a free loopback port, for the whole session."""
    from sandbox.azurite import Azurite

    with Azurite(REPO) as server:
        yield server


@pytest.fixture
def blob_container(azurite, request):
    """A fresh, empty container on Azurite (deleted after the test)."""
    import re
    import uuid

    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(azurite.connection_string())
    name = re.sub(r"[^a-z0-9]", "", request.node.name.lower())[:40] + uuid.uuid4().hex[:8]
    container = service.create_container(name)
    yield container
    container.delete_container()


@contextmanager
def requests_trusting(bundle):
    """databricks-sdk (requests) trusts the sandbox's CA through REQUESTS_CA_BUNDLE while in the block."""
    previous = os.environ.get("REQUESTS_CA_BUNDLE")
    os.environ["REQUESTS_CA_BUNDLE"] = str(bundle)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("REQUESTS_CA_BUNDLE", None)
        else:
            os.environ["REQUESTS_CA_BUNDLE"] = previous
