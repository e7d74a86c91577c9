"""Target interpreters: what a Python writes and loads (tag, magic, hash, settings)."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pycache_tool.bytecode.magic_table import MAGIC_TABLE
from pycache_tool.bytecode.pyc import tag_version
from pycache_tool.bytecode.siphash import siphash
from pycache_tool.errors import UsageError

# An interpreter's --check-hash-based-pycs: when it checks a hash-based pyc against its source.
CheckHashMode = Literal["default", "always", "never"]
_CHECK_HASH_MODES: tuple[CheckHashMode, ...] = ("default", "always", "never")


@dataclass(frozen=True)
class Interpreter:
    """An interpreter as far as caching goes. ``tag`` None: Python 2 style, caches beside sources."""

    implementation: str  # "cpython" or "pypy"
    version: str  # language version, "3.12"
    magic: int
    tag: str | None
    optimize: int = 0
    check_hash_based_pycs: CheckHashMode = "default"
    pycache_prefix: str | None = None
    executable: str | None = None
    # importlib.machinery.EXTENSION_SUFFIXES as it reported them; None: not asked (a --tag).
    extension_suffixes: tuple[str, ...] | None = None

    @property
    def name(self) -> str:
        """Its one name in every report: its cache tag, or "python2.7"-style for tagless ones."""
        return self.tag or interpreter_name(self.implementation, self.version)

    @property
    def python(self) -> str:
        return python_label(self.implementation, self.version)


def python_label(implementation: str, version: str) -> str:
    """The records' ``python`` field: "3.12" for CPython, "pypy3.9" for PyPy."""
    return version if implementation == "cpython" else f"pypy{version}"


def interpreter_name(implementation: str, version: str) -> str:
    """The one name of an interpreter in every report and in ``--tag``: the cache tag it
    writes (``cpython-311``, ``pypy39``), or, for Pythons that write caches beside the source
    and have no tag (CPython 2.x and 3.0-3.1, PyPy2), ``python2.7`` / ``pypy2.7``."""
    major, minor = version_key(version)
    if implementation == "cpython" and (major, minor) >= (3, 2):
        return f"cpython-{major}{minor}"
    if implementation == "pypy" and (major, minor) >= (3, 6):
        # PyPy names its tag after the language version from PyPy3.6 v7.3 on; earlier PyPy3
        # releases used "pypy3-" and their own version (pypy3-71), which no magic number tells.
        return f"pypy{major}{minor}"
    return f"python{version}" if implementation == "cpython" else f"pypy{version}"


def name_of_python(python: str) -> str:
    """``interpreter_name`` from a record's ``python`` field ("3.11", "pypy3.9", "2.7")."""
    if python.startswith("pypy"):
        return interpreter_name("pypy", python[len("pypy") :])
    return interpreter_name("cpython", python)


@functools.cache
def known_names() -> dict[str, tuple[str, str]]:
    """Every name ``--tag`` accepts -> (implementation, version): the interpreters of the magic
    table whose caches a scan can tell apart; tags first (CPython, PyPy), then tagless ones.

    PyPy3 before 3.6 is left out: its tag named the PyPy release ("pypy3-24"), not the
    language version, so no name made from the table can stand for it.
    """
    versions = {(impl, ver) for impl, ver, _, _ in MAGIC_TABLE.values() if ver[-1].isdigit()}
    named = [(interpreter_name(impl, ver), impl, ver) for impl, ver in versions]
    usable = [
        row
        for row in named
        if row[1] == "cpython" or not row[0].startswith("pypy3.")  # PyPy3 before 3.6
    ]
    usable.sort(key=lambda row: ("." in row[0], row[1] == "pypy", version_key(row[2])))
    return {name: (impl, ver) for name, impl, ver in usable}


@functools.cache
def version_key(version: str) -> tuple[int, int]:
    major, _, minor = version.partition(".")
    return (int(major), int(minor) if minor.isdigit() else 0)


@functools.cache
def final_magics(implementation: str, version: str) -> frozenset[int]:
    """Magic numbers that final releases of this version write (3.5 has two, PyPy lines several)."""
    return frozenset(
        magic
        for magic, (impl, ver, _, final) in MAGIC_TABLE.items()
        if impl == implementation and ver == version and final
    )


def from_tag(tag: str) -> Interpreter:
    """An interpreter known only by its name (``--tag``): its cache tag (``cpython-312``,
    ``pypy39``), or ``python2.7``-style for tagless ones; the newest final magic of its
    version (the newest magic of a version still in development)."""
    known = known_names()
    found = known.get(tag)
    if found is None:
        raise UsageError(f"--tag {tag}: {_why_unknown(tag)}; valid: {', '.join(known)}")
    implementation, version = found
    magics = final_magics(implementation, version) or frozenset(
        magic
        for magic, (impl, ver, _, _) in MAGIC_TABLE.items()
        if (impl, ver) == (implementation, version)
    )
    return Interpreter(implementation, version, max(magics), None if "." in tag else tag)


def _why_unknown(tag: str) -> str:
    """Why ``tag`` names no interpreter, and its right name when the tag is only misspelt."""
    parsed = tag_version(tag)
    if parsed is not None and "-pytest-" not in tag:
        right = interpreter_name(*parsed)
        if right in known_names():
            spoken = f"{'CPython' if parsed[0] == 'cpython' else 'PyPy'} {parsed[1]}"
            return f"{spoken} writes no such tag (its name here is {right})"
    return "no interpreter writes caches under that name"


def current() -> Interpreter:
    """The interpreter running this tool."""
    import _imp
    import importlib.machinery
    import importlib.util

    return Interpreter(
        implementation=sys.implementation.name,
        version=f"{sys.version_info[0]}.{sys.version_info[1]}",
        magic=int.from_bytes(importlib.util.MAGIC_NUMBER[:2], "little"),
        tag=sys.implementation.cache_tag,
        optimize=sys.flags.optimize,
        check_hash_based_pycs=_check_hash_mode(getattr(_imp, "check_hash_based_pycs", "default")),
        pycache_prefix=getattr(sys, "pycache_prefix", None),
        executable=sys.executable,
        extension_suffixes=tuple(importlib.machinery.EXTENSION_SUFFIXES),
    )


# Runs inside the target, any Python from 2.7 on: prints what caching needs to know. doctor's
# probe (doctor/probe.py) asks the same, and more.
_QUERY = r"""
import sys
import json
try:
    import importlib.util as u
    magic = u.MAGIC_NUMBER
except (ImportError, AttributeError):
    import imp
    magic = imp.get_magic()
try:
    import _imp
    mode = getattr(_imp, "check_hash_based_pycs", "default")
except ImportError:
    mode = "default"
try:
    import importlib.machinery
    extensions = list(importlib.machinery.EXTENSION_SUFFIXES)
except (ImportError, AttributeError):
    import imp
    extensions = [s for s, _, kind in imp.get_suffixes() if kind == imp.C_EXTENSION]
impl = getattr(sys, "implementation", None)
info = {
    "implementation": impl.name if impl else ("pypy" if "PyPy" in sys.version else "cpython"),
    "version": "%d.%d" % sys.version_info[:2],
    "magic": bytearray(magic)[0] | bytearray(magic)[1] << 8,
    "tag": impl.cache_tag if impl else None,
    "optimize": sys.flags.optimize,
    "check_hash_based_pycs": mode,
    "pycache_prefix": getattr(sys, "pycache_prefix", None),
    "executable": sys.executable,
    "extension_suffixes": extensions,
}
print(json.dumps(info))
"""


def query(executable: str, timeout: float | None = None) -> Interpreter:
    """Ask ``executable`` once for its tag, magic and settings (see ``ask`` for ``timeout``)."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    return from_info(ask([executable], _QUERY, env, timeout=timeout), executable)


# ``-c`` puts the working directory first on sys.path: a json.py there must not answer.
OWN_MODULES_ONLY = """\
import sys
if sys.path and sys.path[0] == "":
    del sys.path[0]
"""


# Seconds an interpreter may take to answer a question when no --timeout says otherwise: a
# start-up and a few lines of code, even on a loaded machine.
QUERY_TIMEOUT = 60.0


def ask(
    command: Sequence[str],
    code: str,
    env: Mapping[str, str] | None = None,
    *,
    timeout: float | None = None,
) -> Any:
    """Run ``code`` in the interpreter started as ``command``: the JSON on its last output line.

    It may take ``timeout`` seconds (None: QUERY_TIMEOUT). Errors name ``--python`` and the
    command, on one line, whatever bytes the interpreter printed.
    """
    return _answer(command, ["-c", OWN_MODULES_ONLY + code], env, timeout)


def ask_script(
    command: Sequence[str],
    script: str,
    env: Mapping[str, str] | None = None,
    *,
    timeout: float | None = None,
) -> Any:
    """Run the script file ``script`` in the interpreter started as ``command``: the JSON on
    its last output line, errors as ``ask`` gives them."""
    return _answer(command, [script], env, timeout)


def _answer(
    command: Sequence[str],
    args: Sequence[str],
    env: Mapping[str, str] | None,
    timeout: float | None,
) -> Any:
    import json  # only for --python: an audit of the running interpreter never loads it

    shown = " ".join(command)
    limit = QUERY_TIMEOUT if timeout is None else timeout
    try:
        done = subprocess.run(
            [*command, *args],
            capture_output=True,
            env=env,
            timeout=limit,
            check=False,
        )
    except OSError as exc:
        raise UsageError(f"cannot run --python {shown}: {exc.strerror or exc}") from None
    except subprocess.TimeoutExpired:
        raise UsageError(f"--python {shown} gave no answer in {limit:g} s") from None
    if done.returncode != 0:
        last = (_lines(done.stderr) or ["no output"])[-1]
        raise UsageError(f"--python {shown} failed: {last}")
    try:
        # The last line: start-up code (sitecustomize, a .pth file) may have printed before.
        return json.loads((_lines(done.stdout) or [""])[-1])
    except ValueError:
        raise UsageError(f"--python {shown} did not answer like a Python interpreter") from None


def _lines(output: bytes) -> list[str]:
    """An interpreter's output as lines of text; bytes that are not UTF-8 are shown as \\xNN."""
    return output.decode("utf-8", "backslashreplace").strip().splitlines()


def from_info(data: Any, executable: str) -> Interpreter:
    """The Interpreter that a query's (or doctor's probe's) answer describes."""
    try:
        return Interpreter(
            implementation=str(data["implementation"]),
            version=str(data["version"]),
            magic=int(data["magic"]),
            tag=data["tag"],
            optimize=int(data["optimize"]),
            check_hash_based_pycs=_check_hash_mode(data["check_hash_based_pycs"]),
            pycache_prefix=data["pycache_prefix"],
            executable=str(data["executable"] or executable),
            extension_suffixes=tuple(str(s) for s in data.get("extension_suffixes") or ()) or None,
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        raise UsageError(
            f"--python {executable} did not answer like a Python interpreter"
        ) from None


def _check_hash_mode(value: object) -> CheckHashMode:
    """``value`` if it is a mode (an interpreter's answer is checked, not trusted)."""
    for mode in _CHECK_HASH_MODES:
        if value == mode:
            return mode
    raise ValueError(f"unknown --check-hash-based-pycs mode {value!r}")


def source_hash(implementation: str, version: str, magic: int, data: bytes) -> bytes:
    """The 8-byte hash that interpreter stores in a hash-based pyc of ``data``."""
    key = magic | 0x0A0D0000
    if native_hash(implementation, version):
        import _imp

        result: bytes = _imp.source_hash(key, data)
        return result
    modern = implementation == "cpython" and version_key(version) >= (3, 11)
    return siphash(key, data, 1, 3) if modern else siphash(key, data, 2, 4)


def native_hash(implementation: str, version: str) -> bool:
    """Is that interpreter's source hash the running one's own (C, fast), rather than the
    pure-Python SipHash of the other family (about 2.5 MB a second)?"""
    modern = implementation == "cpython" and version_key(version) >= (3, 11)
    return sys.implementation.name == "cpython" and modern == (sys.version_info >= (3, 11))
