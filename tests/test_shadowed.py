"""Shadowed caches and the deep check through the commands: audit, clean, compile.

What the interpreters really do is proven in ``test_shadowed_real`` and ``test_deep_real``;
these tests hold the commands to those verdicts: what --check, --require-fresh, clean's
categories and compile make of them, and that an unavailable or failing deep check never
reports damage.
"""

from __future__ import annotations

import importlib.machinery
import os
import subprocess
from pathlib import Path

import pytest

from pycache_tool import Status, scan
from pycache_tool.bytecode.interpreters import current, from_tag, query
from pycache_tool.scanning import deep
from pycache_tool.scanning.shadow import derived_extension_suffixes
from tests.cleantrees import cache_of, compile_here, snapshot
from tests.conftest import INTERPRETERS, cli, cli_json, interpreter_params, write

OWN_EXTENSION = importlib.machinery.EXTENSION_SUFFIXES[0]


@pytest.fixture
def shadowed(tmp_path: Path) -> Path:
    """``mod.py`` beside a package ``mod/``, ``fast.py`` beside the extension ``fast<suffix>``,
    ``plain.py`` beside a namespace directory ``plain/``, and ``old.pyc`` (sourceless) beside a
    package ``old/``: every module compiled by this interpreter."""
    root = tmp_path / "proj"
    for name in ("mod", "fast", "plain"):
        compile_here(write(root / f"{name}.py", f"NAME = {name!r}\n"))
    write(root / "mod" / "__init__.py", "")
    compile_here(root / "mod" / "__init__.py")
    write(root / f"fast{OWN_EXTENSION}", "not really an extension, only its name matters here")
    write(root / "plain" / "data.txt", "")
    compile_here(write(root / "old.py", "OLD = 1\n"), root / "old.pyc")
    (root / "old.py").unlink()
    write(root / "old" / "__init__.py", "")
    return root


def test_shadowed_records(shadowed: Path) -> None:
    records = {os.path.relpath(r.path, shadowed): r for r in scan([str(shadowed)])}
    mod = records[os.path.relpath(cache_of(shadowed / "mod.py"), shadowed)]
    fast = records[os.path.relpath(cache_of(shadowed / "fast.py"), shadowed)]
    plain = records[os.path.relpath(cache_of(shadowed / "plain.py"), shadowed)]
    old = records["old.pyc"]
    assert (mod.status, mod.loads) == (Status.SHADOWED, False)
    assert mod.reason.startswith("shadowed by package mod/ (mod/__init__.py): CPython"), mod.reason
    assert (fast.status, fast.loads) == (Status.SHADOWED, False)
    assert fast.reason.startswith(f"shadowed by extension fast{OWN_EXTENSION}: "), fast.reason
    assert (plain.status, plain.loads) == (Status.FRESH, True)
    # Bytecode without source keeps its status (only --sourceless removes it); it never loads.
    assert (old.status, old.loads) == (Status.SOURCELESS, False)
    assert old.reason.startswith("shadowed by package old/"), old.reason


def test_shadowed_in_a_pycache_prefix_tree(tmp_path: Path) -> None:
    """A mirror tree holds no source: what shadows a cache there is read beside its source."""
    root, prefix = tmp_path / "proj", tmp_path / "prefix"
    write(root / "mod" / "__init__.py", "")
    mirror = prefix / str(root).lstrip(os.sep)
    tag = current().tag
    for name in ("mod", "plain"):
        compile_here(write(root / f"{name}.py", "X = 1\n"), mirror / f"{name}.{tag}.pyc")
    records = {Path(r.path).name: r for r in scan([str(root)], pycache_prefix=str(prefix))}
    assert records[f"mod.{tag}.pyc"].status is Status.SHADOWED
    assert records[f"plain.{tag}.pyc"].status is Status.FRESH


def test_audit_check_fails_on_shadowed_caches(
    shadowed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "audit", "--check", str(shadowed))
    assert code == 1
    assert "shadowed" in out.split("needs attention")[1]
    code, report = cli_json(capsys, "audit", str(shadowed))
    assert report["schema"] == 1
    assert report["summary"]["by_status"]["shadowed"]["files"] == 2
    assert report["summary"]["needs_attention"] == 2
    assert report["summary"]["deep"] is None
    # Take the shadowed caches away, and nothing else needs attention.
    cli(capsys, "clean", "--shadowed", str(shadowed))
    assert cli(capsys, "audit", "--check", str(shadowed))[0] == 0


def test_clean_removes_shadowed_caches_only_when_asked(
    shadowed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(shadowed)
    code, out, _ = cli(capsys, "clean", "--stale", "--orphans", "--legacy", str(shadowed))
    assert code == 0 and snapshot(shadowed) == before, out
    code, report = cli_json(capsys, "clean", "--shadowed", "--dry-run", str(shadowed))
    planned = sorted(os.path.relpath(r["path"], shadowed) for r in report["removed"])
    assert planned == sorted(
        os.path.relpath(cache_of(shadowed / name), shadowed) for name in ("fast.py", "mod.py")
    )
    assert {r["status"] for r in report["removed"]} == {"shadowed"}
    assert snapshot(shadowed) == before
    code, out, _ = cli(capsys, "clean", "--shadowed", str(shadowed))
    assert code == 0
    assert (
        not cache_of(shadowed / "mod.py").exists() and not cache_of(shadowed / "fast.py").exists()
    )
    assert cache_of(shadowed / "plain.py").exists() and (shadowed / "old.pyc").exists()
    # With no category every cache goes, except bytecode without source, shadowed or not.
    cli(capsys, "clean", str(shadowed))
    assert (shadowed / "old.pyc").exists()


def test_compile_and_coverage_skip_shadowed_sources(
    shadowed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A source that import never reads needs no cache: compile does not write one, and
    --require-fresh does not count it."""
    cli(capsys, "clean", str(shadowed))
    code, report = cli_json(capsys, "compile", "--dry-run", str(shadowed))
    planned = sorted(os.path.relpath(p["source"], shadowed) for p in report["planned"])
    init = "__init__.py"
    assert planned == [os.path.join("mod", init), os.path.join("old", init), "plain.py"]
    cli(capsys, "compile", str(shadowed))
    assert not cache_of(shadowed / "mod.py").exists()
    code, out, _ = cli(capsys, "audit", "--require-fresh", "--check", str(shadowed))
    assert code == 0, out
    assert "coverage: 3 of 3 sources" in out


def test_an_extension_for_another_version_shadows_nothing_here(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    own = current()
    other = "3.12" if own.version != "3.12" else "3.11"
    suffix = derived_extension_suffixes("cpython", other)[0]
    root = tmp_path / "proj"
    compile_here(write(root / "fast.py", "X = 1\n"))
    write(root / f"fast{suffix}", "")
    other_tag = f"cpython-{other.replace('.', '')}"
    (root / "__pycache__" / f"fast.{other_tag}.pyc").write_bytes(
        _other_pyc(other, root / "fast.py")
    )
    records = {r.path: r for r in scan([str(root)])}
    assert records[str(cache_of(root / "fast.py"))].status is Status.FRESH
    theirs = records[str(root / "__pycache__" / f"fast.{other_tag}.pyc")]
    assert (theirs.status, theirs.loads) == (Status.SHADOWED, False), theirs


def _other_pyc(version: str, source: Path) -> bytes:
    """A fresh timestamp header of another CPython for ``source``, and a little code."""
    magic = from_tag(f"cpython-{version.replace('.', '')}").magic
    st = source.stat()
    return (
        magic.to_bytes(2, "little")
        + b"\r\n"
        + bytes(4)
        + (int(st.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little")
        + (st.st_size & 0xFFFFFFFF).to_bytes(4, "little")
        + b"\xe3"
        + bytes(40)
    )


@pytest.mark.parametrize("exe", interpreter_params())
def test_derived_extension_suffixes_are_the_real_ones(exe: str) -> None:
    """Without asking an interpreter, its EXTENSION_SUFFIXES are worked out as they are."""
    target = query(exe)
    assert target.extension_suffixes is not None
    assert (
        derived_extension_suffixes(target.implementation, target.version)
        == target.extension_suffixes
    )


# --- the deep check through the commands ------------------------------------------------------


@pytest.fixture
def damaged(tmp_path: Path) -> Path:
    """``good.py`` and ``bad.py`` compiled by this interpreter; ``bad``'s code truncated."""
    root = tmp_path / "proj"
    compile_here(write(root / "good.py", "G = 1\n"))
    cache = compile_here(write(root / "bad.py", "B = 'x' * 10\n"))
    cache.write_bytes(cache.read_bytes()[:24])
    return root


def test_audit_deep_reports_damaged_code(damaged: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "audit", "--check", str(damaged))
    assert code == 0, out  # the header alone says fresh
    code, out, _ = cli(capsys, "audit", "--deep", "--check", str(damaged))
    assert code == 1
    assert "unmarshalled by an interpreter of its version: 1 ok, 1 damaged" in out
    assert "bad marshal data after a valid header (EOFError: marshal data too short)" in out
    code, report = cli_json(capsys, "audit", "--deep", str(damaged))
    by_name = {Path(r["path"]).name.split(".")[0]: r for r in report["records"]}
    assert (by_name["bad"]["status"], by_name["bad"]["deep"]) == ("corrupt", "damaged")
    assert (by_name["good"]["status"], by_name["good"]["deep"]) == ("fresh", "ok")
    assert report["summary"]["deep"] == {"ok": 1, "damaged": 1, "not_checked": 0, "unchecked": {}}


def test_compile_deep_rewrites_damaged_code(
    damaged: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = cache_of(damaged / "bad.py")
    code, report = cli_json(capsys, "compile", "--dry-run", str(damaged))
    assert report["planned"] == []
    code, out, _ = cli(capsys, "compile", "--deep", "--dry-run", str(damaged))
    assert "bad marshal data" in out and "would compile 1 of 2" in out, out
    assert len(bad.read_bytes()) == 24
    code, out, _ = cli(capsys, "compile", "--deep", str(damaged))
    assert code == 0, out
    assert len(bad.read_bytes()) > 24
    assert cli(capsys, "audit", "--deep", "--check", str(damaged))[0] == 0


def _fake_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    worker = write(tmp_path / "worker.py", code)
    monkeypatch.setattr(deep, "_WORKER", str(worker))


_READY = "import sys\nprint('{\"ready\": MAGIC}')\nsys.stdout.flush()\n"


@pytest.mark.parametrize(
    ("worker", "why"),
    [
        ("import sys\nsys.exit(3)\n", "could not start"),
        (_READY + "sys.stdin.readline()\n", "stopped"),  # dies on its first batch
        # Verdicts for other files than the ones it was given (another inode and size).
        (
            _READY + "sys.stdin.readline()\n"
            'print(\'[["bad", "invented", 1, 2], ["bad", "invented", 1, 2]]\')\n'
            "sys.stdout.flush()\nsys.stdin.readline()\n",
            None,
        ),
    ],
    ids=["cannot-start", "dies", "wrong-file"],
)
def test_a_failing_deep_check_never_reports_damage(
    worker: str,
    why: str | None,
    damaged: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _fake_worker(tmp_path, monkeypatch, worker.replace("MAGIC", str(current().magic)))
    code, report = cli_json(capsys, "audit", "--deep", str(damaged))
    assert code == 0
    statuses = {
        Path(r["path"]).name.split(".")[0]: (r["status"], r["deep"]) for r in report["records"]
    }
    assert statuses == {"bad": ("fresh", "not checked"), "good": ("fresh", "not checked")}
    assert report["summary"]["deep"]["not_checked"] == 2
    unchecked = report["summary"]["deep"]["unchecked"]
    assert (why is None) == (not unchecked)
    assert why is None or why in unchecked[current().python], unchecked


@pytest.mark.skipif("3.12" not in INTERPRETERS, reason="Python 3.12 is not installed")
def test_deep_names_the_versions_it_could_not_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "proj"
    write(root / "m.py", "M = 1\n")
    exe = INTERPRETERS["3.12"]
    subprocess.run([exe, "-m", "py_compile", str(root / "m.py")], check=True)
    if current().version == "3.12":
        pytest.skip("the tool itself runs on 3.12")
    code, out, _ = cli(capsys, "audit", "--deep", "-v", str(root))
    assert "1 not checked (Python 3.12: no interpreter of its version at hand" in out, out
    assert "; code not checked" in out
    code, out, _ = cli(capsys, "audit", "--deep", "--python", exe, str(root))
    assert "1 ok, 0 damaged" in out, out
