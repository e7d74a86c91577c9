"""Empty directories inside a package are ghosts: they still import as namespace packages,
whether ``clean --orphans`` or ``find -exec rm -rf __pycache__`` emptied them."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.cleantrees import compile_here
from tests.conftest import cli, cli_json, run_python, write


def _importable(root: Path, module: str) -> bool:
    """Does the running interpreter import ``module`` from ``root``?"""
    done = run_python(sys.executable, f"import {module}", cwd=root, args=["-B"])
    return done.returncode == 0


def _ghosts(capsys: pytest.CaptureFixture[str], root: Path) -> dict[str, str]:
    _, doc = cli_json(capsys, "audit", str(root))
    return {
        str(Path(r["path"]).relative_to(root)): r["reason"]
        for r in doc["records"]
        if r["status"] == "ghost"
    }


def test_an_emptied_ghost_is_still_a_ghost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``pkg/gone/`` holds only the cache of a deleted module: a ghost. ``clean --orphans``
    leaves it empty, and ``import pkg.gone`` still works: audit --check and clean --ghosts
    still see it."""
    write(tmp_path / "pkg" / "__init__.py")
    gone = write(tmp_path / "pkg" / "gone" / "mod.py", "X = 1\n")
    compile_here(gone)
    gone.unlink()
    assert _ghosts(capsys, tmp_path) == {
        "pkg/gone": "holds nothing but __pycache__: still imports as a namespace package"
    }
    code, out, err = cli(capsys, "clean", "--orphans", str(tmp_path))
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "pkg" / "gone").iterdir()) == []
    assert _importable(tmp_path, "pkg.gone")
    assert _ghosts(capsys, tmp_path) == {
        "pkg/gone": "an empty directory inside a package: still imports as a namespace package"
    }
    code, out, _ = cli(capsys, "audit", "--check", str(tmp_path))
    assert code == 1 and "  ghost         " in out
    code, out, err = cli(capsys, "clean", "--ghosts", str(tmp_path))
    assert code == 0, err
    assert f"removed ghost/     {tmp_path / 'pkg' / 'gone'}" in out
    assert not (tmp_path / "pkg" / "gone").exists() and (tmp_path / "pkg" / "__init__.py").exists()
    assert not _importable(tmp_path, "pkg.gone")
    assert cli(capsys, "audit", "--check", str(tmp_path))[0] == 0


def test_what_find_rm_rf_pycache_leaves(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``find . -name __pycache__ -exec rm -rf {} +`` leaves the directories that held only a
    __pycache__: inside a package, nested or not, each topmost one is a ghost."""
    write(tmp_path / "pkg" / "__init__.py")
    write(tmp_path / "pkg" / "live.py", "X = 1\n")
    for rel in ("pkg/old/mod.py", "pkg/deep/er/mod.py", "pkg/data/keep/mod.py"):
        compile_here(write(tmp_path / rel, "X = 1\n"))
        (tmp_path / rel).unlink()
    write(tmp_path / "pkg" / "data" / "table.csv", "a,b\n")  # a namespace directory: it stays
    for pycache in list(tmp_path.rglob("__pycache__")):
        shutil.rmtree(pycache)
    assert _ghosts(capsys, tmp_path) == dict.fromkeys(
        ("pkg/data/keep", "pkg/deep", "pkg/old"),
        "an empty directory inside a package: still imports as a namespace package",
    )
    assert _importable(tmp_path, "pkg.deep.er") and _importable(tmp_path, "pkg.data.keep")
    code, out, err = cli(capsys, "clean", "--ghosts", str(tmp_path))
    assert code == 0, err
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == [
        "pkg",
        "pkg/__init__.py",
        "pkg/data",
        "pkg/data/table.csv",
        "pkg/live.py",
    ]


def test_empty_directories_outside_packages_are_not_ghosts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty ``logs/`` at the root of a project, an empty directory in a directory that is
    no package (nor inside one), the root itself: none is a ghost."""
    (tmp_path / "logs").mkdir()
    write(tmp_path / "scripts" / "run.py", "X = 1\n")
    (tmp_path / "scripts" / "out").mkdir()
    write(tmp_path / "pkg" / "__init__.py")
    (tmp_path / "pkg" / "empty").mkdir()
    assert _ghosts(capsys, tmp_path) == {
        "pkg/empty": "an empty directory inside a package: still imports as a namespace package"
    }
    # Named as the root, a package's empty directory is inside it; the root never is a ghost.
    assert _ghosts(capsys, tmp_path / "pkg") == {
        "empty": "an empty directory inside a package: still imports as a namespace package"
    }
    assert _ghosts(capsys, tmp_path / "logs") == {}


def test_a_sourceless_init_makes_a_package(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    init = write(tmp_path / "pkg" / "__init__.py")
    compile_here(init, tmp_path / "pkg" / "__init__.pyc")
    init.unlink()
    (tmp_path / "pkg" / "empty").mkdir()
    assert _importable(tmp_path, "pkg.empty")
    assert list(_ghosts(capsys, tmp_path)) == ["pkg/empty"]
