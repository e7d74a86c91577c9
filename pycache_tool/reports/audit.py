"""audit's JSON report: records streamed as they come, the summary at the end. Returns strings;
the CLI writes them. The text report is ``audit_text``: a text run never loads json."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from pycache_tool.bytecode.interpreters import Interpreter
from pycache_tool.reports.common import SCHEMA
from pycache_tool.scanning.coverage import Coverage
from pycache_tool.scanning.records import Record, Status
from pycache_tool.scanning.summary import Summary

_encode = json.encoder.encode_basestring_ascii  # what json.dumps uses for str by default
_MIDDLES: dict[tuple[Any, ...], str] = {}


def record_json_text(record: Record) -> str:
    """The record as a JSON object, as ``json.dumps`` would write it (every field but
    ``stamp``), built by hand: it runs once per cache file.

    The fields that repeat across a tree (tag, python, magic, ...) are encoded once per
    combination; only the path, source and size are encoded for every record.
    """
    key = (
        record.tag,
        record.python,
        record.magic,
        record.optimization,
        record.invalidation,
        record.loads,
        record.target,
    )
    middle = _MIDDLES.get(key)
    if middle is None:
        middle = _MIDDLES[key] = json.dumps(
            {
                "tag": record.tag,
                "python": record.python,
                "magic": record.magic,
                "optimization": record.optimization,
                "invalidation": record.invalidation,
                "loads": record.loads,
                "target": record.target,
            }
        )[1:-1]
        if len(_MIDDLES) > 4096:  # bounded: a tree of odd caches can hold many combinations
            _MIDDLES.clear()
    source = "null" if record.source is None else _encode(record.source)
    deep = "null" if record.deep is None else _encode(record.deep)
    return (
        f'{{"path": {_encode(record.path)}, "status": "{record.status.value}", "source": {source}, '
        f'{middle}, "size": {record.size}, "reason": {_encode(record.reason)}, "deep": {deep}}}'
    )


def json_report(
    records: Iterable[Record],
    summary: Summary,
    *,
    paths: Sequence[str],
    targets: Sequence[Interpreter],
    coverage_fn: Callable[[], Sequence[Coverage]] | None,
    tracked_fn: Callable[[], list[str]],
    archives: Sequence[dict[str, Any]] = (),
    unchecked: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """Stream a JSON document: records are written as they come, the summary at the end.

    The two callables run after the last record: coverage is complete only then.
    ``archives``: the wheels, sdists and zips that were named (see archive_report).
    ``unchecked``: with ``--deep`` (complete after the last record), the Pythons whose caches
    could not be checked, and why; None without it.
    """
    head = {"schema": SCHEMA, "paths": list(paths), "targets": [_target(t) for t in targets]}
    yield json.dumps(head)[:-1] + ', "records": ['
    first = True
    for record in records:
        summary.add(record)
        yield ("\n  " if first else ",\n  ") + record_json_text(record)
        first = False
    tail: dict[str, Any] = {
        "summary": {
            "files": summary.cache_files,
            "bytes": summary.cache_bytes,
            "by_status": {
                s.value: {"files": summary.files[s], "bytes": summary.bytes[s]}
                for s in Status
                if summary.files[s]
            },
            "by_interpreter": {
                key: {
                    "files": summary.interpreter_files[key],
                    "bytes": summary.interpreter_bytes[key],
                    "target": key in summary.targets,
                }
                for key in sorted(summary.interpreter_files)
            },
            "directories": {s.value: n for s, n in sorted(summary.directories.items())},
            "missing": summary.missing,
            "needs_attention": summary.attention_count,
            "deep": None
            if unchecked is None
            else {
                "ok": summary.deep["ok"],
                "damaged": summary.deep["damaged"],
                "not_checked": summary.deep["not checked"],
                "unchecked": dict(sorted(unchecked.items())),
            },
        },
        "coverage": None
        if coverage_fn is None
        else [{"target": c.target, "sources": c.sources, "fresh": c.fresh} for c in coverage_fn()],
        "tracked": tracked_fn(),
        "archives": list(archives),
    }
    yield "\n], " + json.dumps(tail)[1:] + "\n"


def _target(target: Interpreter) -> dict[str, Any]:
    return {
        "name": target.name,
        "tag": target.tag,
        "python": target.python,
        "magic": target.magic,
        "optimize": target.optimize,
        "check_hash_based_pycs": target.check_hash_based_pycs,
        "executable": target.executable,
    }
