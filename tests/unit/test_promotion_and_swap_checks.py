"""The promotion rule's evidence in the artifact store (signed by each stage's own key), and the checks a swap
makes before it writes."""
import json
from types import SimpleNamespace

from tests.signing_helpers import LocalSigner
from toolkit.artifacts.stores import LocalStore
from toolkit.signing.trusted_keys import EnvironmentTrust, KnownKeys
from toolkit.environments.model import load_environment
from tasks.repository import ENVIRONMENTS
from toolkit.release.promotion import passed_in, promotion_gaps, record_passed
from toolkit.release.slots import Slot, idle_slot, live_slot
from toolkit.release.swap import swap_refusals

DIGEST = "d" * 64
PROD = load_environment(ENVIRONMENTS, "prod", "sandbox", environ={})
SIGNERS = {name: LocalSigner(f"{name}-signer") for name in ("qa", "staging")}
KNOWN = KnownKeys(tuple(s.trusted_key() for s in SIGNERS.values()), "the test's trusted keys",
                  {"prod": EnvironmentTrust(bundles=["release-signer"],
                                            evidence={"qa": ["qa-signer"], "staging": ["staging-signer"]})})


def _trust(name):
    return KNOWN.evidence_trust("prod", name)


def _passed(environment, digest=DIGEST, outcome="passed"):
    return {"event": "integration-tests", "environment": environment, "version": "1.0.0", "bundle_digest": digest,
            "outcome": outcome}


def test_evidence_counts_only_for_the_exact_bundle_that_passed(tmp_path):
    store = LocalStore(tmp_path)
    manifest = SimpleNamespace(version="1.0.0", digest=DIGEST)
    assert promotion_gaps(store, "1.0.0", DIGEST, ["qa", "staging"], _trust) == [
        f"version 1.0.0 (bundle {DIGEST[:12]}) has not passed the qa integration tests",
        f"version 1.0.0 (bundle {DIGEST[:12]}) has not passed the staging integration tests"]
    record_passed(store, manifest, _passed("qa"), SIGNERS["qa"])
    assert json.loads((tmp_path / "1.0.0" / "promotion" / "qa.json").read_text())["outcome"] == "passed"
    assert promotion_gaps(store, "1.0.0", DIGEST, ["qa", "staging"], _trust) == [
        f"version 1.0.0 (bundle {DIGEST[:12]}) has not passed the staging integration tests"]
    record_passed(store, manifest, _passed("staging", digest="e" * 64), SIGNERS["staging"])  # another build
    assert not passed_in(store, "1.0.0", DIGEST, "staging", _trust("staging"))
    record_passed(store, manifest, _passed("staging"), SIGNERS["staging"])
    assert promotion_gaps(store, "1.0.0", DIGEST, ["qa", "staging"], _trust) == []
    assert promotion_gaps(None, "1.0.0", DIGEST, ["qa"], _trust) == [
        "no artifact store to read the promotion evidence of 1.0.0 from"]
    assert promotion_gaps(None, "1.0.0", DIGEST, [], _trust) == []


def _evidence(tmp_path, name):
    return tmp_path / "1.0.0" / "promotion" / f"{name}.json"


def test_evidence_counts_only_when_signed_by_the_key_trusted_for_its_stage(tmp_path):
    store = LocalStore(tmp_path)
    manifest = SimpleNamespace(version="1.0.0", digest=DIGEST)
    record_passed(store, manifest, _passed("qa"), SIGNERS["qa"])
    assert passed_in(store, "1.0.0", DIGEST, "qa", _trust("qa"))
    # Written by hand: a document without a signature.
    _evidence(tmp_path, "staging").write_text(json.dumps(_passed("staging")))
    [reason] = promotion_gaps(store, "1.0.0", DIGEST, ["staging"], _trust)
    assert reason.startswith("the staging promotion evidence of 1.0.0") and "is unsigned" in reason
    # QA's signed evidence presented as staging's: signed by a key prod does not trust for staging.
    for suffix in ("", ".sig"):
        (tmp_path / "1.0.0" / "promotion" / f"staging.json{suffix}").write_bytes(
            (tmp_path / "1.0.0" / "promotion" / f"qa.json{suffix}").read_bytes())
    [reason] = promotion_gaps(store, "1.0.0", DIGEST, ["staging"], _trust)
    assert "is signed by qa-signer" in reason and "a key prod (for staging's promotion evidence) does not trust " \
        "(it trusts staging-signer)" in reason
    # Staging's own key signing a document that names another environment (a stage's key misused).
    signature = SIGNERS["staging"].sign(json.dumps(_passed("qa")).encode(), "x")
    _evidence(tmp_path, "staging").write_text(json.dumps(_passed("qa")))
    (tmp_path / "1.0.0" / "promotion" / "staging.json.sig").write_bytes(signature.to_json())
    [reason] = promotion_gaps(store, "1.0.0", DIGEST, ["staging"], _trust)
    assert reason.endswith("is 'qa''s evidence, presented as staging's")
    # Edited after signing: a bad signature.
    record_passed(store, manifest, _passed("staging"), SIGNERS["staging"])
    edited = json.loads(_evidence(tmp_path, "staging").read_text()) | {"when": "yesterday"}
    _evidence(tmp_path, "staging").write_text(json.dumps(edited))
    [reason] = promotion_gaps(store, "1.0.0", DIGEST, ["staging"], _trust)
    assert "has a bad signature: it does not verify with staging-signer" in reason
    # Signed by a key nobody listed.
    record_passed(store, manifest, _passed("staging"), LocalSigner("staging-signer"))
    [reason] = promotion_gaps(store, "1.0.0", DIGEST, ["staging"], _trust)
    assert "is signed by an unknown key https://kv-test.vault.azure.net/keys/staging-signer/" in reason


def test_the_live_slot_is_the_one_the_factory_pointer_names():
    assert live_slot(PROD, {}) is None and idle_slot(PROD, None) == "blue"
    pointer = {"notebookRoot": {"type": "String", "value": "/parking-sensors/slots/blue/notebooks"}}
    assert live_slot(PROD, pointer) == "blue" and idle_slot(PROD, "blue") == "green"
    assert idle_slot(PROD, "green") == "blue"
    assert live_slot(PROD, {"notebookRoot": {"value": "/parking-sensors/releases/1.0.0/notebooks"}}) is None


def _slot(version="1.0.0", cluster="c-1"):
    return Slot("green", "/parking-sensors/slots/green", "parking-sensors-green", False, version,
                DIGEST if version else None, cluster)


def _smoke(outcome="passed", version="1.0.0", slot="green"):
    return {"event": "smoke-test", "slot": slot, "version": version, "bundle_digest": DIGEST, "outcome": outcome,
            "when": "t1", "error": None if outcome == "passed" else "boom"}


def _audited(outcome="passed", version="1.0.0"):
    return {"event": "audit", "slot": "green", "version": version, "bundle_digest": DIGEST, "outcome": outcome,
            "when": "t1", "diff": {}}


def _promoted(tmp_path):
    store = LocalStore(tmp_path)
    for name in ("qa", "staging"):
        record_passed(store, SimpleNamespace(version="1.0.0", digest=DIGEST), _passed(name), SIGNERS[name])
    return store


def test_a_smoke_tested_promoted_slot_may_go_live(tmp_path):
    assert swap_refusals(PROD, _slot(), [_smoke(), _audited()], _promoted(tmp_path), rollback=False,
                         known=KNOWN) == []


def test_the_swap_refuses_an_empty_untested_failed_or_unpromoted_slot(tmp_path):
    store = _promoted(tmp_path)
    assert swap_refusals(PROD, _slot(version=None), [], store, False, KNOWN) == [
        "slot green holds no complete release (run deploy-prod first)"]
    assert swap_refusals(PROD, _slot(), [_audited()], store, False, KNOWN) == [
        "slot green's version 1.0.0 has not been smoke-tested there"]
    assert swap_refusals(PROD, _slot(), [_smoke(slot="blue"), _audited()], store, False, KNOWN) == [
        "slot green's version 1.0.0 has not been smoke-tested there"]
    assert swap_refusals(PROD, _slot(), [_smoke("failed"), _audited()], store, False, KNOWN) == [
        "slot green's smoke test failed at t1: boom"]
    failed_deploy = {"event": "deploy", "slot": "green", "outcome": "failed", "when": "t2", "error": "application: x"}
    assert swap_refusals(PROD, _slot(), [_smoke(), _audited(), failed_deploy], store, False, KNOWN) == [
        "the last deploy to slot green failed at t2: application: x"]
    assert swap_refusals(PROD, _slot(cluster=None), [_smoke(), _audited()], store, False, KNOWN) == [
        "slot green has no cluster parking-sensors-green (run deploy-prod)"]
    assert swap_refusals(PROD, _slot(), [_smoke(), _audited(version="0.9.0")], store, False, KNOWN) == [
        f"slot green's version 1.0.0 has not been audited there ({PROD.source} has [audit]: deploy-prod audits it; "
        "--retest audits again)"]
    assert swap_refusals(PROD, _slot(), [_smoke(), _audited()], LocalStore(tmp_path / "empty"), False, KNOWN) == [
        f"version 1.0.0 (bundle {DIGEST[:12]}) has not passed the qa integration tests",
        f"version 1.0.0 (bundle {DIGEST[:12]}) has not passed the staging integration tests"]


def test_a_rollback_goes_only_to_a_version_that_was_live_in_that_slot(tmp_path):
    store = _promoted(tmp_path)
    assert swap_refusals(PROD, _slot(), [_smoke(), _audited()], store, rollback=True, known=KNOWN) == [
        "slot green's version 1.0.0 was never live here: nothing to roll back to (`inv swap` rolls forward)"]
    went_live = {"event": "swap", "outcome": "succeeded", "to_slot": "green", "version": "1.0.0"}
    assert swap_refusals(PROD, _slot(), [_smoke(), _audited(), went_live], store, rollback=True, known=KNOWN) == []
    # A rollback does not ask for an audit: the version ran production already (and may predate audits).
    assert swap_refusals(PROD, _slot(), [_smoke(), went_live], store, rollback=True, known=KNOWN) == []
