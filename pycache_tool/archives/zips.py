"""Wheels, zip sdists and zips. A wheel's or an sdist's bytecode is a leak; a zip's is judged
by zipimport's rules, which differ from the file system's and were checked against CPython
2.7, 3.6-3.13 and PyPy 3.9 (tests/test_archives.py):

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

import time
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING

from pycache_tool.archives.entries import (
    CORRUPT,
    FRESH,
    IGNORED,
    SDIST,
    SOURCELESS,
    STALE,
    UNKNOWN,
    UNREADABLE,
    ZIP,
    Archive,
    Entry,
    Facts,
    Fields,
    Kind,
    Verdict,
    bare,
    entry,
    facts_of,
    is_bytecode,
    leak,
    read_errors,
    why,
    with_sources,
)
from pycache_tool.bytecode.interpreters import Interpreter, final_magics, source_hash, version_key
from pycache_tool.bytecode.pyc import HEADER_READ, MagicInfo

if TYPE_CHECKING:
    import zipfile


def read_zip(path: str, kind: Kind, f: IO[bytes], targets: Sequence[Interpreter]) -> Archive:
    import zipfile

    try:
        archive = zipfile.ZipFile(f)
    except read_errors() as exc:
        return Archive(path, kind, [], why(exc))
    with archive:
        infos = archive.infolist()
        # The last of duplicate names wins, as in zipimport.
        members = {info.filename: info for info in infos}
        if kind == ZIP and _is_sdist(members):
            kind = SDIST  # an old-style .zip sdist: NAME-VERSION/PKG-INFO
        classifier = ZipClassifier(archive, members, targets)
        entries = []
        for info in infos:
            if info.is_dir() or not is_bytecode(info.filename):
                continue
            try:
                with archive.open(info) as member:
                    head = member.read(HEADER_READ)
            except read_errors() as exc:
                entries.append(bare(info.filename, UNREADABLE, info.file_size, why(exc)))
                continue
            if kind == ZIP:
                entries.append(classifier.entry(info, head))
            else:
                entries.append(leak(kind, info.filename, head, info.file_size, ""))
    return Archive(path, kind, with_sources(entries, set(members)) if kind != ZIP else entries)


def _is_sdist(members: dict[str, zipfile.ZipInfo]) -> bool:
    tops = {name.split("/", 1)[0] for name in members}
    return len(tops) == 1 and f"{next(iter(tops))}/PKG-INFO" in members


def _dos_mtime(info: zipfile.ZipInfo) -> float | None:
    """The source entry's DOS date as zipimport reads it: local time, via mktime."""
    try:
        return time.mktime((*info.date_time, -1, -1, -1))
    except (OverflowError, ValueError):
        return None


def _dos_date(info: zipfile.ZipInfo) -> str:
    year, month, day, hour, minute, second = info.date_time
    return f"{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}"


class ZipClassifier:
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
        facts, fields = facts_of(name, head, info.file_size)
        # zipimport looks for the source of NAME.pyc at NAME.py: the name without its last letter.
        source_info = self.members.get(name[:-1]) if name.endswith((".pyc", ".pyo")) else None
        status, loads, reason = self._verdict(name, facts, fields, source_info)
        return entry(
            name,
            status,
            facts,
            source=source_info.filename if source_info else None,
            loads=loads,
            size=info.file_size,
            reason=reason,
        )

    def _verdict(
        self,
        name: str,
        facts: Facts,
        fields: Fields,
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
        except read_errors() as exc:
            return UNREADABLE, None, f"source {source.filename}: {why(exc)}"
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
