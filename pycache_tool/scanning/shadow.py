"""Shadowing: a module that import never finds because something of the same name wins.

In one directory, Python's path finder (importlib's FileFinder; Python 2's C import alike)
tries, for ``import foo``: a package ``foo/`` with an ``__init__`` (any loader suffix; on
Python 2 only ``__init__.py`` or ``.pyc`` make a package), then an extension module
``foo<suffix>`` for each of that interpreter's EXTENSION_SUFFIXES in order, then ``foo.py``,
then a sourceless ``foo.pyc``. A package's ``__init__`` is looked up the same way, so an
``__init__`` extension shadows ``__init__.py`` (Python 2 too). A cache of ``foo.py`` (or a sourceless
``foo.pyc``) beside a package or an extension of its name is never read. A directory without
an ``__init__`` is a namespace portion, which only counts when no module is found: it
shadows nothing.

The walk's listing tells what is beside each source, so a directory costs no system call
unless it holds a directory (or a symlink, or another entry that is no regular file) named
like a module, or an extension file; only then are ``foo/__init__*`` looked up, once each, as
import looks them up (following links).
"""

from __future__ import annotations

import importlib.machinery
import os
import stat
import sys
from collections.abc import Callable, Iterable, Sequence

from pycache_tool.bytecode.interpreters import Interpreter, version_key
from pycache_tool.scanning.records import Record, Status

Key = tuple[str, str]  # (implementation, version): ("cpython", "3.12")
# Verdicts that a package or extension of the same name overrides: import would read the file.
_SHADOWABLE = frozenset({Status.FRESH, Status.STALE, Status.SOURCELESS})


def _own_platform_tail() -> str | None:
    """What follows the version in this CPython's own extension suffix: "-x86_64-linux-gnu.so"
    on Linux, "-darwin.so" on macOS, "-win_amd64.pyd" on Windows; None if it cannot be told."""
    if sys.implementation.name != "cpython":
        return None
    xy = f"{sys.version_info[0]}{sys.version_info[1]}"
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        for head in (f".cpython-{xy}-", f".cp{xy}-"):
            if suffix.startswith(head):
                return suffix[len(head) - 1 :]
    return None


_OWN: Key = (sys.implementation.name, f"{sys.version_info[0]}.{sys.version_info[1]}")
_TAIL = _own_platform_tail()


def derived_extension_suffixes(implementation: str, version: str) -> tuple[str, ...]:
    """The EXTENSION_SUFFIXES of a default build of that Python on this platform.

    For Pythons that are not at hand (another version's caches in a shared tree). Only forms
    seen on real interpreters; where none is known, no extension is said to shadow anything.
    """
    if (implementation, version) == _OWN:
        return tuple(importlib.machinery.EXTENSION_SUFFIXES)
    key = version_key(version)
    windows = _TAIL is not None and _TAIL.endswith(".pyd")
    if implementation == "cpython":
        if key[0] == 2:
            return (".pyd",) if windows else (".so", "module.so")
        if _TAIL is None or key < (3, 3):
            return ()
        xy = f"{key[0]}{key[1]}"
        if windows:
            return (f".cp{xy}{_TAIL}", ".pyd")
        abi = "m" if key < (3, 8) else ""  # the pymalloc flag, dropped in 3.8
        return (f".cpython-{xy}{abi}{_TAIL}", ".abi3.so", ".so")
    if implementation == "pypy" and key >= (3, 6) and _TAIL is not None:
        return (f".pypy{key[0]}{key[1]}-pp73{_TAIL}",)  # PyPy 7.3; no .abi3.so, no bare .so
    return ()


class ShadowRules:
    """What each interpreter tries before a module's source: extension suffixes, in order,
    and the names that make a directory a package. Targets asked with --python say their
    own suffixes; other interpreters get those of a default build (``derived_...``)."""

    def __init__(self, targets: Sequence[Interpreter]) -> None:
        self._exact = {
            (t.implementation, t.version): t.extension_suffixes
            for t in targets
            if t.extension_suffixes is not None
        }
        self._suffixes: dict[Key, tuple[str, ...]] = {}
        self._keys: dict[str, Key | None] = {}
        endings = {".so", ".pyd"}
        for suffixes in self._exact.values():
            endings.update(os.path.splitext(s)[1] for s in suffixes)
        self.endings = tuple(sorted(e for e in endings if e))

    def extensions(self, key: Key) -> tuple[str, ...]:
        found = self._suffixes.get(key)
        if found is None:
            found = self._exact.get(key) or derived_extension_suffixes(*key)
            self._suffixes[key] = found
        return found

    def key(self, python: str) -> Key | None:
        """The records' ``python`` label ("3.12", "pypy3.9") as (implementation, version)."""
        if python not in self._keys:
            implementation, version = (
                ("pypy", python[4:]) if python[:4] == "pypy" else ("cpython", python)
            )
            self._keys[python] = (
                (implementation, version) if version[:1].isdigit() and "." in version else None
            )
        return self._keys[python]

    def package_markers(self, key: Key, level: int) -> tuple[str, ...]:
        """The ``__init__`` files that make ``foo/`` a package, in the order import tries them."""
        if version_key(key[1]) < (3, 0):  # Python 2: __init__.py, then .pyc (.pyo under -O)
            return ("__init__.py", "__init__.pyo" if level else "__init__.pyc")
        return (*(f"__init__{s}" for s in self.extensions(key)), "__init__.py", "__init__.pyc")

    def apply(self, record: Record, stem: str, shadows: LazyShadows) -> Record:
        """``record`` as it is, or shadowed: a package or extension of its name is imported
        instead of its source (or, for sourceless bytecode, instead of it)."""
        if record.status not in _SHADOWABLE:
            return record
        found = shadows.get()
        key = None if found is None or record.python is None else self.key(record.python)
        by = None if key is None or found is None else found.by(key, stem, record.optimization or 0)
        if by is None:
            return record
        assert key is not None
        kind = by.partition(" ")[0]
        if record.status is Status.SOURCELESS:  # still bytecode without source: its own status
            return record._replace(
                loads=False,
                reason=f"shadowed by {by}: {who(key)} imports the {kind}, never this bytecode",
            )
        return record._replace(
            status=Status.SHADOWED,
            loads=False,
            reason=f"shadowed by {by}: {who(key)} imports the {kind},"
            f" never {stem}.py or this cache",
        )

    def directory(
        self, path: str, files: Iterable[str], others: Iterable[str], dirs: Iterable[str]
    ) -> Shadows | None:
        """What may shadow a module in the directory ``path`` (the names of its regular files,
        of its other entries but directories, and of its directories); None when nothing can."""
        names = {d for d in dirs if "." not in d and d != "__init__"}
        extensions: dict[str, bool] = {}  # name -> a regular file by its entry, no stat needed
        endings = self.endings
        for name in files:
            if name.endswith(endings):
                extensions[name] = True
        for name in others:
            if name.endswith(endings):
                extensions[name] = False  # a link perhaps, which import follows
            elif "." not in name and name != "__init__":
                names.add(name)  # perhaps a link to a package directory
        if not names and not extensions:
            return None
        return Shadows(self, path, names, extensions)

    def listed(self, path: str) -> Shadows | None:
        """As ``directory``, listing ``path`` itself (for caches in a pycache_prefix tree)."""
        try:
            with os.scandir(path) as it:
                entries = list(it)
        except OSError:
            return None
        dirs: list[str] = []
        files: list[str] = []
        others: list[str] = []
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                is_file = not is_dir and entry.is_file(follow_symlinks=False)
            except OSError:
                is_dir = is_file = False
            (dirs if is_dir else files if is_file else others).append(entry.name)
        return self.directory(path, files, others, dirs)


class LazyShadows:
    """A directory's Shadows, worked out the first time a cache or source asks."""

    __slots__ = ("_make", "_done", "_value")

    def __init__(self, make: Callable[[], Shadows | None]) -> None:
        self._make = make
        self._done = False
        self._value: Shadows | None = None

    def get(self) -> Shadows | None:
        if not self._done:
            self._value = self._make()
            self._done = True
        return self._value


class Shadows:
    """The packages and extension modules of one directory, judged per interpreter."""

    def __init__(
        self,
        rules: ShadowRules,
        path: str,
        names: set[str],
        extensions: dict[str, bool],
    ) -> None:
        self._rules = rules
        self._path = path
        self._names = names  # directories and symlinks that may be packages
        # Entries whose name ends like an extension module: True when known to be a regular file.
        self._extensions = extensions
        self._files: dict[str, bool] = {}  # path -> is a regular file (following links)

    def by(self, key: Key, stem: str, level: int) -> str | None:
        """What the interpreter ``key`` imports instead of module ``stem``: "package foo/
        (foo/__init__.py)" or "extension foo.cpython-312-x86_64-linux-gnu.so"; None if nothing."""
        if stem in self._names:
            for marker in self._rules.package_markers(key, level):
                if self._is_file(os.path.join(self._path, stem, marker)):
                    return f"package {stem}/ ({stem}/{marker})"
        # Python 2 too: a package's __init__ is looked up like any module, extensions first.
        if self._extensions:
            for suffix in self._rules.extensions(key):
                name = stem + suffix
                regular = self._extensions.get(name)
                if regular or (regular is False and self._is_file(os.path.join(self._path, name))):
                    return f"extension {name}"
        return None

    def _is_file(self, path: str) -> bool:
        found = self._files.get(path)
        if found is None:
            try:
                found = stat.S_ISREG(os.stat(path).st_mode)  # import follows links too
            except (OSError, ValueError):
                found = False
            self._files[path] = found
        return found


def who(key: Key) -> str:
    """ "CPython 3.12", "PyPy 3.9": the interpreter a reason speaks of."""
    return f"{'PyPy' if key[0] == 'pypy' else 'CPython'} {key[1]}"
