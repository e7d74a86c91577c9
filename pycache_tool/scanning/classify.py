"""The one classifier: a cache file's name, header and source in, a Record out.

Every verdict follows what the interpreter of the file's tag would do on import: the
timestamp rules of its era, or the SipHash of the source keyed by its magic number.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from typing import Callable, NamedTuple, Optional

from pycache_tool.bytecode.interpreters import (
    CheckHashMode,
    Interpreter,
    final_magics,
    native_hash,
    python_label,
    source_hash,
    version_key,
)
from pycache_tool.bytecode.pyc import (
    HEADER_READ,
    CacheName,
    Header,
    MagicInfo,
    base_tag,
    magic_info,
    parse_header,
    tag_version,
)
from pycache_tool.errors import describe
from pycache_tool.scanning.records import Named, Record, Status

SourceStat = Callable[[], Optional[os.stat_result]]


_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
_MASK32 = 0xFFFFFFFF
# Reading a header must not dirty the inode: with relatime, the first read of a freshly written
# pyc updates its atime, a metadata write per file. O_NOATIME needs the file's owner (or root).
_NOATIME = getattr(os, "O_NOATIME", 0)


def read_head(path: str) -> tuple[bytes, os.stat_result]:
    """The first bytes of a regular file and its stat, without following a symlink."""
    try:
        fd = os.open(path, _OPEN_FLAGS | _NOATIME)
    except PermissionError:
        if not _NOATIME:
            raise
        fd = os.open(path, _OPEN_FLAGS)  # not ours: read it the ordinary way
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"not a regular file: {path}")
        return os.read(fd, HEADER_READ), info
    finally:
        os.close(fd)


def _stamp(info: os.stat_result) -> tuple[int, int, int]:
    """A file's identity as read: clean leaves alone a file whose identity changed since."""
    return (info.st_ino, info.st_size, info.st_mtime_ns)


# Without uids (Windows), ``Judge.named`` reads every file to learn whether it can.
_EUID = os.geteuid() if hasattr(os, "geteuid") else -1


def source_stat(path: str) -> os.stat_result | None:
    """Stat a source the way import does (following symlinks); None if there is no file."""
    try:
        result = os.stat(path)
    except (OSError, ValueError):
        return None
    return result if stat.S_ISREG(result.st_mode) else None


class _TagRule(NamedTuple):
    """What the interpreter of one (tag, magic, suffix) makes of any file that carries them."""

    python: str | None
    info: MagicInfo | None
    before_source: Verdict | None  # a verdict that does not depend on the source
    after_source: Verdict | None  # a verdict once the source is known to exist
    mode: CheckHashMode  # its --check-hash-based-pycs


Verdict = tuple[Status, Optional[bool], str]


class Classifier:
    """Classifies cache files for a set of target interpreters."""

    def __init__(self, targets: Sequence[Interpreter]) -> None:
        self.by_tag = {t.tag: t for t in targets if t.tag}
        self.tagless = {t.python: t for t in targets if not t.tag}
        self.pythons = frozenset(t.python for t in targets)
        self._rules: dict[tuple[str | None, int, str], _TagRule] = {}
        self._targeted: dict[str | None, bool] = {}  # tag -> is it a target's

    def cache(self, path: str, name: CacheName, source: str, stat_source: SourceStat) -> Record:
        """A file in ``__pycache__`` or a pycache_prefix tree, named ``STEM.TAG[.opt-N].pyc``."""
        tag, opt = name.tag, name.optimization
        target = self._targeted.get(tag)
        if target is None:
            target = self._targeted[tag] = tag is not None and base_tag(tag) in self.by_tag
        try:
            data, head_stat = read_head(path)
        except OSError as exc:
            return Record(
                path,
                Status.UNREADABLE,
                source=source,
                tag=tag,
                optimization=opt,
                target=target,
                reason=describe(exc),
            )
        size, stamp = head_stat.st_size, _stamp(head_stat)
        if name.debris:
            return Record(
                path,
                Status.CORRUPT,
                tag=tag,
                optimization=opt,
                loads=False,
                target=target,
                size=size,
                stamp=stamp,
                reason="temp file of an interrupted write",
            )
        header, problem = parse_header(data, size)
        if header is None:
            return Record(
                path,
                Status.CORRUPT,
                source=source,
                tag=tag,
                optimization=opt,
                loads=False,
                target=target,
                size=size,
                stamp=stamp,
                reason=problem,
            )
        key = (tag, header.magic, name.suffix)
        rule = self._rules.get(key)
        if rule is None:
            rule = self._rules[key] = self._tag_rule(tag, header.magic, name.suffix)
        invalidation = header.invalidation

        def classified(status: Status, loads: bool | None, reason: str) -> Record:
            """This file's record, with the verdict on it."""
            return Record(
                path,
                status,
                source=source,
                tag=tag,
                python=rule.python,
                magic=header.magic,
                optimization=opt,
                invalidation=invalidation,
                loads=loads,
                target=target,
                size=size,
                reason=reason,
                stamp=stamp,
            )

        if name.problem is not None:
            return classified(Status.ORPHAN, False, f"{name.problem}: no import looks it up")
        if rule.before_source is not None:
            return classified(*rule.before_source)
        st = stat_source()
        if st is None:
            return classified(
                Status.ORPHAN, False, "source is gone; a cache without its source is never imported"
            )
        if rule.after_source is not None:
            return classified(*rule.after_source)
        assert rule.info is not None
        return _check_source(header, rule.info, source, st, rule.mode, classified)

    def named(
        self, path: str, name: CacheName, source: str, stat_source: SourceStat
    ) -> Record | Named:
        """A file in ``__pycache__`` or a pycache_prefix tree by its name and place alone:
        unopened, unless its owner and mode leave in doubt that it can be read, which only
        reading it settles (a file that cannot be read is UNREADABLE, as ``cache`` says)."""
        try:
            info: os.stat_result | None = os.lstat(path)
        except OSError:
            info = None
        if (
            info is not None
            and stat.S_ISREG(info.st_mode)
            and info.st_mode & stat.S_IRUSR
            and info.st_uid == _EUID  # the owner's read bit is all the kernel asks of the owner
        ):
            return Named(path, name.tag, info.st_size, _stamp(info))
        record = self.cache(path, name, source, stat_source)
        if record.status is Status.UNREADABLE or record.stamp is None:
            return record
        return Named(path, name.tag, record.size, record.stamp)

    def _tag_rule(self, tag: str | None, magic: int, suffix: str) -> _TagRule:
        info = magic_info(magic)
        python = python_label(info.implementation, info.version) if info else None
        if tag is None:
            return _TagRule(python, info, None, None, "default")
        named = tag_version(tag)
        owner = self.by_tag.get(base_tag(tag))
        mode: CheckHashMode = owner.check_hash_based_pycs if owner else "default"
        if info is None:
            if named is not None and (owner is not None or final_magics(*named)):
                # The tag names a Python whose magic numbers are known, and this is none of
                # them: that interpreter rejects the file ("bad magic number") and recompiles.
                return _TagRule(
                    python,
                    None,
                    (Status.CORRUPT, False, f"magic number {magic} is not one {tag} writes"),
                    None,
                    mode,
                )
            return _TagRule(
                python,
                None,
                (
                    Status.UNKNOWN,
                    None,
                    f"magic number {magic} is not in the table (a newer Python?)",
                ),
                None,
                mode,
            )
        before: Verdict | None = None
        if named is not None and named != (info.implementation, info.version):
            before = (
                Status.CORRUPT,
                False,
                f"magic {magic} is Python {python}, but the name says {tag}",
            )
        elif suffix == ".pyo" and version_key(info.version) >= (3, 5):
            before = (Status.ORPHAN, False, "Python 3.5+ never reads .pyo files")
        accepted = _accepted_magics(owner, info)
        after: Verdict | None = None
        if magic not in accepted:
            label = owner.name if owner else tag
            after = (
                Status.STALE,
                False,
                f"written by a pre-release (magic {magic}); {label} expects {_one_of(accepted)}",
            )
        return _TagRule(python, info, before, after, mode)

    def legacy(self, path: str, suffix: str, source: str, stat_source: SourceStat) -> Record:
        """A ``.pyc``/``.pyo`` outside ``__pycache__``: Python 2's location, or sourceless code."""
        opt = 1 if suffix == ".pyo" else 0
        try:
            data, head_stat = read_head(path)
        except OSError as exc:
            return Record(path, Status.UNREADABLE, optimization=opt, reason=describe(exc))
        size, stamp = head_stat.st_size, _stamp(head_stat)
        header, problem = parse_header(data, size)
        if header is None:
            return Record(
                path,
                Status.CORRUPT,
                optimization=opt,
                loads=False,
                size=size,
                reason=problem,
                stamp=stamp,
            )
        info = magic_info(header.magic)
        if info is None:
            # Only Pythons with known magic numbers (CPython <= 3.1, PyPy2) read a cache beside
            # an existing source, and they reject this one; without a source, who knows.
            beside_source = stat_source() is not None
            return Record(
                path,
                Status.UNKNOWN,
                magic=header.magic,
                optimization=opt,
                loads=False if beside_source else None,
                size=size,
                stamp=stamp,
                reason=f"magic number {header.magic} is not in the table",
            )
        python = python_label(info.implementation, info.version)
        # A target's own file, wherever it lies: a 3.11 pyc written beside its source with
        # compileall -b is cpython-311's, as clean --foreign decides too.
        target = python in self.pythons
        invalidation = header.invalidation
        st = stat_source()

        def classified(status: Status, loads: bool | None, reason: str) -> Record:
            """This file's record, with the verdict on it."""
            beside = source if st is not None else None
            return Record(
                path,
                status,
                source=beside,
                python=python,
                magic=header.magic,
                optimization=opt,
                invalidation=invalidation,
                loads=loads,
                target=target,
                size=size,
                reason=reason,
                stamp=stamp,
            )

        if st is not None:
            if version_key(info.version) >= (3, 2):  # only Python 2 and 3.0-3.1 wrote caches here
                return classified(
                    Status.LEGACY,
                    False,
                    "Python 3 imports the source beside it and never reads this file",
                )
            if suffix == ".pyo" and version_key(info.version) >= (3, 0):
                return classified(Status.LEGACY, False, "never read")
            return _check_source(header, info, source, st, "default", classified)
        if suffix == ".pyo" and version_key(info.version) >= (3, 5):
            return classified(Status.ORPHAN, False, "Python 3.5+ never reads .pyo files")
        if info.implementation == "pypy" and info.version == "2.7":
            return classified(
                Status.SOURCELESS,
                False,
                "no source beside it; PyPy2 does not import lone .pyc files by default",
            )
        when = " under -O" if suffix == ".pyo" else ""
        return classified(
            Status.SOURCELESS,
            True,
            f"no source beside it: Python {python} imports this bytecode{when}",
        )


def _check_source(
    header: Header,
    info: MagicInfo,
    source: str,
    st: os.stat_result,
    mode: CheckHashMode,
    classified: Callable[[Status, bool | None, str], Record],
) -> Record:
    """Fresh or stale: the header checked against the source as import checks it under
    ``mode`` (its --check-hash-based-pycs); ``classified`` makes the record. A source that
    cannot be read gives what import then does; one too large to hash, ``unknown``."""
    try:
        fresh, why = _is_fresh(header, info, source, st)
    except OSError as exc:  # a hash pyc whose source cannot be read
        return _source_unreadable(header, exc, mode, classified)
    if fresh is None:
        return classified(Status.UNKNOWN, None, why)
    if fresh:
        return classified(Status.FRESH, True, _FRESH_REASONS[header.size, header.flags])
    if header.flags == 1 and mode != "always":
        return classified(
            Status.STALE, True, f"{why}, but an unchecked-hash pyc is loaded anyway: old code runs"
        )
    if header.flags == 3 and mode == "never":
        return classified(
            Status.STALE,
            True,
            f"{why}, but --check-hash-based-pycs never loads it anyway: old code runs",
        )
    failure = _unopenable(source)  # import reads the source to compile it again
    if failure is None:
        return classified(Status.STALE, False, f"{why}; import recompiles it")
    if info.implementation == "cpython" and version_key(info.version) < (3, 2):
        # Python 2's import cannot open the source, takes the .pyc beside it for a sourceless
        # module and loads it unchecked (seen on 2.7.18).
        return classified(
            Status.STALE,
            True,
            f"{why}, but the source cannot be read ({describe(failure)}): Python"
            f" {info.version} loads this pyc as if it had no source: old code runs",
        )
    return classified(
        Status.STALE,
        False,
        f"{why}, and the source cannot be read ({describe(failure)}):"
        f" import fails with {type(failure).__name__}",
    )


def _source_unreadable(
    header: Header,
    failure: OSError,
    mode: CheckHashMode,
    classified: Callable[[Status, bool | None, str], Record],
) -> Record:
    """A hash pyc whose source cannot be read: whether it matches cannot be told. Import
    either reads the source to check it, and fails, or loads the pyc without reading it."""
    kind = "checked-hash" if header.flags == 3 else "unchecked-hash"
    what = f"{kind} pyc, but the source cannot be read ({describe(failure)})"
    if header.flags == 3 and mode != "never" or header.flags == 1 and mode == "always":
        return classified(
            Status.UNREADABLE, False, f"{what}: import fails with {type(failure).__name__}"
        )
    return classified(
        Status.UNREADABLE,
        True,
        f"{what}: whether it matches cannot be told, and import loads it without checking",
    )


def _unopenable(path: str) -> OSError | None:
    """Why import could not read ``path``, or None when it can."""
    try:
        with open(path, "rb"):
            return None
    except OSError as exc:
        return exc


def _is_fresh(
    header: Header, info: MagicInfo, source: str, st: os.stat_result
) -> tuple[bool | None, str]:
    """(fresh, why not); fresh is None when it cannot be told (a source too large to hash).
    OSError: a hash pyc's source cannot be read."""
    if header.source_hash is not None:
        limit = HASHED_AT_MOST[native_hash(info.implementation, info.version)]
        data, seen = _read_source(source, limit)
        if data is None:
            return None, (
                f"the source is larger than the {limit // 2**20} MiB audit hashes"
                f" ({seen / 2**20:.1f} MiB): its hash is not checked"
            )
        expected = source_hash(info.implementation, info.version, header.magic, data)
        return (expected == header.source_hash, "source hash differs")
    mtime = int(st.st_mtime)
    if info.implementation == "cpython" and version_key(info.version) < (3, 3):
        # The C import of Python 2 (and 3.0-3.2) compares the C time_t, truncated, not
        # int(float st_mtime) (which rounds x.999999999 up), with the stored mtime read as a
        # *signed* 32-bit number, so a stored mtime >= 2**31 never matches. Seen on 2.7.18.
        assert header.mtime is not None
        mtime_ok = header.mtime < 2**31 and header.mtime == (st.st_mtime_ns // 10**9) & _MASK32
    elif header.size == 12:  # 3.3-3.6 compare the mtime unmasked
        mtime_ok = header.mtime == mtime
    else:
        mtime_ok = header.mtime == mtime & _MASK32
    if not mtime_ok:
        return False, "source mtime differs"
    if header.source_size is not None and header.source_size != st.st_size & _MASK32:
        return False, "source size differs"
    return True, ""


# SipHash needs the whole message, so the source of a hash-based pyc is read whole, as
# import reads it: up to these sizes, which bound the memory (and time) one file can cost.
# The running interpreter's own SipHash (C) hashes 64 MiB in a tenth of a second; the
# pure-Python one, for the other family, takes about 2 seconds for 4 MiB. Larger: unknown.
HASHED_AT_MOST = {True: 64 * 2**20, False: 4 * 2**20}
_SOURCE_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def _read_source(path: str, limit: int) -> tuple[bytes | None, int]:
    """The bytes of a source (following a symlink, as import does) and its size; None for the
    bytes when it holds more than ``limit`` (never read past that, even when it grows
    meanwhile). OSError: it cannot be read. Opened non-blocking: a source swapped for a FIFO
    cannot hang the scan."""
    with open(os.open(path, _SOURCE_FLAGS), "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"not a regular file: {path}")
        data = f.read(limit + 1) if st.st_size <= limit else None
    if data is None or len(data) > limit:
        return None, max(st.st_size, len(data or b""))
    return data, len(data)


# Why a fresh cache is accepted, by (header size, flags); for timestamp pycs, also what that
# check cannot see. Constant strings: no per-record formatting on the hot path.
_SAME_SECOND = "an edit within the same second that keeps the size is not detected"
_FRESH_REASONS: dict[tuple[int, int | None], str] = {
    (8, None): "timestamp pyc: the source's mtime (whole seconds) matches and no size is"
    " recorded; an edit within the same second is not detected",
    (12, None): f"timestamp pyc: the source's mtime (whole seconds) and size match; {_SAME_SECOND}",
    (16, 0): f"timestamp pyc: the source's mtime (whole seconds) and size match; {_SAME_SECOND}"
    " (use --invalidation-mode checked-hash)",  # hash pycs exist from 3.7 (PEP 552) on
    (16, 3): "checked-hash pyc: the source's hash matches",
    (16, 1): "unchecked-hash pyc: the source's hash matches (import does not check it by default)",
}


def _accepted_magics(owner: Interpreter | None, info: MagicInfo) -> frozenset[int]:
    if owner is None:
        return final_magics(info.implementation, info.version)
    if (owner.implementation, owner.version) == ("cpython", "3.5"):
        return frozenset({3350, 3351})  # 3.5.4+ reads both (bpo-29537)
    return frozenset({owner.magic})


def _one_of(magics: frozenset[int]) -> str:
    return " or ".join(str(m) for m in sorted(magics)) or "another magic number"
