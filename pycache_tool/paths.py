"""Which PATHS name archives, by their names and file types alone: what audit decides before
it loads the archive reader (``archives``), which only a run that names an archive needs."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from typing import Final, Literal

from pycache_tool.errors import UsageError

Kind = Literal["wheel", "sdist", "zip"]
WHEEL: Final = "wheel"
SDIST: Final = "sdist"
ZIP: Final = "zip"

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
