"""audit's text report: the summary tables, every record when asked, what needs attention.
Returns strings; the CLI writes them."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import IO

from pycache_tool.bytecode.interpreters import Interpreter, name_of_python
from pycache_tool.reports.common import counted, show_path, size, untrack_command
from pycache_tool.reports.style import Style, paint
from pycache_tool.scanning.coverage import Coverage
from pycache_tool.scanning.records import Record, Status
from pycache_tool.scanning.summary import Summary


def label(record: Record) -> str:
    if record.status is Status.STALE and record.loads:
        return "stale, LOADED"
    return record.status.value


_TONE: dict[Status, Style] = {
    Status.FRESH: "green",
    Status.STALE: "yellow",
    Status.ORPHAN: "yellow",
    Status.LEGACY: "yellow",
    Status.SHADOWED: "yellow",
    Status.GHOST: "yellow",
    Status.SYMLINK: "yellow",
    Status.MISSING: "yellow",
    Status.SOURCELESS: "red",
    Status.CORRUPT: "red",
    Status.UNREADABLE: "red",
}


def painted(text: str, status: Status, color: bool, *, loaded: bool = False) -> str:
    """``text`` in the colour of its status: red for what runs but should not or cannot be read."""
    tone = "red" if loaded else _TONE.get(status)
    return paint(text, tone, color) if tone else text


def text_report(
    summary: Summary,
    *,
    paths: Sequence[str],
    targets: Sequence[Interpreter],
    coverage: Sequence[Coverage] | None,
    tracked: Sequence[str],
    verbose_lines: Iterable[str] | None,
    attention: Attention,
    cwd: str,
    quiet: bool = False,
    color: bool = False,
    unchecked: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """The summary tables (left out when ``quiet``), coverage, every record when asked, then
    what needs attention and tracked bytecode; in pieces, for the CLI to write as they come.

    ``verbose_lines``: every record's line (``record_line``, each ending in a newline), passed
    through as they are read, e.g. from a ``LineSpool``: they need never all be in memory.
    ``attention``: the lines of what needs attention, ranked (see ``Attention``).
    ``unchecked``: with ``--deep``, the Pythons whose caches could not be checked, and why.
    """
    out: list[str] = []
    where = ", ".join(show_path(p, cwd) for p in paths)
    out.append(
        f"{counted(summary.cache_files, 'cache file')}, {size(summary.cache_bytes)} in {where}"
        f" (target: {', '.join(t.name for t in targets)})"
    )
    if summary.directories:
        out.append(directories_line(summary))
    if summary.files and not quiet:
        out += ["", f"  {'status':<14}{'files':>8}  {'size':>10}"]
        for status in Status:
            if summary.files[status]:
                name = painted(f"{status.value:<14}", status, color)
                out.append(f"  {name}{summary.files[status]:>8}  {size(summary.bytes[status]):>10}")
    if summary.interpreter_files and not quiet:
        out += ["", f"  {'interpreter':<24}{'files':>8}  {'size':>10}"]
        for key in sorted(summary.interpreter_files):
            mark = f"{key} (target)" if key in summary.targets else key
            out.append(
                f"  {mark:<24}{summary.interpreter_files[key]:>8}  {size(summary.interpreter_bytes[key]):>10}"
            )
    if unchecked is not None:
        out += ["", deep_line(summary, unchecked)]
    for cov in coverage or ():
        share = f" ({100 * cov.fresh / cov.sources:.1f}%)" if cov.sources else ""
        out += [
            "",
            f"coverage: {cov.fresh} of {cov.sources} sources have a cache that {cov.target} will load{share}",
        ]
    if verbose_lines is not None:
        out += ["", "every record:"]
        yield "\n".join(out) + "\n"
        yield from verbose_lines
        out = []
    if attention.count or attention.left_out:
        shown = attention.count + attention.left_out
        out += ["", f"needs attention ({shown}), most dangerous first:"]
        yield "\n".join(out) + "\n"
        out = []
        yield from attention
        if attention.left_out:
            more = counted(attention.left_out, "more missing cache")
            yield f"  ... and {more} (--verbose lists them all)\n"
    if tracked:
        out += ["", f"bytecode tracked by git ({len(tracked)}): .gitignore does not untrack it"]
        out += [f"  {show_path(p, cwd)}" for p in tracked]
        out.append("  fix: " + untrack_command(tracked, cwd))
    if not attention.count and not tracked:
        out += ["", paint("nothing needs attention", "green", color)]
    if out:
        yield "\n".join(out) + "\n"


def directories_line(summary: Summary) -> str:
    """The directories the scan reports, apart from the cache files: "1 ghost directory"."""
    return ", ".join(
        counted(n, f"{status.value} directory", f"{status.value} directories")
        for status, n in sorted(summary.directories.items())
    )


def deep_line(summary: Summary, unchecked: Mapping[str, str]) -> str:
    """What ``--deep`` found: how many caches' code was checked, and what was not and why."""
    checked = summary.deep["ok"] + summary.deep["damaged"]
    line = (
        f"deep check: the code of {counted(checked, 'cache')} unmarshalled by an interpreter"
        f" of its version: {summary.deep['ok']} ok, {summary.deep['damaged']} damaged"
    )
    if summary.deep["not checked"]:
        why = "; ".join(
            f"Python {python}: {reason}" for python, reason in sorted(unchecked.items())
        )
        line += f"; {summary.deep['not checked']} not checked ({why}; name one with --python)"
    return line


def record_line(record: Record, cwd: str, color: bool = False) -> str:
    """One record on one line, as the text report lists it."""
    shown = record.tag or (name_of_python(record.python) if record.python else "")
    detail = f" [{shown}]" if shown else ""
    status = painted(f"{label(record):<14}", record.status, color, loaded=record.dangerous)
    note = "; code not checked" if record.deep == "not checked" else ""
    return f"  {status}{show_path(record.path, cwd)}{detail}: {record.reason}{note}"


class LineSpool:
    """Lines parked in a temporary file until their place in a report comes: a report that
    lists every record after the totals must not hold them all in memory meanwhile."""

    def __init__(self) -> None:
        import tempfile  # only once a line must wait: off the start-up path of a clean tree

        self._file: IO[str]
        try:
            # surrogatepass: a lone surrogate in a reason (paths are escaped) round-trips.
            self._file = tempfile.TemporaryFile("w+", encoding="utf-8", errors="surrogatepass")
        except OSError:
            self._file = io.StringIO()  # no writable temporary directory: keep them in memory

    def add(self, line: str) -> None:
        self._file.write(line + "\n")

    def __iter__(self) -> Iterator[str]:
        """The lines, newline-terminated, in blocks; once, then the file is gone."""
        with self._file:
            self._file.seek(0)
            while block := self._file.read(io.DEFAULT_BUFFER_SIZE):
                yield block


class Attention:
    """The lines of the records that need a look, most dangerous first: stale but loaded,
    sourceless, ghosts, then by status (``_RANK``), each rank in the order of the walk.

    Each rank's lines wait in a temporary file of its own (a ``LineSpool``) until the report
    lists them: a neglected tree has as many as it has caches, and memory must not grow with it.
    ``missing_cap``: list at most this many ``missing`` records (a tree without caches has one
    per source); ``left_out`` counts the rest.
    """

    def __init__(self, cwd: str, color: bool, *, missing_cap: int | None = None) -> None:
        self.cwd, self.color = cwd, color
        self.count = 0  # lines kept
        self.left_out = 0  # missing records beyond the cap
        self._missing_cap = missing_cap
        self._ranks: dict[tuple[bool, bool, int], LineSpool] = {}

    def add(self, record: Record) -> None:
        """Keep ``record``'s line if it needs attention, is dangerous or could not be read."""
        status = record.status
        if status is Status.FRESH or not (
            record.needs_attention or record.dangerous or status is Status.UNREADABLE
        ):
            return
        if status is Status.MISSING and self._missing_cap is not None:
            if self._missing_cap <= 0:
                self.left_out += 1
                return
            self._missing_cap -= 1
        loaded_stale = status is Status.STALE and bool(record.loads)
        rank = (not record.dangerous, not loaded_stale, _RANK[status])
        spool = self._ranks.get(rank)
        if spool is None:
            spool = self._ranks[rank] = LineSpool()
        spool.add(record_line(record, self.cwd, self.color))
        self.count += 1

    def __iter__(self) -> Iterator[str]:
        """The lines, newline-terminated, in blocks; once."""
        for rank in sorted(self._ranks):
            yield from self._ranks.pop(rank)


_RANK = {
    status: i
    for i, status in enumerate(
        [
            Status.STALE,
            Status.SOURCELESS,
            Status.GHOST,
            Status.SYMLINK,
            Status.CORRUPT,
            Status.ORPHAN,
            Status.SHADOWED,
            Status.LEGACY,
            Status.MISSING,
            Status.UNREADABLE,
            Status.UNKNOWN,
        ]
    )
}
