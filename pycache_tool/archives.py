"""Bytecode inside wheels, sdists and zips, read in memory: nothing is ever extracted.

A wheel or an sdist should carry no bytecode at all, so every bytecode entry in one is a leak.
A zip (``.zip``, ``.pyz``, ``.egg``) may sit on ``sys.path``, where zipimport decides per entry
whether the bytecode is used. Its rules differ from the file system's and were checked against
CPython 2.7, 3.6-3.13 and PyPy 3.9 (tests/test_archives.py):

- only ``NAME.pyc`` beside where ``NAME.py`` would be is looked up (and ``__init__.pyc``);
  nothing inside ``__pycache__``, and ``.pyo`` only by Python 2 and 3.0-3.4 under ``-O``;
- a timestamp pyc is used when its mtime is within 1 s of the DOS date of the source entry
  (read in local time, as zipimport's ``time.mktime`` does) and, from 3.8 on (and PyPy), its
  size field equals the source's uncompressed size; 3.7 and older do not compare the size;
- a hash pyc is checked as on the file system (``--check-hash-based-pycs``), except that
  3.7's zipimport cannot check one and so never uses a hash pyc it would have to check;
- a pyc with no source entry beside it is used as it is (sourceless), if its magic is right.
"""

from __future__ import annotations

import functools
import os
import stat
import time
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, NamedTuple, Optional

from pycache_tool.bytecode.interpreters import (
    Interpreter,
    final_magics,
    python_label,
    source_hash,
    version_key,
)
from pycache_tool.bytecode.pyc import (
    HEADER_READ,
    MagicInfo,
    is_cache_file_name,
    magic_info,
    parse_cache_name,
    parse_header,
)
from pycache_tool.errors import UsageError, describe

if TYPE_CHECKING:
    import zipfile

# zipfile and tarfile (and with them zlib, bz2, lzma) are imported only when an archive is
# named, so an audit of directories starts as fast as without this module.

WHEEL, SDIST, ZIP = "wheel", "sdist", "zip"
_SUFFIXES = (
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

# Entry statuses. The first six mean what audit's statuses mean, judged by zipimport's rules.
FRESH, STALE, SOURCELESS, CORRUPT, UNKNOWN, UNREADABLE = (
    "fresh",
    "stale",
    "sourceless",
    "corrupt",
    "unknown",
    "unreadable",
)
IGNORED = "ignored"  # in a zip, but zipimport never looks it up: dead weight
LEAKED = "leaked"  # in a wheel or an sdist
_ZIP_FINDINGS = frozenset({STALE, CORRUPT, IGNORED})

# Never through a symlink, and never blocking on a FIFO put where an archive was.
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


@functools.cache
def _read_errors() -> tuple[type[BaseException], ...]:
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


class Entry(NamedTuple):
    """One bytecode member of an archive."""

    name: str  # the member name, "/"-separated as stored
    status: str
    source: str | None  # the member that holds its source, if the archive has it
    tag: str | None  # from the name (``__pycache__`` entries)
    python: str | None  # from the magic number
    magic: int | None
    optimization: int | None
    invalidation: str | None
    loads: bool | None  # zips: would zipimport of its Python use it; else None
    size: int  # uncompressed
    reason: str

    @property
    def finding(self) -> bool:
        """What ``audit --check`` fails on: any leak, and a zip's dead or stale bytecode."""
        return self.status == LEAKED or self.status in _ZIP_FINDINGS


class Archive(NamedTuple):
    path: str  # absolute
    kind: str  # "wheel", "sdist" or "zip"
    entries: list[Entry]  # bytecode members only, in archive order
    error: str | None = None  # why the archive (or part of it) could not be read

    @property
    def findings(self) -> list[Entry]:
        return [e for e in self.entries if e.finding]

    @property
    def incomplete(self) -> bool:
        """Not everything could be read: the verdict is partial (exit 3)."""
        return self.error is not None or any(e.status == UNREADABLE for e in self.entries)


def archive_kind(path: str) -> str | None:
    """The kind a file name says: "wheel", "sdist", "zip", or None for any other name."""
    lower = path.lower()
    return next((kind for suffix, kind in _SUFFIXES if lower.endswith(suffix)), None)


def split_paths(paths: Sequence[str]) -> tuple[list[str], list[str]]:
    """(directories, archives) from PATHS: a regular file with an archive suffix is an archive;
    anything else is left to the directory scan, which rejects what it cannot walk."""
    directories: list[str] = []
    archives: list[str] = []
    for path in paths:
        try:
            info = os.lstat(path)
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
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        return Archive(path, kind, [], describe(exc))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return Archive(path, kind, [], "not a regular file")
        if kind == SDIST:
            return _tar(path, f)
        return _zip(path, kind, f, targets)


def _tar(path: str, f: IO[bytes]) -> Archive:
    import tarfile

    entries: list[Entry] = []
    names: set[str] = set()
    try:
        # Streaming mode: one pass over the compressed data; a member's bytes can be read only
        # while it is the current one, which is all a header needs.
        with tarfile.open(fileobj=f, mode="r|*") as tar:
            for member in tar:
                name = member.name
                names.add(name)
                if not _is_bytecode(name):
                    continue
                if member.issym() or member.islnk():
                    # Never followed: a link member has no bytes of its own to judge.
                    kind = "symbolic" if member.issym() else "hard"
                    entries.append(
                        _leak(SDIST, name, None, 0, f"a {kind} link to {member.linkname!r}")
                    )
                    continue
                if not member.isfile():
                    continue
                reader = tar.extractfile(member)
                assert reader is not None  # a regular member always has a reader
                head = reader.read(HEADER_READ)
                entries.append(_leak(SDIST, name, head, member.size, ""))
    except _read_errors() as exc:
        why = (
            _why(exc) if isinstance(exc, OSError) else f"damaged or not a tar archive: {_why(exc)}"
        )
        return Archive(path, SDIST, _with_sources(entries, names), why)
    return Archive(path, SDIST, _with_sources(entries, names))


def _zip(path: str, kind: str, f: IO[bytes], targets: Sequence[Interpreter]) -> Archive:
    import zipfile

    try:
        archive = zipfile.ZipFile(f)
    except _read_errors() as exc:
        return Archive(path, kind, [], _why(exc))
    with archive:
        infos = archive.infolist()
        # The last of duplicate names wins, as in zipimport.
        members = {info.filename: info for info in infos}
        if kind == ZIP and _is_sdist(members):
            kind = SDIST  # an old-style .zip sdist: NAME-VERSION/PKG-INFO
        judge = _ZipJudge(archive, members, targets)
        entries = []
        for info in infos:
            if info.is_dir() or not _is_bytecode(info.filename):
                continue
            try:
                with archive.open(info) as member:
                    head = member.read(HEADER_READ)
            except _read_errors() as exc:
                entries.append(_unreadable(info, _why(exc)))
                continue
            if kind == ZIP:
                entries.append(judge.entry(info, head))
            else:
                entries.append(_leak(kind, info.filename, head, info.file_size, ""))
    return Archive(path, kind, _with_sources(entries, set(members)) if kind != ZIP else entries)


def _is_bytecode(name: str) -> bool:
    parts = name.rstrip("/").split("/")
    return is_cache_file_name(parts[-1]) or "__pycache__" in parts[:-1]


def _is_sdist(members: dict[str, zipfile.ZipInfo]) -> bool:
    tops = {name.split("/", 1)[0] for name in members}
    return len(tops) == 1 and f"{next(iter(tops))}/PKG-INFO" in members


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return describe(exc)
    return str(exc) or type(exc).__name__


class _Header(NamedTuple):
    """What a member's name and first bytes say, before any judgement."""

    tag: str | None
    python: str | None
    magic: int | None
    optimization: int
    invalidation: str | None
    info: MagicInfo | None
    problem: str  # why the header cannot be valid bytecode; "" when it can


def _describe(name: str, head: bytes, size: int) -> tuple[_Header, tuple[int, ...] | bytes | None]:
    """Name and header facts, and the fields a freshness check needs: (mtime, size) or the hash."""
    base = name.rsplit("/", 1)[-1]
    cache_name = parse_cache_name(base)
    tag = cache_name.tag if cache_name else None
    optimization = cache_name.optimization if cache_name else 0
    header, problem = parse_header(head, size)
    if header is None:
        return _Header(tag, None, None, optimization, None, None, problem), None
    info = magic_info(header.magic)
    if info is None:  # not in the table: nothing more can be said about its fields
        return _Header(tag, None, header.magic, optimization, None, None, ""), None
    python = python_label(info.implementation, info.version)
    fields: tuple[int, ...] | bytes | None
    if header.source_hash is not None:
        fields = header.source_hash
    else:
        assert header.mtime is not None
        fields = (
            (header.mtime,) if header.source_size is None else (header.mtime, header.source_size)
        )
    return (
        _Header(tag, python, header.magic, optimization, header.invalidation, info, ""),
        fields,
    )


def _leak(kind: str, name: str, head: bytes | None, size: int, note: str) -> Entry:
    """A bytecode member of a wheel or an sdist: a leak, whatever its header says."""
    where = "a wheel" if kind == WHEEL else "an sdist"
    reason = f"bytecode does not belong in {where}: it was built from a tree with caches in it"
    if head is None:
        return Entry(
            name, LEAKED, None, None, None, None, None, None, None, size, f"{reason} ({note})"
        )
    facts, _ = _describe(name, head, size)
    if facts.problem:
        reason += f" (not valid bytecode: {facts.problem})"
    return Entry(
        name,
        LEAKED,
        None,
        facts.tag,
        facts.python,
        facts.magic,
        facts.optimization,
        facts.invalidation,
        None,
        size,
        reason,
    )


def _unreadable(info: zipfile.ZipInfo, why: str) -> Entry:
    return Entry(
        info.filename, UNREADABLE, None, None, None, None, None, None, None, info.file_size, why
    )


def _with_sources(entries: list[Entry], names: set[str]) -> list[Entry]:
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


def _dos_mtime(info: zipfile.ZipInfo) -> float | None:
    """The source entry's DOS date as zipimport reads it: local time, via mktime."""
    try:
        return time.mktime((*info.date_time, -1, -1, -1))
    except (OverflowError, ValueError):
        return None


def _dos_date(info: zipfile.ZipInfo) -> str:
    year, month, day, hour, minute, second = info.date_time
    return f"{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}"


Verdict = tuple[str, Optional[bool], str]  # status, loads, reason


class _ZipJudge:
    """zipimport's verdict on the members of one zip on sys.path, each for the Python of its magic."""

    def __init__(
        self,
        archive: zipfile.ZipFile,
        members: dict[str, zipfile.ZipInfo],
        targets: Sequence[Interpreter],
    ) -> None:
        self.archive = archive
        self.members = members
        self.modes = {(t.implementation, t.version): t.check_hash_based_pycs for t in targets}

    def entry(self, info: zipfile.ZipInfo, head: bytes) -> Entry:
        name = info.filename
        facts, fields = _describe(name, head, info.file_size)
        # zipimport looks for the source of NAME.pyc at NAME.py: the name without its last letter.
        source_info = self.members.get(name[:-1]) if name.endswith((".pyc", ".pyo")) else None
        status, loads, reason = self._verdict(name, facts, fields, source_info)
        return Entry(
            name,
            status,
            source_info.filename if source_info else None,
            facts.tag,
            facts.python,
            facts.magic,
            facts.optimization,
            facts.invalidation,
            loads,
            info.file_size,
            reason,
        )

    def _verdict(
        self,
        name: str,
        facts: _Header,
        fields: tuple[int, ...] | bytes | None,
        source: zipfile.ZipInfo | None,
    ) -> Verdict:
        parts = name.split("/")
        base = parts[-1]
        if "__pycache__" in parts[:-1]:
            return IGNORED, False, "zipimport never looks inside __pycache__"
        if not base.endswith((".pyc", ".pyo")):
            return IGNORED, False, "temp file of an interrupted write: never looked up"
        if "." in base[:-4]:
            return IGNORED, False, "a dotted name: no import looks it up"
        if facts.problem:
            return CORRUPT, False, facts.problem
        info, python, magic = facts.info, facts.python, facts.magic
        if info is None or magic is None:
            return UNKNOWN, None, f"magic number {facts.magic} is not in the table"
        # CPython 3.8 rewrote zipimport in Python: it compares the size field and can check
        # hash-based pycs. PyPy 3 behaves the same way.
        modern = info.implementation == "pypy" or version_key(info.version) >= (3, 8)
        pyo = base.endswith(".pyo")
        if pyo and info.implementation == "cpython" and version_key(info.version) >= (3, 5):
            return IGNORED, False, "Python 3.5+ never reads .pyo files"
        if magic not in final_magics(info.implementation, info.version):
            why = f"written by a pre-release (magic {magic}): no Python {python} release uses it"
            return STALE, False, why
        under = " under -O" if pyo else ""
        if isinstance(fields, bytes):
            mode = self.modes.get((info.implementation, info.version), "default")
            must_check = mode != "never" and (
                facts.invalidation == "checked-hash" or mode == "always"
            )
            if must_check and not modern:
                if source is None:
                    why = f"Python {python}'s zipimport cannot check a hash-based pyc, and with no source beside it the import fails"
                else:
                    why = f"Python {python}'s zipimport cannot check a hash-based pyc: it imports the source instead"
                return IGNORED, False, why
            if source is not None:
                return self._hash(info, magic, fields, source, must_check, under)
        if source is None:
            return (
                SOURCELESS,
                True,
                f"no source beside it: zipimport of Python {python} uses it{under}",
            )
        assert isinstance(fields, tuple)
        return _timestamp(fields, source, modern, python, under)

    def _hash(
        self,
        info: MagicInfo,
        magic: int,
        stored: bytes,
        source: zipfile.ZipInfo,
        must_check: bool,
        under: str,
    ) -> Verdict:
        try:
            data = self.archive.read(source)
        except _read_errors() as exc:
            return UNREADABLE, None, f"source {source.filename}: {_why(exc)}"
        if source_hash(info.implementation, info.version, magic, data) == stored:
            return FRESH, True, f"matches the hash of its source{under}"
        if must_check:
            return STALE, False, "source hash differs: zipimport imports the source"
        return STALE, True, "source hash differs, but zipimport does not check it: old code runs"


def _timestamp(
    stored: tuple[int, ...], source: zipfile.ZipInfo, modern: bool, python: str | None, under: str
) -> Verdict:
    mtime = _dos_mtime(source)
    if mtime is None:
        return UNKNOWN, None, f"the source's zip date {_dos_date(source)} is not a valid date"
    if abs(stored[0] - mtime) > 1:
        return (
            STALE,
            False,
            f"the pyc's mtime is {stored[0] - int(mtime):+d} s from its source's zip date "
            f"{_dos_date(source)} (zipimport allows 1 s): the source is imported",
        )
    if len(stored) > 1 and stored[1] != source.file_size:
        sizes = f"the source has {source.file_size} bytes, the pyc says {stored[1]}"
        if modern:
            return STALE, False, f"{sizes}: the source is imported"
        why = f"mtime within 1 s; {sizes}, but Python {python}'s zipimport does not compare sizes"
        return FRESH, True, why + under
    return FRESH, True, f"mtime within 1 s of its source's zip date{under}"
