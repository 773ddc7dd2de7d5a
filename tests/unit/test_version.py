import subprocess

import pytest
from packaging.version import Version

from toolkit.build.version import GitState, VersionError, compute_version, pep440_version, read_git_state


def _git(repo, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True,
                   capture_output=True)


@pytest.fixture
def repo(tmp_path):
    _git(tmp_path, "init", "-q")
    (tmp_path / ".gitignore").write_text("dist/\n")
    (tmp_path / "a.txt").write_text("one\n")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "first")
    return tmp_path


def _state(**kw):
    base = dict(commit="abcdef0123456789" * 2 + "abcdef01", tag=None, distance=3, dirty_digest=None, commit_time=0)
    return GitState(**{**base, **kw})


@pytest.mark.parametrize("state, expected", [
    (_state(), "0.1.0.dev3+gabcdef012345"),
    (_state(tag="v1.2.3", distance=0), "1.2.3"),
    (_state(tag="v1.2.3", distance=2), "1.2.4.dev2+gabcdef012345"),
    (_state(tag="v1.2.3", distance=0, dirty_digest="00112233445566778899"),
     "1.2.4.dev0+gabcdef012345.dirty001122334455"),
])
def test_versions_are_pep440_and_normalize_to_themselves(state, expected):
    version = pep440_version(state)
    assert version == expected
    assert str(Version(version)) == version  # nothing in it is rewritten by pip or the wheel name


def test_each_commit_gets_its_own_version(repo):
    first = compute_version(repo)
    (repo / "a.txt").write_text("two\n")
    _git(repo, "commit", "-qam", "second")
    second = compute_version(repo)
    assert first.startswith("0.1.0.dev1+g") and second.startswith("0.1.0.dev2+g") and first != second


def test_a_dirty_tree_is_marked_and_different_changes_give_different_versions(repo):
    clean = compute_version(repo)
    (repo / "a.txt").write_text("changed\n")
    dirty_a = compute_version(repo)
    (repo / "a.txt").write_text("changed differently\n")
    dirty_b = compute_version(repo)
    (repo / "new.txt").write_text("untracked\n")
    dirty_c = compute_version(repo)
    assert ".dirty" in dirty_a and len({clean, dirty_a, dirty_b, dirty_c}) == 4
    (repo / "dist").mkdir()
    (repo / "dist" / "ignored.whl").write_text("x")
    assert compute_version(repo) == dirty_c  # ignored files do not count


def test_tags_set_the_release_version(repo):
    _git(repo, "tag", "v2.0.0")
    assert compute_version(repo) == "2.0.0"
    state = read_git_state(repo)
    assert state.tag == "v2.0.0" and state.distance == 0 and state.commit_time > 0


def test_outside_git_the_error_says_why(tmp_path):
    with pytest.raises(VersionError, match="not a git work tree"):
        compute_version(tmp_path)


def test_a_repository_without_commits_is_refused(tmp_path):
    _git(tmp_path, "init", "-q")
    with pytest.raises(VersionError, match="no commit yet"):
        compute_version(tmp_path)
