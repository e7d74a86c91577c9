"""Shadowed caches: the proof that ``loads`` agrees with what each real interpreter reads when
a package or an extension module has the name of a module beside it.

Method, for every case: the interpreter compiles ``NAME.py`` into its cache, the case puts a
rival beside it (a package ``NAME/``, an extension ``NAME<suffix>`` that is a real extension
module of that interpreter, copied from its standard library under the case's file name), and
the same interpreter imports NAME with ``-v``. The cache files that ``-v`` says it read
("code object from", Python 2's "precompiled from") are what was loaded; each case's cache
record must say ``loads`` exactly then, with the expected status. Every case has a directory
of its own on ``sys.path`` and extension cases a process of their own (one module name, many
files). Each tree is scanned twice: with the interpreter as a ``--python`` target (its own
EXTENSION_SUFFIXES) and with the tool's own interpreter as the only target (the suffixes of a
default build of the cache's version, worked out without asking it).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
from pathlib import Path

import pytest

from pycache_tool import Record, Status, scan
from pycache_tool.bytecode.interpreters import Interpreter, current, query

from .conftest import interpreter_params, run_python, write

VERSIONS = ["2.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "pypy3"]

# Runs in the target (2.7 too): an extension module of its standard library, its own suffix.
_FIND_EXTENSION = r"""
import json, os, sys
try:
    from importlib.machinery import EXTENSION_SUFFIXES as suffixes
except ImportError:
    import imp
    suffixes = [s for s, _, kind in imp.get_suffixes() if kind == imp.C_EXTENSION]
found = None
for name in ("_json", "_bisect", "_heapq", "_syslog_cffi", "_resource_cffi"):
    try:
        module = __import__(name)
    except ImportError:
        continue
    path = getattr(module, "__file__", None) or ""
    for suffix in suffixes:
        if os.path.basename(path) == name + suffix:
            found = [name, path, suffix]
            break
    if found:
        break
print(json.dumps(found))
"""

# Runs in the target: compiles sources to the cache file its import looks for (or beside).
_COMPILE = r"""
import json, py_compile
try:
    from importlib.util import cache_from_source
except ImportError:
    cache_from_source = None
out = []
for source, beside in json.loads(%s):
    cfile = source + "c" if beside or cache_from_source is None else cache_from_source(source)
    py_compile.compile(source, cfile=cfile, doraise=True)
    out.append(cfile)
print(json.dumps(out))
"""

# Runs in the target under -v: imports NAME from DIR, prints its __file__ (or the error).
# Nothing else is imported first: json itself imports _json, a module the cases use.
_IMPORT = r"""
import sys
sys.path.insert(0, %r)
try:
    module = __import__(%r)
    print("file " + str(getattr(module, "__file__", None)))
except Exception as exc:
    print("!%%s: %%s" %% (type(exc).__name__, exc))
"""
_READ = re.compile(r"^# code object from '(.+)'$|^import \S+ # precompiled from (.+)$", re.M)


def _literal(value: object) -> str:
    """A Python string literal (valid in 2.7 and 3.x) holding ``value`` as JSON."""
    return json.dumps(json.dumps(value))


@functools.cache
def target_of(exe: str) -> Interpreter:
    return query(exe)


@functools.cache
def extension_of(exe: str) -> tuple[str, str, str] | None:
    """(module name, file, its own suffix) of an extension module of ``exe``'s stdlib."""
    done = run_python(exe, _FIND_EXTENSION)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    return None if found is None else (found[0], found[1], found[2])


@dataclasses.dataclass
class Case:
    """One directory on sys.path: NAME.py (or a sourceless NAME.pyc) and a rival beside it."""

    label: str
    name: str  # the module imported
    shadowed: bool  # expected: the case's cache is never read
    rival: dict[str, str | None]  # relative path -> text to write, or None: the extension binary
    cache_of: str = ""  # the source whose cache is judged (default NAME.py)
    sourceless: bool = False  # the cache is NAME.pyc beside, and NAME.py is removed
    links: dict[str, str] = dataclasses.field(default_factory=dict)  # symlink -> target


def cases_for(exe: str) -> list[Case]:
    target = target_of(exe)
    py2 = target.tag is None
    cpython3 = target.implementation == "cpython" and not py2
    init = "V = 'package'\n"
    cases = [
        Case("package", "pkgmod", True, {"pkgmod/__init__.py": init}),
        # A package whose __init__ is sourceless bytecode is a package all the same.
        Case("package_sourceless_init", "pkgc", True, {"pkgc/__init__.pyc": init}),
        # A directory without __init__ is a namespace portion: the module wins.
        Case("namespace_dir", "nsmod", False, {"nsmod/data.txt": "not python\n"}),
        Case("namespace_tree", "nstree", False, {"nstree/sub/__init__.py": init}),
        # Sourceless bytecode beside a package: the package is imported, never the .pyc.
        Case("sourceless", "sless", True, {"sless/__init__.py": init}, sourceless=True),
        Case("sourceless_alone", "slone", False, {}, sourceless=True),
        Case(
            "symlinked_package",
            "lnk",
            True,
            {"real_pkg_dir/__init__.py": init},
            links={"lnk": "real_pkg_dir"},
        ),
    ]
    found = extension_of(exe)
    if found is None:
        return cases
    ext, _, own = found
    cases += [
        Case("extension", ext, True, {ext + own: None}),
        # The forms of other interpreters: each shadows only where it is among the suffixes.
        Case("extension_abi3", ext, cpython3, {ext + ".abi3.so": None}),
        Case("extension_bare_so", ext, target.implementation == "cpython", {ext + ".so": None}),
        Case("extension_module_so", ext, py2, {ext + "module.so": None}),
        # Named for another version: never tried, whatever is inside.
        Case("extension_other_version", ext, False, {ext + _other_version(target): None}),
        # A package's __init__ is looked up like a module: its extension wins (Python 2 too).
        Case("extension_init", ext, True, {f"{ext}/__init__{own}": None}, f"{ext}/__init__.py"),
    ]
    return cases


def _other_version(target: Interpreter) -> str:
    """The extension suffix of another CPython 3 on this machine's platform."""
    other = "312" if target.version != "3.12" else "311"
    return f".cpython-{other}-x86_64-linux-gnu.so"


def build(exe: str, root: Path, case: Case) -> Path:
    """The case's directory, its module compiled by ``exe``; returns the case's cache file."""
    directory = root / case.label
    source = directory / (case.cache_of or f"{case.name}.py")
    write(source, "V = 'source'\n")
    compiled = [(str(source), case.sourceless)]
    for relative, text in case.rival.items():
        path = directory / relative
        if text is None:
            found = extension_of(exe)
            assert found is not None
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(Path(found[1]).read_bytes())
        elif relative.endswith(".pyc"):  # sourceless: compiled beside, then the source goes
            compiled.append((str(write(path.with_suffix(".py"), text)), True))
        else:
            write(path, text)
    for link, to in case.links.items():
        (directory / link).symlink_to(to)
    done = run_python(exe, _COMPILE % _literal(compiled), cwd=root)
    assert done.returncode == 0, done.stderr
    for compiled_source, beside in compiled:
        if beside:
            os.unlink(compiled_source)
    return Path(json.loads(done.stdout)[0])


def imported(exe: str, root: Path, case: Case) -> tuple[str, set[str]]:
    """Import the case's module under -v: (its __file__ or "!Error", the cache files read)."""
    code = _IMPORT % (str(root / case.label), case.name)
    done = run_python(exe, code, cwd=root, args=["-v"])
    assert done.returncode == 0, done.stderr
    read = {a or b for a, b in _READ.findall(done.stderr)}
    last = done.stdout.strip().splitlines()[-1]
    return last[len("file ") :] if last.startswith("file ") else last, read


@pytest.mark.parametrize("exe", interpreter_params(VERSIONS))
def test_shadowed_caches_are_never_read(exe: str, tmp_path: Path) -> None:
    """Packages (with a source or a sourceless __init__, or through a symlink) and extension
    modules of the interpreter's own suffixes shadow a module's cache; namespace directories
    and extensions named for other interpreters do not."""
    root = tmp_path / "tree"
    cases = cases_for(exe)
    caches = {case.label: build(exe, root, case) for case in cases}
    own = target_of(exe)
    tool = current()
    scans = {"as a --python target": [own]}
    if (tool.implementation, tool.version) != (own.implementation, own.version):
        scans["with its suffixes worked out"] = [tool]
    records: dict[str, dict[str, Record]] = {
        how: {r.path: r for r in scan([str(root)], targets=targets)}
        for how, targets in scans.items()
    }
    problems = []
    for case in cases:
        cache = str(caches[case.label])
        module, read = imported(exe, root, case)
        loaded = cache in read
        if not module.startswith(str(root / case.label) + os.sep):
            problems.append(f"{case.label}: not imported from the case's directory: {module}")
            continue
        if loaded == case.shadowed:
            problems.append(
                f"{case.label}: the interpreter {'read' if loaded else 'did not read'} the cache"
                f" ({module}); this test expected otherwise"
            )
        expected = (
            Status.SOURCELESS
            if case.sourceless
            else (Status.SHADOWED if not loaded else Status.FRESH)
        )
        for how, found in records.items():
            record = found.get(cache)
            if record is None:
                problems.append(f"{case.label}: no record for {cache} {how}")
            elif record.loads is not loaded or record.status is not expected:
                problems.append(
                    f"{case.label}: the interpreter {'read' if loaded else 'did not read'} the"
                    f" cache ({module}), but {how} the tool said {record.status.value},"
                    f" loads={record.loads} ({record.reason})"
                )
            elif not loaded and "shadowed by" not in record.reason:
                problems.append(f"{case.label}: {how} the reason says {record.reason!r}")
    assert not problems, "\n".join(problems)
