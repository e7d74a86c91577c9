"""Sections "stdlib" and "fresh": "is every cache fresh?", against the floor and compileall.

"stdlib": copies of the target's own standard library, every source with a fresh cache (the
sources it cannot compile are left out), one copy and four:

- ``pycache-tool audit`` (text) of ``copy-1`` and of all four copies;
- ``python -m compileall -q -j1`` of the same: what a user runs instead, a no-op here;
- ``pycache-tool compile`` of the four copies: a no-op too;
- the floor (``floor.py``) of the four copies, for reference.

"fresh", the large mixed tree (several interpreters' caches side by side):

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


@section("stdlib")
def stdlib(ctx: Context) -> Section:
    tree = ctx.copies
    one = os.path.join(tree, "copy-1")

    def measure(key: str, label: str, *argv: str, ok: frozenset[int] = frozenset({0})) -> Measure:
        return Measure(key, label, argv, ok, env=ctx.env, cwd=ctx.bench_dir)

    compileall = (ctx.python, "-m", "compileall", "-q", "-j1")
    pycs_one, pycs_all = _count_pycs(one), _count_pycs(tree)
    return Section(
        name="stdlib",
        title="every cache fresh: audit and compile vs compileall -j1, one and four stdlib copies",
        measures=[
            measure("audit-1", "pycache-tool audit, one copy", ctx.tool, "audit", one),
            measure("compileall-1", "compileall -q -j1, one copy", *compileall, one),
            measure("audit-4", "pycache-tool audit, four copies", ctx.tool, "audit", tree),
            measure("compileall-4", "compileall -q -j1, four copies", *compileall, tree),
            measure("compile-4", "pycache-tool compile, four copies", ctx.tool, "compile", tree),
            measure(
                "floor-4",
                "(reference) floor, four copies",
                ctx.python,
                os.path.join(ctx.bench_dir, "floor.py"),
                tree,
            ),
        ],
        checks=[
            Check(
                "compileall -j1 / audit, one copy",
                "compileall-1",
                "audit-1",
                1.3,
                at_most=False,
                row=f"fresh? compileall -j1 / audit, one stdlib copy ({pycs_one} pycs)",
            ),
            Check(
                "compileall -j1 / audit, four copies",
                "compileall-4",
                "audit-4",
                2.0,
                at_most=False,
                row=f"fresh? compileall -j1 / audit, four stdlib copies ({pycs_all} pycs)",
            ),
            Check(
                "compileall -j1 / compile, four copies",
                "compileall-4",
                "compile-4",
                1.0,
                at_most=False,
                row="no-op: compileall -j1 / compile, four stdlib copies",
            ),
            Check("audit / floor, four copies", "audit-4", "floor-4", 1.5, at_most=True),
        ],
        notes=[
            f"one copy: {one} ({pycs_one} pycs); four copies: {tree} ({pycs_all} pycs)",
            f"compileall and the floor run with {ctx.python}",
        ],
        per_item=(pycs_all, "pyc"),
        item_counts={"audit-1": pycs_one, "compileall-1": pycs_one},
    )


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
