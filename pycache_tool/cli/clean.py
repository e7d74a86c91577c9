"""`pycache-tool clean`: remove cache files by category.

No ``from __future__ import annotations``: typer reads these annotations at run time.
"""

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from pycache_tool.cli.options import (
    ExcludeOpt,
    FormatOpt,
    NoIgnoreOpt,
    OutputFormat,
    PathsArg,
    PrefixOpt,
    PythonOpt,
    QuietOpt,
    TagOpt,
    check_loudness,
    make_scan,
    warn_unmatched,
)
from pycache_tool.errors import ExitCode, Terminated

if TYPE_CHECKING:
    from pycache_tool.clean import Removal

EXIT_CODES = """\b
Exit codes: 0 ok (a dry run too); 2 usage error (bad option, missing path, bad config); 3 not
everything could be removed or read (failed removals, unreadable files); 130 interrupted
(Ctrl-C); 143 terminated (SIGTERM)."""


def clean(
    paths: PathsArg = None,
    stale: Annotated[
        bool, typer.Option("--stale", help="Caches that no longer match their source.")
    ] = False,
    orphans: Annotated[
        bool, typer.Option("--orphans", help="Caches whose source is gone.")
    ] = False,
    legacy: Annotated[
        bool,
        typer.Option(
            "--legacy",
            help=".pyc/.pyo of Python 3 beside an existing source (Python 3 ignores them);"
            " Python 2's own .pyc beside its source is --foreign.",
        ),
    ] = False,
    shadowed: Annotated[
        bool,
        typer.Option(
            "--shadowed",
            help="Caches of modules that a package or extension of the same name shadows.",
        ),
    ] = False,
    corrupt: Annotated[
        bool, typer.Option("--corrupt", help="Invalid caches, interrupted-write debris included.")
    ] = False,
    foreign: Annotated[
        bool,
        typer.Option(
            "--foreign",
            help="Caches of interpreters that are not targets, Python 2's .pyc beside the source"
            " included.",
        ),
    ] = False,
    own: Annotated[
        bool,
        typer.Option(
            "--own",
            help="Every cache of the target interpreters, fresh ones included (the complement of"
            " --foreign).",
        ),
    ] = False,
    ghosts: Annotated[
        bool,
        typer.Option(
            "--ghosts", help="Directories holding nothing but caches, and what they hold."
        ),
    ] = False,
    sourceless: Annotated[
        bool,
        typer.Option("--sourceless", help="Importable bytecode without source: only when named."),
    ] = False,
    python: PythonOpt = None,
    tag: TagOpt = None,
    exclude: ExcludeOpt = None,
    no_ignore: NoIgnoreOpt = False,
    pycache_prefix: PrefixOpt = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", "-n", help="Print the plan a real run would carry out; remove nothing."
        ),
    ] = False,
    one_file_system: Annotated[
        bool,
        typer.Option(
            "--one-file-system",
            help="Enter no directory on another file system than its PATH (mount points),"
            " as find -xdev; by default clean, like rm -r, crosses into them.",
        ),
    ] = False,
    output: FormatOpt = OutputFormat.text,
    quiet: QuietOpt = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Give the reason for every removal.")
    ] = False,
) -> None:
    """Remove cache files by category (none named: every cache file except sourceless ones)."""
    check_loudness(quiet, verbose)
    from pycache_tool.clean import Area, Outcome, carry_out, plan
    from pycache_tool.reports.clean import clean_json, clean_text, tracked_warning
    from pycache_tool.reports.style import use_color

    flags = {
        "stale": stale,
        "orphans": orphans,
        "legacy": legacy,
        "shadowed": shadowed,
        "corrupt": corrupt,
        "foreign": foreign,
        "own": own,
        "ghosts": ghosts,
        "sourceless": sourceless,
    }
    scan = make_scan(
        paths, python, tag, exclude, no_ignore, pycache_prefix, one_file_system=one_file_system
    )
    area = Area(scan.roots, scan.pycache_prefix)
    chosen = [name for name, on in flags.items() if on]
    # No category: every cache file in __pycache__ goes, so none is opened to classify it.
    records = scan if chosen else scan.by_name()
    the_plan = plan(records, chosen, area, targets=scan.targets, keep_reasons=verbose)
    warn_unmatched(scan.unmatched_excludes, scan.roots)
    outcome = Outcome([], [], [])

    def report(*, interrupted: bool = False) -> None:
        tracked = [] if interrupted else _tracked(outcome.removed, scan.roots)
        if output is OutputFormat.json:
            text = clean_json(
                outcome,
                the_plan.unreadable,
                dry_run=dry_run,
                tracked=tracked,
                kept=the_plan.kept,
                interrupted=interrupted,
                ignored=scan.ignored,
            )
        else:
            text = clean_text(
                outcome,
                the_plan.unreadable,
                dry_run=dry_run,
                quiet=quiet,
                verbose=verbose,
                cwd=os.getcwd(),
                color=use_color(sys.stdout),
                kept=the_plan.kept or (),
                interrupted=interrupted,
                ignored=scan.ignored,
            )
        sys.stdout.write(text)
        sys.stdout.flush()
        if tracked:
            sys.stderr.write(tracked_warning(tracked, os.getcwd(), dry_run=dry_run))

    try:
        carry_out(the_plan, area, dry_run=dry_run, into=outcome)
    except (KeyboardInterrupt, Terminated):
        report(interrupted=True)  # what was removed before the signal; the CLI says the rest
        raise
    report()
    if outcome.failed or the_plan.unreadable:
        raise typer.Exit(int(ExitCode.INCOMPLETE))


def _tracked(removed: "Sequence[Removal]", roots: Sequence[str]) -> list[str]:
    """The removed files that git tracks; git is asked only when a file was removed."""
    files = {r.path for r in removed if r.kind == "file"}
    if not files:
        return []
    from pycache_tool.scanning.gitfiles import tracked_bytecode

    return [path for path in tracked_bytecode(roots) if path in files]
