"""`pycache-tool importtime`: what the cache is worth, cold against warm.

No ``from __future__ import annotations``: typer reads these annotations at run time.
"""

import sys
from typing import Annotated, Optional

import typer

from pycache_tool.cli.options import (
    FormatOpt,
    OutputFormat,
    ProgressBar,
    at_least,
    check_loudness,
    show_progress,
)

EXIT_CODES = """\b
Exit codes: 0 ok; 2 usage error (bad option or module name, an interpreter older than 3.8
or without -X importtime, a module loaded before -X importtime reports); 3 the module could
not be measured (it failed to import: the child's last error line is shown; a run outlived
--timeout); 130 interrupted (Ctrl-C); 143 terminated (SIGTERM)."""


def importtime(
    module: Annotated[
        str, typer.Argument(metavar="MODULE", help="The module to import, e.g. mypkg or mypkg.sub.")
    ],
    python: Annotated[
        Optional[str],
        typer.Option(
            "--python",
            metavar="EXE",
            help="Interpreter to measure, CPython 3.8+ (default: this one).",
        ),
    ] = None,
    repeat: Annotated[
        int,
        typer.Option(
            "--repeat",
            "-r",
            metavar="N",
            help="Timed runs of each kind, cold and warm.",
            callback=at_least(1),
        ),
    ] = 5,
    top: Annotated[
        Optional[int],
        typer.Option(
            "--top",
            callback=at_least(0),
            metavar="N",
            help="List the N modules that gain most (0: all; default 10, all with --verbose).",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            metavar="SECONDS",
            help="Give up on a run that takes longer (0: no limit).",
            callback=at_least(0),
        ),
    ] = 60.0,
    output: FormatOpt = OutputFormat.text,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only the cold/warm/speed-up line.")
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Every module imported, and every run's time."),
    ] = False,
) -> None:
    """Import MODULE with a cold cache and a warm one (-X importtime) and show what the cache saves.

    Each run is a fresh process of the interpreter in this directory and environment, with
    bytecode writing on and its caches in a temporary pycache_prefix (removed afterwards):
    empty for every cold run, primed by one untimed run for the warm ones. Your own caches
    are neither read nor written.
    """
    check_loudness(quiet, verbose)
    from pycache_tool.bytecode import interpreters
    from pycache_tool.importtime import DEFAULT_TOP, measure
    from pycache_tool.reports.importtime import importtime_json, importtime_text
    from pycache_tool.reports.style import use_color

    if top is None:
        top = 0 if verbose else DEFAULT_TOP
    target = interpreters.query(python) if python else interpreters.current()
    bar = ProgressBar() if show_progress() else None
    try:
        result = measure(module, target, repeat=repeat, timeout=timeout, progress=bar)
    finally:
        if bar is not None:
            bar.clear()
    if output is OutputFormat.json:
        sys.stdout.write(importtime_json(result, top=top))
    else:
        sys.stdout.write(
            importtime_text(
                result, top=top, quiet=quiet, verbose=verbose, color=use_color(sys.stdout)
            )
        )
    sys.stdout.flush()
