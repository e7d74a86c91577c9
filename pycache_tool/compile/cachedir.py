"""The compile cache as a directory: made and checked before use, described, bounded.

Entries are ``cache.py``'s. This module is the tool's side: ``prepare`` before a compile,
``record_run`` after it, ``describe`` for ``cache info``, ``prune`` for ``cache prune`` and
``--cache-max-size``. The core returns data; the CLI prints it.

A directory is used as a cache only when it is empty (or new), or carries the
``CACHEDIR.TAG`` this tool writes: ``--cache .`` or ``--cache ~`` by mistake must not fill a
tree with entries, and ``prune`` must never delete anything but entries. Within it, ``prune``
touches only entry files and temp files of ``v1/*/??/`` and run records of ``runs/``.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from pycache_tool.compile import cache
from pycache_tool.errors import PycacheToolError, describe

TAG_FILE = "CACHEDIR.TAG"
# The standard tag (https://bford.info/cachedir/): backup tools skip the directory.
TAG_TEXT = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This directory is a compile cache of pycache-tool (pycache-tool cache info).\n"
    "# Any entry can be removed at any time; `pycache-tool cache prune` bounds its size.\n"
)
RUNS = "runs"
KEEP_RUNS = 20  # run records kept for `cache info`
DEBRIS_AGE = 3600.0  # seconds after which a temp file is a killed writer's, not a live one's
NOT_OURS = f"not empty, and not a pycache-tool cache (it has no {TAG_FILE} of ours)"
_ENTRY = re.compile(r"[0-9a-f]{62}\.[0-2]")
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


class CacheError(PycacheToolError):
    """The cache directory cannot be used: a one-line reason."""


@dataclass
class Interpreter:
    """One interpreter's part of the cache."""

    name: str  # its directory: tag and identity hash
    identity: dict[str, Any]  # what the worker wrote (empty when it could not be read)
    entries: int = 0
    size: int = 0


@dataclass
class Info:
    directory: str
    entries: int = 0
    size: int = 0  # bytes of entry files
    disk: int = 0  # bytes they take on disk (blocks)
    temp_files: int = 0
    oldest: float | None = None  # last use of the least recently used entry
    newest: float | None = None
    interpreters: list[Interpreter] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)  # newest first


@dataclass
class Pruned:
    directory: str
    max_size: int
    removed: int = 0
    freed: int = 0
    entries: int = 0  # what is left
    size: int = 0
    debris: int = 0  # temp files of killed writers removed
    errors: list[str] = field(default_factory=list)  # what could not be removed, and why


@dataclass
class Use:
    """The cache in one compile run. ``warning``: why it was not used, or stopped being used
    (said once; the run goes on without it)."""

    directory: str
    active: bool = True
    warning: str | None = None
    pruned: Pruned | None = None

    def fail(self, reason: str) -> None:
        self.active = False
        if self.warning is None:
            self.warning = f"compile cache {self.directory}: {reason}; compiling without it"


def use(directory: str, dry_run: bool) -> Use:
    """The cache made ready for a compile (a dry run only looks, and makes nothing)."""
    found = Use(os.path.abspath(directory))
    try:
        path = peek(directory) if dry_run else prepare(directory)
    except CacheError as exc:
        found.fail(str(exc))
        return found
    found.active = path is not None
    return found


def parse_size(text: str) -> int:
    """``500M``, ``2G``, ``1.5GiB``, ``1000``: bytes (K, M, G, T are powers of 1024)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if not match:
        raise CacheError(f"not a size: {text!r} (expected e.g. 500M, 2G or a number of bytes)")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def _is_ours(root: str) -> bool:
    try:
        return b"pycache-tool" in _read(root, (TAG_FILE,), 4096)
    except OSError:
        return False


def _others(path: str) -> list[str]:
    """What a directory without our tag holds that is not ours: another compile may be making
    it a cache right now (its tag's temp file, its first entries)."""
    ours = {TAG_FILE, cache.LAYOUT, RUNS}
    return [n for n in os.listdir(path) if n not in ours and not n.startswith(cache.TEMP_PREFIX)]


def existing(root: str) -> str:
    """The absolute path of an existing cache directory (for info and prune); else CacheError."""
    path = os.path.abspath(root)
    if not os.path.isdir(path):
        raise CacheError(f"{path}: no such cache directory")
    if not _is_ours(path):
        raise CacheError(f"{path} is not a pycache-tool cache (it has no {TAG_FILE} of ours)")
    return path


def prepare(root: str) -> str:
    """Make or check the cache directory for a compile: its absolute path; else CacheError."""
    path = os.path.abspath(root)
    try:
        os.makedirs(path, exist_ok=True)
    except FileExistsError:
        raise CacheError("not a directory") from None
    except OSError as exc:
        raise CacheError(f"cannot make it: {describe(exc)}") from None
    if not os.path.isdir(path):
        raise CacheError("not a directory")
    try:
        if not _is_ours(path):
            if _others(path):
                raise CacheError(NOT_OURS)
            fd = cache.open_below(path, ())
            try:
                cache.write_atomic(TAG_FILE, TAG_TEXT.encode(), fd)
            finally:
                os.close(fd)
        # A write where entries go, as a worker would make it: a read-only or foreign-owned
        # directory, or a symlink where the cache keeps a directory, is found now, once,
        # rather than by every worker.
        fd = cache.open_below(path, (cache.LAYOUT,), make=1)
        try:
            probe = f"{cache.TEMP_PREFIX}{cache.temp_owner()}.{os.urandom(4).hex()}"
            os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666, dir_fd=fd))
            os.unlink(probe, dir_fd=fd)
        finally:
            os.close(fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise CacheError(cache.failure_reason(exc)) from None
        raise CacheError(f"cannot write: {describe(exc)}") from None
    return path


def peek(root: str) -> str | None:
    """For a dry run, which writes nothing: the cache directory if it is one; None if it does
    not exist yet (every lookup misses); CacheError if it cannot be used."""
    path = os.path.abspath(root)
    if not os.path.exists(path):
        return None
    if not os.path.isdir(path):
        raise CacheError("not a directory")
    try:
        if not _is_ours(path) and _others(path):
            raise CacheError(NOT_OURS)
    except OSError as exc:
        raise CacheError(f"cannot read: {describe(exc)}") from None
    return path


class Planned(Protocol):
    """A cache to write, as the plan has it (``scanning.coverage.Need``)."""

    @property
    def source(self) -> str: ...
    @property
    def cache(self) -> str: ...
    @property
    def level(self) -> int: ...


def holds(root: str, name: str, needs: Iterable[Planned]) -> set[str]:
    """The caches among ``needs`` that the cache holds a verified entry for, in the directory
    of interpreter ``name`` (a dry run: nothing is marked as used)."""
    store = cache.Store(root, name)
    try:
        return {need.cache for need in needs if _verified(store, need)}
    finally:
        store.close()


def _verified(store: cache.Store, need: Planned) -> bool:
    import hashlib

    try:
        with open(need.source, "rb") as f:
            digest = hashlib.sha256(f.read()).digest()
        return store.get(digest, need.level, touch=False) is not None
    except (OSError, cache.Damaged):
        return False


def record_run(root: str, targets: list[dict[str, Any]]) -> None:
    """One compile run's counts, for ``cache info``; the oldest records beyond KEEP_RUNS go.
    Best effort: a cache that cannot take it has said so already."""
    document = {"time": time.time(), "targets": targets}
    name = f"{time.time_ns():020d}-{cache.temp_owner()}.json"
    try:
        fd = cache.open_below(root, (RUNS,), make=1)
    except OSError:
        return
    try:
        cache.write_atomic(name, json.dumps(document).encode(), fd)
        names = sorted(n for n in os.listdir(fd) if n.endswith(".json"))
        for old in names[:-KEEP_RUNS]:
            os.unlink(old, dir_fd=fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class _File:
    """An entry or temp file: ``parts``, its path below the cache's root."""

    __slots__ = ("parts", "size", "disk", "mtime")

    def __init__(self, parts: tuple[str, ...], st: os.stat_result) -> None:
        self.parts = parts
        self.size = st.st_size
        self.disk = st.st_blocks * 512
        self.mtime = st.st_mtime


def _walk(root: str) -> Iterator[tuple[str, _File | None, _File | None]]:
    """(interpreter, entry, temp file) for every entry and temp file in the cache: entries in
    the layout, temp files wherever a writer makes them (the tag, run records, identities,
    entries). No directory below ``root`` is entered through a symlink."""
    for above in ((), (RUNS,), (cache.LAYOUT,)):
        for name, st in _files(root, above):
            if name.startswith(cache.TEMP_PREFIX):
                yield "", None, _File((*above, name), st)
    for interp in _dirs(root, (cache.LAYOUT,)):
        for shard in ["", *_dirs(root, (cache.LAYOUT, interp))]:
            parts = (cache.LAYOUT, interp, shard) if shard else (cache.LAYOUT, interp)
            for name, st in _files(root, parts):
                if shard and _ENTRY.fullmatch(name):
                    yield interp, _File((*parts, name), st), None
                elif name.startswith(cache.TEMP_PREFIX):
                    yield interp, None, _File((*parts, name), st)


def _files(root: str, parts: tuple[str, ...]) -> Iterator[tuple[str, os.stat_result]]:
    """The regular files in ``root/parts...`` (none when a symlink is on the way)."""
    try:
        fd = cache.open_below(root, parts)
    except OSError:
        return
    found = []
    try:
        for item in os.scandir(fd):
            try:  # while fd is open: the entry's stat is made in it
                st = item.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                found.append((item.name, st))
    except OSError:
        pass
    finally:
        os.close(fd)
    yield from found


def _dirs(root: str, parts: tuple[str, ...]) -> list[str]:
    """The directories in ``root/parts...`` (none when a symlink is on the way)."""
    try:
        fd = cache.open_below(root, parts)
    except OSError:
        return []
    try:
        return sorted(e.name for e in os.scandir(fd) if e.is_dir(follow_symlinks=False))
    except OSError:
        return []
    finally:
        os.close(fd)


def _read(root: str, parts: tuple[str, ...], limit: int) -> bytes:
    """The start of the file ``root/parts...``, no symlink followed on the way (OSError)."""
    fd = cache.open_below(root, parts[:-1])
    try:
        file = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
    finally:
        os.close(fd)
    with os.fdopen(file, "rb") as f:
        return f.read(limit)


def describe_cache(root: str) -> Info:
    """What the cache holds, by interpreter, and its last runs."""
    path = existing(root)
    info = Info(path)
    parts: dict[str, Interpreter] = {}
    for interp, entry, temp in _walk(path):
        if temp is not None:
            info.temp_files += 1
            continue
        assert entry is not None
        part = parts.get(interp)
        if part is None:
            part = parts[interp] = Interpreter(interp, _identity(path, interp))
        part.entries += 1
        part.size += entry.size
        info.entries += 1
        info.size += entry.size
        info.disk += entry.disk
        info.oldest = entry.mtime if info.oldest is None else min(info.oldest, entry.mtime)
        info.newest = entry.mtime if info.newest is None else max(info.newest, entry.mtime)
    info.interpreters = sorted(parts.values(), key=lambda p: p.name)
    info.runs = _runs(path)
    return info


def _identity(root: str, name: str) -> dict[str, Any]:
    try:
        found = json.loads(_read(root, (cache.LAYOUT, name, cache.IDENTITY), 65536))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _runs(root: str) -> list[dict[str, Any]]:
    try:
        fd = cache.open_below(root, (RUNS,))
    except OSError:
        return []
    try:
        names = sorted((n for n in os.listdir(fd) if n.endswith(".json")), reverse=True)
    except OSError:
        return []
    finally:
        os.close(fd)
    runs = []
    for name in names[:KEEP_RUNS]:
        try:
            found = json.loads(_read(root, (RUNS, name), 1 << 20))
        except (OSError, ValueError):
            continue
        if isinstance(found, dict):
            runs.append(found)
    return runs


def prune(root: str, max_size: int) -> Pruned:
    """Remove the least recently used entries until what is left takes at most ``max_size``
    bytes, and the temp files killed writers left. A hit refreshes an entry's mtime (at most
    hourly), so the mtime is its last use. Safe while compiles run: a reader holds the entry
    it opened, and a writer whose entry is removed writes it again next time."""
    path = existing(root)
    result = Pruned(path, max_size)
    now = time.time()
    entries = []
    for _, entry, temp in _walk(path):
        if temp is not None:
            if now - temp.mtime > DEBRIS_AGE and _unlink(path, temp.parts, result.errors):
                result.debris += 1
        elif entry is not None:
            entries.append(entry)
    entries.sort(key=lambda e: (e.mtime, e.parts))
    total = sum(e.size for e in entries)
    kept = len(entries)
    for entry in entries:
        if total <= max_size:
            break
        if _unlink(path, entry.parts, result.errors):
            result.removed += 1
            result.freed += entry.size
            total -= entry.size
            kept -= 1
    result.entries, result.size = kept, total
    return result


def _unlink(root: str, parts: tuple[str, ...], errors: list[str]) -> bool:
    """Remove the file ``root/parts...``, reached without following a symlink (gone already,
    by another prune, counts as removed); False, with the reason in ``errors``, when it cannot
    be removed."""
    try:
        fd = cache.open_below(root, parts[:-1])
        try:
            os.unlink(parts[-1], dir_fd=fd)
        finally:
            os.close(fd)
        return True
    except FileNotFoundError:
        return True
    except OSError as exc:
        errors.append(f"{os.path.join(root, *parts)}: {describe(exc)}")
        return False


def identity_of(executable: str, timeout: float | None = None) -> str:
    """The name of a target's directory in the cache, asked of the target (for a dry run)."""
    from pycache_tool.bytecode import interpreters

    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    answer = interpreters.ask_script([executable, "-s", "-B"], cache.__file__, env, timeout=timeout)
    if not isinstance(answer, dict) or not isinstance(answer.get("name"), str):
        raise CacheError(f"{executable} did not say what it is")
    name: str = answer["name"]
    return name
