"""`pycache-tool compile`: precompile sources for each target interpreter.

No ``from __future__ import annotations``: typer reads these annotations at run time.
"""

import enum
import os
import sys
from typing import Annotated, Optional

import typer

from pycache_tool.cli.options import (
    ExcludeOpt,
    FormatOpt,
    NoIgnoreOpt,
    OutputFormat,
    ProgressBar,
    at_least,
    check_loudness,
    more_than,
    no_empty_path,
    settings,
    show_progress,
    targets,
    warn_unmatched,
)
from pycache_tool.errors import ExitCode, UsageError, describe


class InvalidationMode(str, enum.Enum):
    timestamp = "timestamp"
    checked_hash = "checked-hash"
    unchecked_hash = "unchecked-hash"


EXIT_CODES = """\b
Exit codes: 0 ok; 1 some sources failed to compile (syntax or encoding errors, listed as
path:line:col: message); 2 usage error; 3 not everything could be done (I/O errors, a
worker that died or hung, unreadable directories); 130 interrupted (Ctrl-C); 143 terminated
(SIGTERM)."""


CompilePathsArg = Annotated[
    Optional[list[str]],
    typer.Argument(
        metavar="PATHS",
        help="Directories and .py files to compile (default: ., unless --site-packages,"
        " --stdlib or --from-file).",
        show_default=False,
        callback=no_empty_path,
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
        callback=at_least(0, 2),
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
        "--jobs",
        "-j",
        metavar="N",
        help="Worker processes per target (default: the CPUs).",
        callback=at_least(1),
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
        help="Remove this directory from the path written into the code objects (with this or"
        " --prepend-prefix, a cache that records another path is rewritten).",
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
    Optional[float],
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        help="Kill a worker that spends longer on one file, and give up on a --python that"
        " takes longer to answer (default: no limit per file, as compileall: a slow machine"
        " never fails a build; a minute per answer).",
        show_default=False,
        callback=more_than(0),
    ),
]
MaxDepthOpt = Annotated[
    Optional[int],
    typer.Option(
        "--max-depth",
        metavar="N",
        help="Walk at most N levels of directories below each PATH (0: its own files only;"
        " compileall's -r N, and -l for 0; default: no limit).",
        show_default=False,
        callback=at_least(0),
    ),
]
FromFileOpt = Annotated[
    Optional[str],
    typer.Option(
        "--from-file",
        metavar="FILE",
        help="Also compile the files and directories listed in FILE, one a line (- for"
        " standard input; compileall's -i).",
        show_default=False,
    ),
]
HardlinkDupesOpt = Annotated[
    bool,
    typer.Option(
        "--hardlink-dupes",
        help="When the caches of a source's -O levels are the same bytes, make them one file"
        " (hard links; needs two -O levels or more).",
    ),
]
CompileQuietOpt = Annotated[
    bool,
    typer.Option(
        "--quiet",
        "-q",
        help="Print only errors and what was skipped or unreadable: no compiler warnings, no"
        " summary (-qq is read as -q).",
    ),
]
DryRunOpt = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        "-n",
        help="List what would be compiled (missing, stale), and what the compile cache holds;"
        " write nothing.",
    ),
]
CacheOpt = Annotated[
    Optional[str],
    typer.Option(
        "--cache",
        metavar="DIR",
        help="Compile each distinct source once: keep what is compiled in DIR and take what"
        " DIR holds (default: $PYCACHE_TOOL_CACHE; none).",
        show_default=False,
    ),
]
NoCacheOpt = Annotated[
    bool, typer.Option("--no-cache", help="Use no compile cache, not even $PYCACHE_TOOL_CACHE.")
]
CacheMaxSizeOpt = Annotated[
    Optional[str],
    typer.Option(
        "--cache-max-size",
        metavar="SIZE",
        help="After the run, prune the compile cache to SIZE (500M, 2G), least recently used"
        " first.",
        show_default=False,
    ),
]


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
    timeout: TimeoutOpt = None,
    max_depth: MaxDepthOpt = None,
    from_file: FromFileOpt = None,
    hardlink_dupes: HardlinkDupesOpt = False,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    cache_max_size: CacheMaxSizeOpt = None,
    dry_run: DryRunOpt = False,
    deep: Annotated[
        bool,
        typer.Option(
            "--deep",
            help="Also rewrite caches whose header is fresh but whose code is damaged"
            " (unmarshalled in the target; reads whole files).",
        ),
    ] = False,
    output: FormatOpt = OutputFormat.text,
    quiet: CompileQuietOpt = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="List every cache written.")
    ] = False,
) -> None:
    """Precompile sources for each target interpreter, in its own processes; skip fresh caches."""
    check_loudness(quiet, verbose)
    from pycache_tool.bytecode import interpreters
    from pycache_tool.compile.plan import compile_trees
    from pycache_tool.compile.results import Options
    from pycache_tool.reports.compile import compile_json, compile_text, warning_lines
    from pycache_tool.reports.style import paint, use_color

    if from_file is not None:
        paths = [*(paths or []), *paths_from(from_file)]
    chosen = settings(
        (paths or ["."])[0],
        python=python,
        exclude=exclude,
        no_ignore=no_ignore,
        pycache_prefix=pycache_prefix,
    )
    if not paths:
        paths = [] if (site_packages or stdlib or from_file is not None) else ["."]
    # compile takes no --tag: a tag names caches to look for, not an interpreter to run.
    chosen = chosen._replace(tags=[])
    cache_dir, max_size = _cache_options(cache, no_cache, cache_max_size)
    options = Options(
        levels=tuple(optimize) if optimize else None,
        invalidation_mode=invalidation_mode.value if invalidation_mode else None,
        jobs=jobs,
        force=force,
        site_packages=site_packages,
        stdlib=stdlib,
        strip_prefix=strip_prefix,
        prepend_prefix=prepend_prefix,
        pycache_prefix=chosen.pycache_prefix,
        exclude=tuple(chosen.exclude),
        check_excludes=tuple(exclude or ()),
        use_ignore_files=chosen.use_ignore_files,
        dry_run=dry_run,
        timeout=timeout,
        deep=deep,
        max_depth=max_depth,
        hardlink_dupes=hardlink_dupes,
        helper=True,  # a large tree is planned in two processes
        cache=cache_dir,
        cache_max_size=max_size,
    )
    chosen_targets = targets(chosen, timeout) or [interpreters.current()]
    bar = ProgressBar() if show_progress() and not (dry_run or quiet) else None
    try:
        result = compile_trees(paths, chosen_targets, options, bar)
    finally:
        if bar is not None:
            bar.clear()
    if result.cache is not None and result.cache.warning:
        print(f"pycache-tool: warning: {result.cache.warning}", file=sys.stderr)
    if output is OutputFormat.json:
        sys.stdout.write(compile_json(result))
    else:
        # Compiler warnings go to stderr, as Python (and so compileall) shows them.
        color = use_color(sys.stderr)
        for line in [] if quiet else warning_lines(result, os.getcwd()):
            sys.stderr.write(paint(line, "yellow", color) + "\n")
        sys.stdout.write(
            compile_text(
                result, os.getcwd(), quiet=quiet, verbose=verbose, color=use_color(sys.stdout)
            )
        )
    sys.stdout.flush()
    walked = [r if os.path.isdir(r) else os.path.dirname(r) for r in result.roots]  # files too
    warn_unmatched(result.unmatched_excludes, walked)
    if result.incomplete:
        raise typer.Exit(int(ExitCode.INCOMPLETE))
    if result.errors:
        raise typer.Exit(int(ExitCode.FINDINGS))


def paths_from(name: str) -> list[str]:
    """The paths listed in the file ``name`` (``-``: standard input), one a line, as
    compileall's ``-i`` reads them but that a line keeps its spaces (a name may hold them):
    only its line end goes, and empty lines are skipped. Bytes that are not UTF-8 stay the
    bytes of a file name, as ``os.fsdecode`` keeps them."""
    try:
        if name == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(name, "rb") as f:
                data = f.read()
    except OSError as exc:
        raise UsageError(f"--from-file {name}: {describe(exc)}") from None
    lines = (line[:-1] if line.endswith(b"\r") else line for line in data.split(b"\n"))
    return [os.fsdecode(line) for line in lines if line]


def _cache_options(
    cache: Optional[str], no_cache: bool, max_size: Optional[str]
) -> tuple[Optional[str], Optional[int]]:
    """The compile cache's directory (the option, else $PYCACHE_TOOL_CACHE; none with
    --no-cache) and the size to prune it to."""
    if cache is not None and no_cache:
        raise UsageError("--cache and --no-cache exclude each other")
    if cache == "":
        raise UsageError("--cache needs a directory")
    directory = None if no_cache else cache or os.environ.get("PYCACHE_TOOL_CACHE") or None
    if max_size is None:
        return directory, None
    if directory is None:
        raise UsageError("--cache-max-size needs a cache: --cache DIR or PYCACHE_TOOL_CACHE")
    from pycache_tool.compile.cachedir import parse_size

    return directory, parse_size(max_size)
