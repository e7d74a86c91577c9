"""Running totals over a stream of records: what the reports summarise."""

from __future__ import annotations

from collections import Counter

from .pyc import base_tag
from .records import Record, Status


class Summary:
    """Counts and bytes by status and by interpreter; keeps only the records that need a look."""

    def __init__(self) -> None:
        self.files: Counter[Status] = Counter()
        self.bytes: Counter[Status] = Counter()
        self.interpreter_files: Counter[str] = Counter()
        self.interpreter_bytes: Counter[str] = Counter()
        self.targets: set[str] = set()
        self.attention: list[Record] = []

    def add(self, record: Record) -> None:
        status = record.status
        self.files[status] += 1
        self.bytes[status] += record.size
        if status not in (Status.GHOST, Status.MISSING):
            key = interpreter_key(record)
            self.interpreter_files[key] += 1
            self.interpreter_bytes[key] += record.size
            if record.target:
                self.targets.add(key)
        if record.needs_attention or record.dangerous or status is Status.UNREADABLE:
            self.attention.append(record)

    @property
    def cache_files(self) -> int:
        return sum(
            n for status, n in self.files.items() if status not in (Status.GHOST, Status.MISSING)
        )

    @property
    def cache_bytes(self) -> int:
        return sum(self.bytes.values())

    @property
    def unreadable(self) -> int:
        return self.files[Status.UNREADABLE]

    def needs_attention(self) -> bool:
        return any(record.needs_attention for record in self.attention)

    def ranked(self) -> list[Record]:
        """The attention list, most dangerous first, then by status and path."""
        order = {status: i for i, status in enumerate(_RANK)}
        return sorted(
            self.attention,
            key=lambda r: (
                not r.dangerous,
                not (r.status is Status.STALE and r.loads),
                order[r.status],
                r.path,
            ),
        )


_RANK = [
    Status.STALE,
    Status.SOURCELESS,
    Status.GHOST,
    Status.CORRUPT,
    Status.ORPHAN,
    Status.LEGACY,
    Status.MISSING,
    Status.UNREADABLE,
    Status.FRESH,
    Status.UNKNOWN,
]


def interpreter_key(record: Record) -> str:
    """How the by-interpreter table groups a record: its tag, else the Python of its magic."""
    if record.tag:
        return base_tag(record.tag)
    if record.python:
        return f"python{record.python}" if record.python[0].isdigit() else record.python
    return "(unidentified)"
