"""The promotion rule: a version reaches an environment only after passing the integration tests of
the environments before it. QA is torn down after its tests, taking its ledger with it, so what a
version passed is also kept with the version itself in the artifact store, beside its bundle:
``<version>/promotion/<environment>.json`` (the bundle digest it passed with, the environment, the test
summary, when, who, the runs), signed by that stage's own Key Vault key in ``<environment>.json.sig``.
Evidence counts only when it verifies with a key the deciding environment trusts for that stage
(``[trust.<environment>] evidence`` in the job's trusted keys file): a file written by hand, or QA's evidence
presented as staging's, does not."""
from __future__ import annotations

import json

from toolkit.artifacts.stores import ArtifactNotFound, ArtifactStore
from toolkit.bundle.manifest import Manifest
from toolkit.signing.signatures import SignatureRefused, verify
from toolkit.signing.trusted_keys import Trust


def _key(version: str, environment: str) -> str:
    return f"{version}/promotion/{environment}.json"


def _read(store: ArtifactStore, key: str) -> bytes | None:
    try:
        return store.read(key)
    except ArtifactNotFound:
        return None


def evidence_refusal(store: ArtifactStore, version: str, digest: str, environment: str, trust: Trust) -> str | None:
    """Why the store holds no valid evidence that this exact bundle passed ``environment`` (None: it does)."""
    key = _key(version, environment)
    document = _read(store, key)
    if document is None:
        return f"version {version} (bundle {digest[:12]}) has not passed the {environment} integration tests"
    source = f"the {environment} promotion evidence of {version} ({store.describe()}/{key})"
    try:
        verify(document, _read(store, key + ".sig"), trust, source)
        evidence = json.loads(document)
    except SignatureRefused as exc:
        return str(exc)
    except ValueError:
        return f"{source} is not JSON"
    if evidence.get("environment") != environment:
        return f"{source} is {evidence.get('environment')!r}'s evidence, presented as {environment}'s"
    if evidence.get("version") != version or evidence.get("bundle_digest") != digest:
        other = f"{evidence.get('version')}, {str(evidence.get('bundle_digest'))[:12]}"
        return f"{source} is for another bundle ({other}), not {digest[:12]}"
    if evidence.get("outcome") != "passed":
        return f"{source} says {evidence.get('outcome')!r}, not passed"
    return None


def passed_in(store: ArtifactStore, version: str, digest: str, environment: str, trust: Trust) -> bool:
    return evidence_refusal(store, version, digest, environment, trust) is None


def record_passed(store: ArtifactStore, manifest: Manifest, record: dict, signer) -> None:
    """Keep a passed integration-test record (from the environment's ledger) as the version's evidence, signed
    with the stage's own key (the document first: a signature without its document would be a dangling one,
    and either half alone fails verification, so an interrupted write is repaired by the next passing run)."""
    key = _key(manifest.version, record["environment"])
    document = (json.dumps(record, indent=1, sort_keys=True) + "\n").encode()
    signature = signer.sign(document, f"{record['environment']} promotion evidence of {manifest.version}")
    store.write(key, document, overwrite=True)
    store.write(key + ".sig", signature.to_json(), overwrite=True)


def promotion_gaps(store: ArtifactStore | None, version: str, digest: str, requires: list[str],
                   trust_of) -> list[str]:
    """Why a version (this exact bundle) may not be promoted: one reason per environment it has no valid evidence
    of. ``trust_of(environment)`` is the Trust that environment's evidence must verify with."""
    if not requires:
        return []
    if store is None:
        return [f"no artifact store to read the promotion evidence of {version} from"]
    return [reason for name in requires
            if (reason := evidence_refusal(store, version, digest, name, trust_of(name))) is not None]
