"""The pre-commit hooks, run by the real pre-commit framework against a committed snapshot of
this repository, in temporary git repositories."""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.cleantrees import TAG, assert_removed, compile_here, snapshot
from tests.conftest import write

REPO = Path(__file__).resolve().parents[1]
PRE_COMMIT = Path(sys.executable).parent / "pre-commit"
MANIFEST = REPO / ".pre-commit-hooks.yaml"

pytestmark = [
    pytest.mark.precommit,
    pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed"),
    pytest.mark.skipif(not PRE_COMMIT.exists(), reason="pre-commit is not installed (make test)"),
]


def load_yaml(path: Path) -> Any:
    yaml = importlib.import_module("yaml")  # pre-commit's own dependency (no type stubs)
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def hooks() -> list[dict[str, Any]]:
    data = load_yaml(MANIFEST)
    assert isinstance(data, list)
    return data


@dataclass(frozen=True)
class Env:
    """An isolated environment: no user git config, one shared pre-commit store."""

    vars: Mapping[str, str]
    rev: str  # the snapshot commit of this repository
    snapshot: Path

    def run(self, cwd: Path, *argv: str, ok: tuple[int, ...] = (0,)) -> str:
        done = subprocess.run(
            argv,
            cwd=cwd,
            env=dict(self.vars),
            capture_output=True,
            text=True,
            timeout=300,
        )
        output = done.stdout + done.stderr
        assert done.returncode in ok, f"{argv}: exit {done.returncode}\n{output}"
        return output

    def git(self, cwd: Path, *args: str, ok: tuple[int, ...] = (0,)) -> str:
        return self.run(cwd, "git", *args, ok=ok)

    def pre_commit(self, cwd: Path, *args: str, ok: tuple[int, ...] = (0,)) -> str:
        return self.run(cwd, str(PRE_COMMIT), *args, ok=ok)

    def new_repo(self, path: Path, hook_ids: list[str]) -> Path:
        path.mkdir(parents=True)
        self.git(path, "init", "-q", "-b", "main")
        self.git(path, "config", "user.name", "Test")
        self.git(path, "config", "user.email", "test@example.com")
        listed = "\n".join(f"      - id: {h}" for h in hook_ids)
        write(
            path / ".pre-commit-config.yaml",
            f"repos:\n  - repo: {self.snapshot}\n    rev: {self.rev}\n    hooks:\n{listed}\n",
        )
        self.git(path, "add", ".pre-commit-config.yaml")
        return path


@pytest.fixture(scope="session")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    base = tmp_path_factory.mktemp("hooks")
    home = base / "home"
    home.mkdir()
    variables = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GIT_", "PRE_COMMIT", "PYTHON", "VIRTUAL_ENV"))
    }
    user_pip = Path.home() / ".config" / "pip" / "pip.conf"  # the package index settings
    if user_pip.is_file() and "PIP_CONFIG_FILE" not in variables:
        variables["PIP_CONFIG_FILE"] = str(user_pip)
    variables.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        GIT_CONFIG_GLOBAL=str(home / "gitconfig"),
        GIT_CONFIG_NOSYSTEM="1",
        PRE_COMMIT_HOME=str(base / "pre-commit-home"),
        LC_ALL="C.UTF-8",
    )
    (home / "gitconfig").write_text("[init]\n\tdefaultBranch = main\n", encoding="utf-8")
    # A commit of the working tree as it is now (tracked and untracked, not ignored), so the
    # hooks under test are the ones in this checkout, committed or not.
    snap = base / "snapshot"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for rel in filter(None, listed):
        source = REPO / os.fsdecode(rel)
        if source.is_file() and not source.is_symlink():
            target = snap / os.fsdecode(rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    result = Env(variables, "", snap)
    result.git(snap, "init", "-q")
    result.git(snap, "add", "-A")
    result.git(
        snap, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-q", "-m", "s"
    )
    rev = result.git(snap, "rev-parse", "HEAD").strip()
    yield Env(variables, rev, snap)


def test_manifest_is_valid(env: Env) -> None:
    env.pre_commit(REPO, "validate-manifest", str(MANIFEST))


def test_entries_are_console_scripts_and_ids_are_documented() -> None:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    scripts = set(
        re.findall(r"^([\w-]+)\s*=", text.split("[project.scripts]", 1)[1].split("\n[")[0], re.M)
    )
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(hooks()) >= 3
    for hook in hooks():
        assert hook["id"] in readme, f"{hook['id']} is not in the README"
        if hook["language"] == "fail":
            continue  # the entry is the message
        assert hook["entry"].split()[0] in scripts, hook


@pytest.mark.parametrize(
    "staged",
    [
        [f"__pycache__/top.{TAG}.pyc"],
        [f"pkg/sub/__pycache__/nested.{TAG}.pyc"],
        ["legacy.pyo"],
        ["old.pyc"],
        ["pkg/__pycache__/notes.txt"],
    ],
)
def test_forbid_bytecode_refuses_the_commit(env: Env, tmp_path: Path, staged: list[str]) -> None:
    repo = env.new_repo(tmp_path / "repo", ["forbid-bytecode"])
    env.pre_commit(repo, "install")
    write(repo / "ok.py", "X = 1\n")
    for rel in staged:
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_bytes(b"\x00bytecode")
    env.git(repo, "add", "-f", "ok.py", *staged)
    out = env.git(repo, "commit", "-m", "with bytecode", ok=(1,))
    assert "git rm -r --cached" in out
    for rel in staged:
        assert rel in out
    assert env.git(repo, "rev-parse", "--verify", "-q", "HEAD", ok=(0, 1)) == ""  # no commit
    # Following the advice makes the commit pass; the file stays on disk.
    env.git(repo, "rm", "-r", "-q", "--cached", "--", *staged)
    env.git(repo, "commit", "-q", "-m", "without bytecode")
    assert all((repo / rel).exists() for rel in staged)


def test_forbid_bytecode_allows_extension_modules(env: Env, tmp_path: Path) -> None:
    repo = env.new_repo(tmp_path / "repo", ["forbid-bytecode"])
    env.pre_commit(repo, "install")
    write(repo / "fast.pyd", "MZ not really a dll\n")
    write(repo / "pyc_notes.py", "X = 1\n")  # a name that only contains "pyc"
    env.git(repo, "add", "fast.pyd", "pyc_notes.py")
    env.git(repo, "commit", "-q", "-m", "extension module")


def test_forbid_bytecode_stays_out_of_checkouts(env: Env, tmp_path: Path) -> None:
    """A hook with no stages runs (as "Skipped") on every checkout and merge: this one has stages."""
    repo = env.new_repo(tmp_path / "repo", ["forbid-bytecode", "pycache-clean-after-checkout"])
    env.pre_commit(repo, "install", "--hook-type", "post-checkout", "--hook-type", "pre-commit")
    write(repo / "ok.py", "X = 1\n")
    env.git(repo, "add", "ok.py")
    assert "forbid committed Python bytecode" in env.git(repo, "commit", "-m", "one")
    out = env.git(repo, "checkout", "-b", "other")
    assert "remove stale and orphaned Python bytecode" in out
    assert "forbid committed Python bytecode" not in out


def test_checkout_removes_orphaned_caches_and_ghosts(env: Env, tmp_path: Path) -> None:
    repo = env.new_repo(tmp_path / "repo", ["pycache-clean-after-checkout"])
    env.pre_commit(repo, "install", "--hook-type", "post-checkout", "--hook-type", "post-merge")
    write(repo / "pkg" / "__init__.py", "")
    write(repo / "pkg" / "kept.py", "K = 1\n")
    write(repo / "pkg" / "dropped.py", "D = 1\n")
    write(repo / "oldpkg" / "mod.py", "M = 1\n")
    env.git(repo, "add", "-A")
    env.git(repo, "commit", "-q", "-m", "one")
    env.git(repo, "checkout", "-q", "-b", "cleanup")
    env.git(repo, "rm", "-q", "pkg/dropped.py", "oldpkg/mod.py")
    env.git(repo, "commit", "-q", "-m", "drop a module and a package")
    env.git(repo, "checkout", "-q", "main")
    caches = {
        name: compile_here(repo / name)
        for name in ("pkg/__init__.py", "pkg/kept.py", "pkg/dropped.py", "oldpkg/mod.py")
    }
    before = snapshot(repo)
    out = env.git(repo, "checkout", "cleanup")
    gone = {caches["pkg/dropped.py"], caches["oldpkg/mod.py"]}
    gone |= {repo / "pkg" / "dropped.py", repo / "oldpkg" / "mod.py"}  # git's own doing
    gone |= {repo / "oldpkg" / "__pycache__", repo / "oldpkg"}  # the ghost package
    after = snapshot(repo)
    ignored = os.fsencode(repo / ".git")
    assert_removed(
        {k: v for k, v in before.items() if not k.startswith(ignored)},
        {k: v for k, v in after.items() if not k.startswith(ignored)},
        gone,
    )
    assert "remove stale and orphaned Python bytecode" in out
    # post-merge: merging a branch that deletes a module cleans up after the merge.
    env.git(repo, "checkout", "-q", "-b", "drop-kept")
    env.git(repo, "rm", "-q", "pkg/kept.py")
    env.git(repo, "commit", "-q", "-m", "drop kept")
    env.git(repo, "checkout", "-q", "cleanup")
    kept_cache = compile_here(repo / "pkg" / "kept.py")
    env.git(repo, "merge", "-q", "--ff-only", "drop-kept")
    assert not kept_cache.exists()
    assert caches["pkg/__init__.py"].exists()


def test_audit_hook_fails_on_findings(env: Env, tmp_path: Path) -> None:
    repo = env.new_repo(tmp_path / "repo", ["pycache-audit"])
    compile_here(write(repo / "fine.py", "F = 1\n"))
    env.git(repo, "add", "fine.py")
    env.git(repo, "commit", "-q", "-m", "one")
    env.pre_commit(repo, "run", "--hook-stage", "manual", "pycache-audit")
    gone = write(repo / "gone.py", "G = 1\n")
    compile_here(gone)
    gone.unlink()
    out = env.pre_commit(repo, "run", "--hook-stage", "manual", "pycache-audit", ok=(1,))
    assert "orphan" in out and f"gone.{TAG}.pyc" in out
