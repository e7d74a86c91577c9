"""Turn doctor's diagnoses into text or JSON. Returns strings; the CLI writes them."""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from typing import Any

from pycache_tool.doctor import Diagnosis, Finding, Location, Settings
from pycache_tool.reports.common import SCHEMA, counted, size
from pycache_tool.reports.style import paint

_IMPLEMENTATIONS = {"cpython": "CPython", "pypy": "PyPy"}


def doctor_text(
    diagnoses: Sequence[Diagnosis],
    *,
    quiet: bool = False,
    verbose: bool = False,
    color: bool = False,
) -> str:
    """One block per interpreter: settings, locations, then warnings and notes with their fixes.
    ``quiet``: only the warnings (and what could not be read), each naming its interpreter;
    ``verbose``: counts by optimization level and invalidation mode, and where caches go."""
    blocks = []
    for diagnosis in diagnoses:
        lines = _unreadable(diagnosis, color)
        if quiet:
            name = diagnosis.settings.interpreter.name
            for finding in diagnosis.warnings:
                lines += _finding(finding, diagnosis.settings, color, f"{name}: ")
        else:
            lines = [
                *_settings(diagnosis.settings, color),
                "",
                *_locations(diagnosis.locations, diagnosis.settings, verbose, color),
                *lines,
                "",
            ]
            for finding in diagnosis.findings:
                lines += _finding(finding, diagnosis.settings, color, "")
            if not diagnosis.warnings:
                lines.append(paint("no warnings", "green", color))
            if verbose:
                lines.append(f"({diagnosis.seconds:.2f} s)")
        if lines:
            blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def _settings(settings: Settings, color: bool) -> list[str]:
    target = settings.interpreter
    command = shlex.join(settings.command)
    where = command if settings.executable == command else f"{command} ({settings.executable})"
    implementation = _IMPLEMENTATIONS.get(target.implementation, target.implementation)
    rows = [
        ("implementation", f"{implementation} {settings.full_version}"),
        ("cache tag", str(target.tag)),
        ("magic number", str(target.magic)),
        (
            "dont_write_bytecode",
            _yes_no(settings.dont_write_bytecode, settings.dont_write_bytecode_from),
        ),
        ("optimize", _with(str(target.optimize), settings.optimize_from)),
        ("pycache_prefix", _with(_prefix(settings), settings.pycache_prefix_from)),
        (
            "check_hash_based_pycs",
            _with(target.check_hash_based_pycs, settings.check_hash_based_pycs_from),
        ),
        ("SOURCE_DATE_EPOCH", settings.source_date_epoch or "unset"),
    ]
    if settings.ignore_environment:
        rows.append(("environment", "ignored (-E or -I): PYTHON* variables do not count"))
    width = max(len(key) for key, _ in rows)
    head = paint(f"{target.name}: {where}", "bold", color)
    return [head, *(f"  {key:<{width}}  {value}" for key, value in rows)]


def _prefix(settings: Settings) -> str:
    raw = settings.interpreter.pycache_prefix
    if raw is None or settings.prefix is None:
        return "none"
    return settings.prefix if raw == settings.prefix else f"{raw!r}, here {settings.prefix}"


def _yes_no(value: bool, origin: str | None) -> str:
    return _with("yes" if value else "no", origin)


def _with(value: str, origin: str | None) -> str:
    return f"{value} (from {origin})" if origin else value


def _locations(
    locations: Sequence[Location], settings: Settings, verbose: bool, color: bool
) -> list[str]:
    if not locations:
        return ["  no standard library or site-packages directory to survey"]
    rows = [("location", "writable", "sources", "fresh", "coverage", "size", "path")]
    rows += [
        (
            loc.kind,
            "yes" if loc.writable else f"no ({loc.not_writable_because})",
            str(loc.sources),
            str(loc.fresh),
            f"{100 * loc.fresh // loc.sources}%" if loc.sources else "-",
            size(loc.bytes),
            loc.path,
        )
        for loc in locations
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            cell.ljust(width) if i < 2 or i == 6 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths))
        ]
        if n and color:  # colour after padding: escape codes have no width
            loc = locations[n - 1]
            cells[1] = paint(cells[1], "green" if loc.writable else "red", True)
            cells[4] = paint(cells[4], "yellow" if loc.low else "green", True)
        lines.append(("  " + "  ".join(cells)).rstrip())
        if n and verbose:
            lines += _detail(locations[n - 1], settings)
    return lines


def _detail(loc: Location, settings: Settings) -> list[str]:
    out = []
    if loc.writes_to != loc.path:
        out.append(f"      caches go to {loc.writes_to}")
    for level, counts in sorted(loc.levels.items()):
        runs = ", the level it runs at" if level == settings.interpreter.optimize else ""
        modes = "".join(f", {mode} {n}" for mode, n in sorted(counts.modes.items()))
        out.append(
            f"      level {level}{runs}: {counts.files} files ({size(counts.bytes)}),"
            f" {counts.fresh} fresh{modes}"
        )
    if loc.stale_loaded:
        out.append(f"      stale but loaded: {loc.stale_loaded}")
    if loc.in_tree_files:
        out.append(
            f"      in __pycache__, never read with the prefix: {loc.in_tree_files} files,"
            f" {size(loc.in_tree_bytes)}"
        )
    return out


def _unreadable(diagnosis: Diagnosis, color: bool) -> list[str]:
    return [
        paint(f"  unreadable {record.path}: {record.reason}", "red", color)
        for loc in diagnosis.locations
        for record in loc.unreadable
    ]


def _finding(finding: Finding, settings: Settings, color: bool, lead: str) -> list[str]:
    label = paint(
        f"{finding.severity}:", "yellow" if finding.severity == "warning" else "bold", color
    )
    return [f"{lead}{label} {message(finding, settings)}", f"  fix: {finding.fix}"]


def doctor_json(diagnoses: Sequence[Diagnosis]) -> str:
    document: dict[str, Any] = {
        "schema": SCHEMA,
        "command": "doctor",
        "interpreters": [_interpreter(d) for d in diagnoses],
        "summary": {
            "warnings": sum(len(d.warnings) for d in diagnoses),
            "notes": sum(len(d.findings) - len(d.warnings) for d in diagnoses),
            "unreadable": sum(len(loc.unreadable) for d in diagnoses for loc in d.locations),
        },
    }
    return json.dumps(document, indent=1) + "\n"


def _interpreter(diagnosis: Diagnosis) -> dict[str, Any]:
    settings = diagnosis.settings
    target = settings.interpreter
    return {
        "name": target.name,
        "command": list(settings.command),
        "executable": settings.executable,
        "implementation": target.implementation,
        "version": target.version,
        "full_version": settings.full_version,
        "python": target.python,
        "tag": target.tag,
        "magic": target.magic,
        "settings": {
            "dont_write_bytecode": {
                "value": settings.dont_write_bytecode,
                "from": settings.dont_write_bytecode_from,
            },
            "optimize": {"value": target.optimize, "from": settings.optimize_from},
            "pycache_prefix": {
                "value": target.pycache_prefix,
                "resolved": settings.prefix,
                "from": settings.pycache_prefix_from,
            },
            "check_hash_based_pycs": {
                "value": target.check_hash_based_pycs,
                "from": settings.check_hash_based_pycs_from,
            },
            "source_date_epoch": settings.source_date_epoch,
            "ignore_environment": settings.ignore_environment,
        },
        "locations": [_location(loc) for loc in diagnosis.locations],
        "findings": [
            {
                "code": f.code,
                "severity": f.severity,
                "location": f.location.path if f.location else None,
                "message": message(f, settings),
                "fix": f.fix,
            }
            for f in diagnosis.findings
        ],
        "seconds": round(diagnosis.seconds, 3),
    }


def _location(loc: Location) -> dict[str, Any]:
    return {
        "kind": loc.kind,
        "path": loc.path,
        "writes_to": loc.writes_to,
        "writable": loc.writable,
        "not_writable_because": loc.not_writable_because,
        "sources": loc.sources,
        "fresh": loc.fresh,
        "files": loc.files,
        "bytes": loc.bytes,
        "levels": {
            str(level): {
                "files": c.files,
                "fresh": c.fresh,
                "bytes": c.bytes,
                "invalidation": dict(sorted(c.modes.items())),
            }
            for level, c in sorted(loc.levels.items())
        },
        "stale_loaded": loc.stale_loaded,
        "in_tree_files": loc.in_tree_files,
        "in_tree_bytes": loc.in_tree_bytes,
        "unreadable": [{"path": r.path, "reason": r.reason} for r in loc.unreadable],
    }


def message(finding: Finding, settings: Settings) -> str:
    """What a finding says, in words: the same in the text report and the JSON."""
    target = settings.interpreter
    name = target.name
    loc = finding.location
    if loc is None:
        return _interpreter_message(finding, settings)
    where = f"{loc.kind} ({loc.path})"
    if finding.code == "writing-off":
        return (
            f"bytecode writing is off ({settings.dont_write_bytecode_from}) and only {loc.fresh}"
            f" of {loc.sources} sources in {where} have a cache {name} loads: every start"
            " compiles them again"
        )
    if finding.code == "not-writable":
        return (
            (
                f"{where} is not writable"
                if loc.writes_to == loc.path
                else f"the caches of {where} go to {loc.writes_to}, which is not writable"
            )
            + f" for this user ({loc.not_writable_because}) and only {loc.fresh} of"
            f" {loc.sources} sources have a cache {name} loads: every start compiles"
            " them again and cannot keep the result (compile them where they can be"
            " written: as the owner, or in the image build)"
        )
    if finding.code == "other-level":
        assert finding.other_level is not None
        other = finding.other_level
        return (
            f"{loc.levels[other].fresh} of {loc.sources} sources in {where} have a"
            f" cache for {_level(other)}, but {name} runs at {_level(target.optimize)}"
            f" and never reads them ({loc.fresh} have one for its level)"
        )
    if finding.code == "stale-loaded":
        how = (
            "with --check-hash-based-pycs never it verifies no hash-based pyc"
            if target.check_hash_based_pycs == "never"
            else "it never verifies unchecked-hash pycs"
        )
        one = loc.stale_loaded == 1
        return (
            f"{counted(loc.stale_loaded, 'cache')} in {where} {'is' if one else 'are'} stale,"
            f" but {name} loads {'it' if one else 'them'} anyway: {how}, so old code runs"
        )
    assert finding.code == "prefix-dead-weight", finding.code
    return (
        f"a pycache_prefix is set ({settings.prefix}), so {name} never reads the"
        f" {loc.in_tree_files} caches ({size(loc.in_tree_bytes)}) in __pycache__"
        f" directories of {where}: dead weight for it, though a process that runs it without"
        " the prefix still reads them (or unset the prefix to use them)"
    )


def _interpreter_message(finding: Finding, settings: Settings) -> str:
    """What a finding about the interpreter as a whole (no location) says."""
    target = settings.interpreter
    if finding.code == "hash-checks-off":
        return (
            f"{target.name} runs with --check-hash-based-pycs never: it does not verify its"
            f" checked-hash pycs ({finding.checked} here), so an edited source runs its old code"
        )
    if finding.code == "relative-prefix":
        return (
            f"the pycache_prefix {target.pycache_prefix!r} is relative: every working directory"
            " gets its own cache tree, and caches written elsewhere are not found"
        )
    assert finding.code == "source-date-epoch", finding.code
    return (
        f"SOURCE_DATE_EPOCH is set ({settings.source_date_epoch}): py_compile,"
        " compileall, pip and pycache-tool compile write checked-hash pycs unless told"
        " otherwise; each import then hashes the source instead of checking its mtime"
    )


def _level(level: int) -> str:
    return {0: "level 0 (no -O)", 1: "level 1 (-O)", 2: "level 2 (-OO)"}.get(
        level, f"level {level}"
    )
