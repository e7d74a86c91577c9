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
from typing import Literal, NamedTuple

from pycache_tool.bytecode.interpreters import Interpreter, name_of_python
from pycache_tool.bytecode.pyc import base_tag
from pycache_tool.errors import describe
from pycache_tool.scanning.records import Named, Record, Status
from pycache_tool.scanning.walk import PYCACHE, VCS_DIRS

# Category -> the statuses it removes. "foreign", "own" and "ghosts" are chosen differently.
CATEGORIES: dict[str, frozenset[Status]] = {
    "stale": frozenset({Status.STALE}),
    "orphans": frozenset({Status.ORPHAN}),
    "legacy": frozenset({Status.LEGACY}),
    "shadowed": frozenset({Status.SHADOWED}),
    "corrupt": frozenset({Status.CORRUPT}),
    "sourceless": frozenset({Status.SOURCELESS}),
    "foreign": frozenset(),
    "own": frozenset(),
    "ghosts": frozenset(),
}
# What "every cache file" means when no category is named: never importable sourceless code.
_EVERYTHING = frozenset(
    set(Status)
    - {Status.SOURCELESS, Status.UNREADABLE, Status.MISSING, Status.GHOST, Status.SYMLINK}
)


class Removal(NamedTuple):
    path: str
    kind: Literal["file", "directory"]
    status: str  # the record's status; "ghost" or "__pycache__" for directories
    size: int  # files: the apparent size the scan saw; directories: 0
    stamp: tuple[int, int, int] | None = None  # files: identity at scan time
    reason: str = ""  # why it is removed: the category that takes it, and what makes it one
    category: str | None = None  # the category that takes it; None: no category was named
    freed: int = 0  # what the removal frees on disk: the blocks allocated (see ``_freed``)


class Skip(NamedTuple):
    path: str
    reason: str


class Kept(NamedTuple):
    """A file (or ghost directory) the scan found that this run does not remove, and why."""

    path: str
    status: str
    reason: str


class Plan(NamedTuple):
    removals: list[Removal]  # files first, then directories deepest first
    unreadable: list[Record]  # what the scan could not read: the run is incomplete
    kept: list[Kept] | None = None  # with ``keep_reasons``: what stays, in path order


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
        """The apparent size of the files removed."""
        return sum(r.size for r in self.removed)

    @property
    def freed(self) -> int:
        """The disk space the removals free: blocks allocated, not apparent sizes."""
        return sum(r.freed for r in self.removed)


class Area:
    """Where removal may happen: below the scanned roots and the pycache_prefix mirror."""

    def __init__(self, roots: Sequence[str], prefix: str | None) -> None:
        self.roots = [(root, os.path.realpath(root)) for root in roots]
        if prefix:
            self.roots.append((prefix, os.path.realpath(prefix)))
        self.prefix = prefix

    def root_of(self, path: str) -> tuple[str, str] | None:
        """The root ``path`` was found under: the deepest one, since a root named through a
        symlink may lie below another root's path without being inside its walk."""
        found = None
        for root, real in self.roots:
            if path.startswith(root.rstrip(os.sep) + os.sep) and (
                found is None or len(root) > len(found[0])
            ):
                found = (root, real)
        return found

    def in_prefix(self, path: str) -> bool:
        return bool(self.prefix) and path.startswith(str(self.prefix).rstrip(os.sep) + os.sep)

    def why_not(self, path: str) -> str | None:
        """None when ``path`` lies inside the area through real directories only."""
        found = self.root_of(path)
        if found is None:
            return "outside the scanned paths"
        root, real = found
        rel = path[len(root.rstrip(os.sep)) + 1 :]
        vcs = _vcs_dir(path)
        if vcs:
            return f"inside {vcs}"
        parent = os.path.dirname(path)
        expected = os.path.join(real, os.path.dirname(rel)) if os.path.dirname(rel) else real
        if os.path.realpath(parent) != expected:
            return "a directory on its path is now a symlink"
        return None

    def open_parent(self, path: str) -> tuple[int | None, str | None]:
        """(descriptor, None) of the directory holding ``path``, reached from the real root
        one component at a time, never through a symlink; or (None, why not)."""
        found = self.root_of(path)
        if found is None:
            return None, "outside the scanned paths"
        vcs = _vcs_dir(path)
        if vcs:
            return None, f"inside {vcs}"
        root, real = found
        parts = path[len(root.rstrip(os.sep)) + 1 :].split(os.sep)[:-1]
        try:
            fd = os.open(real, _DIR_FLAGS)
        except OSError as exc:
            return None, describe(exc)
        for part in parts:
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                problem = _open_problem(part, fd, exc)
                os.close(fd)
                return None, problem
            os.close(fd)
            fd = child
        return fd, None


_DIR_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_DIRECTORY", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
# Removal by name inside a directory descriptor: no symlink on the path can redirect it.
_AT = (
    hasattr(os, "O_DIRECTORY")
    and hasattr(os, "O_NOFOLLOW")
    and {os.open, os.stat, os.unlink, os.rmdir} <= os.supports_dir_fd
)


def _open_problem(name: str, dir_fd: int, exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return _GONE
    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except OSError:
            return _GONE
        if stat.S_ISLNK(st.st_mode):
            return "a directory on its path is now a symlink"
        return "a directory on its path is not a directory any more"
    return describe(exc)


def plan(
    records: Iterable[Record | Named],
    categories: Iterable[str],
    area: Area,
    *,
    targets: Iterable[Interpreter] | None = None,
    keep_reasons: bool = False,
) -> Plan:
    """The removals for ``categories`` (none: every cache file except sourceless ones).

    ``targets`` decide "foreign" (and "own", its complement: the targets' caches, fresh ones
    included) for files outside ``__pycache__``, which carry no tag: such a file is foreign
    when the Python its magic names is not a target (without ``targets``, the records' own
    ``target`` field decides).
    ``keep_reasons``: also list every file (and ghost) that stays, and why (``clean -v``).
    With no category, ``records`` may be ``Scan.by_name()``: every ``Named`` file goes, unread.
    """
    chosen = sorted(set(categories))
    pythons = None if targets is None else frozenset(t.python for t in targets)
    unknown = set(chosen) - set(CATEGORIES)
    if unknown:
        raise ValueError(f"unknown categories: {sorted(unknown)}")
    statuses = frozenset().union(*(CATEGORIES[c] for c in chosen)) if chosen else _EVERYTHING
    asked = " ".join(f"--{c}" for c in chosen)
    files: list[tuple[Record, str | None, str]] = []  # (record, category, why it goes)
    candidates: list[Record] = []  # files that go only if they lie in a ghost
    ghosts: list[str] = []
    unreadable: list[Record] = []
    kept: list[Kept] | None = [] if keep_reasons else None
    named: list[Removal] = []
    # (directory, inside the area): named files come a directory at a time.
    area_of: tuple[str | None, bool] = (None, False)
    for record in records:
        if isinstance(record, Named):
            directory = os.path.dirname(record.path)
            if area_of[0] != directory:
                area_of = (directory, _in_area(record.path, area))
            if not chosen and area_of[1]:
                why = _NO_CATEGORY
                named.append(Removal(record.path, "file", NAMED, record.size, record.stamp, why))
            continue
        status = record.status
        stays: str | None = None
        if status is Status.UNREADABLE:
            unreadable.append(record)
        elif status is Status.GHOST:
            if "ghosts" in chosen and area.root_of(record.path) and not _vcs_dir(record.path):
                ghosts.append(record.path)
            else:
                stays = _not_asked(asked)
        elif status is Status.MISSING:
            continue
        elif record.stamp is None or not _may_delete(record, area):
            stays = _never_removed(record, area)
        elif status in statuses:
            category = next((c for c in chosen if status in CATEGORIES[c]), None)
            files.append((record, category, _why(record, category)))
        elif "foreign" in chosen and status is not Status.SOURCELESS and _foreign(record, pythons):
            files.append((record, "foreign", _why_foreign(record, targets)))
        elif "own" in chosen and status is not Status.SOURCELESS and not _foreign(record, pythons):
            files.append((record, "own", f"--own: a cache of {_name(record)}, a target"))
        elif "ghosts" in chosen and status is not Status.SOURCELESS:
            candidates.append(record)
        elif status is Status.SOURCELESS:
            stays = "importable bytecode without a source: only --sourceless removes it"
        else:
            stays = _not_asked(asked)
        if stays is not None and kept is not None:
            kept.append(Kept(record.path, status.value, stays))
    # Ghosts are reported after their contents, so the caches inside them are picked at the end.
    # By looking up each candidate's directories, not by comparing it with every ghost: both
    # grow with the tree.
    ghost_set = frozenset(ghosts)
    for record in candidates:
        if _inside_any(record.path, ghost_set):
            files.append((record, "ghosts", "--ghosts: it lies in a ghost directory"))
        elif kept is not None:
            kept.append(Kept(record.path, record.status.value, _not_asked(asked)))
    removals = [
        Removal(r.path, "file", r.status.value, r.size, r.stamp, why, category)
        for r, category, why in files
    ]
    removals += named
    removals.sort(key=lambda r: r.path)
    gone = {r.path for r in removals}
    directories = _emptied_pycache_dirs(gone)
    gone.update(directories)
    for ghost in ghosts:
        emptied = _emptied_ghost_dirs(ghost, gone)
        directories.update(emptied)
        gone.update(emptied)
    deepest_first = sorted(directories, key=lambda d: (-d.count(os.sep), d))
    removals += [
        Removal(
            d,
            "directory",
            directories[d],
            0,
            reason=_EMPTIED[directories[d]],
            category="ghosts" if directories[d] == "ghost" else None,
        )
        for d in deepest_first
    ]
    if kept is not None:
        kept.sort(key=lambda k: k.path)
    return Plan(removals, unreadable, kept)


def _why(record: Record, category: str | None) -> str:
    """Why a file of a category asked for (or of any kind, when none was named) goes."""
    if category is None:
        return _NO_CATEGORY
    return f"--{category}: {record.reason}"


def _name(record: Record) -> str:
    """The name of the interpreter a cache file is for."""
    if record.tag:
        return base_tag(record.tag)
    return name_of_python(record.python) if record.python else "its interpreter"


def _why_foreign(record: Record, targets: Iterable[Interpreter] | None) -> str:
    names = ", ".join(t.name for t in targets) if targets is not None else ""
    return f"--foreign: {_name(record)} is not a target" + (f" (targets: {names})" if names else "")


def _not_asked(asked: str) -> str:
    return f"not in the categories asked ({asked})"


def _never_removed(record: Record, area: Area) -> str:
    """Why a file that clean never removes stays, whatever the categories."""
    if area.root_of(record.path) is None:
        return "outside the scanned paths"
    vcs = _vcs_dir(record.path)
    if vcs:
        return f"inside {vcs}"
    if record.stamp is None:
        return record.reason
    return (
        f"{record.reason}; outside __pycache__ only files with a known magic number are"
        " removed (--exclude leaves it out of the scan)"
    )


# How a file removed by name and place shows in the report: with no category, a cache file in
# __pycache__ or the prefix tree goes whatever its header says, so clean does not read it, and
# has no status to show.
NAMED = "cache"
_NO_CATEGORY = "no category named: every cache file goes, but sourceless bytecode"

_EMPTIED = {
    "__pycache__": "left empty by this run",
    "ghost": "held nothing but caches",
}


def _foreign(record: Record, pythons: frozenset[str] | None) -> bool:
    """Written for an interpreter that is not a target: by its tag, or else by its magic."""
    if record.tag is not None or pythons is None:
        return not record.target
    return record.python is not None and record.python not in pythons


def _inside_any(path: str, directories: frozenset[str]) -> bool:
    """Does one of ``directories`` hold ``path``, at any depth?"""
    parent, path = os.path.dirname(path), path
    while parent != path:
        if parent in directories:
            return True
        parent, path = os.path.dirname(parent), parent
    return False


def _vcs_dir(path: str) -> str | None:
    """Never inside a repository's own directory, even one named as a PATH."""
    vcs = VCS_DIRS.intersection(path.split(os.sep)[:-1])
    return min(vcs) if vcs else None


def _in_area(path: str, area: Area) -> bool:
    return area.root_of(path) is not None and not _vcs_dir(path)


def _may_delete(record: Record, area: Area) -> bool:
    """Outside __pycache__ and the prefix tree, only files whose header has a known magic."""
    if not _in_area(record.path, area):
        return False
    parent = os.path.basename(os.path.dirname(record.path))
    return parent == PYCACHE or area.in_prefix(record.path) or record.python is not None


def _emptied_pycache_dirs(planned: set[str]) -> dict[str, str]:
    """__pycache__ directories whose every entry is planned for removal."""
    by_directory: dict[str, set[str]] = {}
    for path in planned:
        directory, _, name = path.rpartition(os.sep)
        if directory.endswith(_PYCACHE_TAIL):
            by_directory.setdefault(directory, set()).add(name)
    found: dict[str, str] = {}
    for directory, names in by_directory.items():
        try:
            present = os.listdir(directory)
        except OSError:
            continue
        if names.issuperset(present):
            found[directory] = PYCACHE
    return found


_PYCACHE_TAIL = os.sep + PYCACHE


def _emptied_ghost_dirs(ghost: str, gone: set[str]) -> dict[str, str]:
    """Directories in a ghost that hold nothing once ``gone`` is removed (post-order).

    The walker's verdict, re-checked on disk: a ``__pycache__`` goes when every entry in it
    is planned (a subdirectory or any other file keeps it); any other directory goes only when
    it holds nothing but such ``__pycache__`` directories and such directories (an empty ghost
    inside a package holds none). A directory that stays does not keep its emptied
    subdirectories: all of them are visited.
    """
    found: dict[str, str] = {}

    def empties(directory: str, is_pycache: bool) -> bool:
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError:
            return False
        stays = False
        for entry in entries:
            if entry.path in gone:
                continue
            if is_pycache or not entry.is_dir(follow_symlinks=False):
                stays = True
            elif not empties(entry.path, entry.name == PYCACHE):
                stays = True
        if stays:
            return False
        if directory not in gone:
            found[directory] = PYCACHE if is_pycache else "ghost"
        return True

    empties(ghost, False)
    return found


def carry_out(the_plan: Plan, area: Area, *, dry_run: bool, into: Outcome | None = None) -> Outcome:
    """Remove what the plan lists, re-checking each item first; with ``dry_run``, only check.

    Each item is checked and removed by name inside a descriptor of its directory, opened from
    the real root without following symlinks, so nothing is ever removed through a link. A
    directory that still holds something the run did not remove (skipped or failed) is
    skipped without trying, in a dry run as in a real one. ``into``: an empty Outcome to fill
    as the run goes, so that a run cut short by a signal can say what it had removed.
    """
    outcome = into if into is not None else Outcome([], [], [])
    removed, skipped, failed = outcome
    kept: set[str] = set()  # directories holding something that stays
    parent: tuple[str, int | None, str | None] | None = None  # (path, descriptor, problem)

    def keep(path: str) -> None:
        up = os.path.dirname(path)
        while up not in kept and up != os.path.dirname(up):
            kept.add(up)
            up = os.path.dirname(up)

    try:
        for removal in the_plan.removals:
            problem: str | None = None
            fd: int | None = None
            if removal.kind == "directory" and removal.path in kept:
                problem = "still holds what was not removed"
            elif _AT:
                directory = os.path.dirname(removal.path)
                if parent is None or parent[0] != directory:
                    if parent is not None and parent[1] is not None:
                        os.close(parent[1])
                    parent = (directory, *area.open_parent(removal.path))
                fd, problem = parent[1], parent[2]
            else:
                problem = area.why_not(removal.path)
            name = os.path.basename(removal.path) if fd is not None else removal.path
            freed = 0
            if problem is None:
                problem, freed = _changed(removal, name, fd)
            if problem is not None:
                skipped.append(Skip(removal.path, problem))
                if problem != _GONE:
                    keep(removal.path)
                continue
            removal = removal._replace(freed=freed)
            if dry_run:
                removed.append(removal)
                continue
            try:
                if removal.kind == "file":
                    os.unlink(name, dir_fd=fd)
                else:
                    os.rmdir(name, dir_fd=fd)
            except FileNotFoundError:
                skipped.append(Skip(removal.path, _GONE))
            except OSError as exc:
                swapped = _SWAPPED.get((removal.kind, exc.errno or 0))
                if swapped is not None:  # changed after the check: as if the check had seen it
                    skipped.append(Skip(removal.path, swapped))
                else:
                    failed.append(Skip(removal.path, describe(exc)))
                keep(removal.path)
            else:
                removed.append(removal)
    finally:
        if parent is not None and parent[1] is not None:
            os.close(parent[1])
    return outcome


_GONE = "already gone"
_NOT_A_DIRECTORY = "not a directory any more"
_NOT_A_FILE = "not a regular file any more"
# What a removal meets when the entry changed between its check and the removal: skipped, for
# the reason the check would have given, never failed.
_SWAPPED = {
    ("directory", errno.ENOTEMPTY): "not empty any more",
    ("directory", errno.EEXIST): "not empty any more",
    ("directory", errno.ENOTDIR): _NOT_A_DIRECTORY,  # swapped for a symlink or a file
    ("file", errno.EISDIR): _NOT_A_FILE,  # swapped for a directory
}


def _changed(removal: Removal, name: str, dir_fd: int | None) -> tuple[str | None, int]:
    """Why the entry is not what the plan removes (None: it is), and what removing it frees."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return _GONE, 0
    except OSError as exc:
        return describe(exc), 0
    if removal.kind == "directory":
        return (None if stat.S_ISDIR(st.st_mode) else _NOT_A_DIRECTORY), _freed(st)
    if not stat.S_ISREG(st.st_mode):
        return _NOT_A_FILE, 0
    if (st.st_ino, st.st_size, st.st_mtime_ns) != removal.stamp:
        return "changed since the scan", 0
    # Another hard link keeps the data: removing this name frees nothing.
    return None, _freed(st) if st.st_nlink <= 1 else 0


def _freed(st: os.stat_result) -> int:
    """The space a removal gives back: the blocks allocated (a sparse file holds fewer than its
    size says; a small one a whole block), where the system counts them."""
    blocks = getattr(st, "st_blocks", None)
    return st.st_size if blocks is None else blocks * 512
