"""The promotion rule: a version reaches an environment only after passing the integration tests of
the environments before it. QA is torn down after its tests, taking its ledger with it, so what a
version passed is also kept with the version itself in the artifact store, beside its bundle:
``<version>/promotion/<environment>.json`` (the bundle digest it passed with, when, who, the runs)."""
from __future__ import annotations

import json

from toolkit.artifacts.stores import ArtifactNotFound, ArtifactStore
from toolkit.bundle.manifest import Manifest


def _key(version: str, environment: str) -> str:
    return f"{version}/promotion/{environment}.json"


def passed_in(store: ArtifactStore, version: str, digest: str, environment: str) -> dict | None:
    """The evidence that this exact bundle passed ``environment``'s integration tests, or None."""
    try:
        evidence = json.loads(store.read(_key(version, environment)))
    except (ArtifactNotFound, ValueError):
        return None
    return evidence if evidence.get("bundle_digest") == digest and evidence.get("outcome") == "passed" else None


def record_passed(store: ArtifactStore, manifest: Manifest, record: dict) -> None:
    """Keep a passed integration-test record (from the environment's ledger) as the version's evidence."""
    store.write(_key(manifest.version, record["environment"]), json.dumps(record, indent=1).encode(), overwrite=True)


def promotion_gaps(store: ArtifactStore | None, version: str, digest: str, requires: list[str]) -> list[str]:
    """Why a version (this exact bundle) may not be promoted: one reason per environment it has not passed."""
    if not requires:
        return []
    if store is None:
        return [f"no artifact store to read the promotion evidence of {version} from"]
    return [f"version {version} (bundle {digest[:12]}) has not passed the {name} integration tests"
            for name in requires if passed_in(store, version, digest, name) is None]
