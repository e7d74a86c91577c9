"""`pycache-tool cache info|prune [DIR]`: the compile cache, described and bounded.

No ``from __future__ import annotations``: typer reads these annotations at run time.
"""

import os
import sys
from typing import Annotated, Optional

import typer

from pycache_tool.cli.options import FormatOpt, OutputFormat
from pycache_tool.errors import ExitCode

EXIT_CODES = """\b
Exit codes: 0 ok; 2 usage error (no such cache directory, a directory that is not a
pycache-tool cache, a bad size); 3 prune could not remove some entries; 130 interrupted
(Ctrl-C); 143 terminated (SIGTERM)."""

app = typer.Typer(
    help="The compile cache (compile --cache DIR): what it holds, and bounding its size.",
    no_args_is_help=True,
)

DirArg = Annotated[
    Optional[str],
    typer.Argument(
        metavar="DIR",
        help="The cache directory (default: $PYCACHE_TOOL_CACHE).",
        show_default=False,
    ),
]


def _directory(given: Optional[str]) -> str:
    from pycache_tool.errors import UsageError

    found = given or os.environ.get("PYCACHE_TOOL_CACHE")
    if not found:
        raise UsageError("name the cache directory, or set PYCACHE_TOOL_CACHE")
    return found


@app.command(epilog=EXIT_CODES)
def info(directory: DirArg = None, output: FormatOpt = OutputFormat.text) -> None:
    """What the cache holds: entries and size by interpreter, and the last runs' hits."""
    from pycache_tool.compile.cachedir import describe_cache
    from pycache_tool.reports.cache import info_json, info_text

    found = describe_cache(_directory(directory))
    sys.stdout.write(info_json(found) if output is OutputFormat.json else info_text(found))


@app.command(epilog=EXIT_CODES)
def prune(
    directory: DirArg = None,
    max_size: Annotated[
        str,
        typer.Option(
            "--max-size",
            metavar="SIZE",
            help="Remove the least recently used entries until the rest take at most SIZE"
            " (500M, 2G, bytes; K, M, G, T are powers of 1024).",
            show_default=False,
        ),
    ] = "",
    output: FormatOpt = OutputFormat.text,
) -> None:
    """Bound the cache: least recently used entries first, and temp files of killed runs."""
    from pycache_tool.compile.cachedir import parse_size
    from pycache_tool.compile.cachedir import prune as prune_cache
    from pycache_tool.errors import UsageError
    from pycache_tool.reports.cache import prune_json, prune_text

    if not max_size:
        raise UsageError("cache prune needs --max-size SIZE")
    pruned = prune_cache(_directory(directory), parse_size(max_size))
    sys.stdout.write(prune_json(pruned) if output is OutputFormat.json else prune_text(pruned))
    if pruned.errors:
        raise typer.Exit(int(ExitCode.INCOMPLETE))
