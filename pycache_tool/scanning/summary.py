"""Running totals over a stream of records: what the reports summarise."""

from __future__ import annotations

from collections import Counter
from typing import NamedTuple

from pycache_tool.bytecode.interpreters import name_of_python
from pycache_tool.bytecode.pyc import base_tag
from pycache_tool.scanning.records import Record, Status


class Summary:
    """Counts and bytes of cache files by status and by interpreter; directories (ghosts,
    directories that cannot be listed) and missing caches are counted apart, as what they
    are; and how many records need attention.

    Records are counted, never kept: a neglected tree has as many that need attention as it
    has caches (the text report parks their lines in temporary files: ``reports.audit``).
    """

    def __init__(self) -> None:
        # (status, tag, python, target) -> [files, bytes]: one dict update per record.
        self._groups: dict[tuple[Status, str | None, str | None, bool], list[int]] = {}
        self._totals: _Totals | None = None
        self.attention_count = 0  # records that need attention
        self.deep: Counter[str] = Counter()  # the deep check's verdicts: "ok", "damaged", ...
        self.directories: Counter[Status] = Counter()  # directory records by status
        self.missing = 0  # caches a target lacks (no file: no record of a cache file)

    def add(self, record: Record) -> None:
        status = record.status
        if record.directory:
            self.directories[status] += 1
        elif status is Status.MISSING:
            self.missing += 1
        else:
            key = (status, record.tag, record.python, record.target)
            group = self._groups.get(key)
            if group is None:
                group = self._groups[key] = [0, 0]
            group[0] += 1
            group[1] += record.size
            self._totals = None
        if record.deep is not None:
            self.deep[record.deep] += 1
        if status is not Status.FRESH:
            self.attention_count += record.needs_attention

    def _total(self) -> _Totals:
        if self._totals is None:
            totals = _Totals(Counter(), Counter(), Counter(), Counter(), set())
            for (status, tag, python, target), (files, size) in self._groups.items():
                totals.files[status] += files
                totals.bytes[status] += size
                key = interpreter_key(tag, python)
                totals.interpreter_files[key] += files
                totals.interpreter_bytes[key] += size
                if target:
                    totals.targets.add(key)
            self._totals = totals
        return self._totals

    @property
    def files(self) -> Counter[Status]:
        return self._total().files

    @property
    def bytes(self) -> Counter[Status]:
        return self._total().bytes

    @property
    def interpreter_files(self) -> Counter[str]:
        return self._total().interpreter_files

    @property
    def interpreter_bytes(self) -> Counter[str]:
        return self._total().interpreter_bytes

    @property
    def targets(self) -> set[str]:
        return self._total().targets

    @property
    def cache_files(self) -> int:
        return sum(self.files.values())

    @property
    def cache_bytes(self) -> int:
        return sum(self.bytes.values())

    @property
    def unreadable(self) -> int:
        """Cache files and directories that could not be read."""
        return self.files[Status.UNREADABLE] + self.directories[Status.UNREADABLE]

    def needs_attention(self) -> bool:
        return self.attention_count > 0


class _Totals(NamedTuple):
    files: Counter[Status]
    bytes: Counter[Status]
    interpreter_files: Counter[str]
    interpreter_bytes: Counter[str]
    targets: set[str]


def interpreter_key(tag: str | None, python: str | None) -> str:
    """How the by-interpreter table groups a record: its tag, else the name of the Python of
    its magic (a 3.11 pyc written beside its source with ``compileall -b`` is cpython-311's)."""
    if tag:
        return base_tag(tag)
    if python:
        return name_of_python(python)
    return "(unidentified)"
