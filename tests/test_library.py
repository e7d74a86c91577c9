"""The library without surprises: importing it changes nothing in the host process, a Scan
counts the same each time it is iterated, scan() has Scan's signature, records are built by
name."""

from __future__ import annotations

import ast
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pycache_tool import Scan, scan
from tests.cleantrees import compile_here
from tests.conftest import write

PACKAGE = Path(__file__).resolve().parents[1] / "pycache_tool"

# Runs in a fresh interpreter: what importing, then using, the package does to the process.
_HOST = """
import json, sys
sys.dont_write_bytecode = {initial}
before = set(sys.modules)
import pycache_tool
imported = sorted(set(sys.modules) - before)
after_import = sys.dont_write_bytecode
records = list(pycache_tool.scan([sys.argv[1]]))
print(json.dumps({{
    "imported": imported,
    "after_import": after_import,
    "after_scan": sys.dont_write_bytecode,
    "records": len(records),
    "cli": sorted(m for m in sys.modules if m.startswith(("typer", "pycache_tool.cli"))),
}}))
"""


@pytest.mark.parametrize("initial", [False, True])
def test_import_changes_nothing_in_the_host_process(tmp_path: Path, initial: bool) -> None:
    """``import pycache_tool`` loads no submodule, typer or subprocess, and neither it nor a
    scan touches sys.dont_write_bytecode: only the command line turns writing off."""
    compile_here(write(tmp_path / "m.py", "X = 1\n"))
    done = subprocess.run(
        [sys.executable, "-c", _HOST.format(initial=initial), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert "pycache_tool" in seen["imported"]
    assert [m for m in seen["imported"] if m.startswith("pycache_tool.")] == []
    assert "subprocess" not in seen["imported"] and "typer" not in seen["imported"]
    assert seen["after_import"] is initial and seen["after_scan"] is initial
    assert seen["records"] == 1 and seen["cli"] == []


def test_a_scan_counts_afresh_each_time_it_is_iterated(tmp_path: Path) -> None:
    write(tmp_path / "a.py", "A = 1\n")
    compile_here(write(tmp_path / "b.py", "B = 1\n"))
    every = Scan([tmp_path], require_fresh=True, collect_needs="uncovered")
    assert [(c.sources, c.fresh) for c in every.coverage] == [(0, 0)], "nothing walked yet"
    for _ in range(3):
        records = list(every)
        assert sorted(r.status.value for r in records) == ["fresh", "missing"]
        assert [(c.sources, c.fresh) for c in every.coverage] == [(2, 1)]
        assert [Path(n.source).name for n in every.needs] == ["a.py"]


def test_scan_takes_the_arguments_of_scan_by_name() -> None:
    """scan() is Scan() as a function: the same parameters, keyword-only after the paths,
    with the same defaults and types."""
    function = inspect.signature(scan).parameters
    constructor = dict(inspect.signature(Scan.__init__).parameters)
    del constructor["self"]
    assert list(function) == list(constructor)
    for name, parameter in function.items():
        assert parameter == constructor[name], name
        expected = "POSITIONAL_OR_KEYWORD" if name == "paths" else "KEYWORD_ONLY"
        assert parameter.kind.name == expected, name
    with pytest.raises(TypeError):
        scan(["."], no_such_option=True)  # type: ignore[call-arg]


# Built field by field, never by position: past the first two (path or name, and status)
# a positional field is a field someone will one day put in the wrong place.
_BY_NAME = {"Record", "Entry", "Need"}


def test_records_are_built_by_name() -> None:
    offenders = []
    for module in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(module.read_text(encoding="utf-8"), str(module))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in _BY_NAME and len(node.args) > 2:
                offenders.append(f"{module.relative_to(PACKAGE)}:{node.lineno} {name}")
    assert offenders == []


def test_the_core_imports_no_report_or_command_line() -> None:
    """The core returns data: only reports/ format it and only cli/ prints it (and
    ``__main__``, the entry point, starts the command line)."""
    offenders = []
    for module in sorted(PACKAGE.rglob("*.py")):
        where = module.relative_to(PACKAGE)
        if where.parts[0] in ("reports", "cli") or where.name == "__main__.py":
            continue
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"), str(module))):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            offenders += [
                f"{where}:{node.lineno} {name}"
                for name in names
                if name.startswith(("pycache_tool.reports", "pycache_tool.cli"))
            ]
    assert offenders == []
