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
from pycache_tool.errors import describe
from pycache_tool.paths import SUFFIXES, archive_kind, split_paths

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
# named; which PATHS are archives is decided in ``paths``, without this package.


# Never through a symlink, and never blocking on a FIFO put where an archive was.
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


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
