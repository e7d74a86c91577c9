"""What every command shares: option declarations, the one settings merge, and the progress bar.

No ``from __future__ import annotations`` in the CLI: typer reads the annotations at run time,
and the typer releases that still support Python 3.9 drop ``Annotated`` metadata from strings.
Everything beyond typer is imported where it is used, so that a command loads only what it needs.
"""

import enum
import math
import os
import sys
from typing import TYPE_CHECKING, Annotated, Any, Callable, NamedTuple, Optional

import typer

from pycache_tool.errors import UsageError

if TYPE_CHECKING:
    from pycache_tool.bytecode.interpreters import Interpreter
    from pycache_tool.scanning.scan import Scan

EXIT_CODES = """\b
Exit codes: 0 ok; 1 findings (--check, --require-fresh); 2 usage error (bad option,
missing path, bad config); 3 the run could not finish everything (unreadable files, failed
removals or writes); 130 interrupted (Ctrl-C); 143 terminated (SIGTERM)."""


class OutputFormat(str, enum.Enum):
    text = "text"
    json = "json"


def no_empty_path(paths: Optional[list[str]]) -> Optional[list[str]]:
    """The PATHS argument's check: an empty PATH ("$DIR" with DIR unset) would mean "." to
    every function that takes a path, and clean would clean the working directory."""
    if paths and not all(paths):
        raise UsageError(EMPTY_PATH)
    return paths


EMPTY_PATH = "an empty PATH (an unset variable?): name a directory, or none for ."

PathsArg = Annotated[
    Optional[list[str]],
    typer.Argument(
        metavar="PATHS",
        help="Directories to scan (default: .).",
        show_default=False,
        callback=no_empty_path,
    ),
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
        "--tag",
        metavar="TAG",
        help="Target by name: its cache tag (cpython-312, pypy39), or python2.7 for a Python"
        " that writes caches beside the source (repeatable).",
    ),
]
ExcludeOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--exclude",
        metavar="PATTERN",
        help="Skip what matches this gitignore pattern (directories, and files outside"
        " __pycache__), relative to the project root (repeatable).",
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


def at_least(low: int, high: Optional[int] = None) -> Callable[[typer.CallbackParam, Any], Any]:
    """An option's range, declared on the option: ``typer.Option(callback=at_least(1))``.

    Unlike click's own ranges this also refuses nan and infinity, and it words the error the way
    every other usage error of the tool is worded.
    """
    return _in_range(low, high, above=False)


def more_than(low: int) -> Callable[[typer.CallbackParam, Any], Any]:
    """As ``at_least``, for a bound the value must exceed: ``--timeout`` above 0."""
    return _in_range(low, None, above=True)


def _in_range(
    low: int, high: Optional[int], *, above: bool
) -> Callable[[typer.CallbackParam, Any], Any]:
    def check(param: typer.CallbackParam, value: Any) -> Any:
        # value: an int, a float, None (not given) or a list of ints (a repeatable option)
        name = param.opts[0] if param.opts else str(param.name)
        for number in value if isinstance(value, list) else [value]:
            if number is None:
                continue
            if isinstance(number, float) and not math.isfinite(number):
                raise UsageError(f"{name} must be a finite number, not {number}")
            if high is not None and not low <= number <= high:
                raise UsageError(f"{name} must be between {low} and {high}, not {number}")
            if above and number <= low:
                raise UsageError(f"{name} must be above {low}, not {number:g}")
            if number < low:
                raise UsageError(
                    f"{name} must not be negative" if low == 0 else f"{name} must be at least {low}"
                )
        return value

    return check


def check_loudness(quiet: bool, verbose: bool) -> None:
    if quiet and verbose:
        raise UsageError("--quiet and --verbose exclude each other")


class Settings(NamedTuple):
    """The command line over ``[tool.pycache-tool]``: what a command runs with."""

    pythons: list[str]
    tags: list[str]
    exclude: list[str]
    use_ignore_files: bool
    pycache_prefix: Optional[str]


def settings(
    start: str,
    *,
    python: Optional[list[str]] = None,
    tag: Optional[list[str]] = None,
    exclude: Optional[list[str]] = None,
    no_ignore: bool = False,
    pycache_prefix: Optional[str] = None,
) -> Settings:
    """The one merge of options and configuration: an option given wins over the file;
    ``exclude`` patterns add up."""
    from pycache_tool import config

    found, source = config.load(start)
    return Settings(
        # Interpreters named on the command line run as given; those the file names, only
        # when they lie outside the checkout (config.trusted_interpreters).
        pythons=python or config.trusted_interpreters(found.get("python", []), source),
        tags=tag or found.get("tag", []),
        exclude=[*found.get("exclude", []), *(exclude or [])],
        use_ignore_files=not (no_ignore or found.get("no-ignore", False)),
        pycache_prefix=pycache_prefix or found.get("pycache-prefix"),
    )


def targets(chosen: Settings, timeout: Optional[float] = None) -> "list[Interpreter]":
    """The target interpreters named by ``--python`` and ``--tag``; each at most once. Each
    ``--python`` may take ``timeout`` seconds to answer (None: the usual minute)."""
    from pycache_tool.bytecode import interpreters

    found = [interpreters.query(exe, timeout) for exe in chosen.pythons]
    found += [interpreters.from_tag(t) for t in chosen.tags]
    names = [t.name for t in found]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise UsageError(f"target {duplicate} given twice")
    return found


def make_scan(
    paths: Optional[list[str]],
    python: Optional[list[str]],
    tag: Optional[list[str]],
    exclude: Optional[list[str]],
    no_ignore: bool,
    pycache_prefix: Optional[str],
    *,
    require_fresh: bool = False,
    deep: bool = False,
    one_file_system: bool = False,
    helper: bool = False,
) -> "Scan":
    """A Scan from the options every command shares, with [tool.pycache-tool] as defaults.

    ``paths`` None means "."; an empty list means no directory at all (audit of archives only).
    """
    from pycache_tool.scanning.scan import Scan

    paths = ["."] if paths is None else paths
    chosen = settings(
        paths[0] if paths else ".",
        python=python,
        tag=tag,
        exclude=exclude,
        no_ignore=no_ignore,
        pycache_prefix=pycache_prefix,
    )
    options: dict[str, Any] = {}
    if chosen.pycache_prefix is not None:
        options["pycache_prefix"] = chosen.pycache_prefix
    return Scan(
        paths,
        targets=targets(chosen),
        exclude=chosen.exclude,
        use_ignore_files=chosen.use_ignore_files,
        require_fresh=require_fresh,
        deep=deep,
        check_excludes=exclude or (),
        one_file_system=one_file_system,
        helper=helper,
        **options,
    )


def warn_unmatched(unmatched: list[str], roots: list[str]) -> None:
    """Once the walk is done: a command-line --exclude pattern that matched nothing under
    ``roots`` is most likely written relative to the wrong directory; say so on stderr."""
    if not unmatched:
        return
    from pycache_tool.scanning.walk import project_root

    bases = ", ".join(sorted({project_root(root) for root in roots}))
    for pattern in unmatched:
        sys.stderr.write(
            f"pycache-tool: warning: --exclude {pattern} matched nothing; patterns are relative"
            f" to the project root ({bases}), not to the current directory\n"
        )


def show_progress() -> bool:
    """A bar only for a person watching: stderr is a terminal and this is not CI."""
    return sys.stderr.isatty() and not os.environ.get("CI")


class ProgressBar:
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
