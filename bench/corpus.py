"""The benchmark tree: copies of several interpreters' standard libraries, each compiled by
its own interpreter, built once and cached under ``.bench/``.

Layout: ``TREE/cpython-3.12/copy-2/<the stdlib>``. Each copy's sources keep the installed
mtimes (``shutil.copytree`` copies them), ``site-packages``, ``config-*`` (the static
libpython) and the installed caches are left out, and the copy is compiled by
``python -m compileall -q -j0`` of its own interpreter. Compile errors are expected (the
stdlib's tests carry deliberately broken files) and only counted.

Then the tool's default target (the interpreter running the benchmark) compiles the whole
tree once more ("priming"). ``compileall`` run by that interpreter over the tree writes a
cache for every source it can compile, in the other versions' copies too, so without this
the first compileall run of the benchmark would compile ~15k files and change the tree under
the other measurements. Primed, every later run is a pure "is everything fresh?" pass and
the tree stays the same from run to run. The other versions' copies therefore hold two
caches per source: their own interpreter's and the target's.

A ``manifest.json`` written last marks a complete tree and records how it was built; a
missing or different manifest (other interpreters, copies or target) means rebuild.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from harness import BenchError

MANIFEST_FORMAT = 1
TREE_NAME = "stdlib-tree"
# Variables that change what compileall writes (or where), or what the interpreters import.
_UNSET = (
    "PYTHONDONTWRITEBYTECODE",
    "SOURCE_DATE_EPOCH",  # compileall would write checked-hash pycs
    "PYTHONPYCACHEPREFIX",
    "PYTHONOPTIMIZE",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSAFEPATH",
)
_VERSION_DIR = re.compile(r"\A(\d+)\.(\d+)\.(\d+)\Z")
_STDLIB_QUERY = (
    "import sys, sysconfig; print(sysconfig.get_path('stdlib')); print(sys.version.split()[0])"
)


def clean_env() -> dict[str, str]:
    """The environment every build and benchmark command runs in."""
    env = {k: v for k, v in os.environ.items() if k not in _UNSET}
    return env


@dataclass(frozen=True)
class Interp:
    version: str  # "3.12"
    full: str  # "3.12.1"
    exe: str
    stdlib: str


@dataclass
class TreeStats:
    files: int = 0
    dirs: int = 0
    py: int = 0
    pyc: int = 0
    bytes: int = 0
    pyc_by_tag: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        tags = ", ".join(f"{tag} {n}" for tag, n in sorted(self.pyc_by_tag.items()))
        return [
            f"{self.files} files in {self.dirs} directories, {self.bytes / 2**20:.0f} MiB",
            f"{self.py} .py sources, {self.pyc} .pyc caches ({tags})",
        ]


@dataclass
class Tree:
    path: str
    interpreters: list[Interp]
    copies: int
    target: str  # "3.11.7 /path/to/python"
    stats: TreeStats
    compile_errors: dict[str, int]  # "cpython-3.12/copy-1 by 3.12" -> files that failed

    def describe(self) -> list[str]:
        versions = ", ".join(i.full for i in self.interpreters)
        errors = sum(self.compile_errors.values())
        return [
            f"tree: {self.path}",
            f"  stdlib copies: {versions}; {self.copies} copies each, compiled by their own"
            f" interpreter, then primed by the target {self.target.split()[0]}",
            *(f"  {line}" for line in self.stats.lines()),
            f"  compile errors while building (sources left without a cache): {errors}",
        ]


def find_interpreters(versions: Sequence[str], pyenv_root: str) -> list[Interp]:
    """The newest pyenv build of each ``X.Y`` in ``versions``; absent versions are skipped."""
    found: list[Interp] = []
    for version in versions:
        builds: list[tuple[tuple[int, ...], str]] = []
        for path in glob.glob(os.path.join(pyenv_root, "versions", f"{version}.*")):
            match = _VERSION_DIR.match(os.path.basename(path))
            exe = os.path.join(path, "bin", f"python{version}")
            if match and os.access(exe, os.X_OK):
                builds.append((tuple(int(g) for g in match.groups()), exe))
        if not builds:
            print(f"bench: no Python {version} under {pyenv_root}: skipped", file=sys.stderr)
            continue
        exe = max(builds)[1]
        done = subprocess.run(
            [exe, "-c", _STDLIB_QUERY], capture_output=True, text=True, env=clean_env(), check=False
        )
        if done.returncode != 0:
            print(f"bench: {exe} does not run: skipped", file=sys.stderr)
            continue
        stdlib, full = done.stdout.split()
        found.append(Interp(version, full, exe, stdlib))
    return found


def target_label(python: str) -> str:
    done = subprocess.run(
        [python, "-c", "import sys; print(sys.version.split()[0])"],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=True,
    )
    return f"{done.stdout.strip()} {python}"


def load_or_build(
    bench_root: str,
    interpreters: Sequence[Interp],
    copies: int,
    target: str,
    *,
    rebuild: bool = False,
) -> Tree:
    """The cached tree if it was built the same way, else a fresh build."""
    path = os.path.join(bench_root, TREE_NAME)
    manifest = os.path.join(bench_root, f"{TREE_NAME}.json")
    wanted = {
        "format": MANIFEST_FORMAT,
        "interpreters": [asdict(i) for i in interpreters],
        "copies": copies,
        "target": target,
    }
    saved = None if rebuild else _matching_manifest(path, manifest, wanted, "tree")
    if saved is not None:
        return Tree(
            path,
            list(interpreters),
            copies,
            target,
            count(path),  # counted afresh: the tree is what it is now
            dict(saved["compile_errors"]),
        )
    if os.path.lexists(manifest):
        os.remove(manifest)  # until the new tree is complete
    tree = build(path, interpreters, copies, target)
    data = {**wanted, "compile_errors": tree.compile_errors}
    with open(manifest, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
    return tree


def _matching_manifest(
    path: str, manifest: str, wanted: Mapping[str, object], what: str
) -> dict[str, Any] | None:
    """The saved manifest of the tree at ``path`` if it was built as ``wanted`` says."""
    if not os.path.isdir(path):
        return None
    try:
        with open(manifest, encoding="utf-8") as f:
            saved = json.load(f)
    except (OSError, ValueError):
        saved = None
    if isinstance(saved, dict) and {k: saved.get(k) for k in wanted} == wanted:
        return saved
    print(f"bench: {what} missing or built differently: rebuilding", file=sys.stderr)
    return None


def build(path: str, interpreters: Sequence[Interp], copies: int, target: str) -> Tree:
    if not interpreters:
        raise BenchError("no interpreters to build the tree from")
    if os.path.lexists(path):
        shutil.rmtree(path)
    os.makedirs(path)
    target_exe = target.split(" ", 1)[1]
    target_version = target.split()[0].rsplit(".", 1)[0]
    errors: dict[str, int] = {}
    env = clean_env()
    for interp in interpreters:
        for n in range(1, copies + 1):
            rel = os.path.join(f"cpython-{interp.version}", f"copy-{n}")
            dest = os.path.join(path, rel)
            print(f"bench: copying and compiling {rel} with {interp.full}", file=sys.stderr)
            shutil.copytree(interp.stdlib, dest, symlinks=True, ignore=_ignore(interp.stdlib))
            errors[f"{rel} by {interp.version}"] = _compile(interp.exe, dest, env)
            if interp.version != target_version:
                errors[f"{rel} by target"] = _compile(target_exe, dest, env)
    return Tree(path, list(interpreters), copies, target, count(path), errors)


def _ignore(stdlib: str) -> _Ignore:
    return _Ignore(os.path.abspath(stdlib))


class _Ignore:
    """copytree's filter: no installed caches anywhere, no site-packages or libpython at the top."""

    def __init__(self, top: str) -> None:
        self.top = top

    def __call__(self, directory: str, names: list[str]) -> set[str]:
        skip = {n for n in names if n == "__pycache__" or n.endswith((".pyc", ".pyo"))}
        if os.path.abspath(directory) == self.top:
            skip |= {n for n in names if n == "site-packages" or n.startswith("config-")}
        return skip


def _compile(exe: str, directory: str, env: Mapping[str, str]) -> int:
    """``exe -m compileall -q -j0 directory``; returns how many files failed to compile."""
    done = subprocess.run(
        [exe, "-m", "compileall", "-q", "-j0", directory],
        capture_output=True,
        text=True,
        errors="replace",
        env=dict(env),
        check=False,
    )
    failed = sum(1 for line in done.stdout.splitlines() if line.startswith("*** Error compiling"))
    if done.returncode not in (0, 1) or (done.returncode == 1 and not failed):
        raise BenchError(f"{exe} -m compileall {directory}: exit {done.returncode}\n{done.stderr}")
    return failed


def count(root: str) -> TreeStats:
    stats = TreeStats()
    tags: Counter[str] = Counter()
    stack = [root]
    while stack:
        directory = stack.pop()
        stats.dirs += 1
        with os.scandir(directory) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                    continue
                stats.files += 1
                stats.bytes += entry.stat(follow_symlinks=False).st_size
                name = entry.name
                if name.endswith(".py"):
                    stats.py += 1
                elif name.endswith(".pyc"):
                    stats.pyc += 1
                    base = name[:-4]
                    if ".opt-" in base:
                        base = base[: base.rindex(".opt-")]
                    tags[base.rpartition(".")[2] if "." in base else "(no tag)"] += 1
    stats.pyc_by_tag = dict(tags)
    return stats


COPIES_NAME = "stdlib-copies"
COPIES_FORMAT = 1


@dataclass
class Copies:
    """Copies of the target's own standard library, each fully compiled by the target."""

    path: str
    copies: int
    target: str  # "3.11.7 /path/to/python"
    stats: TreeStats
    removed: int  # sources per copy the target cannot compile, left out

    def copy(self, n: int) -> str:
        return os.path.join(self.path, f"copy-{n}")

    def describe(self) -> list[str]:
        return [
            f"stdlib copies: {self.path}: {self.copies} copies of the standard library of"
            f" {self.target.split()[0]}, compiled by it; the {self.removed} sources per copy"
            " that it cannot compile are left out, so a no-op pass has nothing to retry",
            *(f"  {line}" for line in self.stats.lines()),
        ]


def load_or_build_copies(bench_root: str, python: str, copies: int, target: str) -> Copies:
    """``TREE/copy-N/<the stdlib>`` for the target: the one- and four-copy rows of the table
    of targets (``copy-1`` alone is the one-copy tree). Cached like the large tree."""
    path = os.path.join(bench_root, COPIES_NAME)
    manifest = path + ".json"  # the clean section keys its work copy on this file
    wanted = {"format": COPIES_FORMAT, "copies": copies, "target": target}
    saved = _matching_manifest(path, manifest, wanted, "stdlib copies")
    if saved is not None:
        return Copies(path, copies, target, count(path), int(saved["removed"]))
    if os.path.lexists(manifest):
        os.remove(manifest)
    if os.path.lexists(path):
        shutil.rmtree(path)
    done = subprocess.run(
        [python, "-c", _STDLIB_QUERY + "; print(sys.implementation.cache_tag)"],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=True,
    )
    stdlib, _, tag = done.stdout.split()
    removed = 0
    for n in range(1, copies + 1):
        dest = os.path.join(path, f"copy-{n}")
        print(f"bench: copying and compiling {dest}", file=sys.stderr)
        shutil.copytree(stdlib, dest, symlinks=True, ignore=_ignore(stdlib))
        _compile(python, dest, clean_env())
        removed = _drop_uncompiled(dest, tag)
    with open(manifest, "w", encoding="utf-8") as f:
        json.dump({**wanted, "removed": removed}, f, indent=1)
    return Copies(path, copies, target, count(path), removed)


def _drop_uncompiled(root: str, tag: str) -> int:
    """Remove the sources that have no cache for ``tag`` (the stdlib's deliberately broken
    test files, newer syntax): compileall would retry them on every run."""
    removed = 0
    for directory, _, files in os.walk(root):
        for name in files:
            if name.endswith(".py"):
                cache = os.path.join(directory, "__pycache__", f"{name[:-3]}.{tag}.pyc")
                if not os.path.exists(cache):
                    os.remove(os.path.join(directory, name))
                    removed += 1
    return removed


def remove_copies(bench_root: str) -> None:
    """``--rebuild``: the stdlib copies go too."""
    path = os.path.join(bench_root, COPIES_NAME)
    for stale in (path + ".json", path):
        if os.path.isdir(stale):
            shutil.rmtree(stale)
        elif os.path.lexists(stale):
            os.remove(stale)
