"""Bytecode inside wheels, sdists and zips, read in memory: nothing is ever extracted.

A wheel or an sdist should carry no bytecode at all, so every bytecode entry in one is a leak
(``tars.py`` reads tar sdists; ``zips.py`` wheels, zip sdists and zips). A zip (``.zip``,
``.pyz``, ``.egg``) may sit on ``sys.path``, where zipimport decides per entry whether the
bytecode is used: ``zips.py`` judges it by zipimport's rules.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence

from pycache_tool.archives.entries import (
    CORRUPT,
    FRESH,
    IGNORED,
    LEAKED,
    SDIST,
    SOURCELESS,
    STALE,
    UNKNOWN,
    UNREADABLE,
    WHEEL,
    ZIP,
    Archive,
    Entry,
    EntryStatus,
    Kind,
)
from pycache_tool.archives.tars import read_tar
from pycache_tool.archives.zips import read_zip
from pycache_tool.bytecode.interpreters import Interpreter
from pycache_tool.errors import UsageError, describe

__all__ = [
    "CORRUPT",
    "FRESH",
    "IGNORED",
    "LEAKED",
    "SDIST",
    "SOURCELESS",
    "STALE",
    "SUFFIXES",
    "UNKNOWN",
    "UNREADABLE",
    "WHEEL",
    "ZIP",
    "Archive",
    "Entry",
    "EntryStatus",
    "Kind",
    "archive_kind",
    "inspect",
    "split_paths",
]

# zipfile and tarfile (and with them zlib, bz2, lzma) are imported only when an archive is
# named, so an audit of directories starts as fast as without this package.

_SUFFIXES: tuple[tuple[str, Kind], ...] = (
    (".whl", WHEEL),
    (".zip", ZIP),
    (".pyz", ZIP),
    (".egg", ZIP),
    (".tar.gz", SDIST),
    (".tgz", SDIST),
    (".tar.bz2", SDIST),
    (".tar.xz", SDIST),
    (".tar", SDIST),
)
SUFFIXES = tuple(suffix for suffix, _ in _SUFFIXES)

# Never through a symlink, and never blocking on a FIFO put where an archive was.
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


def archive_kind(path: str) -> Kind | None:
    """The kind a file name says: "wheel", "sdist", "zip", or None for any other name."""
    lower = path.lower()
    return next((kind for suffix, kind in _SUFFIXES if lower.endswith(suffix)), None)


def split_paths(paths: Sequence[str]) -> tuple[list[str], list[str]]:
    """(directories, archives) from PATHS: a regular file with an archive suffix is an archive;
    anything else is left to the directory scan, which rejects what it cannot walk. A symlink
    named as a PATH is followed, as ``find``, ``fd`` and ``rg`` do."""
    directories: list[str] = []
    archives: list[str] = []
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            if archive_kind(path):
                raise UsageError(f"{path}: no such file") from None
            directories.append(path)  # the scan reports it missing
            continue
        if stat.S_ISREG(info.st_mode) and archive_kind(path):
            if os.path.abspath(path) not in archives:
                archives.append(os.path.abspath(path))
        elif stat.S_ISREG(info.st_mode):
            raise UsageError(f"{path}: not a directory or an archive ({', '.join(SUFFIXES)})")
        else:
            directories.append(path)
    return directories, archives


def inspect(path: str, targets: Sequence[Interpreter] = ()) -> Archive:
    """The bytecode members of the archive at ``path``, judged as its kind requires.

    ``targets`` supply the ``--check-hash-based-pycs`` mode for zip entries of their Python.
    """
    path = os.path.abspath(path)
    kind = archive_kind(path) or ZIP
    try:
        # A symlink named as a PATH is followed: the file it names is opened, never a link.
        fd = os.open(os.path.realpath(path), _OPEN_FLAGS)
    except OSError as exc:
        return Archive(path, kind, [], describe(exc))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return Archive(path, kind, [], "not a regular file")
        if kind == SDIST:
            return read_tar(path, f)
        return read_zip(path, kind, f, targets)
