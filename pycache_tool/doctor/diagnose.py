"""doctor: how an interpreter is set up for bytecode caching, and what is wrong with it.

One run of the interpreter (``probe.py``) tells its settings and where they came from; the one
walker and classifier (``Scan``) then count, read-only, how much of its standard library and
site-packages has a cache it loads. The findings are plain data with the command that fixes
each; ``reports/doctor.py`` puts them into words.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pycache_tool.bytecode import interpreters
from pycache_tool.bytecode.interpreters import Interpreter, version_key
from pycache_tool.errors import UsageError
from pycache_tool.scanning.records import Record, Status
from pycache_tool.scanning.scan import Scan

# "Barely compiled": fewer than half of a location's sources have a fresh cache at the level
# the interpreter runs at. Real cases are far below (an image with 11,959 sources and 1 pyc);
# a half keeps uncompiled test directories and the like from raising false alarms.
LOW_COVERAGE = 0.5
# A site-packages inside the standard library directory (python.org and pyenv layouts; PyPy's
# dist-packages) is its own location, and for a virtual environment not even on its path.
STDLIB_EXCLUDE = ("site-packages/", "dist-packages/")

PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "probe.py")

# Each finding's stable name (see the doctor page of the manual).
Code = Literal[
    "writing-off",
    "not-writable",
    "other-level",
    "stale-loaded",
    "prefix-dead-weight",
    "hash-checks-off",
    "relative-prefix",
    "source-date-epoch",
]


@dataclass(frozen=True)
class Settings:
    """What one interpreter does about caches, and where each setting came from (None: the
    built-in default)."""

    command: tuple[str, ...]  # how it was started, as given to --python
    interpreter: Interpreter
    full_version: str
    dont_write_bytecode: bool
    dont_write_bytecode_from: str | None  # "PYTHONDONTWRITEBYTECODE=1", "-B", "start-up code"
    optimize_from: str | None  # "PYTHONOPTIMIZE=1", "-O"
    pycache_prefix_from: str | None  # "PYTHONPYCACHEPREFIX", "-X pycache_prefix", ...
    prefix: str | None  # sys.pycache_prefix made absolute (a relative one is per directory)
    check_hash_based_pycs_from: str | None
    source_date_epoch: str | None  # None: unset or empty (empty means timestamp pycs too)
    ignore_environment: bool  # -E or -I: the PYTHON* variables do not count
    stdlib: str | None
    site_packages: tuple[str, ...]

    @property
    def executable(self) -> str:
        return self.interpreter.executable or self.command[0]


@dataclass
class Level:
    """The interpreter's cache files at one optimization level in one location."""

    files: int = 0
    fresh: int = 0
    bytes: int = 0
    modes: dict[str, int] = field(default_factory=dict)  # files by invalidation mode


@dataclass
class Location:
    """The standard library or one site-packages directory, as this interpreter sees it."""

    kind: Literal["stdlib", "site-packages"]
    path: str
    writes_to: str  # where import writes its caches: the tree itself, or its prefix mirror
    writable: bool
    not_writable_because: str | None
    sources: int = 0
    fresh: int = 0  # sources with a cache it loads, at the level it runs at
    files: int = 0  # its cache files where it looks for them (every level and status)
    bytes: int = 0
    levels: dict[int, Level] = field(default_factory=dict)
    # At the level it runs at: stale, yet loaded (unchecked-hash, or hash checks off): old code.
    stale_loaded: int = 0
    in_tree_files: int = 0  # with a prefix: its caches in __pycache__, which it never reads
    in_tree_bytes: int = 0
    unreadable: list[Record] = field(default_factory=list)

    @property
    def low(self) -> bool:
        return self.sources > 0 and self.fresh < self.sources * LOW_COVERAGE


@dataclass(frozen=True)
class Finding:
    """Something wrong (a warning) or worth knowing (a note), with the command that fixes it."""

    code: Code
    severity: Literal["warning", "note"]  # warnings fail --check; notes do not
    fix: str
    location: Location | None = None
    other_level: int | None = None  # other-level: the level most sources have a cache for
    checked: int = 0  # hash-checks-off: the checked-hash pycs at the level it runs at


@dataclass
class Diagnosis:
    settings: Settings
    locations: list[Location]
    findings: list[Finding]
    seconds: float = 0.0

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def incomplete(self) -> bool:
        return any(loc.unreadable for loc in self.locations)


def command_of(python: str) -> tuple[str, ...]:
    """``--python`` as a command: an existing file or a name on PATH as it is, otherwise split
    like a shell would, so that ``--python "python3 -B"`` carries interpreter options."""
    if os.path.exists(python) or shutil.which(python):
        return (python,)
    parts = tuple(shlex.split(python))
    if not parts:
        raise UsageError("--python needs an interpreter")
    return parts


def ask_settings(command: Sequence[str]) -> Settings:
    """Run the interpreter once, in this environment (what it would see), and ask it."""
    data = interpreters.ask_script(command, PROBE)
    shown = " ".join(command)
    interpreter = interpreters.from_info(data, command[0])
    too_old = version_key(interpreter.version) < (3, 8)
    if interpreter.implementation not in ("cpython", "pypy") or too_old:
        raise UsageError(
            f"doctor supports CPython and PyPy 3.8 or newer; {shown} is Python"
            f" {interpreter.version}" + (" (PyPy)" if interpreter.implementation == "pypy" else "")
        )
    if interpreter.tag is None:
        raise UsageError(f"{shown} has no cache tag: it never reads or writes bytecode caches")
    try:
        return _settings(tuple(command), interpreter, data["doctor"])
    except (KeyError, TypeError, ValueError):
        raise UsageError(f"--python {shown} did not answer like a Python interpreter") from None


def _settings(command: tuple[str, ...], interpreter: Interpreter, more: Any) -> Settings:
    environ = (
        {k: v for k, v in more["environ"].items() if v} if not more["ignore_environment"] else {}
    )
    writes, flag = bool(more["writes"]), bool(more["flag"])
    if not writes and flag:
        # The flag is -B or the variable; sys.flags cannot tell which when both are there.
        dwb_from: str | None = (
            f"PYTHONDONTWRITEBYTECODE={environ['PYTHONDONTWRITEBYTECODE']}"
            if "PYTHONDONTWRITEBYTECODE" in environ
            else "-B"
        )
    elif writes == flag:  # set, or cleared, by sitecustomize, a .pth file or the like
        dwb_from = "start-up code"
    else:
        dwb_from = None
    optimize_from: str | None = None
    if interpreter.optimize:
        optimize_from = (
            f"PYTHONOPTIMIZE={environ['PYTHONOPTIMIZE']}" if "PYTHONOPTIMIZE" in environ else "-O"
        )
    prefix = interpreter.pycache_prefix
    prefix_from: str | None = None
    if prefix is not None:
        if isinstance(more["x_prefix"], str) and more["x_prefix"] == prefix:
            prefix_from = "-X pycache_prefix"  # wins over the variable
        elif environ.get("PYTHONPYCACHEPREFIX") == prefix:
            prefix_from = "PYTHONPYCACHEPREFIX"
        else:
            prefix_from = "start-up code"
    site: list[str] = []
    for path in more["site"]:
        if path and os.path.isdir(path) and os.path.realpath(path) not in site:
            site.append(os.path.realpath(path))
    stdlib = more["stdlib"]
    return Settings(
        command=command,
        interpreter=interpreter,
        full_version=str(more["full_version"]),
        dont_write_bytecode=not writes,
        dont_write_bytecode_from=dwb_from,
        optimize_from=optimize_from,
        pycache_prefix_from=prefix_from,
        prefix=(
            os.path.normpath(os.path.join(str(more["cwd"]), prefix)) if prefix is not None else None
        ),
        check_hash_based_pycs_from=(
            None if interpreter.check_hash_based_pycs == "default" else "--check-hash-based-pycs"
        ),
        source_date_epoch=more["source_date_epoch"] or None,
        ignore_environment=bool(more["ignore_environment"]),
        stdlib=os.path.realpath(stdlib) if stdlib and os.path.isdir(stdlib) else None,
        site_packages=tuple(site),
    )


def diagnose(python: str | None = None, *, stdlib: bool = True) -> Diagnosis:
    """Probe ``python`` (default: the interpreter running this tool) and survey its
    standard library (unless ``stdlib`` is False) and site-packages."""
    started = time.perf_counter()
    settings = ask_settings(command_of(python) if python is not None else (sys.executable,))
    locations: list[Location] = []
    if stdlib and settings.stdlib:
        locations.append(survey(settings, "stdlib", settings.stdlib))
    locations += [survey(settings, "site-packages", path) for path in settings.site_packages]
    return Diagnosis(
        settings, locations, findings(settings, locations), time.perf_counter() - started
    )


def survey(settings: Settings, kind: Literal["stdlib", "site-packages"], path: str) -> Location:
    """Count, without writing anything, what of ``path`` has a cache the interpreter loads."""
    target = settings.interpreter
    prefix = settings.prefix
    writes_to = os.path.join(prefix, path.lstrip(os.sep)) if prefix else path
    writable, because = _writable(writes_to)
    location = Location(kind, path, writes_to, writable, because)
    scan = Scan(
        [path],
        targets=[target],
        exclude=list(STDLIB_EXCLUDE) if kind == "stdlib" else [],
        use_ignore_files=False,  # the interpreter does not read .gitignore (venvs carry "*")
        pycache_prefix=prefix,
        require_fresh=True,
        targets_only=True,
    )
    in_prefix = prefix.rstrip(os.sep) + os.sep if prefix else None
    for record in scan:
        if record.status is Status.UNREADABLE:
            location.unreadable.append(record)
            continue
        if record.tag != target.tag or record.status is Status.MISSING:
            continue
        if in_prefix is not None and not record.path.startswith(in_prefix):
            location.in_tree_files += 1
            location.in_tree_bytes += record.size
            continue
        level = location.levels.setdefault(record.optimization or 0, Level())
        level.files += 1
        level.bytes += record.size
        location.files += 1
        location.bytes += record.size
        if record.status is Status.FRESH:
            level.fresh += 1
        if record.invalidation:
            level.modes[record.invalidation] = level.modes.get(record.invalidation, 0) + 1
        if (
            record.status is Status.STALE
            and record.loads
            and record.optimization == target.optimize
        ):
            location.stale_loaded += 1
    (coverage,) = scan.coverage
    location.sources, location.fresh = coverage.sources, coverage.fresh
    return location


def _writable(directory: str) -> tuple[bool, str | None]:
    """Can this user create caches in ``directory`` (or, for a prefix tree not made yet, the
    nearest directory above it that exists)? If not, why."""
    existing = directory
    while not os.path.isdir(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    if os.access(existing, os.W_OK | os.X_OK):
        return True, None
    if hasattr(os, "statvfs"):
        try:
            if os.statvfs(existing).f_flag & os.ST_RDONLY:
                return False, "read-only file system"
        except OSError:
            pass
    return False, "permission denied"


def findings(settings: Settings, locations: Sequence[Location]) -> list[Finding]:
    """The warnings (with the command that fixes each) and notes for one interpreter."""
    target = settings.interpreter
    out: list[Finding] = []
    for loc in locations:
        compile_fix = _compile_fix(settings, loc)
        if loc.low and settings.dont_write_bytecode:
            out.append(Finding("writing-off", "warning", compile_fix, loc))
        elif loc.low and not loc.writable:
            out.append(Finding("not-writable", "warning", compile_fix, loc))
        other = _other_level(loc, target.optimize)
        if other is not None:
            out.append(Finding("other-level", "warning", compile_fix, loc, other_level=other))
        if loc.stale_loaded:
            out.append(Finding("stale-loaded", "warning", compile_fix, loc))
        if settings.prefix and loc.in_tree_files:
            out.append(Finding("prefix-dead-weight", "warning", _clean_fix(target, loc), loc))
    checked = sum(
        loc.levels[target.optimize].modes.get("checked-hash", 0)
        for loc in locations
        if target.optimize in loc.levels
    )
    if target.check_hash_based_pycs == "never" and checked:
        fix = f"start {settings.executable} without --check-hash-based-pycs never"
        out.append(Finding("hash-checks-off", "warning", fix, checked=checked))
    raw = target.pycache_prefix
    if raw is not None and not os.path.isabs(raw):
        setting = (
            f"-X pycache_prefix={settings.prefix}"
            if settings.pycache_prefix_from == "-X pycache_prefix"
            else f"export PYTHONPYCACHEPREFIX={shlex.quote(str(settings.prefix))}"
        )
        out.append(Finding("relative-prefix", "warning", setting))
    if settings.source_date_epoch:
        fix = "unset SOURCE_DATE_EPOCH outside reproducible builds"
        out.append(Finding("source-date-epoch", "note", fix))
    return out


def _other_level(loc: Location, level: int) -> int | None:
    """A level that most sources have a fresh cache for, when the interpreter's own has few."""
    if not loc.low:
        return None
    for other, counts in sorted(loc.levels.items()):
        if other != level and counts.fresh >= loc.sources * LOW_COVERAGE:
            return other
    return None


def _compile_fix(settings: Settings, loc: Location) -> str:
    """The compile command that gives the location caches this interpreter loads."""
    target = settings.interpreter
    parts = ["pycache-tool", "compile", f"--{loc.kind}", "--python", settings.executable]
    if target.optimize:  # started with -O: compile would ask the bare executable otherwise
        parts += ["-O", str(target.optimize)]
    if settings.prefix:
        parts += ["--pycache-prefix", settings.prefix]
    return shlex.join(parts)


def _clean_fix(target: Interpreter, loc: Location) -> str:
    """The clean command that removes the caches the prefix makes dead, and only those: this
    interpreter's own in the tree (``--own``), never those of other interpreters, nor the
    prefix tree (no prefix for the clean)."""
    parts = ["pycache-tool", "clean", "--own", "--tag", target.name, "--no-ignore"]
    if loc.kind == "stdlib":
        for pattern in STDLIB_EXCLUDE:
            parts += ["--exclude", pattern]
    return "PYTHONPYCACHEPREFIX= " + shlex.join([*parts, loc.path])
