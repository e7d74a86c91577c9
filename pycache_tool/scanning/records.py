"""What a scan reports: one record per cache file, missing cache or ghost directory."""

from __future__ import annotations

import enum
from typing import NamedTuple

from pycache_tool.bytecode.pyc import Invalidation


class Status(str, enum.Enum):
    FRESH = "fresh"
    STALE = "stale"
    ORPHAN = "orphan"
    SOURCELESS = "sourceless"
    LEGACY = "legacy"
    SHADOWED = "shadowed"
    CORRUPT = "corrupt"
    UNKNOWN = "unknown"
    UNREADABLE = "unreadable"
    MISSING = "missing"
    GHOST = "ghost"
    SYMLINK = "symlink"

    def __str__(self) -> str:
        return self.value


class Record(NamedTuple):
    path: str
    status: Status
    source: str | None = None
    tag: str | None = None  # from the file name
    python: str | None = None  # from the magic number: "3.12", "pypy3.9"
    magic: int | None = None
    optimization: int | None = None
    invalidation: Invalidation | None = None
    loads: bool | None = None  # would the interpreter of its tag load it?
    target: bool = False  # does it belong to a requested target interpreter?
    size: int = 0
    reason: str = ""
    # Identity of the file as read (inode, size, mtime_ns): clean leaves alone a file whose
    # identity changed after the scan. Not part of the reports.
    stamp: tuple[int, int, int] | None = None
    # The deep check of the code after the header (``audit --deep``): "ok", "damaged" or
    # "not checked" (no interpreter of the file's version); None when not asked for, or for a
    # cache whose code no import reads.
    deep: str | None = None
    # A directory's record (a ghost, a directory that cannot be listed), not a cache file's:
    # the reports count it on a line of its own. Not part of the JSON records.
    directory: bool = False

    @property
    def needs_attention(self) -> bool:
        """Dead weight or a hazard: what ``audit --check`` fails on."""
        return self.status in ATTENTION

    @property
    def dangerous(self) -> bool:
        """Code that runs but should not: stale yet loaded, importable without source, ghosts."""
        return (self.status is Status.STALE and bool(self.loads)) or self.status in (
            Status.SOURCELESS,
            Status.GHOST,
        )


class Named(NamedTuple):
    """A cache file in ``__pycache__`` or a pycache_prefix tree, known by its name and place
    alone (``Scan.by_name``): it was not opened, so it has no status. What clean with no
    category removes, whatever its header would say."""

    path: str
    tag: str | None  # from the file name
    size: int
    stamp: tuple[int, int, int]  # (inode, size, mtime_ns), as for Record


# Shadowed caches count: like orphans and legacy files they are never read, and they make the
# source beside them look like the code that runs.
ATTENTION = frozenset(
    {
        Status.STALE,
        Status.ORPHAN,
        Status.CORRUPT,
        Status.LEGACY,
        Status.SHADOWED,
        Status.GHOST,
        Status.MISSING,
        Status.SYMLINK,
    }
)
SYMLINKED_PYCACHE = (
    "a symlink: imports read and write the caches where it points, which are never"
    " followed, so neither audited nor cleaned"
)
