"""What exists before the first release on Azure and so must exist in the sandbox too: the shared
storage account's integration-test data (the Melbourne extracts), which deploy-qa copies into each
QA lake. Seeding is idempotent: a blob already there with the same content is left alone."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

SHARED_ACCOUNT = "sbxshared"
INTEGRATION_CONTAINER = "integration-data"
INTEGRATION_PREFIX = "melbourne"


def seed_integration_data(home: Path, blob_port: int, data: Path) -> int:
    """Upload ``data/*.json`` under integration-data/melbourne/ of the shared account; returns files uploaded."""
    from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
    from azure.storage.blob import BlobServiceClient, ContentSettings

    key = json.loads((home / "storage.json").read_text())["accounts"][SHARED_ACCOUNT]
    service = BlobServiceClient(f"http://127.0.0.1:{blob_port}/{SHARED_ACCOUNT}",
                                credential={"account_name": SHARED_ACCOUNT, "account_key": key})
    container = service.get_container_client(INTEGRATION_CONTAINER)
    if not container.exists():  # checked first: a re-run of `up` writes nothing
        try:
            container.create_container()
        except ResourceExistsError:
            pass
    uploaded = 0
    for path in sorted(data.glob("*.json")):
        content = path.read_bytes()
        md5 = hashlib.md5(content, usedforsecurity=False).digest()
        blob = container.get_blob_client(f"{INTEGRATION_PREFIX}/{path.name}")
        try:
            if bytes(blob.get_blob_properties().content_settings.content_md5 or b"") == md5:
                continue
        except ResourceNotFoundError:
            pass
        settings = ContentSettings(content_type="application/json", content_md5=md5)
        blob.upload_blob(content, overwrite=True, content_settings=settings)
        uploaded += 1
    return uploaded
