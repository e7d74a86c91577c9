"""Coverage and compile needs: what each source lacks for each target, counted as a scan walks.

``Scan`` hands every walked directory to its ``Tally`` once the directory's cache files are
classified; the tally counts, per target, the sources and those with a fresh cache, lists
what compile must write, and gives back a MISSING record for each cache that is not there.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from typing import Literal, NamedTuple

from pycache_tool.bytecode.interpreters import Interpreter
from pycache_tool.bytecode.pyc import Invalidation, parse_cache_name
from pycache_tool.scanning.classify import Classifier, entry_stat
from pycache_tool.scanning.records import Record, Status
from pycache_tool.scanning.shadow import LazyShadows
from pycache_tool.scanning.walk import Listing

# What a directory's classified caches cover: (stem, base tag or "" beside the source, level).
FreshKey = tuple[str, str, int]


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
    ) -> None:
        self.targets = targets
        self.levels = levels
        self.invalidation = invalidation
        self.pycache_prefix = pycache_prefix
        self.require_fresh = require_fresh
        self.collect_needs = collect_needs
        self.needs: list[Need] = []
        self._counts = {t.name: [0, 0] for t in targets}  # target -> [sources, fresh]

    @property
    def coverage(self) -> list[Coverage]:
        return [Coverage(name, sources, fresh) for name, (sources, fresh) in self._counts.items()]

    def covers(self, record: Record) -> bool:
        return covers(record, self.invalidation)

    def directory(
        self,
        listing: Listing,
        sources: dict[str, os.DirEntry[str]],
        local_fresh: set[FreshKey],
        local_names: dict[str, Record | None],
        classifier: Classifier,
        shadows: LazyShadows,
        mirror: str,
    ) -> Iterator[Record]:
        """Count one directory's sources; the MISSING records when ``require_fresh``.

        ``local_fresh``: what the directory's caches cover; ``local_names``: its cache files
        by name (with their records when needs are collected); ``shadows``: what is imported
        instead of some of its modules; ``mirror``: the directory's place in the
        pycache_prefix tree, if there is one.
        """
        directory = listing.path
        pycache = directory + os.sep + "__pycache__" + os.sep
        in_the_way = "" if self.pycache_prefix else _pycache_in_the_way(listing)
        # Cache names taken by something that is no regular file: never written through.
        taken = _irregular(listing) if self.collect_needs else frozenset()
        for source_name, entry in sources.items():
            st = entry_stat(entry)
            if st is None or (listing.rules and listing.rules.ignored(entry.path, False)):
                continue
            stem = source_name[:-3]
            for target in self.targets:
                counts = self._counts[target.name]
                key = (target.implementation, target.version)
                for level in self.levels or (target.optimize,):
                    found = shadows.get()
                    if found is not None and found.by(key, stem, level):
                        continue  # never imported: it needs no cache
                    counts[0] += 1
                    opt = "" if not level else f".opt-{level}"
                    existing: Record | None = None
                    if target.tag is None:  # Python 2: beside the source
                        name = stem + (".pyo" if level else ".pyc")
                        cache = os.path.join(directory, name)
                        fresh = (stem, "", 1 if level else 0) in local_fresh
                        exists = name in local_names
                        existing = local_names.get(name)
                    elif self.pycache_prefix:
                        cache = os.path.join(mirror, f"{stem}.{target.tag}{opt}.pyc")
                        exists, existing = _prefix_cache(classifier, cache, entry.path, st)
                        fresh = existing is not None and self.covers(existing)
                    else:
                        name = f"{stem}.{target.tag}{opt}.pyc"
                        cache = pycache + name
                        fresh = (stem, target.tag, level) in local_fresh
                        exists = name in local_names or name in taken
                        existing = local_names.get(name)
                    if fresh:
                        counts[1] += 1
                    missing: Record | None = None
                    if not exists:
                        missing = Record(
                            cache,
                            Status.MISSING,
                            source=entry.path,
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
                                source=entry.path,
                                reason="not a regular file",
                            )
                            blocked = "not a regular file: never written through"
                        self.needs.append(
                            Need(
                                source=entry.path,
                                size=st.st_size,
                                cache=cache,
                                target=target.name,
                                level=level,
                                record=record,
                                blocked=blocked,
                            )
                        )


def _irregular(listing: Listing) -> frozenset[str]:
    """The names in ``__pycache__`` that are symlinks, directories or anything but a file."""
    return frozenset(e.name for e in listing.pycache or () if not e.is_file(follow_symlinks=False))


def _pycache_in_the_way(listing: Listing) -> str:
    """Why nothing is written into this directory's ``__pycache__``: it is a symlink (Python
    would write through it, to wherever it points) or no directory at all. "": it may be."""
    for entry in listing.files:  # a real __pycache__ directory is never among the files
        if entry.name == "__pycache__":
            if entry.is_symlink():
                return "__pycache__ is a symlink: never written through"
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
