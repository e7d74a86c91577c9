"""The command line: parses options, runs the core, prints, and exits. Nothing else prints.

No ``from __future__ import annotations`` here: typer reads the annotations at run time, and
the typer releases that still support Python 3.9 drop ``Annotated`` metadata from string ones.
"""

import enum
import os
import sys
from typing import Annotated, Any, Optional

import typer

from pycache_tool import __version__, config
from pycache_tool.archives import inspect as inspect_archive
from pycache_tool.archives import split_paths
from pycache_tool.bytecode import interpreters
from pycache_tool.bytecode.interpreters import Interpreter
from pycache_tool.clean import Area, carry_out, plan
from pycache_tool.errors import ExitCode, PycacheToolError, UsageError
from pycache_tool.reports.archives import archives_json, archives_text
from pycache_tool.reports.audit import LineSpool, json_report, record_line, text_report
from pycache_tool.reports.clean import clean_json, clean_text
from pycache_tool.reports.style import use_color
from pycache_tool.scanning.gitfiles import tracked_bytecode
from pycache_tool.scanning.scan import Scan
from pycache_tool.scanning.summary import Summary

EXIT_CODES = """\b
Exit codes: 0 ok; 1 findings (--check, --require-fresh); 2 usage error (bad option,
missing path, bad config); 3 the run could not finish everything (unreadable files, failed
removals or writes); 130 interrupted."""

app = typer.Typer(
    name="pycache-tool",
    help="Keep Python bytecode caches honest: see which .pyc files an interpreter would load, and why.\n\n"
    + EXIT_CODES,
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class OutputFormat(str, enum.Enum):
    text = "text"
    json = "json"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pycache-tool {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Keep Python bytecode caches honest."""


PathsArg = Annotated[
    Optional[list[str]],
    typer.Argument(metavar="PATHS", help="Directories to scan (default: .).", show_default=False),
]
PythonOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--python",
        metavar="EXE",
        help="Target interpreter (repeatable); asked once for its tag and magic.",
    ),
]
TagOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--tag", metavar="TAG", help="Target by cache tag, e.g. cpython-312 (repeatable)."
    ),
]
ExcludeOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--exclude",
        metavar="PATTERN",
        help="Skip directories matching this gitignore pattern (repeatable).",
    ),
]
NoIgnoreOpt = Annotated[
    bool,
    typer.Option(
        "--no-ignore", help="Do not read .gitignore or .git/info/exclude.", show_default=False
    ),
]
PrefixOpt = Annotated[
    Optional[str],
    typer.Option(
        "--pycache-prefix",
        metavar="DIR",
        help="Also scan this pycache_prefix tree (default: PYTHONPYCACHEPREFIX).",
    ),
]
FormatOpt = Annotated[OutputFormat, typer.Option("--format", help="Report format.")]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print only the totals and the problems.")
]


def _loudness(quiet: bool, verbose: bool) -> None:
    if quiet and verbose:
        raise UsageError("--quiet and --verbose exclude each other")


@app.command(epilog=EXIT_CODES)
def audit(
    paths: Annotated[
        Optional[list[str]],
        typer.Argument(
            metavar="PATHS",
            help="Directories to scan (default: .), and wheels, sdists or zips to read"
            " (.whl, .tar.gz, .tgz, .zip, .pyz, .egg).",
            show_default=False,
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
) -> None:
    """Read every cache file under PATHS and say whether its interpreter would load it.

    Wheels, sdists and zips among PATHS are read in memory, never extracted: every bytecode
    file in a wheel or sdist is a leak; for a zip, the report says whether zipimport would
    use each one.
    """
    _loudness(quiet, verbose)
    # Wheels, sdists and zips are read in memory; only directories are walked.
    directories, archive_paths = split_paths(paths or ["."])
    scan = make_scan(
        directories, python, tag, exclude, no_ignore, pycache_prefix, require_fresh=require_fresh
    )
    archives = [inspect_archive(p, scan.targets) for p in archive_paths]
    # JSON only counts what needs attention: keeping it would grow with a neglected tree.
    summary = Summary(keep_attention=output is not OutputFormat.json)
    tracked: list[str] = []

    def find_tracked() -> list[str]:
        tracked.extend(tracked_bytecode(scan.roots))
        return tracked

    if output is OutputFormat.json:
        coverage_fn = (lambda: scan.coverage) if require_fresh else None
        for chunk in json_report(
            scan,
            summary,
            paths=scan.roots,
            targets=scan.targets,
            coverage_fn=coverage_fn,
            tracked_fn=find_tracked,
            archives=archives_json(archives),
        ):
            sys.stdout.write(chunk)
    else:
        # --verbose lists every record after the totals: the lines wait in a temporary file
        # until then, not in memory, which would grow with the tree.
        cwd, color = os.getcwd(), use_color(sys.stdout)
        spool = LineSpool() if verbose else None
        for record in scan:
            summary.add(record)
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
                cwd=cwd,
                quiet=quiet,
                color=color,
            ):
                sys.stdout.write(chunk)
        if archives:
            sys.stdout.write(
                ("\n" if wrote_report else "")
                + archives_text(archives, cwd=cwd, verbose=verbose, quiet=quiet, color=color)
            )
    sys.stdout.flush()
    code = ExitCode.OK
    if summary.unreadable or any(a.incomplete for a in archives):
        code = ExitCode.INCOMPLETE
    elif check and (summary.needs_attention() or tracked or any(a.findings for a in archives)):
        code = ExitCode.FINDINGS
    elif require_fresh and any(c.fresh < c.sources for c in scan.coverage):
        code = ExitCode.FINDINGS
    if code is not ExitCode.OK:
        raise typer.Exit(int(code))


@app.command(epilog=EXIT_CODES)
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
            "--legacy", help=".pyc/.pyo beside an existing source (Python 3 ignores them)."
        ),
    ] = False,
    corrupt: Annotated[
        bool, typer.Option("--corrupt", help="Invalid caches, interrupted-write debris included.")
    ] = False,
    foreign: Annotated[
        bool, typer.Option("--foreign", help="Caches of interpreters that are not targets.")
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
    output: FormatOpt = OutputFormat.text,
    quiet: QuietOpt = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Give the reason for every removal.")
    ] = False,
) -> None:
    """Remove cache files by category (none named: every cache file except sourceless ones)."""
    _loudness(quiet, verbose)
    flags = {
        "stale": stale,
        "orphans": orphans,
        "legacy": legacy,
        "corrupt": corrupt,
        "foreign": foreign,
        "ghosts": ghosts,
        "sourceless": sourceless,
    }
    scan = make_scan(paths, python, tag, exclude, no_ignore, pycache_prefix)
    area = Area(scan.roots, scan.pycache_prefix)
    the_plan = plan(scan, [name for name, on in flags.items() if on], area, targets=scan.targets)
    outcome = carry_out(the_plan, area, dry_run=dry_run)
    if output is OutputFormat.json:
        sys.stdout.write(clean_json(outcome, the_plan.unreadable, dry_run=dry_run))
    else:
        sys.stdout.write(
            clean_text(
                outcome,
                the_plan.unreadable,
                dry_run=dry_run,
                quiet=quiet,
                verbose=verbose,
                cwd=os.getcwd(),
                color=use_color(sys.stdout),
            )
        )
    sys.stdout.flush()
    if outcome.failed or the_plan.unreadable:
        raise typer.Exit(int(ExitCode.INCOMPLETE))


class InvalidationMode(str, enum.Enum):
    timestamp = "timestamp"
    checked_hash = "checked-hash"
    unchecked_hash = "unchecked-hash"


COMPILE_EXIT_CODES = """\b
Exit codes: 0 ok; 1 some sources failed to compile (syntax or encoding errors, listed as
path:line:col: message); 2 usage error; 3 not everything could be done (I/O errors, a
worker that died or hung, unreadable directories); 130 interrupted."""


CompilePathsArg = Annotated[
    Optional[list[str]],
    typer.Argument(
        metavar="PATHS",
        help="Directories to compile (default: ., unless --site-packages or --stdlib).",
        show_default=False,
    ),
]
CompilePythonOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--python",
        metavar="EXE",
        help="Target interpreter, CPython 3.8+ or PyPy (repeatable; default: this one).",
    ),
]
SitePackagesOpt = Annotated[
    bool, typer.Option("--site-packages", help="Also compile each target's site-packages.")
]
StdlibOpt = Annotated[
    bool, typer.Option("--stdlib", help="Also compile each target's standard library.")
]
OptimizeOpt = Annotated[
    Optional[list[int]],
    typer.Option(
        "-O",
        "--optimize",
        metavar="LEVEL",
        help="Optimization level 0, 1 or 2 (repeatable; default: the target's own).",
    ),
]
InvalidationModeOpt = Annotated[
    Optional[InvalidationMode],
    typer.Option(
        "--invalidation-mode",
        help="Default: checked-hash if SOURCE_DATE_EPOCH is set, else timestamp.",
        show_default=False,
    ),
]
JobsOpt = Annotated[
    Optional[int],
    typer.Option(
        "--jobs", "-j", metavar="N", help="Worker processes per target (default: the CPUs)."
    ),
]
ForceOpt = Annotated[
    bool, typer.Option("--force", "-f", help="Rewrite every cache, fresh ones too.")
]
StripPrefixOpt = Annotated[
    Optional[str],
    typer.Option(
        "--strip-prefix",
        metavar="DIR",
        help="Remove this directory from the path written into the code objects.",
    ),
]
PrependPrefixOpt = Annotated[
    Optional[str],
    typer.Option(
        "--prepend-prefix",
        metavar="DIR",
        help="Put this directory in front of the path written into the code objects.",
    ),
]
PycachePrefixOpt = Annotated[
    Optional[str],
    typer.Option(
        "--pycache-prefix",
        metavar="DIR",
        help="Write caches into this pycache_prefix tree (default: the target's setting).",
    ),
]
TimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        help="Kill a worker that spends longer on one file (0: no limit).",
    ),
]
DryRunOpt = Annotated[
    bool,
    typer.Option(
        "--dry-run", "-n", help="List what would be compiled (missing, stale); write nothing."
    ),
]


@app.command("compile", epilog=COMPILE_EXIT_CODES)
def compile_command(
    paths: CompilePathsArg = None,
    python: CompilePythonOpt = None,
    site_packages: SitePackagesOpt = False,
    stdlib: StdlibOpt = False,
    optimize: OptimizeOpt = None,
    invalidation_mode: InvalidationModeOpt = None,
    jobs: JobsOpt = None,
    force: ForceOpt = False,
    strip_prefix: StripPrefixOpt = None,
    prepend_prefix: PrependPrefixOpt = None,
    pycache_prefix: PycachePrefixOpt = None,
    exclude: ExcludeOpt = None,
    no_ignore: NoIgnoreOpt = False,
    timeout: TimeoutOpt = 60.0,
    dry_run: DryRunOpt = False,
    output: FormatOpt = OutputFormat.text,
    quiet: QuietOpt = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="List every cache written.")
    ] = False,
) -> None:
    """Precompile sources for each target interpreter, in its own processes; skip fresh caches."""
    _loudness(quiet, verbose)
    from pycache_tool.compile.plan import Options, compile_trees
    from pycache_tool.reports.compile import compile_json, compile_text

    settings, _ = config.load((paths or ["."])[0])
    if not paths:
        paths = [] if (site_packages or stdlib) else ["."]
    pythons = python or settings.get("python", [])
    targets = _targets(pythons, []) or [interpreters.current()]
    if timeout < 0:
        raise UsageError("--timeout must not be negative")
    options = Options(
        levels=tuple(optimize) if optimize else None,
        invalidation_mode=invalidation_mode.value if invalidation_mode else None,
        jobs=jobs,
        force=force,
        site_packages=site_packages,
        stdlib=stdlib,
        strip_prefix=strip_prefix,
        prepend_prefix=prepend_prefix,
        pycache_prefix=pycache_prefix or settings.get("pycache-prefix"),
        exclude=(*settings.get("exclude", []), *(exclude or [])),
        use_ignore_files=not (no_ignore or settings.get("no-ignore", False)),
        dry_run=dry_run,
        timeout=timeout,
    )
    bar = _ProgressBar() if _show_progress() and not dry_run else None
    try:
        result = compile_trees(paths, targets, options, bar)
    finally:
        if bar is not None:
            bar.clear()
    if output is OutputFormat.json:
        sys.stdout.write(compile_json(result))
    else:
        sys.stdout.write(
            compile_text(
                result, os.getcwd(), quiet=quiet, verbose=verbose, color=use_color(sys.stdout)
            )
        )
    sys.stdout.flush()
    if result.incomplete:
        raise typer.Exit(int(ExitCode.INCOMPLETE))
    if result.errors:
        raise typer.Exit(int(ExitCode.FINDINGS))


DOCTOR_EXIT_CODES = """\b
Exit codes: 0 ok (warnings too, unless --check); 1 warnings under --check; 2 usage error
(bad option, an interpreter that does not run or is older than 3.8); 3 part of a location
could not be read; 130 interrupted."""


@app.command(epilog=DOCTOR_EXIT_CODES)
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
    _loudness(quiet, verbose)
    from pycache_tool.doctor import diagnose
    from pycache_tool.reports.doctor import doctor_json, doctor_text

    settings, _ = config.load(".")
    pythons = python or settings.get("python", []) or [None]
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


def _show_progress() -> bool:
    """A bar only for a person watching: stderr is a terminal and this is not CI."""
    return sys.stderr.isatty() and not os.environ.get("CI")


class _ProgressBar:
    """``cpython-312 [#########.........] 1234/5000`` on stderr, redrawn at most 10 times a second."""

    def __init__(self) -> None:
        self.shown = 0.0
        self.drawn = False

    def __call__(self, name: str, done: int, total: int) -> None:
        import time

        now = time.monotonic()
        if done < total and now - self.shown < 0.1:
            return
        self.shown = now
        width = 30
        filled = width * done // total if total else width
        sys.stderr.write(f"\r{name} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        sys.stderr.flush()
        self.drawn = True

    def clear(self) -> None:
        if self.drawn:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


IMPORTTIME_EXIT_CODES = """\b
Exit codes: 0 ok; 2 usage error (bad option or module name, an interpreter older than 3.8
or without -X importtime, a module loaded before -X importtime reports); 3 the module could
not be measured (it failed to import: the child's last error line is shown; a run outlived
--timeout); 130 interrupted."""


@app.command(epilog=IMPORTTIME_EXIT_CODES)
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
        typer.Option("--repeat", "-r", metavar="N", help="Timed runs of each kind, cold and warm."),
    ] = 5,
    top: Annotated[
        Optional[int],
        typer.Option(
            "--top",
            metavar="N",
            help="List the N modules that gain most (0: all; default 10, all with --verbose).",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout", metavar="SECONDS", help="Give up on a run that takes longer (0: no limit)."
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
    _loudness(quiet, verbose)
    from pycache_tool.importtime import DEFAULT_TOP, measure
    from pycache_tool.reports.importtime import importtime_json, importtime_text

    if top is None:
        top = 0 if verbose else DEFAULT_TOP
    if top < 0:
        raise UsageError("--top must not be negative")
    target = interpreters.query(python) if python else interpreters.current()
    bar = _ProgressBar() if _show_progress() else None
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


def make_scan(
    paths: Optional[list[str]],
    python: Optional[list[str]],
    tag: Optional[list[str]],
    exclude: Optional[list[str]],
    no_ignore: bool,
    pycache_prefix: Optional[str],
    *,
    require_fresh: bool = False,
) -> Scan:
    """A Scan from the options every command shares, with [tool.pycache-tool] as defaults.

    ``paths`` None means "."; an empty list means no directory at all (audit of archives only).
    """
    paths = ["."] if paths is None else paths
    settings, _ = config.load(paths[0] if paths else ".")
    targets = _targets(python or settings.get("python", []), tag or settings.get("tag", []))
    prefix = pycache_prefix or settings.get("pycache-prefix")
    options: dict[str, Any] = {}
    if prefix is not None:
        options["pycache_prefix"] = prefix
    return Scan(
        paths,
        targets=targets,
        exclude=[*settings.get("exclude", []), *(exclude or [])],
        use_ignore_files=not (no_ignore or settings.get("no-ignore", False)),
        require_fresh=require_fresh,
        **options,
    )


def _targets(pythons: list[str], tags: list[str]) -> list[Interpreter]:
    found = [interpreters.query(exe) for exe in pythons] + [interpreters.from_tag(t) for t in tags]
    names = [t.name for t in found]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise UsageError(f"target {duplicate} given twice")
    return found


def main(argv: Optional[list[str]] = None) -> int:
    """Console entry point: one-line errors with documented exit codes, never a traceback for them."""
    sys.dont_write_bytecode = True
    try:
        result = app(args=argv, prog_name="pycache-tool", standalone_mode=False)
    except PycacheToolError as exc:
        print(f"pycache-tool: error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("pycache-tool: interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        # The reader went away (`| head`); say nothing more.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return int(ExitCode.OK)
    except Exception as exc:
        # typer bundles its own click; its usage errors carry exit_code and format_message().
        if type(exc).__name__ == "Abort":
            print("pycache-tool: interrupted", file=sys.stderr)
            return int(ExitCode.INTERRUPTED)
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
            print(f"pycache-tool: error: {exc.format_message()}", file=sys.stderr)
            return int(exc.exit_code)
        raise
    if result == ExitCode.INTERRUPTED:  # typer turns Ctrl-C into a silent Exit(130)
        print("pycache-tool: interrupted", file=sys.stderr)
    return int(result or 0)
