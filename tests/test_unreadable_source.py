"""A cache whose source cannot be read: the verdict says what import really does, as the real
interpreters do it (import fails, or loads the cache without reading the source)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import INTERPRETERS, run_python, write

# Root reads a mode-000 file; without these two capabilities it is refused like anyone else.
NO_DAC = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]
AS_USER = NO_DAC if os.geteuid() == 0 else []
pytestmark = pytest.mark.skipif(
    bool(AS_USER) and shutil.which("setpriv") is None,
    reason="running as root without setpriv: every file is readable",
)


def _audit(root: Path) -> dict[str, Any]:
    """``pycache-tool audit --format json`` run as a user who cannot read mode-000 files."""
    done = subprocess.run(
        [*AS_USER, sys.executable, "-m", "pycache_tool", "audit", "--format", "json", str(root)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout, done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    doc["exit"] = done.returncode
    return doc


def _import(exe: str, module: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Import ``module`` from ``cwd`` in ``exe``, as that user, writing no bytecode."""
    return subprocess.run(
        [*AS_USER, exe, "-B", "-c", f"import {module}; print('loaded %s' % {module}.X)"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": os.environ.get("PATH", "")},
    )


def _compiled(root: Path, stem: str, mode: str) -> Path:
    """``root/STEM.py`` and its cache, written by py_compile in ``mode``."""
    source = write(root / f"{stem}.py", "X = 1\n", mtime=1_700_000_000)
    code = (
        "import py_compile as p, sys\n"
        f"p.compile(sys.argv[1], invalidation_mode=p.PycInvalidationMode.{mode}, doraise=True)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(source)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return source


def test_hash_and_timestamp_pycs_whose_source_cannot_be_read(tmp_path: Path) -> None:
    """Checked-hash: import fails with PermissionError; unchecked-hash and a fresh timestamp
    pyc load without reading the source; a stale timestamp pyc cannot be recompiled."""
    for stem, mode in (
        ("checked", "CHECKED_HASH"),
        ("unchecked", "UNCHECKED_HASH"),
        ("fresh", "TIMESTAMP"),
        ("stale", "TIMESTAMP"),
    ):
        source = _compiled(tmp_path, stem, mode)
        if stem == "stale":
            os.utime(source, (1_600_000_000, 1_600_000_000))
        source.chmod(0)
    imports = {
        stem: _import(sys.executable, stem, tmp_path)
        for stem in ("checked", "unchecked", "fresh", "stale")
    }
    assert "PermissionError" in imports["checked"].stderr
    assert "PermissionError" in imports["stale"].stderr
    assert "loaded 1" in imports["unchecked"].stdout and "loaded 1" in imports["fresh"].stdout

    doc = _audit(tmp_path)
    by_stem = {Path(r["path"]).name.split(".")[0]: r for r in doc["records"]}
    checked = by_stem["checked"]
    assert (checked["status"], checked["loads"]) == ("unreadable", False)
    assert checked["reason"] == (
        "checked-hash pyc, but the source cannot be read (Permission denied):"
        " import fails with PermissionError"
    )
    unchecked = by_stem["unchecked"]
    assert (unchecked["status"], unchecked["loads"]) == ("unreadable", True)
    assert "cannot be told, and import loads it without checking" in unchecked["reason"]
    assert (by_stem["fresh"]["status"], by_stem["fresh"]["loads"]) == ("fresh", True)
    stale = by_stem["stale"]
    assert (stale["status"], stale["loads"]) == ("stale", False)
    assert stale["reason"] == (
        "source mtime differs, and the source cannot be read (Permission denied):"
        " import fails with PermissionError"
    )
    assert doc["exit"] == 3  # what could not be read makes the run incomplete


@pytest.mark.skipif("2.7" not in INTERPRETERS, reason="Python 2.7 is not installed")
def test_python2_loads_a_stale_pyc_whose_source_cannot_be_read(tmp_path: Path) -> None:
    """Python 2 cannot open the source, so it takes the stale .pyc beside it for a sourceless
    module and runs it: the verdict says old code runs."""
    exe = INTERPRETERS["2.7"]
    source = write(tmp_path / "old.py", "X = 1\n", mtime=1_700_000_000)
    done = run_python(exe, "import py_compile; py_compile.compile('old.py')", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    write(source, "X = 2\n", mtime=1_600_000_000)
    source.chmod(0)
    assert "loaded 1" in _import(exe, "old", tmp_path).stdout  # the old code
    (record,) = _audit(tmp_path)["records"]
    assert (record["status"], record["loads"]) == ("stale", True)
    assert record["reason"] == (
        "source mtime differs, but the source cannot be read (Permission denied): Python 2.7"
        " loads this pyc as if it had no source: old code runs"
    )
