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


def seed_signing_keys(home: Path, repo: Path) -> int:
    """The release's signing vault and keys, as environments/signing.toml names them (on Azure a one-time set-up:
    `az keyvault key create`), and the sandbox's trusted keys file listing each key's public part (what a job's
    PARKING_TRUSTED_KEYS file holds on Azure). A key already there is kept. The file gets a key's current
    version once, when it lists no key of that name: as on Azure, a rotation's new version is trusted only
    once someone adds it, and nothing is ever dropped. Every environment accepts bundles signed by the bundles key
    and each stage's evidence signed by that stage's key, unless the file already says otherwise. Returns the keys
    created."""
    from azure.core.exceptions import ResourceNotFoundError
    from azure.keyvault.keys import KeyClient

    from sandbox.connection import SandboxConnection
    from toolkit.local_files import write_atomically
    from toolkit.signing.signers import load_signing_config
    from toolkit.environments.model import NAMES
    from toolkit.signing.signers import BUNDLES
    from toolkit.signing.trusted_keys import (SANDBOX_FILE, EnvironmentTrust, TrustedKey, load_trusted_keys,
                                              public_key_pem, render)

    signing = load_signing_config(repo / "environments" / "signing.toml")
    connection = SandboxConnection.from_home(home)
    client = KeyClient(connection.ensure_vault(signing.vault), connection.credential(),
                       verify_challenge_resource=False, connection_verify=connection.trust_bundle)
    trusted_file = home / SANDBOX_FILE
    known = load_trusted_keys(trusted_file) if trusted_file.exists() else None
    trusted = list(known.keys) if known else []
    policy = EnvironmentTrust(bundles=[signing.key_for(BUNDLES)],
                              evidence={stage: [key] for stage, key in signing.keys.items() if stage != BUNDLES})
    trust = {name: (known.trust.get(name) if known else None) or policy for name in NAMES}
    created = 0
    for name in dict.fromkeys(signing.keys.values()):
        try:
            key = client.get_key(name)
        except ResourceNotFoundError:
            if signing.algorithm == "ES256":
                key = client.create_ec_key(name, curve="P-256", key_operations=["sign", "verify"])
            else:
                key = client.create_rsa_key(name, size=3072, key_operations=["sign", "verify"])
            created += 1
        if not any(k.name == name for k in trusted):
            trusted.append(TrustedKey(name=name, key_id=key.id, public_key=public_key_pem(key.key)))
    rendered = render(trusted, trust)
    if not trusted_file.exists() or trusted_file.read_text() != rendered:
        write_atomically(trusted_file, rendered)
    return created
