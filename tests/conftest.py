import json
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
