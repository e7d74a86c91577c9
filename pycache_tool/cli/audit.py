"""`pycache-tool audit`: what every cache file is, and whether its interpreter loads it.

No ``from __future__ import annotations``: typer reads these annotations at run time.
"""

import os
import sys
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from pycache_tool.cli.options import (
    ExcludeOpt,
    FormatOpt,
    NoIgnoreOpt,
    OutputFormat,
    PrefixOpt,
    PythonOpt,
    QuietOpt,
    TagOpt,
    check_loudness,
    make_scan,
    no_empty_path,
    warn_unmatched,
)
from pycache_tool.errors import ExitCode

if TYPE_CHECKING:
    from pycache_tool.archives import Archive

MISSING_SHOWN = 20  # missing caches listed by the text report, unless --verbose

EXIT_CODES = """\b
Exit codes: 0 ok; 1 findings (--check, --require-fresh); 2 usage error (bad option, missing
path, bad config); 3 the run could not read everything (unreadable files or archives);
130 interrupted (Ctrl-C); 143 terminated (SIGTERM)."""


def audit(
    paths: Annotated[
        Optional[list[str]],
        typer.Argument(
            metavar="PATHS",
            help="Directories to scan (default: .), and wheels, sdists or zips to read"
            " (.whl, .tar.gz, .tgz, .zip, .pyz, .egg).",
            show_default=False,
            callback=no_empty_path,
        ),
    ] = None,
    python: PythonOpt = None,
    tag: TagOpt = None,
    exclude: ExcludeOpt = None,
    no_ignore: NoIgnoreOpt = False,
    pycache_prefix: PrefixOpt = None,
    output: FormatOpt = OutputFormat.text,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="List every record, fresh ones too.")
    ] = False,
    quiet: QuietOpt = False,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 when anything needs attention.")
    ] = False,
    require_fresh: Annotated[
        bool,
        typer.Option(
            "--require-fresh",
            help="Exit 1 unless every source has a fresh cache for each target; print coverage.",
        ),
    ] = False,
    deep: Annotated[
        bool,
        typer.Option(
            "--deep",
            help="Also unmarshal the code of every cache that would be loaded, in an"
            " interpreter of its version (--python or this one); reads whole files.",
        ),
    ] = False,
) -> None:
    """Read every cache file under PATHS and say whether its interpreter would load it.

    Wheels, sdists and zips among PATHS are read in memory, never extracted: every bytecode
    file in a wheel or sdist is a leak; for a zip, the report says whether zipimport would
    use each one.
    """
    check_loudness(quiet, verbose)
    from pycache_tool.paths import split_paths
    from pycache_tool.scanning.gitfiles import TrackedBytecode
    from pycache_tool.scanning.summary import Summary

    # Wheels, sdists and zips are read in memory; only directories are walked.
    directories, archive_paths = split_paths(paths or ["."])
    scan = make_scan(
        directories,
        python,
        tag,
        exclude,
        no_ignore,
        pycache_prefix,
        require_fresh=require_fresh,
        deep=deep,
        helper=True,  # a second process on a large tree: the same records, sooner
    )
    archives: list[Archive] = []
    if archive_paths:  # the archive reader loads only for a run that names an archive
        from pycache_tool.archives import inspect as inspect_archive

        archives = [inspect_archive(p, scan.targets) for p in archive_paths]
    summary = Summary()
    git = TrackedBytecode(scan.roots)  # git lists its index while the tree is walked
    tracked: list[str] = []

    def find_tracked() -> list[str]:
        tracked.extend(git.result())
        return tracked

    if output is OutputFormat.json:
        from pycache_tool.reports.archives import archives_json
        from pycache_tool.reports.audit import json_report

        coverage_fn = (lambda: scan.coverage) if require_fresh else None
        for chunk in json_report(
            scan,
            summary,
            paths=scan.roots,
            targets=scan.targets,
            coverage_fn=coverage_fn,
            tracked_fn=find_tracked,
            archives=archives_json(archives),
            unchecked=scan.unchecked if deep else None,
        ):
            sys.stdout.write(chunk)
    else:
        from pycache_tool.reports.audit_text import Attention, LineSpool, record_line, text_report
        from pycache_tool.reports.style import use_color

        # --verbose lists every record after the totals: the lines wait in a temporary file
        # until then, not in memory, which would grow with the tree.
        cwd, color = os.getcwd(), use_color(sys.stdout)
        spool = LineSpool() if verbose else None
        # What needs a look waits in temporary files too. A tree without caches has a missing
        # record per source: the text lists the first ones.
        attention = Attention(cwd, color, missing_cap=None if verbose else MISSING_SHOWN)
        for record in scan:
            summary.add(record)
            attention.add(record)
            if spool is not None:
                spool.add(record_line(record, cwd, color))
        wrote_report = bool(scan.roots or not archives)
        if wrote_report:
            for chunk in text_report(
                summary,
                paths=scan.roots,
                targets=scan.targets,
                coverage=scan.coverage if require_fresh else None,
                tracked=find_tracked(),
                verbose_lines=spool,
                attention=attention,
                cwd=cwd,
                quiet=quiet,
                color=color,
                unchecked=scan.unchecked if deep else None,
            ):
                sys.stdout.write(chunk)
        if archives:
            from pycache_tool.reports.archives import archives_text

            sys.stdout.write(
                ("\n" if wrote_report else "")
                + archives_text(archives, cwd=cwd, verbose=verbose, quiet=quiet, color=color)
            )
    sys.stdout.flush()
    warn_unmatched(scan.unmatched_excludes, scan.roots)
    code = ExitCode.OK
    if summary.unreadable or any(a.incomplete for a in archives):
        code = ExitCode.INCOMPLETE
    elif check and (summary.needs_attention() or tracked or any(a.findings for a in archives)):
        code = ExitCode.FINDINGS
    elif require_fresh and any(c.fresh < c.sources for c in scan.coverage):
        code = ExitCode.FINDINGS
    if code is not ExitCode.OK:
        raise typer.Exit(int(code))
