"""Edits within the same second as the compile: what the real interpreters do, and what audit says.

A timestamp pyc records the source's mtime in whole seconds (and, from 3.3, its size). An edit
made within the same second that keeps the size leaves the pyc valid in the interpreter's eyes:
it loads the OLD code. Audit must report exactly that (``fresh``, ``loads: true``) and
``--verbose`` must say why; a checked-hash pyc does notice the same edit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import cli, cli_json, interpreter_params, run_python, write

T = 1_700_000_000  # a whole second; the edits below land at T+0.1 and T+0.9
PY3 = ["3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "pypy3"]

COMPILE = """
import py_compile
if {mode!r} == "timestamp":
    py_compile.compile("mod.py", doraise=True)
else:
    py_compile.compile("mod.py", doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
"""
LOADED = "import mod, sys; sys.stdout.write(str(mod.X))"


def compile_then_edit(exe: str, tmp_path: Path, mode: str, new_text: str) -> Path:
    """mod.py says X = 1 at T+0.1 when compiled, then ``new_text`` at T+0.9; returns the pyc."""
    source = write(tmp_path / "mod.py", "X = 1\n", mtime=T + 0.1)
    done = run_python(exe, COMPILE.format(mode=mode), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    write(source, new_text, mtime=T + 0.9)
    assert int(source.stat().st_mtime) == T
    written = list(tmp_path.rglob("mod*.pyc"))
    assert len(written) == 1, written
    return written[0]


def loaded_value(exe: str, tmp_path: Path) -> str:
    done = run_python(exe, LOADED, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return done.stdout


def record_of(report: Any, pyc: Path) -> Any:
    found = [r for r in report["records"] if r["path"] == str(pyc)]
    assert len(found) == 1, report["records"]
    return found[0]


def verbose_line(capsys: pytest.CaptureFixture[str], exe: str, tmp_path: Path, pyc: Path) -> str:
    code, out, err = cli(capsys, "audit", "--verbose", str(tmp_path), "--python", exe)
    assert code == 0, err
    lines = [line for line in out.splitlines() if str(pyc.relative_to(Path.cwd())) in line]
    return lines[0] if lines else ""


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("exe", interpreter_params(PY3))
def test_same_second_same_size_edit_loads_old_code_and_audit_says_fresh(
    exe: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pyc = compile_then_edit(exe, tmp_path, "timestamp", "X = 2\n")
    assert loaded_value(exe, tmp_path) == "1"  # the interpreter runs the old code
    code, report = cli_json(capsys, "audit", str(tmp_path), "--python", exe)
    assert code == 0
    record = record_of(report, pyc)
    assert (record["status"], record["loads"], record["invalidation"]) == (
        "fresh",
        True,
        "timestamp",
    )
    assert record["reason"] == (
        "timestamp pyc: the source's mtime (whole seconds) and size match; an edit within the"
        " same second that keeps the size is not detected (use --invalidation-mode checked-hash)"
    )
    line = verbose_line(capsys, exe, tmp_path, pyc)
    assert line.lstrip().startswith("fresh") and record["reason"] in line, line


@pytest.mark.parametrize("exe", interpreter_params(PY3))
def test_same_second_edit_that_changes_the_size_is_detected(
    exe: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pyc = compile_then_edit(exe, tmp_path, "timestamp", "X = 22\n")
    assert loaded_value(exe, tmp_path) == "22"
    code, report = cli_json(capsys, "audit", str(tmp_path), "--python", exe)
    record = record_of(report, pyc)
    assert (record["status"], record["loads"]) == ("stale", False)
    assert record["reason"] == "source size differs; import recompiles it"


@pytest.mark.parametrize("exe", interpreter_params(PY3))
def test_same_second_edit_is_detected_by_a_checked_hash_pyc(
    exe: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pyc = compile_then_edit(exe, tmp_path, "checked-hash", "X = 2\n")
    assert loaded_value(exe, tmp_path) == "2"  # the interpreter hashed the source and recompiled
    code, report = cli_json(capsys, "audit", str(tmp_path), "--python", exe)
    record = record_of(report, pyc)
    assert (record["status"], record["loads"], record["invalidation"]) == (
        "stale",
        False,
        "checked-hash",
    )
    # And before the edit the same pyc is fresh, with a reason that says it checks the content.
    write(tmp_path / "mod.py", "X = 1\n", mtime=T + 0.9)
    code, report = cli_json(capsys, "audit", str(tmp_path), "--python", exe)
    record = record_of(report, pyc)
    assert (record["status"], record["loads"]) == ("fresh", True)
    assert record["reason"] == "checked-hash pyc: the source's hash matches"


@pytest.mark.parametrize("exe", interpreter_params(["2.7"]))
@pytest.mark.parametrize("new_text", ["X = 2\n", "X = 22\n"], ids=["same-size", "new-size"])
def test_python2_misses_any_same_second_edit(
    exe: str, new_text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Python 2 records no source size: even an edit that changes the size goes unnoticed."""
    pyc = compile_then_edit(exe, tmp_path, "timestamp", new_text)
    assert pyc == tmp_path / "mod.pyc"
    assert loaded_value(exe, tmp_path) == "1"
    code, report = cli_json(capsys, "audit", str(tmp_path), "--python", exe)
    assert code == 0
    record = record_of(report, pyc)
    assert (record["status"], record["loads"]) == ("fresh", True)
    assert record["reason"] == (
        "timestamp pyc: the source's mtime (whole seconds) matches and no size is recorded;"
        " an edit within the same second is not detected"
    )
    line = verbose_line(capsys, exe, tmp_path, pyc)
    assert line.lstrip().startswith("fresh") and record["reason"] in line, line
