"""What git knows about a repository: what it tracks, and the config its ignore rules read.

Bytecode that git tracks matters because `.gitignore` cannot help once a cache file is
committed. Tracked paths matter to the walker because ignore rules never apply to them.
"""

from __future__ import annotations

import os
import subprocess
from bisect import bisect_left
from collections.abc import Iterable

# What git itself clears before it runs in another repository (``git rev-parse
# --local-env-vars``): inside a hook they point at the repository that runs the hook.
_LOCAL_ENV = frozenset(
    {
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_CONFIG",
        "GIT_CONFIG_PARAMETERS",
        "GIT_CONFIG_COUNT",
        "GIT_OBJECT_DIRECTORY",
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_IMPLICIT_WORK_TREE",
        "GIT_GRAFT_FILE",
        "GIT_INDEX_FILE",
        "GIT_NO_REPLACE_OBJECTS",
        "GIT_REPLACE_REF_BASE",
        "GIT_PREFIX",
        "GIT_INTERNAL_SUPER_PREFIX",
        "GIT_SHALLOW_FILE",
        "GIT_COMMON_DIR",
    }
)
_TIMEOUT = 120
# Reading the index runs the command that core.fsmonitor names: a directory's own .git/config
# must not run code when the tool merely reads it.
_GIT = ("git", "-c", "core.fsmonitor=false")


class Repository:
    """A work tree whose ``.git`` the walker met; git is asked once for each thing, lazily.

    git runs in the work tree with discovery stopped there, so a ``.git`` that is not a real
    repository never borrows the answers of one above it. Without git, or when git fails,
    nothing is tracked and the config has its defaults.
    """

    __slots__ = ("root", "_prefix", "_config", "_tracked")

    def __init__(self, root: str) -> None:
        self.root = root  # absolute, normalised
        self._prefix = root if root.endswith(os.sep) else root + os.sep
        self._config: tuple[str | None, bool] | None = None
        self._tracked: list[bytes] | None = None

    @property
    def excludes_file(self) -> str | None:
        """``core.excludesFile``, by default ``$XDG_CONFIG_HOME/git/ignore``."""
        return self._read_config()[0]

    @property
    def ignorecase(self) -> bool:
        return self._read_config()[1]

    def tracks(self, path: str) -> bool:
        """Is ``path`` (absolute, normalised, below the root) tracked, or a directory holding
        a tracked path? One ``git ls-files`` on first use."""
        if self._tracked is None:
            out = self._git("ls-files", "-z")
            self._tracked = sorted(filter(None, out.split(b"\0"))) if out else []
        rel = path[len(self._prefix) :]
        if os.sep != "/":  # pragma: no cover - POSIX is what runs the suite
            rel = rel.replace(os.sep, "/")
        key = os.fsencode(rel)
        tracked = self._tracked
        i = bisect_left(tracked, key)
        if i < len(tracked) and tracked[i] == key:
            return True
        key += b"/"
        i = bisect_left(tracked, key, i)
        return i < len(tracked) and tracked[i].startswith(key)

    def _read_config(self) -> tuple[str | None, bool]:
        # One `git config` rather than reading the files: git alone knows every file that
        # counts (system, global, XDG, local, worktree, includes, includeIf, environment).
        if self._config is None:
            out = self._git("config", "-z", "--get-regexp", r"^core\.(excludesfile|ignorecase)$")
            values: dict[str, str | None] = {}
            for item in (out or b"").split(b"\0"):
                if item:
                    key, newline, value = os.fsdecode(item).partition("\n")
                    values[key] = value if newline else None  # the last one wins, as in git
            excludes: str | None
            if "core.excludesfile" in values:
                path = values["core.excludesfile"]
                excludes = os.path.join(self.root, os.path.expanduser(path)) if path else None
            else:
                excludes = default_excludes_file()
            self._config = (excludes, _git_bool(values.get("core.ignorecase", "false")))
        return self._config

    def _git(self, *args: str) -> bytes | None:
        env = {k: v for k, v in os.environ.items() if k not in _LOCAL_ENV}
        env["GIT_CEILING_DIRECTORIES"] = os.path.dirname(self.root)
        try:
            done = subprocess.run(
                [*_GIT, *args],
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout if done.returncode == 0 else None


def default_excludes_file() -> str | None:
    xdg = os.environ.get("XDG_CONFIG_HOME")
    if xdg:
        return os.path.join(xdg, "git", "ignore")
    home = os.environ.get("HOME")
    return os.path.join(home, ".config", "git", "ignore") if home else None


def _git_bool(value: str | None) -> bool:
    if value is None:  # "ignorecase" alone on its line
        return True
    value = value.strip().lower()
    if value in ("true", "yes", "on"):
        return True
    try:
        return int(value) != 0
    except ValueError:
        return False  # "false", "no", "off", "" and what git itself refuses


class TrackedBytecode:
    """``git ls-files`` under each root, started at once and read when the report needs it:
    git lists its index while the tree is walked. A root with no ``.git`` at or above it (and
    no ``GIT_DIR``) is in no repository: git would only say so, so it is not asked."""

    def __init__(self, roots: Iterable[str]) -> None:
        self._runs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self._found: list[str] | None = None
        for root in roots:
            if not _in_repository(root):
                continue
            try:
                process = subprocess.Popen(
                    [*_GIT, "-C", root, "ls-files", "-z", "--", "*.pyc", "*.pyo", "*__pycache__/*"],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                )
            except OSError:
                break  # no git: nothing more can be tracked
            self._runs.append((root, process))

    def result(self) -> list[str]:
        """Absolute paths of tracked ``.pyc``/``.pyo`` files and ``__pycache__`` contents."""
        if self._found is not None:
            return self._found
        found: list[str] = []
        runs, self._runs = self._runs, []
        for n, (root, process) in enumerate(runs):
            try:
                out, _ = process.communicate(timeout=_TIMEOUT)
            except subprocess.TimeoutExpired:
                for _, stuck in runs[n:]:
                    stuck.kill()
                    stuck.communicate()
                break
            if process.returncode != 0:
                continue  # not a repository
            for raw in out.split(b"\0"):
                if not raw:
                    continue
                rel = os.fsdecode(raw)
                parts = rel.split("/")
                if rel.endswith((".pyc", ".pyo")) or "__pycache__" in parts[:-1]:
                    found.append(os.path.join(root, *parts))
        self._found = sorted(set(found))
        return self._found


def tracked_bytecode(roots: Iterable[str]) -> list[str]:
    """Absolute paths of tracked ``.pyc``/``.pyo`` files and ``__pycache__`` contents under ``roots``."""
    return TrackedBytecode(roots).result()


def _in_repository(root: str) -> bool:
    return bool(os.environ.get("GIT_DIR")) or work_tree_of(root) is not None


def work_tree_of(path: str) -> str | None:
    """The nearest directory at or above ``path`` that holds a ``.git``; None if none does."""
    directory = path
    while True:
        if os.path.lexists(os.path.join(directory, ".git")):
            return directory
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent
