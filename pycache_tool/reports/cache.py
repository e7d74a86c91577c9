"""Turn ``cache info`` and ``cache prune`` results into text or JSON. Returns strings."""

from __future__ import annotations

import json
import time
from typing import Any

from pycache_tool.compile.cachedir import Info, Pruned
from pycache_tool.reports.common import SCHEMA, counted, size


def _when(t: float | None) -> str:
    return "-" if t is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def _entries(n: int) -> str:
    return counted(n, "entry", "entries")


def _what(identity: dict[str, Any]) -> str:
    """``CPython 3.12.1`` from what a worker wrote beside the entries."""
    implementation = str(identity.get("implementation", "?"))
    version = str(identity.get("version", "?")).split()[0] if identity.get("version") else "?"
    return f"{'PyPy' if implementation == 'pypy' else 'CPython'} {version}"


def info_text(info: Info) -> str:
    out = [
        f"compile cache {info.directory}",
        f"  {_entries(info.entries)}, {size(info.size)} ({size(info.disk)} on disk);"
        f" used last {_when(info.newest)}, least recently {_when(info.oldest)}",
    ]
    out += [
        f"  {part.name}: {_what(part.identity)}, {_entries(part.entries)}, {size(part.size)}"
        for part in info.interpreters
    ]
    if info.temp_files:
        out.append(
            f"  {counted(info.temp_files, 'temp file')}: being written now, or left by a"
            " killed compile (prune removes those after an hour)"
        )
    if info.runs:
        out.append("last runs, newest first:")
    for run in info.runs[:5]:
        parts = [
            f"{t.get('target')}: {t.get('from_cache', 0)} from the cache,"
            f" {t.get('compiled', 0)} compiled"
            + (f", {t.get('damaged')} damaged" if t.get("damaged") else "")
            for t in run.get("targets", [])
            if isinstance(t, dict)
        ]
        out.append(f"  {_when(run.get('time'))}  " + ("; ".join(parts) or "nothing to write"))
    return "\n".join(out) + "\n"


def info_json(info: Info) -> str:
    document = {
        "schema": SCHEMA,
        "command": "cache info",
        "directory": info.directory,
        "entries": info.entries,
        "size": info.size,
        "disk": info.disk,
        "temp_files": info.temp_files,
        "oldest": info.oldest,
        "newest": info.newest,
        "interpreters": [
            {"name": p.name, "identity": p.identity, "entries": p.entries, "size": p.size}
            for p in info.interpreters
        ],
        "runs": info.runs,
    }
    return json.dumps(document, indent=1) + "\n"


def prune_text(pruned: Pruned) -> str:
    out = [
        f"compile cache {pruned.directory}: removed {_entries(pruned.removed)}"
        f" ({size(pruned.freed)}); {_entries(pruned.entries)} ({size(pruned.size)}) left,"
        f" at most {size(pruned.max_size)}"
    ]
    if pruned.debris:
        out.append(f"  removed {counted(pruned.debris, 'temp file')} of killed compiles")
    out += [f"  cannot remove {error}" for error in pruned.errors]
    return "\n".join(out) + "\n"


def prune_json(pruned: Pruned) -> str:
    document = {
        "schema": SCHEMA,
        "command": "cache prune",
        "directory": pruned.directory,
        "max_size": pruned.max_size,
        "removed": pruned.removed,
        "freed": pruned.freed,
        "entries": pruned.entries,
        "size": pruned.size,
        "temp_files_removed": pruned.debris,
        "errors": pruned.errors,
    }
    return json.dumps(document, indent=1) + "\n"
