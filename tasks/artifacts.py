"""inv publish, inv fetch, inv ops.versions: the artifact store."""
import json
from dataclasses import asdict

from invoke import Exit, task

_STORE_HELP = "artifact store configuration file (default: environments/artifacts.toml)"


def _store(store_config):
    from pathlib import Path

    from toolkit.artifacts.config import ConfigError, load_store_config
    from toolkit.artifacts.stores import open_store
    from toolkit.paths import ARTIFACTS_CONFIG, REPO_ROOT

    try:
        return open_store(load_store_config(Path(store_config) if store_config else ARTIFACTS_CONFIG), REPO_ROOT)
    except ConfigError as exc:
        raise Exit(str(exc), code=2)


@task(help={"version": "bundle version to publish (default: the last `inv build`)", "store-config": _STORE_HELP,
            "json": "print the report as JSON", "concurrency": "parallel uploads (default 16; 1 = one at a time)"})
def publish(c, version=None, store_config=None, json_=False, concurrency=16):
    """Upload a built bundle to the artifact store; a published version is never changed."""
    from tasks.common import chosen_version, say
    from toolkit.artifacts.publish import PublishError, publish as publish_bundle
    from toolkit.build.application import BUNDLES
    from toolkit.build.version import is_dirty
    from toolkit.bundle.verify import BundleError
    from toolkit.paths import DIST

    version = chosen_version("publish", version, json_)
    bundle = DIST / BUNDLES / version
    if not bundle.is_dir():
        raise Exit(f"no bundle for version {version} in {bundle.parent}: run `inv build` first", code=1)
    if is_dirty(version):
        say(f"warning: {version} was built from a working tree with uncommitted changes: no commit can rebuild it, "
            "and its promotion evidence names no reviewed code (commit, then build and publish, for a release)")
    store = _store(store_config)
    try:
        report = publish_bundle(bundle, store, int(concurrency), show_progress=not json_)
    except (PublishError, BundleError) as exc:
        raise Exit(f"publish failed: {exc}", code=1)
    if json_:
        print(json.dumps(asdict(report), indent=2))
    elif report.outcome == "already-published":
        print(f"version {report.version} is already published in {report.store} with the same content: "
              "nothing to do")
    else:
        print(f"{report.outcome} version {report.version} to {report.store}: {report.uploaded_files} files "
              f"({report.uploaded_bytes / 1e6:.1f} MB) uploaded, {report.skipped_files} already there, "
              f"{report.seconds:.1f}s")


@task(help={"version": "the published version to download",
            "dest": "folder to put it in (default: dist/fetched/VERSION)", "store-config": _STORE_HELP,
            "json": "print the manifest summary as JSON",
            "digest": "the bundle digest to insist on: a published bundle with another one is refused"})
def fetch(c, version, dest=None, store_config=None, json_=False, digest=None):
    """Download a published bundle and verify every file's digest; a tampered bundle is refused."""
    from pathlib import Path

    from tasks.common import fail, failures
    from toolkit.artifacts.fetch import fetch as fetch_bundle
    from toolkit.paths import DIST

    if not version.strip():
        fail("fetch", "the version is empty: give a published version (`inv ops.versions` lists them)", 2, json_)
    destination = Path(dest) if dest else DIST / "fetched" / version
    with failures("fetch", json_):
        # The default folder is the toolkit's cache (a copy that is not intact is replaced); a folder the user
        # names is never emptied.
        manifest = fetch_bundle(_store(store_config), version, destination, show_progress=not json_,
                                expected_digest=digest, refresh=dest is None)
    summary = {"version": manifest.version, "commit": manifest.commit, "files": len(manifest.files),
               "bundle_digest": manifest.digest, "path": str(destination)}
    print(json.dumps(summary, indent=2) if json_ else
          f"fetched version {manifest.version} ({len(manifest.files)} files verified) into {destination}")


@task(help={"store-config": _STORE_HELP, "json": "print the list as JSON"})
def versions(c, store_config=None, json_=False):
    """List the published versions with their commit and build time (incomplete publishes marked)."""
    from toolkit.artifacts.listing import list_versions

    found = list_versions(_store(store_config))
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
