"""clean's report: what was (or would be) removed, skipped and failed, as text or JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence

from pycache_tool.clean import Kept, Outcome, Removal
from pycache_tool.reports.common import SCHEMA, counted, show_path, size, untrack_command
from pycache_tool.reports.style import paint
from pycache_tool.scanning.records import Record


def clean_text(
    outcome: Outcome,
    unreadable: Sequence[Record],
    *,
    dry_run: bool,
    quiet: bool,
    cwd: str,
    verbose: bool = False,
    color: bool = False,
    kept: Sequence[Kept] = (),
    interrupted: bool = False,
    ignored: Sequence[str] = (),
) -> str:
    """One line per removal (unless quiet; with why it goes when verbose), what stays and why
    (``kept``, verbose), what was skipped or failed, then the totals. ``interrupted``: the run
    was cut short, and the totals say what it had done by then. ``ignored``: the directories
    the ignore files kept out of the scan, which the totals mention."""
    verb = "would remove" if dry_run else "removed"
    out: list[str] = []
    if not quiet:
        for r in outcome.removed:
            why = f": {r.reason}" if verbose and r.reason else ""
            out.append(f"{verb} {_what(r)} {show_path(r.path, cwd)}{why}")
        keep = "would keep" if dry_run else "kept"
        out += [f"{keep} {k.status:<10} {show_path(k.path, cwd)}: {k.reason}" for k in kept]
    out += [f"skipped {show_path(s.path, cwd)}: {s.reason}" for s in outcome.skipped]
    out += [
        paint(f"failed {show_path(f.path, cwd)}: {f.reason}", "red", color) for f in outcome.failed
    ]
    out += [
        paint(f"unreadable {show_path(r.path, cwd)}: {r.reason}", "red", color) for r in unreadable
    ]
    freed = "would be freed" if dry_run else "freed"
    totals = (
        f"{counted(outcome.files, 'file')} and"
        f" {counted(outcome.directories, 'directory', 'directories')}, {size(outcome.freed)} {freed}"
        + (f"; {len(outcome.failed)} failed" if outcome.failed else "")
    )
    if interrupted:
        done = "checked" if dry_run else "removed"
        out.append(
            f"interrupted: {done} {totals} before it stopped; the rest is as it was"
            " (run it again to finish)"
        )
    else:
        out.append(f"{verb} {totals}")
    if ignored and not quiet:
        out.append(ignored_line(ignored, cwd))
    return "\n".join(out) + "\n"


def ignored_line(ignored: Sequence[str], cwd: str) -> str:
    """The directories the ignore files kept out: clean removes nothing in them."""
    named = ", ".join(show_path(p, cwd) for p in ignored[:3]) + (
        ", ..." if len(ignored) > 3 else ""
    )
    them = "it" if len(ignored) == 1 else "them"
    return (
        f"not looked into: {counted(len(ignored), 'directory', 'directories')} that the ignore"
        f" files (.gitignore, .git/info/exclude) leave out ({named}); --no-ignore includes {them}"
    )


def _what(removal: Removal) -> str:
    return f"{removal.status:<10}" if removal.kind == "file" else f"{removal.status + '/':<10}"


def tracked_warning(tracked: Sequence[str], cwd: str, *, dry_run: bool) -> str:
    """What to tell when clean removes bytecode that git tracks: it shows as deleted in
    ``git status`` until it is untracked."""
    verb = "would remove" if dry_run else "removed"
    return (
        f"pycache-tool: warning: {verb} {counted(len(tracked), 'file')} that git tracks"
        f" (git status shows them as deleted); untrack them, leaving them on disk:"
        f" {untrack_command(tracked, cwd)}\n"
    )


def clean_json(
    outcome: Outcome,
    unreadable: Sequence[Record],
    *,
    dry_run: bool,
    tracked: Sequence[str] = (),
    kept: Sequence[Kept] | None = None,
    interrupted: bool = False,
    ignored: Sequence[str] = (),
) -> str:
    """The JSON report; ``kept`` is listed with ``--verbose`` only (null otherwise)."""
    doc = {
        "schema": SCHEMA,
        "dry_run": dry_run,
        "interrupted": interrupted,
        "removed": [
            {
                "path": r.path,
                "kind": r.kind,
                "status": r.status,
                "category": r.category,
                "size": r.size,
                "freed": r.freed,
                "reason": r.reason,
            }
            for r in outcome.removed
        ],
        "kept": None
        if kept is None
        else [{"path": k.path, "status": k.status, "reason": k.reason} for k in kept],
        "skipped": [{"path": s.path, "reason": s.reason} for s in outcome.skipped],
        "failed": [{"path": f.path, "reason": f.reason} for f in outcome.failed],
        "unreadable": [{"path": r.path, "reason": r.reason} for r in unreadable],
        "tracked": list(tracked),
        "ignored": list(ignored),
        "summary": {
            "files": outcome.files,
            "directories": outcome.directories,
            "bytes": outcome.bytes,
            "freed": outcome.freed,
        },
    }
    return json.dumps(doc, indent=1) + "\n"
