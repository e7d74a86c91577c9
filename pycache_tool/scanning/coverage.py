"""Coverage and compile needs: what each source lacks for each target, counted as a scan walks.

``Scan`` hands every walked directory to its ``Tally`` once the directory's cache files are
classified; the tally counts, per target, the sources and those with a fresh cache, lists
what compile must write, and gives back a MISSING record for each cache that is not there.

Until then a directory's caches are remembered as a byte each (``Seen``), found again by
bisecting the sorted listing, rather than as sets of names: a directory of 200,000 caches adds
200 KB to a scan with ``--require-fresh``, not tens of megabytes. The records and the sources'
sizes are kept only when needs are collected (``compile``), in lists beside the listing: the
records go into the needs anyway.
"""

from __future__ import annotations

import array
import bisect
import heapq
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Literal, NamedTuple

from pycache_tool.bytecode.interpreters import Interpreter
from pycache_tool.bytecode.pyc import Invalidation, parse_cache_name
from pycache_tool.scanning.classify import Classifier, source_stat
from pycache_tool.scanning.helper import from_row, to_row
from pycache_tool.scanning.records import Record, Status
from pycache_tool.scanning.shadow import LazyShadows
from pycache_tool.scanning.walk import PYCACHE, Listing


class Coverage(NamedTuple):
    target: str
    sources: int  # sources walked (not ignored)
    fresh: int  # of those, how many have a cache the target will load and that matches


class Need(NamedTuple):
    """A cache a target lacks (or, when every source is collected, any cache it should have)."""

    source: str
    size: int  # of the source: compile starts with the largest
    cache: str  # where the target looks for it
    target: str  # the target's name
    level: int  # optimization level
    record: Record  # the cache file's record, or a MISSING record when there is no file
    blocked: str = ""  # why the cache is never written (a symlinked __pycache__); "": it may be


def covers(record: Record, invalidation: Invalidation | None) -> bool:
    """A fresh cache, in the requested invalidation mode if there is one: what coverage counts."""
    return record.status is Status.FRESH and (
        invalidation is None or record.invalidation == invalidation
    )


class Tally:
    """The coverage and needs of one pass over the trees."""

    def __init__(
        self,
        targets: Sequence[Interpreter],
        *,
        levels: Sequence[int] | None,
        invalidation: Invalidation | None,
        pycache_prefix: str | None,
        require_fresh: bool,
        collect_needs: Literal["uncovered", "all"] | None,
        on_need: Callable[[], None] | None = None,
    ) -> None:
        self.targets = targets
        self.levels = levels
        self.invalidation = invalidation
        self.pycache_prefix = pycache_prefix
        self.require_fresh = require_fresh
        self.collect_needs = collect_needs
        self.needs: list[Need] = []
        self.on_need = on_need  # called at each need whose source lacks a fresh cache
        self._counts = {t.name: [0, 0] for t in targets}  # target -> [sources, fresh]

    @property
    def coverage(self) -> list[Coverage]:
        return [Coverage(name, sources, fresh) for name, (sources, fresh) in self._counts.items()]

    def take(self) -> tuple[list[dict[str, Any]], list[list[int]]]:
        """What this tally counted since it was last taken, as marshal takes it, and it starts
        again from nothing: a scan's helper sends it with each of its directories' records."""
        needs = [{**need._asdict(), "record": to_row(need.record)} for need in self.needs]
        self.needs.clear()
        counts = list(self._counts.values())
        self._counts = {name: [0, 0] for name in self._counts}
        return needs, counts

    def give(self, taken: tuple[list[dict[str, Any]], list[list[int]]]) -> None:
        """Add what a helper's tally took, in the parent's scan."""
        needs, counts = taken
        given = [Need(**{**need, "record": from_row(need["record"])}) for need in needs]
        self.needs += given
        if self.on_need is not None:
            for need in given:
                if not self.covers(need.record):
                    self.on_need()
        for total, (sources, fresh) in zip(self._counts.values(), counts):
            total[0] += sources
            total[1] += fresh

    def covers(self, record: Record) -> bool:
        return covers(record, self.invalidation)

    def directory(
        self,
        listing: Listing,
        seen: Seen,
        classifier: Classifier,
        shadows: LazyShadows,
        mirror: str,
    ) -> Iterator[Record]:
        """Count one directory's sources; the MISSING records when ``require_fresh``.

        ``seen``: what the directory's caches are and cover; ``shadows``: what is imported
        instead of some of its modules; ``mirror``: the directory's place in the
        pycache_prefix tree, if there is one.
        """
        directory = listing.path
        inside = directory if directory.endswith(os.sep) else directory + os.sep
        pycache = inside + PYCACHE + os.sep
        in_the_way = "" if self.pycache_prefix else _pycache_in_the_way(listing)
        # Cache names taken by something that is no regular file: never written through.
        taken = frozenset(listing.pycache_others) if self.collect_needs else frozenset()
        # Regular files and symlinks alike (import follows a symlinked source), in name order;
        # a regular file's position in ``files``, -1 for the others.
        sources: Iterable[tuple[int, str]] = enumerate(listing.files)
        linked = [(-1, n) for n in listing.others if n.endswith(".py")]
        if linked:
            sources = heapq.merge(sources, linked, key=lambda item: item[1])
        for position, source_name in sources:
            if not source_name.endswith(".py"):
                continue
            source = inside + source_name
            if listing.rules and listing.rules.ignored(source, False):
                continue
            # A regular file counts without a stat; a need wants the size, which the
            # classifier noted for the sources it read.
            st: os.stat_result | None = None
            size = seen.size(position) if self.collect_needs else 0
            if size < 0 or position < 0 or self.pycache_prefix:
                st = source_stat(source)
                if st is None:
                    continue
                size = st.st_size
            stem = source_name[:-3]
            for target in self.targets:
                counts = self._counts[target.name]
                key = (target.implementation, target.version)
                for level in self.levels or (target.optimize,):
                    found = shadows.get()
                    if found is not None and found.by(key, stem, level):
                        continue  # never imported: it needs no cache
                    counts[0] += 1
                    if target.tag is None:  # Python 2: beside the source
                        name = stem + (".pyo" if level else ".pyc")
                        cache = inside + name
                        exists, fresh, existing = seen.legacy.find(name)
                    elif self.pycache_prefix:
                        cache = os.path.join(mirror, cache_name(stem, target.tag, level))
                        assert st is not None
                        exists, existing = _prefix_cache(classifier, cache, source, st)
                        fresh = existing is not None and self.covers(existing)
                    else:
                        name = cache_name(stem, target.tag, level)
                        cache = pycache + name
                        exists, fresh, existing = seen.pycache.find(name)
                        exists = exists or name in taken
                    if fresh:
                        counts[1] += 1
                    missing: Record | None = None
                    if not exists:
                        missing = Record(
                            cache,
                            Status.MISSING,
                            source=source,
                            tag=target.tag,
                            python=target.python,
                            magic=target.magic,
                            optimization=level,
                            loads=False,
                            target=True,
                            reason=f"no cache for {target.name}: every import compiles the source",
                        )
                        if self.require_fresh:
                            yield missing
                    if self.collect_needs == "all" or (self.collect_needs and not fresh):
                        record = existing or missing
                        blocked = in_the_way if target.tag is not None else ""
                        if record is None:  # there, but not a regular file
                            record = Record(
                                cache,
                                Status.UNREADABLE,
                                source=source,
                                reason="not a regular file",
                            )
                            blocked = "not a regular file: never written through"
                        self.needs.append(
                            Need(
                                source=source,
                                size=size,
                                cache=cache,
                                target=target.name,
                                level=level,
                                record=record,
                                blocked=blocked,
                            )
                        )
                        if not fresh and self.on_need is not None:
                            self.on_need()


_THERE, _COVERS = 1, 2


class Marks:
    """The caches of one sorted list of names: a ``__pycache__``, or the files beside the sources."""

    __slots__ = ("names", "marks", "records", "aliases")

    def __init__(self, names: list[str], collect: bool) -> None:
        self.names = names
        self.marks = bytearray(len(names))
        self.records: list[Record | None] | None = [None] * len(names) if collect else None
        # Covering caches named otherwise than their tag's own cache (pytest's rewritten
        # ones), by that name: they count as coverage too.
        self.aliases: set[str] = set()

    def add(self, index: int, record: Record, covering: str | None) -> None:
        """The cache at ``index`` was classified as ``record``; ``covering``: the name of the
        target's cache that it stands for, if it covers one."""
        name = self.names[index]
        self.marks[index] = _THERE | (_COVERS if covering == name else 0)
        if covering is not None and covering != name:
            self.aliases.add(covering)
        if self.records is not None:
            self.records[index] = record

    def find(self, name: str) -> tuple[bool, bool, Record | None]:
        """(was it classified, is it covered, its record when kept) for the cache ``name``."""
        names = self.names
        index = _bisect(names, name)
        if index == len(names) or names[index] != name:
            return False, name in self.aliases, None
        mark = self.marks[index]
        record = self.records[index] if self.records is not None else None
        return bool(mark & _THERE), bool(mark & _COVERS) or name in self.aliases, record


class Seen:
    """One directory: its ``__pycache__`` and its legacy files, and the sources' sizes."""

    __slots__ = ("files", "pycache", "legacy", "sizes")

    def __init__(self, listing: Listing, *, collect: bool) -> None:
        self.files = listing.files
        self.pycache = Marks(listing.pycache or [], collect)
        self.legacy = Marks(listing.files, collect)
        # By position in ``files``; -1: not known (then coverage stats the source itself).
        self.sizes = array.array("q", [-1]) * len(listing.files) if collect else None

    def note_size(self, source_name: str, size: int) -> None:
        if self.sizes is not None:
            index = _index(self.files, source_name)
            if index >= 0:
                self.sizes[index] = size

    def size(self, position: int) -> int:
        """The noted size of the regular file at ``position`` in ``files``; -1 if not known."""
        return self.sizes[position] if self.sizes is not None and position >= 0 else -1


def cache_name(stem: str, tag: str, level: int) -> str:
    """``STEM.TAG[.opt-N].pyc``: where an interpreter of ``tag`` looks for its cache."""
    return f"{stem}.{tag}.opt-{level}.pyc" if level else f"{stem}.{tag}.pyc"


_bisect = bisect.bisect_left


def _index(names: list[str], name: str) -> int:
    index = _bisect(names, name)
    return index if index < len(names) and names[index] == name else -1


def _pycache_in_the_way(listing: Listing) -> str:
    """Why nothing is written into this directory's ``__pycache__``: it is a symlink (Python
    would write through it, to wherever it points) or no directory at all. "": it may be."""
    if listing.pycache_link:
        return "__pycache__ is a symlink: never written through"
    if _index(listing.files, PYCACHE) >= 0 or _index(listing.others, PYCACHE) >= 0:
        return "__pycache__ is not a directory"
    return ""


def _prefix_cache(
    classifier: Classifier, cache: str, source: str, st: os.stat_result
) -> tuple[bool, Record | None]:
    """Is there a file at ``cache`` (a target's, in the prefix tree), and its record if it is a
    regular file. Classified again rather than remembered from the walk of the prefix tree: that
    walk comes first, and remembering what it found would grow with the tree."""
    try:
        mode = os.lstat(cache).st_mode
    except OSError:
        return False, None
    name = parse_cache_name(os.path.basename(cache))
    if not stat.S_ISREG(mode) or name is None:
        return True, None  # there, but never written through
    return True, classifier.cache(cache, name, source, lambda: st)
