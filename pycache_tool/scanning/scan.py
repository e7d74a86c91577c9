"""scan(): walk the trees and classify every cache file, streaming one record at a time.

What the targets lack (coverage, compile needs) is counted on the way by ``coverage.Tally``.
"""

from __future__ import annotations

import enum
import functools
import itertools
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Literal, Optional, Union, cast

from pycache_tool.bytecode import interpreters
from pycache_tool.bytecode.interpreters import Interpreter
from pycache_tool.bytecode.pyc import Invalidation, base_tag, parse_cache_name
from pycache_tool.errors import UsageError, describe
from pycache_tool.scanning import helper
from pycache_tool.scanning.classify import Classifier, SourceStat, source_stat
from pycache_tool.scanning.coverage import Coverage, Marks, Need, Seen, Tally, cache_name, covers
from pycache_tool.scanning.deep import DeepCheck
from pycache_tool.scanning.ignore import PatternUse
from pycache_tool.scanning.records import SYMLINKED_PYCACHE, Named, Record, Status
from pycache_tool.scanning.shadow import LazyShadows, ShadowRules
from pycache_tool.scanning.walk import (
    PYCACHE,
    Ghost,
    Ignored,
    Listing,
    Unlistable,
    project_root,
    root_rules,
    walk,
)


class _Default(enum.Enum):
    ENVIRONMENT = "environment"


# pycache_prefix=ENVIRONMENT: the prefix of this process (sys.pycache_prefix or
# PYTHONPYCACHEPREFIX); None: no prefix.
ENVIRONMENT = _Default.ENVIRONMENT
Prefix = Union[str, "os.PathLike[str]", None, Literal[_Default.ENVIRONMENT]]
_GHOST = "holds nothing but __pycache__: still imports as a namespace package"
_EMPTY_GHOST = "an empty directory inside a package: still imports as a namespace package"
_DEEP_BATCH = 256  # records handed to the deep check at a time
# A cache file of a walked directory: its record, the list of the listing it is in and its
# position there (for coverage), and the name of the target's cache it stands for if fresh.
_Item = tuple[Union[Record, Named], Optional[Marks], int, Optional[str]]


class Scan:
    """An iterable of Records over ``paths``; ``coverage``, ``needs`` and ``unchecked`` are
    complete once iteration ends.

    Records stream out as directories are walked, so memory does not grow with the tree.
    Each iteration walks the trees again and counts afresh.
    """

    def __init__(
        self,
        paths: Iterable[str | os.PathLike[str]] = (".",),
        *,
        targets: Sequence[Interpreter] | None = None,
        exclude: Sequence[str] = (),
        use_ignore_files: bool = True,
        pycache_prefix: Prefix = ENVIRONMENT,
        require_fresh: bool = False,
        levels: Sequence[int] | None = None,
        invalidation: Invalidation | None = None,
        collect_needs: Literal["uncovered", "all"] | None = None,
        targets_only: bool = False,
        deep: bool = False,
        check_excludes: Sequence[str] = (),
        max_depth: int | None = None,
        one_file_system: bool = False,
        helper: bool = False,
        on_need: Callable[[], None] | None = None,
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
        ``helper``: on a large tree, when a core is idle, fork a second process to classify
        every other directory (the records and their order are the same); for the command
        line, not for a library in someone else's process.
        ``on_need``: with ``collect_needs``, called as the walk goes at each need whose source
        lacks a fresh cache (``compile`` starts its workers then).
        ``check_excludes``: patterns of ``exclude`` (those given on the command line) that
        should match something; once iteration ends, ``unmatched_excludes`` lists those that
        matched no path the walk saw; ``ignored`` lists the directories the ignore files kept
        out of the walk, and ``excluded`` counts those ``exclude`` kept out.
        ``max_depth``: walk no directory more than this many levels below a root (0: the
        roots' own files; None: no limit), as compileall's ``-r``.
        ``one_file_system``: enter no directory on another device than its PATH (or the
        prefix tree's mirror), as ``find -xdev``.
        """
        self.roots = _roots(paths)
        self.targets = list(targets) if targets else [interpreters.current()]
        self.exclude = list(exclude)
        self.check_excludes = list(check_excludes)
        self._pattern_use = PatternUse(self.check_excludes)
        self.ignored: list[str] = []  # directories the ignore files kept out
        self.excluded = 0  # directories exclude kept out
        self.use_ignore_files = use_ignore_files
        if pycache_prefix is ENVIRONMENT:
            pycache_prefix = (
                getattr(sys, "pycache_prefix", None)
                or os.environ.get("PYTHONPYCACHEPREFIX")
                or None
            )
        self.pycache_prefix = os.path.abspath(pycache_prefix) if pycache_prefix else None
        self.require_fresh = require_fresh
        self.levels = list(levels) if levels else None
        self.targets_only = targets_only
        self.invalidation = invalidation
        self.collect_needs = collect_needs
        self.on_need = on_need
        self._tally = self._new_tally()
        self.deep = deep
        self.helper = helper
        self.max_depth = max_depth
        self.one_file_system = one_file_system
        self.unchecked: dict[str, str] = {}
        self._rules = ShadowRules(self.targets)
        self._deep: DeepCheck | None = None

    @property
    def unmatched_excludes(self) -> list[str]:
        return self._pattern_use.unmatched

    @property
    def coverage(self) -> list[Coverage]:
        """Per target: the sources walked, and those with a fresh cache (``require_fresh``)."""
        return self._tally.coverage

    @property
    def needs(self) -> list[Need]:
        """What ``collect_needs`` asked for, in walk order."""
        return self._tally.needs

    def _new_tally(self) -> Tally:
        return Tally(
            self.targets,
            levels=self.levels,
            invalidation=self.invalidation,
            pycache_prefix=self.pycache_prefix,
            require_fresh=self.require_fresh,
            collect_needs=self.collect_needs,
            on_need=self.on_need,
        )

    def __iter__(self) -> Iterator[Record]:
        return cast("Iterator[Record]", self._items(by_name=False))  # no Named without by_name

    def by_name(self) -> Iterator[Record | Named]:
        """The records, except that a cache file in ``__pycache__`` or the prefix tree comes as
        a ``Named``, unopened (unless its mode leaves in doubt whether it can be read: one
        that cannot still comes as an UNREADABLE record). Files elsewhere are read as ever."""
        return self._items(by_name=True)

    def _items(self, *, by_name: bool) -> Iterator[Record | Named]:
        self._tally = self._new_tally()
        self.unchecked.clear()  # the same dict: a report may hold it already
        self._pattern_use = PatternUse(self.check_excludes)
        self.ignored, self.excluded = [], 0
        if self.deep and not by_name:
            self._deep = DeepCheck(self.targets, self.unchecked)
        try:
            yield from self._walk(Classifier(self.targets), by_name)
        finally:
            if self._deep is not None:
                self._deep.close()

    def _walk(self, classifier: Classifier, by_name: bool) -> Iterator[Record | Named]:
        def classify(listing: Listing) -> Iterator[Record | Named]:
            return self._directory(listing, classifier, by_name)

        # The deep check's worker runs where records are made: it stays in one process.
        shared = self.helper and not (by_name or self._deep) and helper.available()
        for root in self.roots:
            skip: frozenset[str] = frozenset()
            if self.pycache_prefix:
                skip = frozenset({self.pycache_prefix})
                yield from self._prefix_tree(root, classifier, by_name)
            rules = root_rules(root, self.exclude, self.use_ignore_files)
            base = project_root(root)  # what exclude patterns are relative to
            events = walk(
                root,
                rules,
                use_ignore_files=self.use_ignore_files,
                skip=skip,
                max_depth=self.max_depth,
                one_file_system=self.one_file_system,
            )
            second = helper.Helper(self._tally.take, self._tally.give) if shared else None
            try:
                for event in events:
                    if isinstance(event, Listing):
                        if self._pattern_use:
                            self._see(base, event)
                        theirs = None if second is None else second.records(event, events, classify)
                        yield from theirs if theirs is not None else classify(event)
                    elif isinstance(event, Ignored):
                        if event.excluded:
                            self.excluded += 1
                        else:
                            self.ignored.append(event.path)
                    elif isinstance(event, Ghost):
                        yield Record(
                            event.path,
                            Status.GHOST,
                            reason=_EMPTY_GHOST if event.empty else _GHOST,
                            directory=True,
                        )
                    elif isinstance(event, Unlistable) and not _gone(event.error):
                        yield _unlistable(event)
            finally:
                if second is not None:
                    second.close()

    def _see(self, base: str, listing: Listing) -> None:
        """Show the exclude patterns still unmatched what this directory holds."""
        for name in listing.dirs:
            self._pattern_use.see(base, os.path.join(listing.path, name), True)
        for name in (*listing.files, *listing.others):
            self._pattern_use.see(base, os.path.join(listing.path, name), False)

    def _wanted(self, tag: str | None, classifier: Classifier) -> bool:
        return (
            not self.targets_only
            or tag in classifier.by_tag
            or (tag is not None and base_tag(tag) in classifier.by_tag)
        )

    def _covers(self, record: Record) -> bool:
        return covers(record, self.invalidation)

    def _mirror(self, directory: str) -> str:
        assert self.pycache_prefix is not None
        return os.path.join(self.pycache_prefix, os.path.splitdrive(directory)[1].lstrip(os.sep))

    def _prefix_tree(
        self, root: str, classifier: Classifier, by_name: bool
    ) -> Iterator[Record | Named]:
        """Caches under PREFIX/<root>: a mirror tree without __pycache__ directories."""
        assert self.pycache_prefix is not None
        mirror = self._mirror(root)
        if not os.path.isdir(mirror) or os.path.islink(mirror):
            return
        rules = root_rules(mirror, None, False)
        for event in walk(
            mirror,
            rules,
            use_ignore_files=False,
            max_depth=self.max_depth,
            one_file_system=self.one_file_system,
        ):
            if isinstance(event, Unlistable) and not _gone(event.error):
                yield _unlistable(event)
            if not isinstance(event, Listing):
                continue
            source_dir = os.sep + os.path.relpath(event.path, self.pycache_prefix)
            shadows = LazyShadows(functools.partial(self._rules.listed, source_dir))
            found: list[Record] = []
            for file_name in event.files:
                name = parse_cache_name(file_name)
                if name is None or not self._wanted(name.tag, classifier):
                    continue
                source = os.path.join(source_dir, name.stem + ".py")
                path = os.path.join(event.path, file_name)
                if by_name:
                    item = classifier.named(path, name, source, _stat_path(source))
                    if isinstance(item, Named):
                        yield item
                        continue
                    record = item
                else:
                    record = classifier.cache(path, name, source, _stat_path(source))
                if _vanished(record):
                    continue
                record = self._rules.apply(record, name.stem, shadows)
                found.append(record)
            yield from self._deep.check(found) if self._deep is not None else found

    def _directory(
        self, listing: Listing, classifier: Classifier, by_name: bool = False
    ) -> Iterator[Record | Named]:
        shadows = LazyShadows(
            lambda: self._rules.directory(listing.path, listing.files, listing.others, listing.dirs)
        )
        counting = self.require_fresh or self.collect_needs  # coverage bookkeeping, only when asked
        seen = Seen(listing, collect=bool(self.collect_needs)) if counting else None
        items = self._caches(listing, classifier, shadows, seen, by_name)
        if self._deep is not None:
            items = self._deep_checked(items, self._deep)
        for record, marks, index, fresh_name in items:
            if marks is not None and isinstance(record, Record):  # a Named file: uncounted
                marks.add(index, record, fresh_name if self._covers(record) else None)
            yield record
        if seen is not None:
            mirror = self._mirror(listing.path) if self.pycache_prefix else ""
            yield from self._tally.directory(listing, seen, classifier, shadows, mirror)

    def _caches(
        self,
        listing: Listing,
        classifier: Classifier,
        shadows: LazyShadows,
        seen: Seen | None,
        by_name: bool = False,
    ) -> Iterator[_Item]:
        """The cache files of one directory (see ``_Item``)."""
        directory = listing.path
        inside = directory if directory.endswith(os.sep) else directory + os.sep
        pycache_dir = inside + PYCACHE
        if listing.pycache_link:
            link = Record(pycache_dir, Status.SYMLINK, reason=SYMLINKED_PYCACHE, directory=True)
            yield link, None, 0, None
        if listing.pycache_error is not None and not _gone(listing.pycache_error):
            record = _unlistable(Unlistable(pycache_dir, listing.pycache_error))
            yield record, None, 0, None
        marks = seen.pycache if seen is not None else None
        pycache = pycache_dir + os.sep
        for index, file_name in enumerate(listing.pycache or ()):
            name = parse_cache_name(file_name)
            if name is None or not self._wanted(name.tag, classifier):
                continue
            source_name = name.stem + ".py"
            source = inside + source_name
            stat_source = _stat_source(source, source_name, seen)
            if by_name:
                item = classifier.named(pycache + file_name, name, source, stat_source)
                if isinstance(item, Named):
                    yield item, None, index, None
                    continue
                record = item
            else:
                record = classifier.cache(pycache + file_name, name, source, stat_source)
            if _vanished(record):
                continue
            record = self._rules.apply(record, name.stem, shadows)
            fresh_name = None
            if name.tag is not None:
                fresh_name = cache_name(name.stem, base_tag(name.tag), name.optimization)
            yield record, marks, index, fresh_name
        if self.targets_only and not classifier.tagless:
            return
        marks = seen.legacy if seen is not None else None
        for index, file_name in enumerate(listing.files):
            if not file_name.endswith((".pyc", ".pyo")):
                continue
            path = inside + file_name
            # exclude takes file patterns: notes.pyc, a text file, is left out when named
            if listing.rules and listing.rules.left_out(path, False):
                continue
            stem = file_name[:-4]
            source_name = stem + ".py"
            source = inside + source_name
            record = classifier.legacy(
                path, file_name[-4:], source, _stat_source(source, source_name, seen)
            )
            if _vanished(record):
                continue
            record = self._rules.apply(record, stem, shadows)
            yield record, marks, index, file_name if record.target else None

    @staticmethod
    def _deep_checked(items: Iterable[_Item], deep: DeepCheck) -> Iterator[_Item]:
        """``items`` in order, their records deep-checked a batch at a time."""
        pending = iter(items)
        while chunk := list(itertools.islice(pending, _DEEP_BATCH)):
            records = deep.check([cast(Record, item[0]) for item in chunk])  # deep: no Named
            for (_, marks, index, fresh_name), record in zip(chunk, records):
                yield record, marks, index, fresh_name


def scan(
    paths: Iterable[str | os.PathLike[str]] = (".",),
    *,
    targets: Sequence[Interpreter] | None = None,
    exclude: Sequence[str] = (),
    use_ignore_files: bool = True,
    pycache_prefix: Prefix = ENVIRONMENT,
    require_fresh: bool = False,
    levels: Sequence[int] | None = None,
    invalidation: Invalidation | None = None,
    collect_needs: Literal["uncovered", "all"] | None = None,
    targets_only: bool = False,
    deep: bool = False,
    check_excludes: Sequence[str] = (),
    max_depth: int | None = None,
    one_file_system: bool = False,
    helper: bool = False,
    on_need: Callable[[], None] | None = None,
) -> Scan:
    """Scan ``paths`` and return the records: an iterable ``Scan`` (see there for the
    arguments, which are the same)."""
    return Scan(
        paths,
        targets=targets,
        exclude=exclude,
        use_ignore_files=use_ignore_files,
        pycache_prefix=pycache_prefix,
        require_fresh=require_fresh,
        levels=levels,
        invalidation=invalidation,
        collect_needs=collect_needs,
        targets_only=targets_only,
        deep=deep,
        check_excludes=check_excludes,
        max_depth=max_depth,
        one_file_system=one_file_system,
        helper=helper,
        on_need=on_need,
    )


def _roots(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """The PATHS as absolute directories. A symlink named as a PATH (trailing slash or not) is
    followed, as ``find``, ``fd`` and ``rg`` do; the walk below it follows none."""
    roots: list[str] = []
    for raw in paths:
        if not os.fspath(raw):  # abspath("") is the working directory: never by accident
            raise UsageError("an empty PATH (an unset variable?): name a directory")
        path = os.path.abspath(os.fspath(raw))
        if not os.path.exists(path):
            dangling = " (a symlink to nothing)" if os.path.islink(path) else ""
            raise UsageError(f"{os.fspath(raw)}: no such directory{dangling}")
        if not os.path.isdir(path):
            raise UsageError(f"{os.fspath(raw)}: not a directory")
        roots.append(path)
    # A root inside another root, or another name of one (a link), would be reported twice.
    unique = sorted(set(roots))
    real = {r: os.path.realpath(r) for r in unique}
    return [
        r
        for r in unique
        if not any(
            r != o
            and (
                real[r] == real[o] and o < r or real[r].startswith(real[o].rstrip(os.sep) + os.sep)
            )
            for o in unique
        )
    ]


def _unlistable(event: Unlistable) -> Record:
    return Record(event.path, Status.UNREADABLE, reason=describe(event.error), directory=True)


def _gone(error: OSError) -> bool:
    """A directory removed since its parent was listed (a concurrent clean): nothing to report."""
    return isinstance(error, FileNotFoundError)


def _vanished(record: Record) -> bool:
    """A cache file removed since its directory was listed, by a concurrent clean or an import
    that renamed its temp file into place: it is not there, so it is not reported."""
    return record.status is Status.UNREADABLE and not os.path.lexists(record.path)


def _stat_source(path: str, name: str, seen: Seen | None) -> SourceStat:
    """The source's stat, when the classifier asks for it (following a symlink, as import
    does); its size noted for coverage."""

    def stat_source() -> os.stat_result | None:
        st = source_stat(path)
        if seen is not None and st is not None:
            seen.note_size(name, st.st_size)
        return st

    return stat_source


def _stat_path(path: str) -> SourceStat:
    return lambda: source_stat(path)
