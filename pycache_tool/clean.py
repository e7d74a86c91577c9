"""Choose cache files by category from scan records, and remove them: the one place that deletes.

A plan is made first (``plan``); ``carry_out`` then removes exactly what it lists, or only
checks it under ``dry_run``. Every removal re-checks, just before it happens, that the file is
still the regular file the scan classified, at a path with no symlink below its root.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from .records import Record, Status
from .walk import PYCACHE

# Category -> the statuses it removes. "foreign" and "ghosts" are chosen differently.
CATEGORIES: dict[str, frozenset[Status]] = {
    "stale": frozenset({Status.STALE}),
    "orphans": frozenset({Status.ORPHAN}),
    "legacy": frozenset({Status.LEGACY}),
    "corrupt": frozenset({Status.CORRUPT}),
    "sourceless": frozenset({Status.SOURCELESS}),
    "foreign": frozenset(),
    "ghosts": frozenset(),
}
# What "every cache file" means when no category is named: never importable sourceless code.
_EVERYTHING = frozenset(
    set(Status) - {Status.SOURCELESS, Status.UNREADABLE, Status.MISSING, Status.GHOST}
)


class Removal(NamedTuple):
    path: str
    kind: str  # "file" or "directory"
    status: str  # the record's status; "ghost" or "__pycache__" for directories
    size: int
    stamp: tuple[int, int, int] | None = None  # files: identity at scan time


class Skip(NamedTuple):
    path: str
    reason: str


class Plan(NamedTuple):
    removals: list[Removal]  # files first, then directories deepest first
    unreadable: list[Record]  # what the scan could not read: the run is incomplete


class Outcome(NamedTuple):
    removed: list[Removal]
    skipped: list[Skip]  # changed since the scan, already gone, not empty any more
    failed: list[Skip]  # permission denied and other errors

    @property
    def files(self) -> int:
        return sum(1 for r in self.removed if r.kind == "file")

    @property
    def directories(self) -> int:
        return sum(1 for r in self.removed if r.kind == "directory")

    @property
    def bytes(self) -> int:
        return sum(r.size for r in self.removed)


class Area:
    """Where removal may happen: below the scanned roots and the pycache_prefix mirror."""

    def __init__(self, roots: Sequence[str], prefix: str | None) -> None:
        self.roots = [(root, os.path.realpath(root)) for root in roots]
        if prefix:
            self.roots.append((prefix, os.path.realpath(prefix)))
        self.prefix = prefix

    def root_of(self, path: str) -> tuple[str, str] | None:
        for root, real in self.roots:
            if path.startswith(root.rstrip(os.sep) + os.sep):
                return root, real
        return None

    def in_prefix(self, path: str) -> bool:
        return bool(self.prefix) and path.startswith(str(self.prefix).rstrip(os.sep) + os.sep)

    def why_not(self, path: str) -> str | None:
        """None when ``path`` lies inside the area through real directories only."""
        found = self.root_of(path)
        if found is None:
            return "outside the scanned paths"
        root, real = found
        rel = path[len(root.rstrip(os.sep)) + 1 :]
        if ".git" in rel.split(os.sep)[:-1]:
            return "inside .git"
        parent = os.path.dirname(path)
        expected = os.path.join(real, os.path.dirname(rel)) if os.path.dirname(rel) else real
        if os.path.realpath(parent) != expected:
            return "a directory on its path is now a symlink"
        return None


def plan(records: Iterable[Record], categories: Iterable[str], area: Area) -> Plan:
    """The removals for ``categories`` (none: every cache file except sourceless ones)."""
    chosen = set(categories)
    unknown = chosen - set(CATEGORIES)
    if unknown:
        raise ValueError(f"unknown categories: {sorted(unknown)}")
    statuses = frozenset().union(*(CATEGORIES[c] for c in chosen)) if chosen else _EVERYTHING
    files: list[Record] = []
    candidates: list[Record] = []  # files that go only if they lie in a ghost
    ghosts: list[str] = []
    unreadable: list[Record] = []
    for record in records:
        status = record.status
        if status is Status.UNREADABLE:
            unreadable.append(record)
        elif status is Status.GHOST:
            if "ghosts" in chosen:
                ghosts.append(record.path)
        elif status is Status.MISSING or record.stamp is None or not _may_delete(record, area):
            continue
        elif status in statuses or (
            "foreign" in chosen and not record.target and status is not Status.SOURCELESS
        ):
            files.append(record)
        elif "ghosts" in chosen and status is not Status.SOURCELESS:
            candidates.append(record)
    # Ghosts are reported after their contents, so the caches inside them are picked at the end.
    ghost_prefixes = tuple(g.rstrip(os.sep) + os.sep for g in ghosts)
    files += [r for r in candidates if r.path.startswith(ghost_prefixes)]
    files.sort(key=lambda r: r.path)
    removals = [Removal(r.path, "file", r.status.value, r.size, r.stamp) for r in files]
    planned = {r.path for r in files}
    directories = _emptied_pycache_dirs(planned)
    for ghost in ghosts:
        directories.update(_emptied_ghost_dirs(ghost, planned | set(directories)))
    deepest_first = sorted(directories, key=lambda d: (-d.count(os.sep), d))
    removals += [Removal(d, "directory", directories[d], 0) for d in deepest_first]
    return Plan(removals, unreadable)


def _may_delete(record: Record, area: Area) -> bool:
    """Outside __pycache__ and the prefix tree, only files whose header has a known magic."""
    if area.root_of(record.path) is None:
        return False
    parent = os.path.basename(os.path.dirname(record.path))
    return parent == PYCACHE or area.in_prefix(record.path) or record.python is not None


def _emptied_pycache_dirs(planned: set[str]) -> dict[str, str]:
    """__pycache__ directories whose every entry is planned for removal."""
    found: dict[str, str] = {}
    for directory in {os.path.dirname(p) for p in planned}:
        if os.path.basename(directory) != PYCACHE:
            continue
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        if all(os.path.join(directory, name) in planned for name in names):
            found[directory] = PYCACHE
    return found


def _emptied_ghost_dirs(ghost: str, gone: set[str]) -> dict[str, str]:
    """Directories in a ghost that hold nothing once ``gone`` is removed (post-order)."""
    found: dict[str, str] = {}

    def empties(directory: str) -> bool:
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError:
            return False
        result = True
        for entry in entries:
            if entry.path in gone:
                continue
            if entry.is_dir(follow_symlinks=False) and empties(entry.path):
                continue
            result = False
        if result and directory not in gone:
            found[directory] = PYCACHE if os.path.basename(directory) == PYCACHE else "ghost"
        return result

    empties(ghost)
    return found


def carry_out(the_plan: Plan, area: Area, *, dry_run: bool) -> Outcome:
    """Remove what the plan lists, re-checking each item first; with ``dry_run``, only check."""
    removed: list[Removal] = []
    skipped: list[Skip] = []
    failed: list[Skip] = []
    for removal in the_plan.removals:
        problem = area.why_not(removal.path)
        if problem is None:
            problem = _changed(removal)
        if problem is not None:
            skipped.append(Skip(removal.path, problem))
            continue
        if dry_run:
            removed.append(removal)
            continue
        try:
            if removal.kind == "file":
                os.unlink(removal.path)
            else:
                os.rmdir(removal.path)
        except FileNotFoundError:
            skipped.append(Skip(removal.path, "already gone"))
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                skipped.append(Skip(removal.path, "not empty any more"))
            else:
                failed.append(Skip(removal.path, exc.strerror or str(exc)))
        else:
            removed.append(removal)
    return Outcome(removed, skipped, failed)


def _changed(removal: Removal) -> str | None:
    try:
        st = os.lstat(removal.path)
    except FileNotFoundError:
        return "already gone"
    except OSError as exc:
        return exc.strerror or str(exc)
    if removal.kind == "directory":
        return None if stat.S_ISDIR(st.st_mode) else "not a directory any more"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file any more"
    if (st.st_ino, st.st_size, st.st_mtime_ns) != removal.stamp:
        return "changed since the scan"
    return None
