"""A symlink named as a PATH is followed (``audit venv/lib64``, ``audit link/``), as find,
fd and rg do; nothing below a root ever is."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.cleantrees import compile_here
from tests.conftest import cli, cli_json, write


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    """``venv/lib64`` -> ``lib``, as virtualenv makes it; a link inside leads out of the tree."""
    root = tmp_path / "venv"
    compile_here(write(root / "lib" / "site" / "mod.py", "X = 1\n"))
    gone = write(root / "lib" / "site" / "old.py", "Y = 1\n")
    compile_here(gone)
    gone.unlink()
    (root / "lib64").symlink_to("lib")
    outside = tmp_path / "outside"
    compile_here(write(outside / "secret.py", "Z = 1\n"))
    (root / "lib" / "site" / "elsewhere").symlink_to(outside)
    return root


def _paths(doc: dict[str, object]) -> list[str]:
    return sorted(r["path"] for r in doc["records"])  # type: ignore[attr-defined]


@pytest.mark.parametrize("suffix", ["", "/"])
def test_a_symlink_named_as_a_path_is_followed(
    venv: Path, capsys: pytest.CaptureFixture[str], suffix: str
) -> None:
    code, doc = cli_json(capsys, "audit", str(venv / "lib64") + suffix)
    assert code == 0
    assert doc["paths"] == [str(venv / "lib64")]
    site = venv / "lib64" / "site" / "__pycache__"
    assert _paths(doc) == sorted(str(p) for p in site.iterdir())  # none through "elsewhere"
    assert not any("secret" in p for p in _paths(doc))


def test_the_same_tree_under_two_names_is_reported_once(
    venv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = cli_json(capsys, "audit", str(venv), str(venv / "lib64"), str(venv / "lib"))
    assert code == 0 and doc["paths"] == [str(venv)]
    assert len(_paths(doc)) == len(set(_paths(doc))) == 2


def test_clean_through_a_named_symlink_stays_below_it(
    venv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "clean", "--orphans", str(venv / "lib64") + "/")
    assert code == 0, err
    assert f"removed orphan     {venv / 'lib64' / 'site' / '__pycache__'}" in out
    assert not any(
        p.name.startswith("old.") for p in (venv / "lib" / "site" / "__pycache__").iterdir()
    )
    assert any((tmp_path / "outside" / "__pycache__").iterdir())  # below the root: not followed
    assert (venv / "lib64").is_symlink()


def test_dangling_symlink_and_symlink_to_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "nowhere").symlink_to(tmp_path / "missing")
    (tmp_path / "file").symlink_to(write(tmp_path / "f.txt", "x"))
    code, _, err = cli(capsys, "audit", str(tmp_path / "nowhere"))
    assert code == 2 and err.endswith("nowhere: no such directory (a symlink to nothing)\n")
    code, _, err = cli(capsys, "audit", str(tmp_path / "file"))
    assert code == 2 and "not a directory or an archive" in err


def test_a_symlink_below_a_root_never_is_followed(
    venv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = cli_json(capsys, "audit", str(venv))
    assert code == 0
    assert not any("lib64" in p or "secret" in p for p in _paths(doc))
    assert os.path.islink(venv / "lib64")


def test_compile_through_a_named_symlink(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "real" / "pkg" / "m.py", "X = 1\n")
    (tmp_path / "link").symlink_to("real")
    code, out, err = cli(capsys, "compile", str(tmp_path / "link") + "/")
    assert code == 0, out + err
    assert [p.name for p in (tmp_path / "real" / "pkg" / "__pycache__").iterdir()] == [
        f"m.{sys.implementation.cache_tag}.pyc"
    ]
    assert cli(capsys, "audit", "--require-fresh", str(tmp_path / "link"))[0] == 0
