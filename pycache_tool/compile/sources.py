"""Which sources a compile run takes, and which fresh caches it must write again anyway.

A PATH may be a ``.py`` file (as compileall takes them): its directory is walked alone
(``max_depth`` 0) and only the named sources are kept. Ignore files never leave out a file
named on purpose, as they never leave out a directory named on purpose; ``--exclude`` does, as
compileall's ``-x`` does.

With ``--strip-prefix`` or ``--prepend-prefix``, a fresh cache whose code records another file
name than this run writes is stale for the run (compileall keeps it): the name is read inside
the target (``DeepCheck.filenames``), never guessed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from pycache_tool.bytecode.interpreters import Interpreter
from pycache_tool.bytecode.pyc import Invalidation
from pycache_tool.errors import UsageError
from pycache_tool.scanning.coverage import Need, covers
from pycache_tool.scanning.deep import DeepCheck
from pycache_tool.scanning.records import Status


def split_paths(paths: Sequence[str]) -> tuple[list[str], list[str]]:
    """The directories among ``paths`` and the ``.py`` files, each absolute, in their order."""
    directories: list[str] = []
    files: list[str] = []
    for raw in paths:
        path = os.path.abspath(raw)
        if os.path.isfile(path):  # a symlink to a file too: import reads through it
            if not path.endswith(".py"):
                raise UsageError(f"{raw}: neither a directory nor a .py file")
            if path not in files:
                files.append(path)
        elif os.path.isdir(path) or os.path.islink(path):  # a symlink: Scan says what it says
            directories.append(path)
        elif os.path.lexists(path):
            raise UsageError(f"{raw}: neither a directory nor a .py file")
        else:
            raise UsageError(f"{raw}: no such file or directory")
    return directories, files


def walks(roots: list[str], files: list[str]) -> list[tuple[str, frozenset[str] | None]]:
    """Each directory root (every source kept: None), then each named file's directory with
    the named sources of it."""
    named: dict[str, set[str]] = {}
    for path in files:
        named.setdefault(os.path.dirname(path), set()).add(path)
    return [(r, None) for r in roots] + [(d, frozenset(n)) for d, n in named.items()]


def baked_path(source: str, strip: str | None, prepend: str | None) -> str | None:
    """The file name written into the code objects (``dfile``); None: the source path."""
    if strip is None and prepend is None:
        return None
    path = source
    if strip is not None:
        path = os.path.relpath(source, strip)
    if prepend is not None:
        path = os.path.join(prepend, path.lstrip(os.sep))
    return path


def renamed(
    target: Interpreter,
    units: list[Need],
    mode: Invalidation,
    strip: str | None,
    prepend: str | None,
) -> list[Need]:
    """``units``, with each fresh cache whose code records another file name than this run
    writes (``--strip-prefix``/``--prepend-prefix`` changed) made stale: it is rewritten. The
    name is read inside the target; a cache whose name cannot be read is rewritten too."""
    fresh = [i for i, n in enumerate(units) if not n.blocked and covers(n.record, mode)]
    if not fresh:
        return units
    check = DeepCheck([target])
    try:
        names = check.filenames([units[i].record for i in fresh])
    finally:
        check.close()
    units = list(units)
    for i, name in zip(fresh, names):
        need = units[i]
        wanted = baked_path(need.source, strip, prepend)
        if name == wanted:
            continue
        reason = (
            f"its code records the file name {name!r}; this run writes {wanted!r}"
            if name is not None
            else "the file name its code records could not be read"
        )
        units[i] = need._replace(record=need.record._replace(status=Status.STALE, reason=reason))
    return units
