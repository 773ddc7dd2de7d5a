"""inv build."""
import json

from invoke import Exit, task


@task(help={"json": "print the build description as JSON (for CI) instead of text"})
def build(c, json_=False):
    """Build the wheel (version from git), its dependency wheelhouse and the release bundle into dist/."""
    from toolkit.build.application import build_application, describe
    from toolkit.build.version import VersionError
    from toolkit.build.wheel import BuildError
    from toolkit.definitions.findings import DefinitionError
    from tasks.repository import DIST, REPO_ROOT

    try:
        result = build_application(REPO_ROOT, DIST)
    except (VersionError, BuildError, DefinitionError) as exc:
        raise Exit(f"build failed: {exc}", code=1)
    info = describe(result, DIST)
    if json_:
        print(json.dumps(info, indent=2))
        return
    print(f"built {info['wheel']} (version {info['version']}, commit {info['commit'][:12]})")
    print(f"wheelhouse: {len(info['wheelhouse'])} runtime dependency wheels in dist/wheelhouse")
    print(f"bundle: dist/{info['bundle']} ({info['bundle_files']} files, digest {info['bundle_digest'][:16]})")
