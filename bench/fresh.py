"""Section "fresh": audit a fully compiled tree, against the floor and compileall's check.

- ``pycache-tool audit TREE`` (json and text), the real console script, start-up included;
- the floor (``floor.py``): walk, read every cache header, stat every source;
- ``python -m compileall -q -j1`` and ``-j0`` over the same tree, run by the tool's
  interpreter (its default target): compileall's "is everything fresh?" pass, which is what
  a user would run instead. It stats every source and reads the target's cache header; the
  files its interpreter cannot compile (newer syntax, broken test files) it retries every run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from harness import Check, Context, Measure, Section, section

# compileall exits 1 when some file fails to compile, as some in every stdlib copy do.
_COMPILE_OK = frozenset({0, 1})


@section("fresh")
def fresh(ctx: Context) -> Section:
    tree = ctx.tree

    def measure(key: str, label: str, *argv: str, ok: frozenset[int] = frozenset({0})) -> Measure:
        return Measure(key, label, argv, ok, env=ctx.env, cwd=ctx.bench_dir)

    audit = (ctx.tool, "audit", tree)
    compileall = (ctx.python, "-m", "compileall", "-q")
    floor = (ctx.python, os.path.join(ctx.bench_dir, "floor.py"), tree)
    measures = [
        measure("audit-json", "pycache-tool audit --format json", *audit, "--format", "json"),
        measure("audit-text", "pycache-tool audit (text)", *audit),
        measure("floor", "floor: scandir + read 16 B + stat source", *floor),
        measure(
            "compileall-j1", "python -m compileall -q -j1", *compileall, "-j1", tree, ok=_COMPILE_OK
        ),
        measure(
            "compileall-j0", "python -m compileall -q -j0", *compileall, "-j0", tree, ok=_COMPILE_OK
        ),
    ]
    checks = []
    for fmt in ("json", "text"):
        key = f"audit-{fmt}"
        checks += [
            Check(f"audit {fmt} / floor", key, "floor", 1.5, at_most=True),
            Check(f"compileall -j1 / audit {fmt}", "compileall-j1", key, 2.0, at_most=False),
            Check(f"compileall -j0 / audit {fmt}", "compileall-j0", key, 8.0, at_most=False),
        ]
    return Section(
        name="fresh",
        title="is every cache fresh? audit vs the floor vs compileall",
        measures=measures,
        checks=checks,
        notes=[f"compileall and the floor run with {ctx.python}"],
        per_item=(_count_pycs(tree), "pyc"),
        inspect=_inspect,
    )


def _count_pycs(tree: str) -> int:
    return sum(
        sum(1 for name in files if name.endswith(".pyc"))
        for directory, _, files in os.walk(tree)
        if os.path.basename(directory) == "__pycache__"
    )


def _inspect(outputs: Mapping[str, bytes]) -> list[str]:
    """What the audit and the floor saw, from the warm-up runs: the counts must agree."""
    lines = []
    try:
        summary = json.loads(outputs["audit-json"])["summary"]
        statuses = ", ".join(
            f"{status} {entry['files']}" for status, entry in summary["by_status"].items()
        )
        lines.append(f"audit saw {summary['files']} cache files: {statuses}")
    except (KeyError, ValueError, TypeError) as exc:
        lines.append(f"audit json output unreadable: {exc!r}")
    lines.append("floor saw " + outputs["floor"].decode().strip())
    compile_lines = outputs["compileall-j1"].decode(errors="replace").splitlines()
    retried = sum(1 for line in compile_lines if line.startswith("*** Error compiling"))
    lines.append(f"compileall retries {retried} sources it cannot compile, every run")
    return lines
