"""PEP 440 versions derived from git, unique per commit and per dirty tree.

A cluster keeps a wheel it has installed until it restarts, and pip will not reinstall a
version it already has: two different builds must never share a version. So:

- on a tag vX.Y.Z with a clean tree: ``X.Y.Z``;
- otherwise: ``X.Y.(Z+1).devN+g<commit>`` (N commits after the tag; ``0.1.0.devN`` with no tag);
- a dirty tree adds ``.dirty<digest>`` to the local label, the digest covering every
  uncommitted change (tracked diffs and untracked, non-ignored files).
"""
from __future__ import annotations

import hashlib
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

_TAG = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")


class VersionError(RuntimeError):
    pass


@dataclass(frozen=True)
class GitState:
    commit: str  # full sha
    tag: str | None  # newest vX.Y.Z tag reachable from HEAD
    distance: int  # commits from that tag (or from the root) to HEAD
    dirty_digest: str | None  # sha256 of the uncommitted changes, None when clean
    commit_time: int  # committer time of HEAD, seconds since the epoch


def _git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, check=check)
    except FileNotFoundError:
        raise VersionError("git is not installed: the version is derived from git") from None
    except subprocess.CalledProcessError as exc:
        raise VersionError(f"git {' '.join(args)} failed in {repo}: {exc.stderr.decode().strip()}") from None


def _dirty_digest(repo: Path) -> str | None:
    status = _git(repo, "status", "--porcelain", "--untracked-files=all").stdout
    if not status.strip():
        return None
    digest = hashlib.sha256(_git(repo, "diff", "HEAD", "--binary").stdout)
    untracked = _git(repo, "ls-files", "--others", "--exclude-standard", "-z").stdout.split(b"\0")
    for name in sorted(n for n in untracked if n):
        digest.update(b"\0" + name + b"\0")
        path = repo / name.decode()
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def read_git_state(repo: Path) -> GitState:
    if _git(repo, "rev-parse", "--is-inside-work-tree", check=False).returncode != 0:
        raise VersionError(f"{repo} is not a git work tree: the build version is derived from git")
    if _git(repo, "rev-parse", "--verify", "-q", "HEAD", check=False).returncode != 0:
        raise VersionError(f"{repo} has no commit yet: commit once so the build has a version")
    commit = _git(repo, "rev-parse", "HEAD").stdout.decode().strip()
    described = _git(repo, "describe", "--tags", "--abbrev=0", "--match", "v[0-9]*", check=False)
    tag = described.stdout.decode().strip() if described.returncode == 0 else None
    if tag and not _TAG.match(tag):
        tag = None
    span = f"{tag}..HEAD" if tag else "HEAD"
    distance = int(_git(repo, "rev-list", "--count", span).stdout.decode().strip())
    commit_time = int(_git(repo, "log", "-1", "--format=%ct", "HEAD").stdout.decode().strip())
    return GitState(commit, tag, distance, _dirty_digest(repo), commit_time)


def pep440_version(state: GitState) -> str:
    if state.tag:
        major, minor, patch = (int(p) for p in _TAG.match(state.tag).groups())
        if state.distance == 0 and state.dirty_digest is None:
            return f"{major}.{minor}.{patch}"
        base = f"{major}.{minor}.{patch + 1}"
    else:
        base = "0.1.0"
    local = f"g{state.commit[:12]}"
    if state.dirty_digest:
        local += f".dirty{state.dirty_digest[:12]}"  # one segment: never read as a number
    return f"{base}.dev{state.distance}+{local}"


def compute_version(repo: Path) -> str:
    """The version of a build made from ``repo`` as it is now."""
    return pep440_version(read_git_state(repo))


def is_dirty(version: str) -> bool:
    """Whether ``version`` was built from a working tree with uncommitted changes (its local label says so)."""
    return any(segment.startswith("dirty") for segment in version.partition("+")[2].split("."))
