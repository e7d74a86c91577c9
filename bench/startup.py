"""Section "startup": what a run costs before it does any work.

- ``pycache-tool audit EMPTY`` (an empty temporary directory, outside any repository, so no
  ignore file is in play): start-up, argument parsing, the settings merge and a report of
  nothing; what a pre-commit hook pays on every commit before it reads a file;
- ``python -c "import typer"`` in the same venv: the CLI library the design keeps, the least
  any typer command can cost;
- ``python -c pass``, for reference: the interpreter alone.

Each command takes tens of milliseconds, so the section runs ten times the rounds of the
others. The benchmark installs the tool as users get it, a regular (not editable) install:
an editable install's import finder costs ~20 ms in ``site``, in both commands alike.
"""

from __future__ import annotations

import atexit
import os
import tempfile

from harness import Check, Context, Measure, Section, section


@section("startup")
def startup(ctx: Context) -> Section:
    empty = tempfile.mkdtemp(prefix="pycache-tool-bench-empty-")
    atexit.register(os.rmdir, empty)

    def measure(key: str, label: str, *argv: str) -> Measure:
        return Measure(key, label, argv, env=ctx.env, cwd=ctx.bench_dir)

    return Section(
        name="startup",
        title="start-up: audit of an empty directory vs importing typer",
        measures=[
            measure("audit", "pycache-tool audit EMPTY", ctx.tool, "audit", empty),
            measure("typer", 'python -c "import typer"', ctx.python, "-c", "import typer"),
            measure("pass", "(reference) python -c pass", ctx.python, "-c", "pass"),
        ],
        checks=[
            Check(
                "import typer / audit EMPTY",
                "typer",
                "audit",
                round(1 / 1.15, 2),
                at_most=False,
                row="start-up: import typer / audit EMPTY (tool <= 1.15x typer)",
            ),
        ],
        notes=[f"EMPTY: {empty}; the tool and typer from the venv of {ctx.python}"],
        repeat_factor=10,
    )
