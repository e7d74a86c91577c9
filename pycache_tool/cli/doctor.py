"""`pycache-tool doctor`: how an interpreter is set up for bytecode caching.

No ``from __future__ import annotations``: typer reads these annotations at run time.
"""

import sys
from typing import Annotated, Optional

import typer

from pycache_tool.cli.options import FormatOpt, OutputFormat, check_loudness, settings
from pycache_tool.errors import ExitCode

EXIT_CODES = """\b
Exit codes: 0 ok (warnings too, unless --check); 1 warnings under --check; 2 usage error
(bad option, an interpreter that does not run or is older than 3.8); 3 part of a location
could not be read; 130 interrupted (Ctrl-C); 143 terminated (SIGTERM)."""


def doctor(
    python: Annotated[
        Optional[list[str]],
        typer.Option(
            "--python",
            metavar="EXE",
            help="Interpreter to examine, CPython or PyPy 3.8+, with options if quoted:"
            ' "python3 -B" (repeatable; default: this one).',
        ),
    ] = None,
    no_stdlib: Annotated[
        bool,
        typer.Option("--no-stdlib", help="Survey site-packages only, not the standard library."),
    ] = False,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 when there are warnings.")] = False,
    output: FormatOpt = OutputFormat.text,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only the warnings and their fixes.")
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="Add counts by optimization level and invalidation mode."
        ),
    ] = False,
) -> None:
    """How an interpreter is set up for bytecode caching, and what is wrong with it.

    Runs it once in this environment for its settings (cache tag, magic, dont_write_bytecode,
    optimize, pycache_prefix, check_hash_based_pycs, SOURCE_DATE_EPOCH), then counts, without
    writing anything, how much of its standard library and site-packages has a cache it loads.
    Each warning comes with the command that fixes it.
    """
    check_loudness(quiet, verbose)
    from pycache_tool.doctor import diagnose
    from pycache_tool.reports.doctor import doctor_json, doctor_text
    from pycache_tool.reports.style import use_color

    pythons: list[Optional[str]] = [*settings(".", python=python).pythons] or [None]
    diagnoses = [diagnose(exe, stdlib=not no_stdlib) for exe in pythons]
    if output is OutputFormat.json:
        sys.stdout.write(doctor_json(diagnoses))
    else:
        sys.stdout.write(
            doctor_text(diagnoses, quiet=quiet, verbose=verbose, color=use_color(sys.stdout))
        )
    sys.stdout.flush()
    if any(d.incomplete for d in diagnoses):
        raise typer.Exit(int(ExitCode.INCOMPLETE))
    if check and any(d.warnings for d in diagnoses):
        raise typer.Exit(int(ExitCode.FINDINGS))
