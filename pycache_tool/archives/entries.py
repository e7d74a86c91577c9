"""What an archive's bytecode members are: the records of ``inspect`` and the facts they share.

A member's name and first bytes are read into ``Facts`` the same way for every kind of archive;
a wheel's or an sdist's member is then a leak whatever it says (``leak``), and a zip's is
judged by zipimport's rules (``zips.py``).
"""

from __future__ import annotations

import functools
from typing import Final, Literal, NamedTuple, Optional, Union

from pycache_tool.bytecode.interpreters import python_label
from pycache_tool.bytecode.pyc import (
    Invalidation,
    MagicInfo,
    is_cache_file_name,
    magic_info,
    parse_cache_name,
    parse_header,
)
from pycache_tool.errors import describe

# The kinds, by the names that say them (``paths``, which PATHS are archives).
from pycache_tool.paths import SDIST as SDIST
from pycache_tool.paths import WHEEL as WHEEL
from pycache_tool.paths import ZIP as ZIP
from pycache_tool.paths import Kind as Kind

# Entry statuses. The first six mean what audit's statuses mean, judged by zipimport's rules.
EntryStatus = Literal[
    "fresh", "stale", "sourceless", "corrupt", "unknown", "unreadable", "ignored", "leaked"
]
FRESH: Final = "fresh"
STALE: Final = "stale"
SOURCELESS: Final = "sourceless"
CORRUPT: Final = "corrupt"
UNKNOWN: Final = "unknown"
UNREADABLE: Final = "unreadable"
IGNORED: Final = "ignored"  # in a zip, but zipimport never looks it up: dead weight
LEAKED: Final = "leaked"  # in a wheel or an sdist
_ZIP_FINDINGS = frozenset({STALE, CORRUPT, IGNORED})

Verdict = tuple[EntryStatus, Optional[bool], str]  # status, loads, reason
# What a freshness check compares: (mtime,) or (mtime, source size), or the source's hash.
Fields = Union[tuple[int, ...], bytes, None]


class Entry(NamedTuple):
    """One bytecode member of an archive."""

    name: str  # the member name, "/"-separated as stored
    status: EntryStatus
    source: str | None  # the member that holds its source, if the archive has it
    tag: str | None  # from the name (``__pycache__`` entries)
    python: str | None  # from the magic number
    magic: int | None
    optimization: int | None
    invalidation: Invalidation | None
    loads: bool | None  # zips: would zipimport of its Python use it; else None
    size: int  # uncompressed
    reason: str

    @property
    def finding(self) -> bool:
        """What ``audit --check`` fails on: any leak, and a zip's dead or stale bytecode."""
        return self.status == LEAKED or self.status in _ZIP_FINDINGS


class Archive(NamedTuple):
    path: str  # absolute
    kind: Kind
    entries: list[Entry]  # bytecode members only, in archive order
    error: str | None = None  # why the archive (or part of it) could not be read

    @property
    def findings(self) -> list[Entry]:
        return [e for e in self.entries if e.finding]

    @property
    def incomplete(self) -> bool:
        """Not everything could be read: the verdict is partial (exit 3)."""
        return self.error is not None or any(e.status == UNREADABLE for e in self.entries)


@functools.cache
def read_errors() -> tuple[type[BaseException], ...]:
    """What reading a member can raise, beyond OSError: damaged or unsupported compression,
    encryption (RuntimeError), a truncated archive."""
    import tarfile
    import zipfile
    import zlib

    errors: list[type[BaseException]] = [
        OSError,
        EOFError,
        ValueError,
        RuntimeError,
        NotImplementedError,
        zipfile.BadZipFile,
        tarfile.TarError,
        zlib.error,
    ]
    try:
        import lzma

        errors.append(lzma.LZMAError)
    except ImportError:  # a Python built without lzma reads no .xz either
        pass
    return tuple(errors)


def why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return describe(exc)
    return str(exc) or type(exc).__name__


def is_bytecode(name: str) -> bool:
    parts = name.rstrip("/").split("/")
    return is_cache_file_name(parts[-1]) or "__pycache__" in parts[:-1]


class Facts(NamedTuple):
    """What a member's name and first bytes say, before any judgement."""

    tag: str | None
    python: str | None
    magic: int | None
    optimization: int
    invalidation: Invalidation | None
    info: MagicInfo | None
    problem: str  # why the header cannot be valid bytecode; "" when it can


def facts_of(name: str, head: bytes, size: int) -> tuple[Facts, Fields]:
    """Name and header facts, and the fields a freshness check needs."""
    base = name.rsplit("/", 1)[-1]
    cache_name = parse_cache_name(base)
    tag = cache_name.tag if cache_name else None
    optimization = cache_name.optimization if cache_name else 0
    header, problem = parse_header(head, size)
    if header is None:
        return Facts(tag, None, None, optimization, None, None, problem), None
    info = magic_info(header.magic)
    if info is None:  # not in the table: nothing more can be said about its fields
        return Facts(tag, None, header.magic, optimization, None, None, ""), None
    python = python_label(info.implementation, info.version)
    fields: Fields
    if header.source_hash is not None:
        fields = header.source_hash
    else:
        assert header.mtime is not None
        fields = (
            (header.mtime,) if header.source_size is None else (header.mtime, header.source_size)
        )
    return (
        Facts(tag, python, header.magic, optimization, header.invalidation, info, ""),
        fields,
    )


def leak(kind: Kind, name: str, head: bytes | None, size: int, note: str) -> Entry:
    """A bytecode member of a wheel or an sdist: a leak, whatever its header says."""
    where = "a wheel" if kind == WHEEL else "an sdist"
    reason = f"bytecode does not belong in {where}: it was built from a tree with caches in it"
    if head is None:
        return bare(name, LEAKED, size, f"{reason} ({note})")
    facts, _ = facts_of(name, head, size)
    if facts.problem:
        reason += f" (not valid bytecode: {facts.problem})"
    return entry(name, LEAKED, facts, source=None, loads=None, size=size, reason=reason)


def entry(
    name: str,
    status: EntryStatus,
    facts: Facts,
    *,
    source: str | None,
    loads: bool | None,
    size: int,
    reason: str,
) -> Entry:
    """The entry of a member whose facts were read."""
    return Entry(
        name,
        status,
        source=source,
        tag=facts.tag,
        python=facts.python,
        magic=facts.magic,
        optimization=facts.optimization,
        invalidation=facts.invalidation,
        loads=loads,
        size=size,
        reason=reason,
    )


def bare(name: str, status: EntryStatus, size: int, reason: str) -> Entry:
    """The entry of a member without facts: its bytes could not be read, or it has none (a
    link)."""
    return Entry(
        name,
        status,
        source=None,
        tag=None,
        python=None,
        magic=None,
        optimization=None,
        invalidation=None,
        loads=None,
        size=size,
        reason=reason,
    )


def with_sources(entries: list[Entry], names: set[str]) -> list[Entry]:
    """Fill in ``source`` for leaks: the ``.py`` the bytecode was compiled from, if shipped."""
    return [e._replace(source=_source_name(e.name, names)) for e in entries]


def _source_name(name: str, names: set[str]) -> str | None:
    directory, _, base = name.rpartition("/")
    cache_name = parse_cache_name(base)
    if cache_name is None:
        return None
    stem = cache_name.stem
    if directory.rsplit("/", 1)[-1] == "__pycache__":
        directory = directory.rpartition("/")[0]
    candidate = f"{directory}/{stem}.py" if directory else f"{stem}.py"
    return candidate if candidate in names else None
