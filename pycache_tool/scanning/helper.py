"""A second process for a large scan: it classifies every other directory of the same walk.

Reading headers and statting sources is most of a scan, and a machine has more than one core.
Once the walk has listed ``START_AFTER`` cache entries, and if a core is idle at that moment
(the helper walks the tree too: on a busy machine it costs more than it saves), the scan
forks: both processes go on with the same walk (the child has a copy of it, at the same
point), and each directory with cache entries goes to whichever of the two has been given
fewer entries so far. The child
classifies its directories and sends their records down a pipe, one directory at a time; the
parent classifies its own and takes the child's from the pipe where the walk reaches them, so
the records come out in exactly the order one process gives. Both decide alike as long as
they list alike; a directory changed in between shows as a message for another path, and the
parent then classifies the rest of the walk itself, as it does if the child fails.

The pipe holds a few hundred records: memory stays flat however large the tree. The child
writes nothing else, holds none of the caller's output open, and ends with ``os._exit``: it
never returns into the caller's code. Only the command line asks for it (``Scan(helper=True)``):
a library should not fork its host process.
"""

from __future__ import annotations

import marshal
import os
import signal
import struct
import sys
from collections.abc import Callable, Iterator
from typing import Any

from pycache_tool.scanning.records import Record, Status
from pycache_tool.scanning.walk import Event, Listing

START_AFTER = 256  # cache entries the walk lists before the helper starts: a fork costs ~2 ms
_LENGTH = struct.Struct("<I")
_STATUS = {status.value: status for status in Status}

Classify = Callable[[Listing], Iterator[Any]]  # a directory's records, as Scan yields them
# What classifying changed beside the records (coverage counts, compile's needs), in a form
# marshal takes: taken in the child after each of its directories, given to the parent's scan.
Take = Callable[[], Any]
Give = Callable[[Any], None]


def available() -> bool:
    """A second core, a fork that copies nothing but this process, and no other thread to be
    caught holding a lock in the copy."""
    import threading

    return (
        hasattr(os, "fork")
        and sys.platform != "darwin"  # its system libraries are not safe to use after a fork
        and _cores() > 1
        and threading.active_count() == 1
    )


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def idle_core() -> bool:
    """Is a core free for the helper now? The helper walks the tree again, so on a machine
    whose cores are all busy it costs more than it saves. Linux counts the tasks runnable this
    instant (this one among them); elsewhere the last minute's load average answers."""
    cores = _cores()
    try:
        with open("/proc/loadavg", "rb") as f:
            return int(f.read().split()[3].split(b"/")[0]) < cores
    except (OSError, ValueError, IndexError):
        try:
            return os.getloadavg()[0] < cores - 1
        except (AttributeError, OSError):
            return False


class Helper:
    """The parent's end: ``records(listing)`` gives the child's records for a directory that
    is the child's, or None for one the parent classifies itself."""

    def __init__(self, take: Take | None = None, give: Give | None = None) -> None:
        self._take, self._give = take, give
        self.seen = 0  # cache entries listed so far; the child starts after START_AFTER
        self._pid = 0
        self._pipe: Any = None
        self._loads = [0, 0]  # entries given to the parent, to the child

    def records(
        self, listing: Listing, rest: Iterator[Event], classify: Classify
    ) -> list[Record] | None:
        """``rest``: the walk that gave ``listing``, for the child to go on with."""
        entries = len(listing.pycache or ())
        if not entries:
            return None
        if not self._pid:
            self.seen += entries
            if self.seen >= START_AFTER and self._pipe is None:
                if idle_core():
                    self._start(rest, classify)
                else:
                    self._pid = -1  # one process, as without a helper
            return None
        if self._pipe is None or not self._theirs(entries):
            return None
        return self._receive(listing.path)

    def close(self) -> None:
        """End the child (done or not) and reap it; the scan's ``finally`` calls this."""
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None
        if self._pid > 0:
            try:
                os.kill(self._pid, signal.SIGKILL)
            except OSError:
                pass  # already gone
            os.waitpid(self._pid, 0)
            self._pid = -1

    def _theirs(self, entries: int) -> bool:
        """Who takes a directory of ``entries`` cache entries: both processes decide alike."""
        child = self._loads[1] < self._loads[0]
        self._loads[child] += entries
        return child

    def _start(self, rest: Iterator[Event], classify: Classify) -> None:
        read_end, write_end = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(read_end)
            os.close(write_end)
            self._pid = -1  # no helper: the parent does it all
            return
        if pid == 0:  # the child: never returns
            os.close(read_end)
            code = 1
            try:
                _child(write_end, rest, classify, self)
                code = 0
            finally:
                os._exit(code)
        os.close(write_end)
        self._pid = pid
        self._pipe = os.fdopen(read_end, "rb")

    def _receive(self, path: str) -> list[Record] | None:
        """The child's records for ``path``; None (and no more from the child) when it sent
        another directory's, or nothing."""
        assert self._pipe is not None
        head = self._pipe.read(_LENGTH.size)
        if len(head) == _LENGTH.size:
            body = self._pipe.read(_LENGTH.unpack(head)[0])
            sent_path, rows, tally = marshal.loads(body)
            if sent_path == path:
                if self._give is not None:
                    self._give(tally)
                return [from_row(row) for row in rows]
        self.close()
        return None


def _child(write_end: int, rest: Iterator[Event], classify: Classify, helper: Helper) -> None:
    """Classify the child's share of the rest of the walk and send it; write nothing else."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # the caller's pipes must see their end when the caller is done
        os.dup2(devnull, fd)
    if helper._take is not None:
        helper._take()  # what the parent counted before the fork is the parent's
    for event in rest:
        if not isinstance(event, Listing):
            continue
        entries = len(event.pycache or ())
        if not entries or not helper._theirs(entries):
            continue
        rows = [to_row(record) for record in classify(event)]
        tally = None if helper._take is None else helper._take()
        body = marshal.dumps((event.path, rows, tally))
        os.write(write_end, _LENGTH.pack(len(body)))
        _write_all(write_end, body)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def to_row(record: Record) -> list[Any]:
    """A record as marshal takes it: its fields in their order, the status by its value."""
    row = list(record)
    row[_STATUS_AT] = record.status.value
    return row


def from_row(row: list[Any]) -> Record:
    fields = dict(zip(Record._fields, row))
    fields["status"] = _STATUS[fields["status"]]
    return Record(**fields)


_STATUS_AT = Record._fields.index("status")
