"""Turn a compile result into text or JSON. Returns strings; the CLI writes them."""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable
from typing import Any, TypeVar

from pycache_tool.compile.results import (
    KNOWN_BAD_REASON,
    CompileError,
    CompileResult,
    CompileWarning,
    TargetResult,
    need_reason,
)
from pycache_tool.reports.common import SCHEMA, counted, show_path, size
from pycache_tool.reports.style import paint


def error_lines(result: CompileResult, cwd: str) -> list[str]:
    """``path:line:col: message``, once per source and message whatever the targets and levels
    (the same syntax error is found by every level); the targets are named when they differ.
    A position Python does not know (an encoding declaration's error) is left out."""
    found = _once(
        (e.target, (e.source, e.line, e.column, e.message))
        for e in sorted(result.errors, key=_order)
    )
    lines = []
    for (source, line, column, message), names in found.items():
        where = show_path(source, cwd)
        if line is not None:
            where += f":{line}" + (f":{column}" if column is not None else "")
        lines.append(f"{where}: {message}{_unless_all(result, names)}")
    return lines


def warning_lines(result: CompileResult, cwd: str) -> list[str]:
    """``path:line: SyntaxWarning: message``, the first line of what Python's warnings module
    shows (and so compileall), once per source, line and message whatever the levels."""
    found = _once(
        (w.target, (w.source, w.line, w.category, w.message))
        for w in sorted(result.warnings, key=_warning_order)
    )
    return [
        show_path(source, cwd)
        + (f":{line}" if line is not None else "")
        + f": {category}: {message}{_unless_all(result, names)}"
        for (source, line, category, message), names in found.items()
    ]


_Key = TypeVar("_Key", bound=Hashable)


def _once(items: Iterable[tuple[str, _Key]]) -> dict[_Key, list[str]]:
    """Each key once, in order, with the targets it came from."""
    found: dict[_Key, list[str]] = {}
    for target, key in items:
        names = found.setdefault(key, [])
        if target not in names:
            names.append(target)
    return found


def _unless_all(result: CompileResult, names: list[str]) -> str:
    every = [t.target.name for t in result.targets]
    return f" [{', '.join(names)}]" if len(every) > 1 and names != every else ""


def _order(error: CompileError) -> tuple[str, int, int, str, int]:
    return (error.source, error.line or 0, error.column or 0, error.target, error.level)


def _warning_order(warning: CompileWarning) -> tuple[str, int, str, int]:
    return (warning.source, warning.line or 0, warning.target, warning.level)


def _levels(levels: tuple[int, ...]) -> str:
    return ("level " if len(levels) == 1 else "levels ") + ", ".join(map(str, levels))


def compile_text(
    result: CompileResult,
    cwd: str,
    *,
    quiet: bool = False,
    verbose: bool = False,
    color: bool = False,
) -> str:
    """Errors and one summary line per target. ``quiet`` leaves out a run's summaries, and a
    dry run's plan (its summaries are all it has to say); ``verbose`` adds every cache
    written, and the standard library's files left out."""
    out: list[str] = []
    if result.dry_run:
        for target in result.targets:
            out.append(_summary(target, result))
            if quiet:
                continue
            for need in sorted(target.planned, key=lambda n: (n.source, n.level)):
                status = need.record.status.value
                out.append(
                    f"  {status:<11}{show_path(need.cache, cwd)}:"
                    f" {need_reason(need, result.mode, result.force)}"
                    + ("; in the compile cache" if need.cache in target.cached else "")
                )
    else:
        out += [paint(line, "red", color) for line in error_lines(result, cwd)]
        if verbose:
            out += _written(result, cwd)
        if not quiet:
            out += [_summary(target, result) for target in result.targets]
            pruned = result.cache.pruned if result.cache is not None else None
            if pruned is not None:
                out.append(
                    f"compile cache: pruned {counted(pruned.removed, 'entry', 'entries')}"
                    f" ({size(pruned.freed)}), {counted(pruned.entries, 'entry', 'entries')}"
                    f" ({size(pruned.size)}) left"
                )
    if verbose:
        for target in result.targets:
            for source in _left_out_sources(target):
                out.append(f"  left out   {show_path(source, cwd)}: {KNOWN_BAD_REASON}")
    for target in result.targets:
        for need in sorted(target.skipped, key=lambda n: (n.source, n.level)):
            out.append(f"  skipped    {show_path(need.cache, cwd)}: {need.blocked}")
    for target in result.targets:
        for record in target.unreadable:
            line = f"  unreadable {show_path(record.path, cwd)}: {record.reason}"
            out.append(paint(line, "red", color))
    return "\n".join(out) + "\n" if out else ""


def _left_out_sources(target: TargetResult) -> list[str]:
    return sorted({need.source for need in target.left_out})


def _written(result: CompileResult, cwd: str) -> list[str]:
    """``wrote CACHE [target, level N]`` for every planned cache that did not fail."""
    failed = {(e.target, e.source, e.level) for e in result.errors}
    failed |= {(n.target, n.source, n.level) for t in result.targets for n in t.skipped}
    return [
        f"wrote {show_path(need.cache, cwd)} [{need.target}, level {need.level}]"
        for target in result.targets
        for need in sorted(target.planned, key=lambda n: (n.source, n.level))
        if (need.target, need.source, need.level) not in failed
    ]


def _summary(target: TargetResult, result: CompileResult) -> str:
    """One line per target, the same in a dry run and a real one: of the caches the target
    needs (``sources``), how many were (or would be) compiled, were already fresh, failed
    or were skipped; these add up to the whole. With a compile cache, what is written comes
    from the cache or is compiled."""
    name = target.target.name
    force = ", --force" if result.force else ""
    how = f"({_levels(target.levels)}, {result.mode}{force})"
    done = len(target.planned) if result.dry_run else target.compiled
    if not target.planned:
        line = (
            f"{name}: nothing to compile, {target.fresh} of {target.sources} caches"
            f" already fresh {how}"
        )
    elif result.cache is not None:
        verb = "would write" if result.dry_run else "wrote"
        hits = len(target.cached) if result.dry_run else target.from_cache
        line = (
            f"{name}: {verb} {done} of {target.sources} caches {how}:"
            f" {hits} from the compile cache, {done - hits} compiled"
        )
        if target.damaged:
            line += f" ({counted(target.damaged, 'damaged entry', 'damaged entries')} replaced)"
        if target.fresh:
            line += f", {target.fresh} already fresh"
    else:
        verb = "would compile" if result.dry_run else "compiled"
        line = f"{name}: {verb} {done} of {target.sources} caches {how}"
        if target.fresh:
            line += f", {target.fresh} already fresh"
    if target.errors:
        line += f", {len(target.errors)} failed"
    if target.skipped:
        line += f", {len(target.skipped)} skipped"
    left_out = _left_out_sources(target)
    if left_out:
        line += f"; {counted(len(left_out), 'standard library file')} broken on purpose left out"
    if result.dry_run or not target.planned:
        return line
    workers = "worker" if target.workers == 1 else "workers"
    return line + f"; {target.workers} {workers}, {target.seconds:.2f} s"


def compile_json(result: CompileResult) -> str:
    targets: list[dict[str, Any]] = []
    for target in result.targets:
        interp = target.target
        targets.append(
            {
                "name": interp.name,
                "tag": interp.tag,
                "python": interp.python,
                "magic": interp.magic,
                "executable": interp.executable,
                "roots": target.roots,
                "levels": list(target.levels),
                "sources": target.sources,
                "fresh": target.fresh,
                "planned": len(target.planned),
                "compiled": target.compiled,
                "from_cache": target.from_cache,
                "cache_damaged": target.damaged,
                "failed": len(target.errors),
                "skipped": len(target.skipped),
                "left_out": len(_left_out_sources(target)),
                "workers": target.workers,
                "seconds": round(target.seconds, 3),
            }
        )
    document: dict[str, Any] = {
        "schema": SCHEMA,
        "command": "compile",
        "invalidation_mode": result.mode,
        "dry_run": result.dry_run,
        "force": result.force,
        "targets": targets,
        "planned": [
            {
                "source": need.source,
                "cache": need.cache,
                "target": need.target,
                "optimization": need.level,
                "status": need.record.status.value,
                "reason": need_reason(need, result.mode, result.force),
                "cached": need.cache in target.cached,
            }
            for target in result.targets
            for need in sorted(target.planned, key=lambda n: (n.source, n.level))
        ]
        if result.dry_run
        else None,
        "errors": [
            {
                "source": e.source,
                "cache": e.cache,
                "target": e.target,
                "optimization": e.level,
                "kind": e.kind,
                "line": e.line,
                "column": e.column,
                "message": e.message,
            }
            for e in sorted(result.errors, key=_order)
        ],
        "warnings": [
            {
                "source": w.source,
                "target": w.target,
                "optimization": w.level,
                "category": w.category,
                "line": w.line,
                "message": w.message,
            }
            for w in sorted(result.warnings, key=_warning_order)
        ],
        "skipped": [
            {
                "source": need.source,
                "cache": need.cache,
                "target": need.target,
                "optimization": need.level,
                "reason": need.blocked,
            }
            for target in result.targets
            for need in sorted(target.skipped, key=lambda n: (n.source, n.level))
        ],
        "left_out": [
            {"source": source, "target": target.target.name, "reason": KNOWN_BAD_REASON}
            for target in result.targets
            for source in _left_out_sources(target)
        ],
        "unreadable": [
            {"path": record.path, "reason": record.reason}
            for target in result.targets
            for record in target.unreadable
        ],
        "cache": _cache_json(result),
        "summary": {
            "sources": sum(t.sources for t in result.targets),
            "fresh": sum(t.fresh for t in result.targets),
            "planned": sum(len(t.planned) for t in result.targets),
            "compiled": sum(t.compiled for t in result.targets),
            "from_cache": sum(t.from_cache for t in result.targets),
            "failed": len(result.errors),
            "skipped": sum(len(t.skipped) for t in result.targets),
        },
    }
    return json.dumps(document, indent=1) + "\n"


def _cache_json(result: CompileResult) -> dict[str, Any] | None:
    use = result.cache
    if use is None:
        return None
    pruned = use.pruned
    return {
        "directory": use.directory,
        "used": use.warning is None,
        "warning": use.warning,
        "pruned": None
        if pruned is None
        else {
            "removed": pruned.removed,
            "freed": pruned.freed,
            "entries": pruned.entries,
            "size": pruned.size,
        },
    }
