"""inv publish (signed), inv fetch, inv verify, inv ops.versions: the artifact store."""
import json
from dataclasses import asdict

from invoke import Exit, task

from parking_release.common import (SOURCE_HELP, check_target, chosen_version, fail, failures, known_keys,
                                    open_store, say, target_for)
from parking_release.context import workplace

_STORE_HELP = SOURCE_HELP["store-config"]


_TRUST_HELP = {
    "env": "whose trust to check with: the keys the trusted keys file's [trust.ENV] accepts for bundles "
           "(default: prod)",
    "target": "sandbox (default) or azure: where the trusted keys come from when $PARKING_TRUSTED_KEYS is not set",
}


def _signer(place, target, signing_config):
    from pathlib import Path

    from toolkit.signing.signers import BUNDLES, KeyVaultSigner, load_signing_config

    path = Path(signing_config) if signing_config else place.environments("publish") / "signing.toml"
    return KeyVaultSigner(target_for(target, place), load_signing_config(path), BUNDLES)


@task(help={"version": "bundle version to publish (default: the last `inv build`)", "store-config": _STORE_HELP,
            "json": "print the report as JSON", "concurrency": "parallel uploads (default 16; 1 = one at a time)",
            "target": "where the signing key is: sandbox (default) or azure (the build pipeline's Key Vault key)",
            "signing-config": "who signs (default: the clone's environments/signing.toml)",
            "resign": "replace the signature of a published version with one by the current key (a rotation); the "
                      "bundle is this build, which must match what is published"})
def publish(c, version=None, store_config=None, json_=False, concurrency=16, target="sandbox", signing_config=None,
            resign=False):
    """Sign a built bundle's manifest with the release key in Key Vault and upload it; a published version is
    never changed. Runs in a clone (`--root`), on what `inv build` made there."""
    from toolkit.artifacts.publish import PublishError, publish as publish_bundle
    from toolkit.build.application import BUNDLES
    from toolkit.build.version import is_dirty
    from toolkit.bundle.verify import BundleError

    check_target("publish", target, json_)
    with failures("publish", json_):
        place = workplace(c)
        version = chosen_version("publish", version, place, json_)
        if place.project is None:
            fail("publish", "publish sends what `inv build` made in a clone: pass --root with it", 2, json_)
        bundle = place.project.dist / BUNDLES / version
        if not bundle.is_dir():
            raise Exit(f"no bundle for version {version} in {bundle.parent}: run `inv build` first", code=1)
        if is_dirty(version):
            say(f"warning: {version} was built from a working tree with uncommitted changes: no commit can rebuild "
                "it, and its promotion evidence names no reviewed code (commit, then build and publish, for a release)")
        store = open_store(place, store_config)
        signer = _signer(place, target, signing_config)
        try:
            report = publish_bundle(bundle, store, signer, int(concurrency), show_progress=not json_, resign=resign)
        except (PublishError, BundleError) as exc:
            raise Exit(f"publish failed: {exc}", code=1)
    if json_:
        print(json.dumps(asdict(report), indent=2))
        return
    signed = f"signature {report.signature} (key {report.signed_by})"
    if report.outcome == "already-published":
        print(f"version {report.version} is already published in {report.store} with the same content; {signed}")
    else:
        print(f"{report.outcome} version {report.version} to {report.store}: {report.uploaded_files} files "
              f"({report.uploaded_bytes / 1e6:.1f} MB) uploaded, {report.skipped_files} already there, "
              f"{report.seconds:.1f}s; {signed}")


def _check_version(task_name, version, json_):
    """VERSION is positional: invoke gives it whatever comes next, `--help` included."""
    if not version.strip():
        fail(task_name, "the version is empty: give a published version (`inv ops.versions` lists them)", 2, json_)
    if version.startswith("-"):
        fail(task_name, f"{version!r} is not a version: options go after it, and `inv --help {task_name}` shows them",
             2, json_)


def _bundle_trust(place, store, version, env, target, key):
    """What a published bundle's signature must verify with: one public key file (``--key``), else the keys
    the job's trusted keys file accepts for ``env``'s bundles."""
    from pathlib import Path

    from toolkit.artifacts.signature import key_file_trust

    if key:
        return key_file_trust(store, version, Path(key))
    return known_keys(target, place).bundle_trust(env)


@task(help={"version": "the published version to download",
            "dest": "folder to put it in (default: fetched/VERSION in the clone's dist/, else in .parking-release/)",
            "store-config": _STORE_HELP,
            "json": "print the manifest summary as JSON",
            "digest": "the bundle digest to insist on: a published bundle with another one is refused",
            "key": "a public key file (PEM) to check the signature with, instead of the trusted keys", **_TRUST_HELP})
def fetch(c, version, dest=None, store_config=None, json_=False, digest=None, env="prod", target="sandbox", key=None):
    """Download a published bundle once its signature verifies, then verify every file's digest; an unsigned,
    untrusted or tampered bundle is refused before anything is written."""
    from pathlib import Path

    from toolkit.artifacts.fetch import fetch as fetch_bundle

    check_target("fetch", target, json_)
    _check_version("fetch", version, json_)
    with failures("fetch", json_):
        place = workplace(c)
        destination = Path(dest) if dest else place.work / "fetched" / version
        store = open_store(place, store_config)
        # The default folder is the toolkit's cache (a copy that is not intact is replaced); a folder the user
        # names is never emptied.
        manifest = fetch_bundle(store, version, destination, _bundle_trust(place, store, version, env, target, key),
                                show_progress=not json_, expected_digest=digest, refresh=dest is None)
    summary = {"version": manifest.version, "commit": manifest.commit, "files": len(manifest.files),
               "bundle_digest": manifest.digest, "path": str(destination)}
    print(json.dumps(summary, indent=2) if json_ else
          f"fetched version {manifest.version} ({len(manifest.files)} files verified) into {destination}")


@task(help={"version": "the published version to check", "store-config": _STORE_HELP,
            "key": "a public key file (PEM) to check the signature with, instead of the trusted keys",
            "json": "print the result as JSON", **_TRUST_HELP})
def verify(c, version, key=None, store_config=None, env="prod", target="sandbox", json_=False):
    """Check a published bundle offline (no vault): its signature with a public key and every file's digest
    (exit 1 if either fails), and, without --key, which promotion evidence ENV would accept (reported; deploy-prod
    and swap enforce it)."""
    from toolkit.artifacts.check import verify_published_bundle

    check_target("verify", target, json_)
    _check_version("verify", version, json_)
    with failures("verify", json_):
        place = workplace(c)
        store = open_store(place, store_config)
        evidence_of = None
        if not key:
            known = known_keys(target, place)
            evidence_of = {name: known.evidence_trust(env, name) for name in known.evidence_names(env)}
        result = verify_published_bundle(store, version, _bundle_trust(place, store, version, env, target, key),
                                         evidence_of, show_progress=not json_)
    if json_:
        print(json.dumps(result, indent=2))
        return
    print(f"version {result['version']}: signed by {result['signed_by']} ({result['key_id']}); "
          f"{result['files']} files match the manifest (bundle {result['bundle_digest'][:12]})")
    for name, refusal in (result.get("evidence") or {}).items():
        print(f"  {name} promotion evidence: {refusal or 'signed and valid'}")


@task(help={"store-config": _STORE_HELP, "json": "print the list as JSON"})
def versions(c, store_config=None, json_=False):
    """List the published versions with their commit and build time (incomplete publishes marked)."""
    from toolkit.artifacts.listing import list_versions

    with failures("ops.versions", json_):
        found = list_versions(open_store(workplace(c), store_config))
    if json_:
        print(json.dumps([asdict(v) for v in found], indent=2))
        return
    if not found:
        print("no version published yet")
    for v in found:
        if v.complete:
            print(f"{v.version:<50} {v.build_time}  commit {v.commit[:12]}  {v.files} files")
        else:
            print(f"{v.version:<50} INCOMPLETE (no manifest: re-run its publish)")
