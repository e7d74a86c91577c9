"""One name per interpreter everywhere (targets, the by-interpreter table, record lines, JSON),
and ``--tag`` takes exactly the names of interpreters whose caches the tool can identify."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from pycache_tool.bytecode import interpreters
from pycache_tool.errors import UsageError
from tests.conftest import INTERPRETERS, cli, cli_json, run_python, write


def _pyc(magic: int, *words: int) -> bytes:
    """A header of ``magic`` and ``words``, then a byte of code."""
    return magic.to_bytes(2, "little") + b"\r\n" + struct.pack(f"<{len(words)}I", *words) + b"c"


@pytest.mark.parametrize(
    ("tag", "right"),
    [
        ("cpython-27", "python2.7"),
        ("cpython-26", "python2.6"),
        ("cpython-30", "python3.0"),
        ("cpython-31", "python3.1"),
        ("pypy27", "pypy2.7"),
        ("pypy35", None),  # PyPy3.5 wrote pypy3-XY tags, after the PyPy release
        ("cpython-399", None),
        ("cpython-311-pytest-8.3.2", None),
        ("jython27", None),
    ],
)
def test_tags_no_python_writes_are_refused_with_the_valid_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tag: str, right: str | None
) -> None:
    code, out, err = cli(capsys, "audit", "--tag", tag, str(tmp_path))
    assert code == 2 and not out
    assert err.count("\n") == 1, err
    assert f"--tag {tag}:" in err
    assert "valid: cpython-32, " in err and "cpython-313" in err and "python2.7" in err
    assert "pypy39" in err and "pypy2.7" in err
    if right is not None:
        assert f"its name here is {right}" in err


def test_valid_names() -> None:
    from_tag = interpreters.from_tag
    names = list(interpreters.known_names())
    assert names[:2] == ["cpython-32", "cpython-33"]
    assert {"cpython-313", "cpython-314", "pypy36", "pypy39", "pypy311"} <= set(names)
    assert {"python2.7", "python2.6", "python3.0", "python3.1", "pypy2.7"} <= set(names)
    assert not {"cpython-27", "cpython-31", "pypy27", "pypy35", "cpython2.7"} & set(names)
    for name in names:  # every valid name makes a target whose name is the name given
        assert from_tag(name).name == name
    assert from_tag("python2.7").tag is None and from_tag("python2.7").magic == 62211
    assert from_tag("pypy2.7").magic == 62218
    with pytest.raises(UsageError):
        from_tag("cpython2.7")


def test_python2_target_by_its_own_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--tag python2.7``: 2.7's caches beside their sources are the target's, and coverage
    is counted where 2.7 looks for them."""
    write(tmp_path / "pkg" / "a.py", "A = 1\n", mtime=1_600_000_000)
    (tmp_path / "pkg" / "a.pyc").write_bytes(_pyc(62211, 1_600_000_000))
    write(tmp_path / "pkg" / "b.py", "B = 1\n")
    code, doc = cli_json(capsys, "audit", "--tag", "python2.7", "--require-fresh", str(tmp_path))
    assert code == 1
    assert [t["name"] for t in doc["targets"]] == ["python2.7"]
    (record,) = [r for r in doc["records"] if r["status"] != "missing"]
    assert record["status"] == "fresh" and record["target"] is True and record["python"] == "2.7"
    assert doc["summary"]["by_interpreter"] == {
        "python2.7": {"files": 1, "bytes": 9, "target": True}
    }
    assert doc["coverage"] == [{"target": "python2.7", "sources": 2, "fresh": 1}]
    code, out, _ = cli(capsys, "audit", "--tag", "python2.7", "-v", str(tmp_path))
    assert "(target: python2.7)" in out
    assert "  python2.7 (target)" in out
    assert "pkg/a.pyc [python2.7]: timestamp pyc" in out


def test_legacy_location_pyc_is_named_by_the_tag_its_python_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 3.11 pyc written beside its source (``compileall -b``) is cpython-311's, a PyPy 3.9
    one pypy39's, a 2.7 one python2.7's: in the table, the record lines and the targets."""
    for stem, magic, words in (
        ("new", 3495, (0, 1, 2)),
        ("pp", 336, (0, 1, 2)),
        ("old", 62211, (1,)),
        ("pp2", 62218, (1,)),
    ):
        write(tmp_path / f"{stem}.py", "X = 1\n")
        (tmp_path / f"{stem}.pyc").write_bytes(_pyc(magic, *words))
    code, out, _ = cli(capsys, "audit", "-v", "--tag", "cpython-311", str(tmp_path))
    table = out.split("interpreter")[1].split("\n\n")[0]
    assert "cpython-311 (target)" in table
    for name in ("pypy39", "python2.7", "pypy2.7"):
        assert f"  {name} " in table
    assert "python3.11" not in out and "pypy3.9 " not in out and "[3.11]" not in out
    assert "new.pyc [cpython-311]: Python 3 imports" in out
    assert "pp.pyc [pypy39]" in out and "old.pyc [python2.7]" in out
    assert "pp2.pyc [pypy2.7]" in out
    code, doc = cli_json(capsys, "audit", "--tag", "cpython-311", str(tmp_path))
    by_name = {r["path"].rsplit("/", 1)[1]: r for r in doc["records"]}
    assert by_name["new.pyc"]["target"] is True  # the target's own file, though never loaded
    assert by_name["new.pyc"]["python"] == "3.11"  # the python field keeps its form
    assert by_name["pp.pyc"]["python"] == "pypy3.9" and by_name["pp.pyc"]["target"] is False


@pytest.mark.skipif("2.7" not in INTERPRETERS, reason="Python 2.7 is not installed")
def test_python2_interpreter_is_python27_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--python`` a real 2.7: its name is python2.7 as a target, in the table and in records."""
    write(tmp_path / "m.py", "X = 1\n")
    done = run_python(
        INTERPRETERS["2.7"],
        "import py_compile; py_compile.compile('m.py')",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "m.pyc").exists()
    code, out, err = cli(capsys, "audit", "-v", "--python", INTERPRETERS["2.7"], str(tmp_path))
    assert code == 0, err
    assert "(target: python2.7)" in out
    assert "  python2.7 (target)" in out
    assert "m.pyc [python2.7]: timestamp pyc" in out
    assert "cpython2.7" not in out
    code, doc = cli_json(capsys, "audit", "--python", INTERPRETERS["2.7"], str(tmp_path))
    assert doc["targets"][0]["name"] == "python2.7" and doc["targets"][0]["python"] == "2.7"
    # Given twice, under both of its names, it is one target.
    code, _, err = cli(
        capsys, "audit", "--python", INTERPRETERS["2.7"], "--tag", "python2.7", str(tmp_path)
    )
    assert code == 2 and "target python2.7 given twice" in err


def test_pypy36_is_a_tag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """PyPy3.6 v7.3 wrote ``pypy36`` (its extension suffix, pypy36-pp73, is built from it)."""
    write(tmp_path / "m.py", "X = 1\n")
    cache = tmp_path / "__pycache__" / "m.pypy36.pyc"
    cache.parent.mkdir()
    cache.write_bytes(_pyc(192, 0, 0))
    code, doc = cli_json(capsys, "audit", "--tag", "pypy36", str(tmp_path))
    assert code == 0
    (record,) = doc["records"]
    assert record["target"] is True and record["python"] == "pypy3.6"
    assert doc["summary"]["by_interpreter"]["pypy36"]["target"] is True
