"""What every report shares: the JSON schema number, paths for a terminal, sizes, counted nouns."""

from __future__ import annotations

import os
from collections.abc import Iterable

SCHEMA = 1


def show_path(path: str, cwd: str) -> str:
    """A path for a terminal: relative to the working directory when below it, control
    characters and undecodable bytes escaped so every record stays on one line."""
    if path == cwd:
        shown = "."
    elif path.startswith(cwd.rstrip(os.sep) + os.sep):
        shown = path[len(cwd.rstrip(os.sep)) + 1 :]
    else:
        shown = path
    if shown.isprintable():
        return shown
    return shown.encode("unicode_escape").decode("ascii")


def size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def counted(n: int, noun: str, plural: str = "") -> str:
    """``1 file``, ``2 files``; ``plural`` where adding an s will not do."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def untrack_command(paths: Iterable[str], cwd: str) -> str:
    """The command that stops git tracking these files and leaves them on disk."""
    import shlex

    return "git rm -r --cached -- " + " ".join(shlex.quote(show_path(p, cwd)) for p in paths)
