"""Pure parsers for cache file names and .pyc headers: bytes and strings in, data out."""

from __future__ import annotations

import functools
import re
import struct
from typing import Literal, NamedTuple

from pycache_tool.bytecode.magic_table import MAGIC_TABLE

HEADER_READ = 16  # the longest header of any era (PEP 552)
_U32, _TWO_U32, _THREE_U32 = struct.Struct("<I"), struct.Struct("<II"), struct.Struct("<III")

# The patterns of unusual names are left to re's cache of compiled patterns: compiled when
# such a name first turns up, not on every start.
_DEBRIS = r"\.py[co]\.\d+\Z"  # importlib's "NAME.pyc.<id>" temp file
_OPT = r"\.opt-([0-9A-Za-z]+)\Z"
_TAG_PATTERN = r"[A-Za-z][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*"
_TAG = re.compile(rf"\A{_TAG_PATTERN}\Z")
# pytest's assertion rewriting: STEM.{cache_tag}-pytest-{version}.pyc. Both parts are held to
# what they can be, so that no newline or undecodable byte of a hostile name becomes a "tag".
_PYTEST_TAG = rf"\A(.+)\.({_TAG_PATTERN}-pytest-[0-9A-Za-z_.+]+)\Z"
_KNOWN_TAG = re.compile(r"\A(cpython-|pypy)(\d)(\d+)(?:-pytest-.+)?\Z")


# How a pyc says it is to be checked against its source (PEP 552): its header's flags.
Invalidation = Literal["timestamp", "checked-hash", "unchecked-hash"]
INVALIDATION_MODES: tuple[Invalidation, ...] = ("timestamp", "checked-hash", "unchecked-hash")


class CacheName(NamedTuple):
    """What a file name inside ``__pycache__`` (or a pycache_prefix tree) says."""

    stem: str
    tag: str | None  # None when the name is malformed
    optimization: int
    suffix: str  # ".pyc" or ".pyo"
    debris: bool  # an interrupted write's temp file
    problem: str | None  # why the name is not one any import looks up


class Header(NamedTuple):
    magic: int
    size: int  # header length of its era: 8, 12 or 16
    flags: int | None  # None before 3.7
    mtime: int | None
    source_size: int | None
    source_hash: bytes | None

    @property
    def invalidation(self) -> Invalidation:
        """ "timestamp", "checked-hash" or "unchecked-hash" (headers with other flags are corrupt)."""
        return _INVALIDATION[self.flags]


_INVALIDATION: dict[int | None, Invalidation] = {
    0: "timestamp",
    None: "timestamp",
    1: "unchecked-hash",
    3: "checked-hash",
}


class MagicInfo(NamedTuple):
    implementation: str  # "cpython" or "pypy"
    version: str  # "3.12", "2.7"
    header_size: int
    final: bool


def is_cache_file_name(name: str) -> bool:
    """True for names that can only be bytecode caches (``.pyc``/``.pyo`` or write debris)."""
    return name.endswith((".pyc", ".pyo")) or re.search(_DEBRIS, name) is not None


@functools.lru_cache(maxsize=8192)  # __init__, utils, ...: names repeat across directories
def parse_cache_name(name: str) -> CacheName | None:
    """Parse ``STEM.TAG[.opt-N].pyc`` (and ``.pyo``, debris); None if not a cache name at all."""
    if name.endswith(".pyc") and "-pytest-" not in name:
        # The common ``STEM.TAG[.opt-N].pyc``, without the regular expressions.
        stem, dot, tag = name[:-4].rpartition(".")
        level = 0
        if tag in ("opt-1", "opt-2"):
            level = int(tag[4])
            stem, dot, tag = stem.rpartition(".")
        if dot and stem and _plain_tag(tag):
            return CacheName(stem, tag, level, ".pyc", False, None)
    return _parse_cache_name(name)


@functools.lru_cache(maxsize=256)
def _plain_tag(tag: str) -> bool:
    return not tag.startswith("opt-") and _TAG.match(tag) is not None


def _parse_cache_name(name: str) -> CacheName | None:
    debris_match = re.search(_DEBRIS, name)
    if debris_match:
        name = name[: debris_match.start() + 4]
    if not name.endswith((".pyc", ".pyo")):
        return None
    suffix = name[-4:]
    base = name[:-4]
    optimization = 1 if suffix == ".pyo" else 0
    opt_match = re.search(_OPT, base)
    if opt_match:
        level = opt_match.group(1)
        base = base[: opt_match.start()]
        if level not in ("1", "2") or suffix == ".pyo":
            return CacheName(
                base, None, 0, suffix, bool(debris_match), f"unknown optimization tag 'opt-{level}'"
            )
        optimization = int(level)
    pytest_match = re.match(_PYTEST_TAG, base)
    if pytest_match:
        stem, tag = pytest_match.group(1), pytest_match.group(2)
    else:
        stem, dot, tag = base.rpartition(".")
        if not dot or not stem or not _TAG.match(tag):
            return CacheName(
                base,
                None,
                optimization,
                suffix,
                bool(debris_match),
                "name is not STEM.TAG[.opt-N].pyc",
            )
    return CacheName(stem, tag, optimization, suffix, bool(debris_match), None)


def tag_version(tag: str) -> tuple[str, str] | None:
    """``cpython-312`` -> ("cpython", "3.12"), ``pypy39`` -> ("pypy", "3.9"); None if unrecognised."""
    match = _KNOWN_TAG.match(tag)
    if not match:
        return None
    implementation = "cpython" if match.group(1) == "cpython-" else "pypy"
    return implementation, f"{match.group(2)}.{match.group(3)}"


def base_tag(tag: str) -> str:
    """The interpreter's own cache tag: pytest's ``cpython-311-pytest-8.3.2`` -> ``cpython-311``."""
    head, sep, _ = tag.partition("-pytest-")
    return head if sep else tag


_MAGIC_INFO = {magic: MagicInfo(*entry) for magic, entry in MAGIC_TABLE.items()}
_SIXTEEN_BYTE_MAGICS = frozenset(m for m, info in _MAGIC_INFO.items() if info.header_size == 16)
_PEP552 = struct.Struct("<H2sIII")


def magic_info(magic: int) -> MagicInfo | None:
    return _MAGIC_INFO.get(magic)


def parse_header(data: bytes, file_size: int) -> tuple[Header | None, str]:
    """Parse the first bytes of a cache file; (None, reason) when it cannot be valid bytecode.

    ``data`` is at most HEADER_READ bytes; ``file_size`` is the file's full length, so a file
    that ends right after its header (no code object) is caught too. Unknown magic numbers
    give a header with the newest layout their range allows and reason "unknown".
    """
    if len(data) == 16 and file_size > 16:  # the usual 3.7+ timestamp pyc, in one unpack
        magic, marker, flags, mtime, source_size = _PEP552.unpack(data)
        if marker == b"\r\n" and flags == 0 and magic in _SIXTEEN_BYTE_MAGICS:
            return Header(magic, 16, 0, mtime, source_size, None), ""
    if len(data) < 4:
        return None, f"only {len(data)} bytes: shorter than a magic number"
    if data[2:4] != b"\r\n":
        return None, "no '\\r\\n' after the magic number: not bytecode"
    magic = int.from_bytes(data[:2], "little")
    info = magic_info(magic)
    if info is not None:
        size = info.header_size
    elif 3000 <= magic < 20000:  # a CPython newer than the table: assume the PEP 552 layout
        size = 16
    else:
        return Header(magic, 4, None, None, None, None), "unknown"
    if len(data) < size:
        return None, f"truncated header: {len(data)} of {size} bytes"
    if file_size <= size:
        # Import reads such a header and then fails with EOFError; it does not recompile.
        return None, "no code after the header (truncated write): import fails with EOFError"
    if size == 8:
        header = Header(magic, 8, None, _U32.unpack_from(data, 4)[0], None, None)
    elif size == 12:
        mtime, source_size = _TWO_U32.unpack_from(data, 4)
        header = Header(magic, 12, None, mtime, source_size, None)
    else:
        flags, mtime, source_size = _THREE_U32.unpack_from(data, 4)
        if flags not in (0, 1, 3):
            if info is None:  # an unknown magic's layout is only a guess: say what is known
                return Header(magic, 4, None, None, None, None), "unknown"
            return None, f"invalid flags 0x{flags:x}: the import system rejects it"
        if flags:
            header = Header(magic, 16, flags, None, None, data[8:16])
        else:
            header = Header(magic, 16, 0, mtime, source_size, None)
    return header, "" if info is not None else "unknown"
