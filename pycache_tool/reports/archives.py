"""The archives part of the audit report, as text or JSON. Returns data and strings only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pycache_tool.archives import FRESH, SDIST, UNKNOWN, WHEEL, Archive, Entry
from pycache_tool.bytecode.interpreters import name_of_python
from pycache_tool.reports.common import counted, show_path, size
from pycache_tool.reports.style import Style, paint


def archives_text(
    archives: Sequence[Archive], *, cwd: str, verbose: bool, quiet: bool, color: bool
) -> str:
    """A heading with the totals, a line per archive, and its bytecode entries.

    ``quiet``: only the archives that need attention or could not be read, without entries.
    ``verbose``: each entry also shows its magic number, invalidation mode and size.
    """
    attention = [a for a in archives if a.findings]
    unreadable = [a for a in archives if a.incomplete]
    heading = counted(len(archives), "archive")
    if attention:
        heading += f", {len(attention)} with bytecode that needs attention"
    else:
        heading += ", no bytecode in them needs attention"
    if unreadable:
        heading += f"; {len(unreadable)} could not be read in full"
    out = [heading]
    for archive in archives:
        if quiet and not (archive.findings or archive.incomplete):
            continue
        out.append(
            f"  {paint(show_path(archive.path, cwd), 'bold', color)}: {_summary(archive, color)}"
        )
        if not quiet:
            out += [_entry_line(archive, entry, verbose, color) for entry in archive.entries]
    return "\n".join(out) + "\n"


def _summary(archive: Archive, color: bool) -> str:
    entries = archive.entries
    text: str = archive.kind
    if entries:
        total = sum(e.size for e in entries)
        text += f", {counted(len(entries), 'bytecode file')} ({size(total)})"
        if archive.kind in (WHEEL, SDIST):
            text += ": " + paint("leaked into the distribution", "red", color)
            text += " (build from a clean tree, or exclude __pycache__ and *.py[co])"
        else:
            used = sum(1 for e in entries if e.loads)
            text += f": {used} used by zipimport, {len(entries) - used} not"
            if archive.findings:
                text += "; " + paint(f"{len(archive.findings)} need attention", "red", color)
    elif archive.error is None:
        text += ", " + paint("no bytecode", "green", color)
    if archive.error is not None:
        text += "; " + paint(f"unreadable: {archive.error}", "red", color)
    return text


def _entry_line(archive: Archive, entry: Entry, verbose: bool, color: bool) -> str:
    label = "stale, LOADED" if entry.status == "stale" and entry.loads else entry.status
    style: Style | None = None
    if entry.finding or entry.status == "unreadable":
        style = "red"
    elif entry.status == UNKNOWN:
        style = "yellow"
    elif entry.status == FRESH:
        style = "green"
    shown = paint(f"{label:<14}", style, color) if style else f"{label:<14}"
    facts = [entry.tag or (name_of_python(entry.python) if entry.python else "")]
    if verbose:
        facts += [
            f"magic {entry.magic}" if entry.magic is not None else "",
            entry.invalidation or "",
            size(entry.size),
        ]
    detail = ", ".join(f for f in facts if f)
    detail = f" [{detail}]" if detail else ""
    return f"    {shown}{_printable(entry.name)}{detail}: {entry.reason}"


def _printable(name: str) -> str:
    """A member name on one line: archives can hold any bytes in a name."""
    return name if name.isprintable() else name.encode("unicode_escape").decode("ascii")


def archives_json(archives: Sequence[Archive]) -> list[dict[str, Any]]:
    """The audit JSON's ``"archives"`` list."""
    return [
        {
            "path": archive.path,
            "kind": archive.kind,
            "error": archive.error,
            "bytecode": {
                "files": len(archive.entries),
                "bytes": sum(e.size for e in archive.entries),
            },
            "findings": len(archive.findings),
            "entries": [dict(entry._asdict(), finding=entry.finding) for entry in archive.entries],
        }
        for archive in archives
    ]
