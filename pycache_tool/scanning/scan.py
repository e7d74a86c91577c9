"""scan(): walk the trees, classify every cache file, and count coverage for the targets."""

from __future__ import annotations

import functools
import itertools
import os
import stat
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import Literal, NamedTuple, Optional

from pycache_tool.bytecode import interpreters
from pycache_tool.bytecode.interpreters import Interpreter
from pycache_tool.bytecode.pyc import base_tag, parse_cache_name
from pycache_tool.errors import UsageError, describe
from pycache_tool.scanning.classify import Judge, SourceStat, source_stat
from pycache_tool.scanning.deep import DeepCheck
from pycache_tool.scanning.records import Record, Status
from pycache_tool.scanning.shadow import LazyShadows, ShadowRules
from pycache_tool.scanning.walk import Ghost, Listing, Unlistable, root_rules, walk

_ENVIRONMENT = object()
_DEEP_BATCH = 256  # records handed to the deep check at a time
# A cache file of a walked directory: its record, its file name, what it covers if fresh.
_Item = tuple[Record, str, Optional[tuple[str, str, int]]]


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


class Scan:
    """An iterable of Records over ``paths``; ``coverage`` is complete once iteration ends.

    Records stream out as directories are walked, so memory does not grow with the tree.
    """

    def __init__(
        self,
        paths: Iterable[str | os.PathLike[str]] = (".",),
        *,
        targets: Sequence[Interpreter] | None = None,
        exclude: Sequence[str] = (),
        use_ignore_files: bool = True,
        pycache_prefix: str | None | object = _ENVIRONMENT,
        require_fresh: bool = False,
        levels: Sequence[int] | None = None,
        invalidation: str | None = None,
        collect_needs: Literal["uncovered", "all"] | None = None,
        targets_only: bool = False,
        deep: bool = False,
    ) -> None:
        """``levels``: the optimization levels each target needs a cache for (default: its own
        -O level). ``invalidation``: a cache counts as fresh coverage only when written in
        this mode (a fresh timestamp pyc does not cover a checked-hash request).
        ``collect_needs``: list in ``needs`` every source the targets lack a fresh cache for
        ("uncovered"), or every source ("all"); what ``compile`` writes.
        ``targets_only``: neither read nor report the cache files of other interpreters
        (``compile`` has no use for them, and they can be most of a shared tree).
        ``deep``: also check the code after the header of every cache import would read,
        inside an interpreter of its version (see ``deep.py``); ``unchecked`` then names the
        Pythons whose caches could not be checked, and why.
        """
        self.roots = _roots(paths)
        self.targets = list(targets) if targets else [interpreters.current()]
        self.exclude = list(exclude)
        self.use_ignore_files = use_ignore_files
        if pycache_prefix is _ENVIRONMENT:
            pycache_prefix = (
                getattr(sys, "pycache_prefix", None)
                or os.environ.get("PYTHONPYCACHEPREFIX")
                or None
            )
        self.pycache_prefix = os.path.abspath(str(pycache_prefix)) if pycache_prefix else None
        self.require_fresh = require_fresh
        self.levels = list(levels) if levels else None
        self.targets_only = targets_only
        self.invalidation = invalidation
        self.collect_needs = collect_needs
        self.needs: list[Need] = []
        self._counts = {t.name: [0, 0] for t in self.targets}
        self.deep = deep
        self.unchecked: dict[str, str] = {}
        self._rules = ShadowRules(self.targets)
        self._deep: DeepCheck | None = None

    @property
    def coverage(self) -> list[Coverage]:
        return [Coverage(name, sources, fresh) for name, (sources, fresh) in self._counts.items()]

    def __iter__(self) -> Iterator[Record]:
        if self.deep:
            self._deep = DeepCheck(self.targets, self.unchecked)
        try:
            yield from self._walk(Judge(self.targets))
        finally:
            if self._deep is not None:
                self._deep.close()

    def _walk(self, judge: Judge) -> Iterator[Record]:
        for root in self.roots:
            skip: frozenset[str] = frozenset()
            if self.pycache_prefix:
                skip = frozenset({self.pycache_prefix})
                yield from self._prefix_tree(root, judge)
            rules = root_rules(root, self.exclude, self.use_ignore_files)
            for event in walk(root, rules, use_ignore_files=self.use_ignore_files, skip=skip):
                if isinstance(event, Listing):
                    yield from self._directory(event, judge)
                elif isinstance(event, Ghost):
                    yield Record(
                        event.path,
                        Status.GHOST,
                        reason="holds nothing but __pycache__: still imports as a namespace package",
                    )
                elif isinstance(event, Unlistable) and not _gone(event.error):
                    yield Record(event.path, Status.UNREADABLE, reason=describe(event.error))

    def _wanted(self, tag: str | None, judge: Judge) -> bool:
        return (
            not self.targets_only
            or tag in judge.by_tag
            or (tag is not None and base_tag(tag) in judge.by_tag)
        )

    def _covers(self, record: Record) -> bool:
        return covers(record, self.invalidation)

    def _mirror(self, directory: str) -> str:
        assert self.pycache_prefix is not None
        return os.path.join(self.pycache_prefix, os.path.splitdrive(directory)[1].lstrip(os.sep))

    def _prefix_tree(self, root: str, judge: Judge) -> Iterator[Record]:
        """Caches under PREFIX/<root>: a mirror tree without __pycache__ directories."""
        assert self.pycache_prefix is not None
        mirror = self._mirror(root)
        if not os.path.isdir(mirror) or os.path.islink(mirror):
            return
        for event in walk(mirror, root_rules(mirror, None, False), use_ignore_files=False):
            if isinstance(event, Unlistable) and not _gone(event.error):
                yield Record(event.path, Status.UNREADABLE, reason=describe(event.error))
            if not isinstance(event, Listing):
                continue
            source_dir = os.sep + os.path.relpath(event.path, self.pycache_prefix)
            shadows = LazyShadows(functools.partial(self._rules.listed, source_dir))
            found: list[Record] = []
            for entry in event.files:
                name = parse_cache_name(entry.name)
                if (
                    name is None
                    or not self._wanted(name.tag, judge)
                    or not entry.is_file(follow_symlinks=False)
                ):
                    continue
                source = os.path.join(source_dir, name.stem + ".py")
                record = judge.cache(entry.path, name, source, _stat_path(source))
                if _vanished(record):
                    continue
                record = self._rules.apply(record, name.stem, shadows)
                found.append(record)
            yield from self._deep.check(found) if self._deep is not None else found

    def _directory(self, listing: Listing, judge: Judge) -> Iterator[Record]:
        sources = {entry.name: entry for entry in listing.files if entry.name.endswith(".py")}
        shadows = LazyShadows(
            lambda: self._rules.directory(listing.path, listing.files, listing.dirs)
        )
        local_fresh: set[tuple[str, str, int]] = set()
        local_names: dict[str, Record | None] = {}
        track = self.require_fresh or self.collect_needs  # coverage bookkeeping, only when asked
        items = self._caches(listing, judge, sources, shadows)
        if self._deep is not None:
            items = self._deep_checked(items, self._deep)
        for record, name, fresh_key in items:
            if track:
                local_names[name] = record if self.collect_needs else None
                if fresh_key is not None and self._covers(record):
                    local_fresh.add(fresh_key)
            yield record
        if track:
            yield from self._coverage(listing, sources, local_fresh, local_names, judge, shadows)

    def _caches(
        self,
        listing: Listing,
        judge: Judge,
        sources: dict[str, os.DirEntry[str]],
        shadows: LazyShadows,
    ) -> Iterator[_Item]:
        """The cache files of one directory: (record, file name, what it covers if fresh)."""
        directory = listing.path
        if listing.pycache_error is not None and not _gone(listing.pycache_error):
            pycache_dir = os.path.join(directory, "__pycache__")
            record = Record(pycache_dir, Status.UNREADABLE, reason=describe(listing.pycache_error))
            yield record, "", None
        for entry in listing.pycache or ():
            name = parse_cache_name(entry.name)
            if (
                name is None
                or not self._wanted(name.tag, judge)
                or not entry.is_file(follow_symlinks=False)
            ):
                continue
            source_name = name.stem + ".py"
            record = judge.cache(
                entry.path,
                name,
                directory + os.sep + source_name,
                _stat_entry(sources.get(source_name)),
            )
            if _vanished(record):
                continue
            record = self._rules.apply(record, name.stem, shadows)
            key = None if name.tag is None else (name.stem, base_tag(name.tag), name.optimization)
            yield record, entry.name, key
        legacy = not self.targets_only or bool(judge.tagless)
        for entry in listing.files:
            if (
                legacy
                and entry.name.endswith((".pyc", ".pyo"))
                and entry.is_file(follow_symlinks=False)
            ):
                stem = entry.name[:-4]
                source_name = stem + ".py"
                record = judge.legacy(
                    entry.path,
                    entry.name[-4:],
                    os.path.join(directory, source_name),
                    _stat_entry(sources.get(source_name)),
                )
                if _vanished(record):
                    continue
                record = self._rules.apply(record, stem, shadows)
                key = (stem, "", record.optimization or 0) if record.target else None
                yield record, entry.name, key

    @staticmethod
    def _deep_checked(items: Iterable[_Item], deep: DeepCheck) -> Iterator[_Item]:
        """``items`` in order, their records deep-checked a batch at a time."""
        pending = iter(items)
        while chunk := list(itertools.islice(pending, _DEEP_BATCH)):
            records = deep.check([record for record, _, _ in chunk])
            for (_, name, key), record in zip(chunk, records):
                yield record, name, key

    def _coverage(
        self,
        listing: Listing,
        sources: dict[str, os.DirEntry[str]],
        local_fresh: set[tuple[str, str, int]],
        local_names: dict[str, Record | None],
        judge: Judge,
        shadows: LazyShadows,
    ) -> Iterator[Record]:
        directory = listing.path
        pycache = directory + os.sep + "__pycache__" + os.sep
        mirror = self._mirror(directory) if self.pycache_prefix else ""
        in_the_way = "" if self.pycache_prefix else _pycache_in_the_way(listing)
        # Cache names taken by something that is no regular file: never written through.
        taken = _irregular(listing) if self.collect_needs else frozenset()
        for source_name, entry in sources.items():
            st = _entry_stat(entry)
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
                        exists, existing = _prefix_cache(judge, cache, entry.path, st)
                        fresh = existing is not None and self._covers(existing)
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
                            entry.path,
                            target.tag,
                            target.python,
                            target.magic,
                            level,
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
                                cache, Status.UNREADABLE, entry.path, reason="not a regular file"
                            )
                            blocked = "not a regular file: never written through"
                        self.needs.append(
                            Need(entry.path, st.st_size, cache, target.name, level, record, blocked)
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


def covers(record: Record, invalidation: str | None) -> bool:
    """A fresh cache, in the requested invalidation mode if there is one: what coverage counts."""
    return record.status is Status.FRESH and (
        invalidation is None or record.invalidation == invalidation
    )


def scan(paths: Iterable[str | os.PathLike[str]] = (".",), **options: object) -> Scan:
    """Scan ``paths`` and return the records (an iterable ``Scan``; see its arguments)."""
    return Scan(paths, **options)  # type: ignore[arg-type]


def _roots(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    roots: list[str] = []
    for raw in paths:
        path = os.path.abspath(os.fspath(raw))
        if os.path.islink(path):
            raise UsageError(
                f"{os.fspath(raw)}: is a symlink; symlinks are never followed, name its target"
            )
        if not os.path.exists(path):
            raise UsageError(f"{os.fspath(raw)}: no such directory")
        if not os.path.isdir(path):
            raise UsageError(f"{os.fspath(raw)}: not a directory")
        roots.append(path)
    # A root inside another root would be reported twice.
    unique = sorted(set(roots))
    return [
        r
        for r in unique
        if not any(r != o and r.startswith(o.rstrip(os.sep) + os.sep) for o in unique)
    ]


def _prefix_cache(
    judge: Judge, cache: str, source: str, st: os.stat_result
) -> tuple[bool, Record | None]:
    """Is there a file at ``cache`` (a target's, in the prefix tree), and its record if it is a
    regular file. Judged again rather than remembered from the walk of the prefix tree: that
    walk comes first, and remembering what it found would grow with the tree."""
    try:
        mode = os.lstat(cache).st_mode
    except OSError:
        return False, None
    name = parse_cache_name(os.path.basename(cache))
    if not stat.S_ISREG(mode) or name is None:
        return True, None  # there, but never written through
    return True, judge.cache(cache, name, source, lambda: st)


def _gone(error: OSError) -> bool:
    """A directory removed since its parent was listed (a concurrent clean): nothing to report."""
    return isinstance(error, FileNotFoundError)


def _vanished(record: Record) -> bool:
    """A cache file removed since its directory was listed, by a concurrent clean or an import
    that renamed its temp file into place: it is not there, so it is not reported."""
    return record.status is Status.UNREADABLE and not os.path.lexists(record.path)


def _entry_stat(entry: os.DirEntry[str]) -> os.stat_result | None:
    """The source's stat, following a symlink as import does; None if it is no regular file."""
    try:
        result = entry.stat()
    except OSError:
        return None
    return result if entry.is_file() else None


def _stat_entry(entry: os.DirEntry[str] | None) -> SourceStat:
    def stat_source() -> os.stat_result | None:
        return None if entry is None else _entry_stat(entry)

    return stat_source


def _stat_path(path: str) -> SourceStat:
    return lambda: source_stat(path)
