"""Trees and snapshots for the clean tests: what is on disk, byte for byte, before and after."""

from __future__ import annotations

import os
import py_compile
import stat
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Union

from tests.conftest import write

TAG = sys.implementation.cache_tag
FOREIGN_TAG = "cpython-38"
FOREIGN_MAGIC = (3413).to_bytes(2, "little") + b"\r\n"  # CPython 3.8

# path (bytes, so that any name fits) -> (kind, bytes content or link target)
Entry = tuple[str, bytes]
Snapshot = dict[bytes, Entry]
PathLike = Union[str, bytes, Path]


def compile_here(source: Path, cfile: Path | None = None) -> Path:
    written = py_compile.compile(
        str(source), cfile=None if cfile is None else str(cfile), doraise=True
    )
    assert written is not None
    return Path(written)


def cache_of(source: Path, tag: str = TAG) -> Path:
    return source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc"


def snapshot(*roots: PathLike) -> Snapshot:
    """Every path under ``roots`` (never following links): its lstat type and its bytes or target."""
    found: Snapshot = {}
    for root in roots:
        top = os.fsencode(root)
        found[top] = _entry(top)
        stack = [top] if found[top][0] == "dir" else []
        while stack:
            directory = stack.pop()
            try:
                names = os.listdir(directory)
            except PermissionError:
                found[directory] = ("dir-unlistable", b"")
                continue
            for name in names:
                path = os.path.join(directory, name)
                found[path] = _entry(path)
                if found[path][0] == "dir":
                    stack.append(path)
    return found


def _entry(path: bytes) -> Entry:
    st = os.lstat(path)
    mode = stat.S_IMODE(st.st_mode).to_bytes(2, "little")
    if stat.S_ISLNK(st.st_mode):
        return ("link", os.readlink(path))
    if stat.S_ISDIR(st.st_mode):
        return ("dir", b"")
    if stat.S_ISREG(st.st_mode):
        try:
            with open(path, "rb") as f:
                return ("file", mode + f.read())
        except PermissionError:
            return ("file-unreadable", mode)
    return ("other", mode)


def key(path: PathLike) -> bytes:
    return os.fsencode(path)


def assert_removed(before: Snapshot, after: Snapshot, expected: Iterable[PathLike]) -> None:
    """Exactly ``expected`` is gone; everything else is byte-for-byte what it was."""
    gone = {key(p) for p in expected}
    missing_before = gone - set(before)
    assert not missing_before, f"expected removals that never existed: {sorted(missing_before)}"
    unexpectedly_gone = sorted(set(before) - set(after) - gone)
    still_there = sorted(gone & set(after))
    appeared = sorted(set(after) - set(before))
    changed = sorted(p for p in set(before) & set(after) if before[p] != after[p])
    assert not (unexpectedly_gone or still_there or appeared or changed), (
        f"removed but should stay: {unexpectedly_gone}\n"
        f"should be removed but stayed: {still_there}\n"
        f"appeared: {appeared}\nchanged: {changed}"
    )


def foreign_copy(pyc: Path, name: str) -> Path:
    """A copy of ``pyc`` rewritten as CPython 3.8 bytecode (same header layout), named ``name``."""
    data = pyc.read_bytes()
    target = pyc.parent / name
    target.write_bytes(FOREIGN_MAGIC + data[4:])
    return target


def mixed_tree(root: Path) -> dict[str, Path]:
    """One cache file of every kind clean distinguishes; returns them by name."""
    p: dict[str, Path] = {}
    p["fresh.py"] = write(root / "pkg" / "fresh.py", "A = 1\n")
    p["fresh"] = compile_here(p["fresh.py"])
    p["foreign"] = foreign_copy(p["fresh"], f"fresh.{FOREIGN_TAG}.pyc")
    p["stale.py"] = write(root / "pkg" / "stale.py", "B = 1\n", mtime=1_600_000_000)
    p["stale"] = compile_here(p["stale.py"])
    write(p["stale.py"], "B = 22\n", mtime=1_600_000_100)
    gone = write(root / "pkg" / "gone.py", "C = 1\n")
    p["orphan"] = compile_here(gone)
    gone.unlink()
    p["corrupt"] = write(root / "pkg" / "__pycache__" / f"fresh.{TAG}.opt-1.pyc", "not bytecode")
    p["debris"] = root / "pkg" / "__pycache__" / f"fresh.{TAG}.pyc.12345"
    p["debris"].write_bytes(p["fresh"].read_bytes()[:10])
    p["beside.py"] = write(root / "beside.py", "F = 1\n")
    p["legacy"] = compile_here(p["beside.py"], cfile=root / "beside.pyc")
    lone = write(root / "lone.py", "E = 1\n")
    p["sourceless"] = compile_here(lone, cfile=root / "lone.pyc")
    lone.unlink()
    # A ghost package two levels deep: old/ and old/sub/ hold nothing but caches.
    for rel in ("old/mod.py", "old/sub/deep.py"):
        gone = write(root / rel, "G = 1\n")
        p[rel] = compile_here(gone)
        gone.unlink()
    p["ghost"] = root / "old"
    return p


def allocated(paths: Iterable[PathLike]) -> int:
    """The disk space the files and directories at ``paths`` take: their blocks, not sizes."""
    return sum(os.lstat(path).st_blocks * 512 for path in paths)


def size_in(snap: Snapshot, path: PathLike) -> int:
    """The size of a regular file as the snapshot saw it."""
    kind, data = snap[key(path)]
    assert kind == "file", (path, kind)
    return len(data) - 2  # the mode comes first
